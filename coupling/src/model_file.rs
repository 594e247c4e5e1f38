//! Reduced-model files: the learned orientation and stress ensembles with the shear-rate range
//! they were trained on and the platelet they describe, in the checked container of
//! `hemoscale-surrogates` (magic `HSREDUC\0`, version 1, CRC-32 over everything, written
//! atomically). A run with coupling writes its models at the end; a later run loads them
//! (`hemoscale run ... --coupling-model FILE`) and starts reduced without a harvest, after its
//! first fine segment. A model made for another platelet is refused, not silently used.
//!
//! ```
//! use hemoscale_coupling::stress_map::{StressEnsemble, StressMap};
//! use hemoscale_coupling::{GeneralizedJeffery, JefferyEnsemble, ModelKey, ReducedModel};
//!
//! let key = ModelKey { aspect_ratio: 0.25, resolution: 373, stiffness: 1.0, kt: 0.1, interface_gamma: 80.0 };
//! let model = ReducedModel {
//!     key: key.clone(),
//!     jeffery: JefferyEnsemble { members: vec![GeneralizedJeffery::jeffery(0.25)], rows: 100, rms_residual: 1e-3 },
//!     stress_map: StressEnsemble {
//!         members: vec![StressMap { membrane: [0.1; 6], traction: [0.2; 6] }],
//!         samples: 100,
//!         typical: 0.5,
//!     },
//!     shear_rate_range: (0.05, 0.07),
//!     description: "an example".into(),
//! };
//! let dir = std::env::temp_dir().join(format!("hemoscale-model-file-doc-{}", std::process::id()));
//! let path = dir.join("reduced.hsr");
//! model.save(&path)?;
//! assert_eq!(ReducedModel::load(&path)?, model);
//! // A flipped bit fails the checksum, and the message names the file.
//! let mut bytes = std::fs::read(&path)?;
//! bytes[30] ^= 1;
//! let err = ReducedModel::from_bytes(&bytes, &path).unwrap_err();
//! assert!(err.to_string().contains("reduced.hsr"));
//! std::fs::remove_dir_all(&dir)?;
//! // A stiffer platelet is another platelet: the model is refused, saying why.
//! let stiff = ModelKey { stiffness: 25.0, ..key };
//! assert!(model.check_key(&stiff).unwrap_err().contains("stiffness 1 in the model, 25 here"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use hemoscale_surrogates::container;
use hemoscale_surrogates::{Result, SurrogateError};
use serde::{Deserialize, Serialize};

use crate::jeffery::JefferyEnsemble;
use crate::stress_map::StressEnsemble;

const MAGIC: &[u8; 8] = b"HSREDUC\0";
const VERSION: u32 = 1;

/// What a reduced model is valid for: the platelet and plasma it was learned from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelKey {
    /// Thickness over diameter.
    pub aspect_ratio: f64,
    /// Particles per platelet.
    pub resolution: u64,
    /// Stiffness key (1: the default platelet).
    pub stiffness: f64,
    /// Plasma temperature (DPD units).
    pub kt: f64,
    /// Dissipation of membrane–plasma pairs (DPD units).
    pub interface_gamma: f64,
}

/// A learned reduced model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReducedModel {
    /// What it is valid for.
    pub key: ModelKey,
    /// Orientation ensemble.
    pub jeffery: JefferyEnsemble,
    /// Stress ensemble.
    pub stress_map: StressEnsemble,
    /// Local shear rates (DPD units) of the training samples, lowest and highest.
    pub shear_rate_range: (f64, f64),
    /// Where it came from, in words.
    pub description: String,
}

impl ReducedModel {
    /// The file's bytes (equal models give equal bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        container::encode(MAGIC, VERSION, self, &[])
    }

    /// Parses a file's bytes (`path` for messages).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let (m, arrays): (Self, Vec<Vec<f64>>) = container::decode(bytes, MAGIC, VERSION, "reduced-model file", path)?;
        let bad = |why: &str| SurrogateError::Corrupt { path: path.display().to_string(), why: why.into() };
        if !arrays.is_empty() {
            return Err(bad("unexpected arrays after the header"));
        }
        if m.jeffery.members.is_empty() || m.stress_map.members.is_empty() {
            return Err(bad("an ensemble without members"));
        }
        let (lo, hi) = m.shear_rate_range;
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(bad("the trained shear-rate range is not an interval"));
        }
        Ok(m)
    }

    /// Writes the model atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        container::write_atomic(path, &self.to_bytes())
    }

    /// Reads and checks a model file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_bytes(&container::read(path)?, path)
    }

    /// Refuses a model learned for another platelet or plasma than `key`, naming what differs.
    pub fn check_key(&self, key: &ModelKey) -> std::result::Result<(), String> {
        let mut diff = Vec::new();
        let mut cmp = |name: &str, a: f64, b: f64| {
            if (a - b).abs() > 1e-9 * a.abs().max(b.abs()).max(1.0) {
                diff.push(format!("{name} {a} in the model, {b} here"));
            }
        };
        cmp("aspect_ratio", self.key.aspect_ratio, key.aspect_ratio);
        cmp("resolution", self.key.resolution as f64, key.resolution as f64);
        cmp("stiffness", self.key.stiffness, key.stiffness);
        cmp("kT", self.key.kt, key.kt);
        cmp("interface gamma", self.key.interface_gamma, key.interface_gamma);
        if diff.is_empty() {
            Ok(())
        } else {
            Err(format!("the reduced model was learned for another platelet: {}", diff.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jeffery::GeneralizedJeffery;
    use crate::stress_map::StressMap;

    fn model() -> ReducedModel {
        ReducedModel {
            key: ModelKey { aspect_ratio: 0.25, resolution: 373, stiffness: 1.0, kt: 0.1, interface_gamma: 80.0 },
            jeffery: JefferyEnsemble {
                members: vec![GeneralizedJeffery { a: 1.0 / 3.0, b: -0.1 }],
                rows: 10,
                rms_residual: 0.1,
            },
            stress_map: StressEnsemble {
                members: vec![StressMap { membrane: [0.1; 6], traction: [0.2; 6] }],
                samples: 3,
                typical: 0.5,
            },
            shear_rate_range: (0.05, 0.07),
            description: "test".into(),
        }
    }

    #[test]
    fn round_trips_exactly_and_refuses_corruption() {
        let m = model();
        let bytes = m.to_bytes();
        let p = Path::new("model.hsr");
        assert_eq!(ReducedModel::from_bytes(&bytes, p).expect("reads back"), m);
        let mut bad = bytes.clone();
        bad[30] ^= 1;
        let e = ReducedModel::from_bytes(&bad, p).expect_err("corrupt");
        assert!(e.to_string().contains("model.hsr"), "{e}");
        assert!(ReducedModel::from_bytes(&bytes[..bytes.len() - 9], p).is_err());
    }

    #[test]
    fn a_model_for_another_platelet_is_refused() {
        let m = model();
        assert!(m.check_key(&m.key).is_ok());
        let mut other = m.key.clone();
        other.stiffness = 25.0;
        let e = m.check_key(&other).expect_err("refused");
        assert!(e.contains("stiffness 1 in the model, 25 here"), "{e}");
    }
}
