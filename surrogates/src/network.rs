//! Networks: a stack of layers over one flat parameter vector.
//!
//! The architecture is data ([`Architecture`], stored in model files); the parameters are one
//! `Vec<f64>` that optimisers update and distributed trainers average or all-reduce as a single
//! buffer. Specs on the command line:
//!
//! - `mlp:64,64:tanh`: dense hidden layers of the given widths and activation, then a linear
//!   output layer (`default` is this one);
//! - `gru:32@8+mlp:64:tanh`: a GRU with 32 hidden units reading the input as 8 steps of
//!   `inputs / 8` features, then the MLP on its last hidden state.
//!
//! ```
//! use hemoscale_surrogates::{Architecture, Loss, Network};
//! use ndarray::Array2;
//!
//! // 3 inputs, 8 tanh units, 2 linear outputs: (3 * 8 + 8) + (8 * 2 + 2) parameters.
//! let arch = Architecture::parse("mlp:8:tanh", 3, 2)?;
//! assert_eq!(arch.layers.len(), 2);
//! let net = Network::new(arch, 42)?;
//! assert_eq!(net.params.len(), 50);
//! let x = Array2::from_shape_fn((4, 3), |(i, j)| (i as f64 - j as f64) / 4.0);
//! let y = net.forward(x.view());
//! assert_eq!(y.dim(), (4, 2));
//! // One gradient entry per parameter; the loss is that of the forward pass.
//! let t = Array2::zeros((4, 2));
//! let mut grad = vec![0.0; net.params.len()];
//! let loss = net.loss_and_grad(x.view(), t.view(), Loss::Mse, &mut grad);
//! assert_eq!(loss, Loss::Mse.value(y.view(), t.view()));
//! // A GRU reading 12 inputs as 4 steps of 3 features, then the MLP.
//! let gru = Architecture::parse("gru:5@4+mlp:8:tanh", 12, 1)?;
//! assert_eq!(gru.layers[0].outputs(), 5);
//! # Ok::<(), hemoscale_surrogates::SurrogateError>(())
//! ```

use ndarray::{Array2, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::{Result, SurrogateError};
use crate::loss::Loss;
use crate::{dense, gru};

/// The default surrogate architecture's spec.
pub const DEFAULT_SPEC: &str = "mlp:64,64:tanh";

/// One layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// Fully connected.
    Dense {
        /// Inputs.
        inputs: usize,
        /// Outputs.
        units: usize,
        /// Activation.
        activation: Activation,
    },
    /// Gated recurrent unit over `steps` steps of `features` (first layer only).
    Gru {
        /// Features per step.
        features: usize,
        /// Sequence length.
        steps: usize,
        /// Hidden units (the layer's outputs).
        units: usize,
    },
}

impl Layer {
    /// Parameters of this layer.
    pub fn param_count(&self) -> usize {
        match *self {
            Self::Dense { inputs, units, .. } => dense::param_count(inputs, units),
            Self::Gru { features, units, .. } => gru::param_count(features, units),
        }
    }
    /// Outputs per sample.
    pub fn outputs(&self) -> usize {
        match *self {
            Self::Dense { units, .. } | Self::Gru { units, .. } => units,
        }
    }
}

/// Inputs, outputs and layers of a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    /// Inputs per sample.
    pub inputs: usize,
    /// Outputs per sample.
    pub outputs: usize,
    /// The layers, first to last; the last one's units equal `outputs`.
    pub layers: Vec<Layer>,
    /// The spec it was built from.
    pub spec: String,
}

fn spec_err(spec: &str, why: &str) -> SurrogateError {
    SurrogateError::Spec(format!(
        "model spec `{spec}`: {why} (expected `default`, `mlp:W1,W2,...:ACTIVATION` or `gru:H@STEPS+mlp:...`)"
    ))
}

impl Architecture {
    /// Builds the architecture a spec names for `inputs` and `outputs` per sample.
    pub fn parse(spec: &str, inputs: usize, outputs: usize) -> Result<Self> {
        let full = if spec == "default" { DEFAULT_SPEC } else { spec };
        if inputs == 0 || outputs == 0 {
            return Err(spec_err(spec, "the data need at least one input and one output"));
        }
        let mut layers = Vec::new();
        let mut width = inputs;
        let mlp = match full.split_once('+') {
            Some((g, rest)) => {
                let body = g.strip_prefix("gru:").ok_or_else(|| spec_err(spec, "only a GRU may precede `+`"))?;
                let (h, t) = body.split_once('@').ok_or_else(|| spec_err(spec, "a GRU needs `H@STEPS`"))?;
                let units: usize = h.parse().ok().filter(|&h| h > 0).ok_or_else(|| spec_err(spec, "GRU width"))?;
                let steps: usize = t.parse().ok().filter(|&t| t > 0).ok_or_else(|| spec_err(spec, "GRU steps"))?;
                if inputs % steps != 0 {
                    return Err(spec_err(spec, &format!("{inputs} inputs do not split into {steps} steps")));
                }
                layers.push(Layer::Gru { features: inputs / steps, steps, units });
                width = units;
                rest
            }
            None => full,
        };
        let body = mlp.strip_prefix("mlp:").ok_or_else(|| spec_err(spec, "unknown kind"))?;
        let (widths, act) = body.rsplit_once(':').ok_or_else(|| spec_err(spec, "missing `:ACTIVATION`"))?;
        let activation =
            Activation::parse(act).ok_or_else(|| spec_err(spec, &format!("unknown activation `{act}`")))?;
        for w in widths.split(',').filter(|w| !w.is_empty()) {
            let units: usize =
                w.parse().ok().filter(|&u| u > 0).ok_or_else(|| spec_err(spec, &format!("width `{w}`")))?;
            layers.push(Layer::Dense { inputs: width, units, activation });
            width = units;
        }
        layers.push(Layer::Dense { inputs: width, units: outputs, activation: Activation::Identity });
        Ok(Self { inputs, outputs, layers, spec: spec.to_string() })
    }

    /// Checks that consecutive layers fit together (a model file's architecture is data).
    pub fn check(&self) -> Result<()> {
        let mut width = self.inputs;
        for (i, l) in self.layers.iter().enumerate() {
            let ok = match *l {
                Layer::Dense { inputs, units, .. } => inputs == width && units > 0,
                Layer::Gru { features, steps, units } => i == 0 && features * steps == width && units > 0,
            };
            if !ok {
                return Err(SurrogateError::Spec(format!("layer {i} ({l:?}) does not fit after width {width}")));
            }
            width = l.outputs();
        }
        if width != self.outputs || self.layers.is_empty() {
            return Err(SurrogateError::Spec(format!("the last layer gives {width} outputs, not {}", self.outputs)));
        }
        Ok(())
    }

    /// Parameters in all layers.
    pub fn param_count(&self) -> usize {
        self.layers.iter().map(Layer::param_count).sum()
    }
}

/// Per-layer forward state for the backward pass.
enum Cache {
    Dense(dense::DenseCache),
    Gru(gru::GruCache),
}

/// A network: its architecture and its flat parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// The architecture.
    pub arch: Architecture,
    /// All parameters, layer after layer.
    pub params: Vec<f64>,
}

impl Network {
    /// A network with Glorot-uniform weights for dense layers, `U(-1/sqrt(H), 1/sqrt(H))` for the
    /// GRU (PyTorch's choice) and zero biases, drawn from `seed`.
    pub fn new(arch: Architecture, seed: u64) -> Result<Self> {
        arch.check()?;
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x005e_ed0f_a111_a7e5);
        let mut params = Vec::with_capacity(arch.param_count());
        for l in &arch.layers {
            match *l {
                Layer::Dense { inputs, units, .. } => {
                    let a = (6.0 / (inputs + units) as f64).sqrt();
                    params.extend((0..units * inputs).map(|_| rng.random_range(-a..a)));
                    params.extend(std::iter::repeat_n(0.0, units));
                }
                Layer::Gru { features, units, .. } => {
                    let a = 1.0 / (units as f64).sqrt();
                    params.extend((0..3 * units * (features + units)).map(|_| rng.random_range(-a..a)));
                    params.extend(std::iter::repeat_n(0.0, 6 * units));
                }
            }
        }
        Ok(Self { arch, params })
    }

    /// Wraps given parameters (a model file's), checking their number.
    pub fn from_params(arch: Architecture, params: Vec<f64>) -> Result<Self> {
        arch.check()?;
        if params.len() != arch.param_count() {
            return Err(SurrogateError::Shape(format!(
                "{} parameters for an architecture of {}",
                params.len(),
                arch.param_count()
            )));
        }
        Ok(Self { arch, params })
    }

    /// Forward pass at `params`; with `keep`, also the per-layer caches for the backward pass.
    fn run(&self, params: &[f64], x: ArrayView2<f64>, keep: bool) -> (Array2<f64>, Vec<Cache>) {
        let mut caches = Vec::new();
        let mut off = 0;
        let mut a = x.to_owned();
        for l in &self.arch.layers {
            let p = &params[off..off + l.param_count()];
            off += l.param_count();
            a = match *l {
                Layer::Dense { inputs, units, activation } => {
                    let (y, c) = dense::forward(p, inputs, units, activation, a, keep);
                    caches.extend(c.map(Cache::Dense));
                    y
                }
                Layer::Gru { features, steps, units } => {
                    let (y, c) = gru::forward(p, features, steps, units, a, keep);
                    caches.extend(c.map(Cache::Gru));
                    y
                }
            };
        }
        (a, caches)
    }

    /// Outputs for a batch (batch x inputs), in the network's own (normalised) units.
    pub fn forward(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.forward_at(&self.params, x)
    }

    /// [`Network::forward`] at other parameters (a learner's own copy, a checkpoint's).
    pub fn forward_at(&self, params: &[f64], x: ArrayView2<f64>) -> Array2<f64> {
        self.run(params, x, false).0
    }

    /// Mean loss of the batch `(x, t)` at `params` (a learner's own copy) and its gradient with
    /// respect to them (written into `grad`, which is overwritten).
    pub fn loss_and_grad_at(
        &self,
        params: &[f64],
        x: ArrayView2<f64>,
        t: ArrayView2<f64>,
        loss: Loss,
        grad: &mut [f64],
    ) -> f64 {
        let (y, caches) = self.run(params, x, true);
        let (value, mut dy) = loss.value_and_grad(y.view(), t);
        grad.fill(0.0);
        let mut end = params.len();
        for (l, c) in self.arch.layers.iter().zip(&caches).rev() {
            let start = end - l.param_count();
            let (p, g) = (&params[start..end], &mut grad[start..end]);
            dy = match (l, c) {
                (&Layer::Dense { inputs, units, activation }, Cache::Dense(c)) => {
                    dense::backward(p, g, inputs, units, activation, c, dy.view())
                }
                (&Layer::Gru { features, steps, units }, Cache::Gru(c)) => {
                    gru::backward(p, g, features, steps, units, c, dy.view())
                }
                _ => unreachable!("a cache of the layer's own kind"),
            };
            end = start;
        }
        value
    }

    /// [`Network::loss_and_grad_at`] at the network's own parameters.
    pub fn loss_and_grad(&self, x: ArrayView2<f64>, t: ArrayView2<f64>, loss: Loss, grad: &mut [f64]) -> f64 {
        self.loss_and_grad_at(&self.params, x, t, loss, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, StandardNormal};

    fn batch(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        Array2::from_shape_fn((rows, cols), |_| StandardNormal.sample(&mut rng))
    }

    /// Central finite differences of the loss against the hand-written backward pass, for every
    /// parameter (relative error below 1e-6 where the gradient is not tiny).
    fn gradient_check(spec: &str, inputs: usize, outputs: usize, loss: Loss) {
        let arch = Architecture::parse(spec, inputs, outputs).expect("spec");
        let mut net = Network::new(arch, 3).expect("net");
        // Non-zero biases so their gradients are exercised through every path.
        let mut rng = Pcg64Mcg::seed_from_u64(9);
        for p in &mut net.params {
            *p += 0.1 * rng.random_range(-1.0..1.0);
        }
        let x = batch(5, inputs, 1);
        let t = batch(5, outputs, 2);
        let mut g = vec![0.0; net.params.len()];
        let _ = net.loss_and_grad(x.view(), t.view(), loss, &mut g);
        let mut scratch = vec![0.0; g.len()];
        let h = 1e-5;
        let mut worst = 0.0f64;
        for i in 0..net.params.len() {
            let mut p = net.params.clone();
            p[i] += h;
            let up = net.loss_and_grad_at(&p, x.view(), t.view(), loss, &mut scratch);
            p[i] -= 2.0 * h;
            let down = net.loss_and_grad_at(&p, x.view(), t.view(), loss, &mut scratch);
            let fd = (up - down) / (2.0 * h);
            let err = (fd - g[i]).abs() / (fd.abs() + g[i].abs()).max(1e-3);
            worst = worst.max(err);
            assert!(err < 1e-6, "{spec}, parameter {i}: backward {} vs finite difference {fd}", g[i]);
        }
        assert!(worst.is_finite());
    }

    #[test]
    fn dense_gradients_match_finite_differences_for_every_activation() {
        for act in ["identity", "tanh", "relu", "sigmoid", "softplus"] {
            gradient_check(&format!("mlp:7,6:{act}"), 4, 3, Loss::Mse);
        }
    }

    #[test]
    fn gru_gradients_match_finite_differences() {
        gradient_check("gru:5@3+mlp:4:tanh", 6, 2, Loss::Mse);
        gradient_check("gru:3@1+mlp::identity", 2, 1, Loss::Mse);
    }

    #[test]
    fn huber_gradients_match_finite_differences() {
        // delta 0.3 puts elements on both branches.
        gradient_check("mlp:6:tanh", 3, 2, Loss::Huber { delta: 0.3 });
    }

    #[test]
    fn specs_are_parsed_or_refused_with_reasons() {
        let a = Architecture::parse("default", 10, 1).expect("default");
        assert_eq!(a.layers.len(), 3);
        assert_eq!(a.param_count(), 10 * 64 + 64 + 64 * 64 + 64 + 64 + 1);
        for (bad, why) in [
            ("mlp:64,x:tanh", "width"),
            ("mlp:64:swish", "activation"),
            ("cnn:3", "unknown kind"),
            ("gru:8@3+mlp:4:tanh", "do not split"),
            ("mlp:4:tanh+mlp:3:tanh", "only a GRU"),
        ] {
            let e = Architecture::parse(bad, 10, 1).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
