//! Model files: a trained network with the standardisation of its inputs and outputs, so that a
//! loaded model maps physical inputs to physical outputs. Stored in the checked container
//! ([`crate::container`]) under the magic `HSMODEL\0`, version 1; the header holds the
//! architecture and the standardisation, the single array the parameters.
//!
//! ```
//! use std::path::Path;
//!
//! use hemoscale_surrogates::model::Model;
//! use hemoscale_surrogates::normalize::Standardizer;
//! use hemoscale_surrogates::{Architecture, Network};
//! use ndarray::array;
//!
//! // Inputs around 100, outputs around 1e-3: the network sees standardised values of both.
//! let x = array![[90.0, 1.0], [100.0, 2.0], [110.0, 3.0]];
//! let t = array![[1e-3], [2e-3], [4e-3]];
//! let network = Network::new(Architecture::parse("mlp:4:tanh", 2, 1)?, 1)?;
//! let model = Model { network, inputs: Standardizer::fit(x.view()), outputs: Standardizer::fit(t.view()) };
//! let y = model.predict(x.view());
//! assert_eq!(y.dim(), (3, 1));
//! // The file's bytes read back to the same model, which predicts the same values.
//! let back = Model::from_bytes(&model.to_bytes(), Path::new("in-memory"))?;
//! assert_eq!(back, model);
//! assert_eq!(back.predict(x.view()), y);
//! assert_eq!(back.describe()["parameters"], 17);
//! # Ok::<(), hemoscale_surrogates::SurrogateError>(())
//! ```

use std::path::Path;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::container;
use crate::error::{Result, SurrogateError};
use crate::network::{Architecture, Network};
use crate::normalize::Standardizer;

const MAGIC: &[u8; 8] = b"HSMODEL\0";
const VERSION: u32 = 1;

/// A network and the standardisation it was trained under.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The network (in standardised units).
    pub network: Network,
    /// Input standardisation.
    pub inputs: Standardizer,
    /// Output standardisation.
    pub outputs: Standardizer,
}

#[derive(Serialize, Deserialize)]
struct Header {
    architecture: Architecture,
    inputs: Standardizer,
    outputs: Standardizer,
    parameters: usize,
}

impl Model {
    /// Physical outputs for a batch of physical inputs.
    pub fn predict(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let y = self.network.forward(self.inputs.apply(x).view());
        self.outputs.invert(y.view())
    }

    /// The file's bytes (deterministic: equal models give equal bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let h = Header {
            architecture: self.network.arch.clone(),
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
            parameters: self.network.params.len(),
        };
        container::encode(MAGIC, VERSION, &h, &[&self.network.params])
    }

    /// Parses a model file's bytes (`path` for messages).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let (h, mut arrays): (Header, _) = container::decode(bytes, MAGIC, VERSION, "model file", path)?;
        let bad = |why: String| SurrogateError::Corrupt { path: path.display().to_string(), why };
        if arrays.len() != 1 {
            return Err(bad(format!("{} arrays, expected the parameters only", arrays.len())));
        }
        let params = arrays.remove(0);
        let a = &h.architecture;
        if h.inputs.mean.len() != a.inputs || h.outputs.mean.len() != a.outputs || h.parameters != params.len() {
            return Err(bad("the standardisation or parameter count does not match the architecture".into()));
        }
        let network = Network::from_params(h.architecture, params).map_err(|e| bad(e.to_string()))?;
        Ok(Self { network, inputs: h.inputs, outputs: h.outputs })
    }

    /// Writes the model atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        container::write_atomic(path, &self.to_bytes())
    }

    /// Reads and checks a model file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_bytes(&container::read(path)?, path)
    }

    /// A short human-readable description (what `hemoscale model inspect` prints).
    pub fn describe(&self) -> serde_json::Value {
        let a = &self.network.arch;
        serde_json::json!({
            "spec": a.spec,
            "inputs": a.inputs,
            "outputs": a.outputs,
            "parameters": self.network.params.len(),
            "layers": a.layers,
            "input_mean": self.inputs.mean,
            "input_std": self.inputs.std,
            "output_mean": self.outputs.mean,
            "output_std": self.outputs.std,
        })
    }
}
