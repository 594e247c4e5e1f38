//! A fully connected layer `y = f(x W^T + b)` on a slice of the network's flat parameter vector:
//! `W` (units x inputs, row-major) then `b` (units). Keeping parameters flat is what lets the
//! distributed trainers average and all-reduce a whole model as one buffer.
//!
//! ```
//! use hemoscale_surrogates::{dense, Activation};
//! use ndarray::array;
//!
//! // Three ReLU units on two inputs: W (3 x 2) row by row, then b.
//! let p = [1.0, 2.0, 3.0, 4.0, 0.0, -1.0, 0.5, 0.0, 0.0];
//! assert_eq!(dense::param_count(2, 3), p.len());
//! let (y, cache) = dense::forward(&p, 2, 3, Activation::Relu, array![[1.0, 1.0]], true);
//! // Pre-activations 3.5, 7 and -1; ReLU cuts the last.
//! assert_eq!(y, array![[3.5, 7.0, 0.0]]);
//! // Backward with dL/dy = 1: the cut unit passes nothing back.
//! let (cache, dy) = (cache.expect("kept for training"), array![[1.0, 1.0, 1.0]]);
//! let mut grad = [0.0; 9];
//! let dx = dense::backward(&p, &mut grad, 2, 3, Activation::Relu, &cache, dy.view());
//! assert_eq!(dx, array![[4.0, 6.0]]);
//! assert_eq!(grad, [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
//! ```

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

use crate::activation::Activation;

/// Number of parameters of a dense layer.
pub fn param_count(inputs: usize, units: usize) -> usize {
    units * inputs + units
}

/// What the backward pass needs from the forward pass.
#[derive(Clone, Debug)]
pub struct DenseCache {
    input: Array2<f64>,
    pre: Array2<f64>,
    out: Array2<f64>,
}

fn views(p: &[f64], inputs: usize, units: usize) -> (ArrayView2<'_, f64>, ArrayView1<'_, f64>) {
    let (w, b) = p.split_at(units * inputs);
    (ArrayView2::from_shape((units, inputs), w).expect("weight shape"), ArrayView1::from(&b[..units]))
}

/// Forward pass of a batch `x` (batch x inputs); returns the output (batch x units) and, when
/// `keep` (training), what the backward pass needs (`x` moves into it; inference copies nothing).
pub fn forward(
    p: &[f64],
    inputs: usize,
    units: usize,
    act: Activation,
    x: Array2<f64>,
    keep: bool,
) -> (Array2<f64>, Option<DenseCache>) {
    let (w, b) = views(p, inputs, units);
    let pre = x.dot(&w.t()) + b;
    let out = pre.mapv(|v| act.apply(v));
    let cache = keep.then(|| DenseCache { input: x, pre, out: out.clone() });
    (out, cache)
}

/// Backward pass: adds dL/dW and dL/db into `grad` (the layer's slice) and returns dL/dx, given
/// `dy` = dL/dy.
pub fn backward(
    p: &[f64],
    grad: &mut [f64],
    inputs: usize,
    units: usize,
    act: Activation,
    cache: &DenseCache,
    dy: ArrayView2<f64>,
) -> Array2<f64> {
    let (w, _) = views(p, inputs, units);
    let mut dz = dy.to_owned();
    ndarray::Zip::from(&mut dz).and(&cache.pre).and(&cache.out).for_each(|d, &x, &y| *d *= act.derivative(x, y));
    let dw = dz.t().dot(&cache.input);
    let db = dz.sum_axis(Axis(0));
    let (gw, gb) = grad.split_at_mut(units * inputs);
    for (g, d) in gw.iter_mut().zip(dw.iter()) {
        *g += d;
    }
    for (g, d) in gb.iter_mut().zip(db.iter()) {
        *g += d;
    }
    dz.dot(&w)
}
