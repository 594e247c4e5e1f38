//! Element-wise activations and their derivatives, written in terms of the activation's output
//! where that is cheaper (tanh, sigmoid), as backward passes need them.
//!
//! ```
//! use hemoscale_surrogates::Activation;
//!
//! let a = Activation::parse("tanh").expect("a known name");
//! assert_eq!(a.name(), "tanh");
//! // The derivative from the output y = tanh x agrees with a central difference.
//! let (x, h) = (0.4, 1e-6);
//! let y = a.apply(x);
//! let fd = (a.apply(x + h) - a.apply(x - h)) / (2.0 * h);
//! assert!((a.derivative(x, y) - fd).abs() < 1e-8);
//! // Softplus stays finite where e^x overflows.
//! assert_eq!(Activation::Softplus.apply(1000.0), 1000.0);
//! assert_eq!(Activation::parse("swish"), None);
//! ```

use serde::{Deserialize, Serialize};

/// An element-wise activation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `x` (output layers of regressions).
    Identity,
    /// `tanh x`.
    Tanh,
    /// `max(0, x)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `ln(1 + e^x)`, a smooth ReLU.
    Softplus,
}

impl Activation {
    /// Parses `identity`, `tanh`, `relu`, `sigmoid` or `softplus`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "identity" | "linear" => Self::Identity,
            "tanh" => Self::Tanh,
            "relu" => Self::Relu,
            "sigmoid" => Self::Sigmoid,
            "softplus" => Self::Softplus,
            _ => return None,
        })
    }

    /// The name [`Activation::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Tanh => "tanh",
            Self::Relu => "relu",
            Self::Sigmoid => "sigmoid",
            Self::Softplus => "softplus",
        }
    }

    /// f(x).
    #[inline]
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Self::Identity => x,
            Self::Tanh => x.tanh(),
            Self::Relu => x.max(0.0),
            Self::Sigmoid => sigmoid(x),
            // ln(1 + e^x) without overflow for large x.
            Self::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
        }
    }

    /// f'(x) given the input `x` and the output `y = f(x)`.
    #[inline]
    pub fn derivative(self, x: f64, y: f64) -> f64 {
        match self {
            Self::Identity => 1.0,
            Self::Tanh => 1.0 - y * y,
            Self::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Sigmoid => y * (1.0 - y),
            Self::Softplus => sigmoid(x),
        }
    }
}

/// The logistic function.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each derivative against a central difference.
    #[test]
    fn derivatives_match_finite_differences() {
        let all = [Activation::Identity, Activation::Tanh, Activation::Relu, Activation::Sigmoid, Activation::Softplus];
        for a in all {
            for x in [-3.1, -0.7, 0.2, 1.3, 4.0] {
                let h = 1e-6;
                let fd = (a.apply(x + h) - a.apply(x - h)) / (2.0 * h);
                let d = a.derivative(x, a.apply(x));
                assert!((fd - d).abs() < 1e-7, "{a:?} at {x}: {d} vs {fd}");
            }
            assert_eq!(Activation::parse(a.name()), Some(a));
        }
    }
}
