//! A gated recurrent unit (GRU, Cho et al. 2014, PyTorch's gate convention) that reads a sequence
//! of `steps` feature vectors, stored side by side in one input row (step-major), and returns its
//! last hidden state. Parameters on a slice of the flat vector: `W_i` (3H x F), `W_h` (3H x H),
//! `b_i` (3H), `b_h` (3H), gates in the order reset, update, new:
//!
//! ```text
//! r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
//! z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//! n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//! h' = (1 - z) * n + z * h            (h starts at 0)
//! ```
//!
//! The backward pass is back-propagation through time, by hand.
//!
//! ```
//! use hemoscale_surrogates::gru;
//! use ndarray::Array2;
//!
//! // Two samples of 3 steps of 2 features, 4 hidden units.
//! let (f, steps, h) = (2, 3, 4);
//! let n = gru::param_count(f, h);
//! let p: Vec<f64> = (0..n).map(|i| ((i * 7 % 11) as f64 - 5.0) / 10.0).collect();
//! let x = Array2::from_shape_fn((2, steps * f), |(b, j)| (b as f64 + 1.0) * (j as f64 - 2.5) / 3.0);
//! let (last, cache) = gru::forward(&p, f, steps, h, x.clone(), true);
//! assert_eq!(last.dim(), (2, h));
//! // h mixes tanh values with its start at 0, so it stays within (-1, 1).
//! assert!(last.iter().all(|v| v.abs() < 1.0));
//! // dL/dx for L = sum of the last hidden state, against a central difference.
//! let mut grad = vec![0.0; n];
//! let ones = Array2::ones((2, h));
//! let dx = gru::backward(&p, &mut grad, f, steps, h, &cache.expect("kept"), ones.view());
//! let sum_at = |d: f64| {
//!     let mut x = x.clone();
//!     x[[1, 2]] += d;
//!     gru::forward(&p, f, steps, h, x, false).0.sum()
//! };
//! let fd = (sum_at(1e-6) - sum_at(-1e-6)) / 2e-6;
//! assert!((dx[[1, 2]] - fd).abs() < 1e-7, "{} vs {fd}", dx[[1, 2]]);
//! ```

use ndarray::{s, Array2, ArrayView1, ArrayView2, Axis};

use crate::activation::sigmoid;

/// Number of parameters of a GRU with `features` inputs per step and `hidden` units.
pub fn param_count(features: usize, hidden: usize) -> usize {
    3 * hidden * (features + hidden + 2)
}

struct Views<'a> {
    wi: ArrayView2<'a, f64>,
    wh: ArrayView2<'a, f64>,
    bi: ArrayView1<'a, f64>,
    bh: ArrayView1<'a, f64>,
}

fn views(p: &[f64], f: usize, h: usize) -> Views<'_> {
    let (wi, rest) = p.split_at(3 * h * f);
    let (wh, rest) = rest.split_at(3 * h * h);
    let (bi, bh) = rest.split_at(3 * h);
    Views {
        wi: ArrayView2::from_shape((3 * h, f), wi).expect("W_i shape"),
        wh: ArrayView2::from_shape((3 * h, h), wh).expect("W_h shape"),
        bi: ArrayView1::from(bi),
        bh: ArrayView1::from(&bh[..3 * h]),
    }
}

/// One time step's values kept for the backward pass.
#[derive(Clone, Debug)]
struct StepCache {
    h_prev: Array2<f64>,
    r: Array2<f64>,
    z: Array2<f64>,
    n: Array2<f64>,
    /// `W_hn h + b_hn`.
    ghn: Array2<f64>,
}

/// What the backward pass needs from the forward pass.
#[derive(Clone, Debug)]
pub struct GruCache {
    input: Array2<f64>,
    steps: Vec<StepCache>,
}

/// Forward pass of a batch `x` (batch x steps*features); returns the last hidden state
/// (batch x hidden) and, when `keep` (training), what the backward pass needs.
pub fn forward(
    p: &[f64],
    features: usize,
    steps: usize,
    hidden: usize,
    x: Array2<f64>,
    keep: bool,
) -> (Array2<f64>, Option<GruCache>) {
    let v = views(p, features, hidden);
    let batch = x.nrows();
    let hd = hidden;
    let mut h = Array2::<f64>::zeros((batch, hd));
    let mut cache = Vec::with_capacity(steps);
    for t in 0..steps {
        let xt = x.slice(s![.., t * features..(t + 1) * features]);
        let gi = xt.dot(&v.wi.t()) + v.bi;
        let gh = h.dot(&v.wh.t()) + v.bh;
        let r = (&gi.slice(s![.., 0..hd]) + &gh.slice(s![.., 0..hd])).mapv(sigmoid);
        let z = (&gi.slice(s![.., hd..2 * hd]) + &gh.slice(s![.., hd..2 * hd])).mapv(sigmoid);
        let ghn = gh.slice(s![.., 2 * hd..3 * hd]).to_owned();
        let n = (&gi.slice(s![.., 2 * hd..3 * hd]) + &(&r * &ghn)).mapv(f64::tanh);
        let h_new = &(&(1.0 - &z) * &n) + &(&z * &h);
        if keep {
            cache.push(StepCache { h_prev: h, r, z, n, ghn });
        }
        h = h_new;
    }
    let cache = keep.then(|| GruCache { input: x, steps: cache });
    (h, cache)
}

/// Backward pass through time: adds the parameter gradients into `grad` (the layer's slice) and
/// returns dL/dx (batch x steps*features), given `dh` = dL/d(last hidden state).
pub fn backward(
    p: &[f64],
    grad: &mut [f64],
    features: usize,
    steps: usize,
    hidden: usize,
    cache: &GruCache,
    dh_last: ArrayView2<f64>,
) -> Array2<f64> {
    let v = views(p, features, hidden);
    let hd = hidden;
    let batch = dh_last.nrows();
    let mut dwi = Array2::<f64>::zeros((3 * hd, features));
    let mut dwh = Array2::<f64>::zeros((3 * hd, hd));
    let mut dbi = ndarray::Array1::<f64>::zeros(3 * hd);
    let mut dbh = ndarray::Array1::<f64>::zeros(3 * hd);
    let mut dx = Array2::<f64>::zeros((batch, steps * features));
    let mut dh = dh_last.to_owned();
    for t in (0..steps).rev() {
        let c = &cache.steps[t];
        let xt = cache.input.slice(s![.., t * features..(t + 1) * features]);
        let dn = &dh * &(1.0 - &c.z);
        let dz = &dh * &(&c.h_prev - &c.n);
        let dn_pre = &dn * &(1.0 - &(&c.n * &c.n));
        let dr = &dn_pre * &c.ghn;
        let dz_pre = &dz * &(&c.z * &(1.0 - &c.z));
        let dr_pre = &dr * &(&c.r * &(1.0 - &c.r));
        let mut di = Array2::<f64>::zeros((batch, 3 * hd));
        di.slice_mut(s![.., 0..hd]).assign(&dr_pre);
        di.slice_mut(s![.., hd..2 * hd]).assign(&dz_pre);
        di.slice_mut(s![.., 2 * hd..3 * hd]).assign(&dn_pre);
        let mut dhh = di.clone();
        dhh.slice_mut(s![.., 2 * hd..3 * hd]).assign(&(&dn_pre * &c.r));
        dwi += &di.t().dot(&xt);
        dbi += &di.sum_axis(Axis(0));
        dwh += &dhh.t().dot(&c.h_prev);
        dbh += &dhh.sum_axis(Axis(0));
        dx.slice_mut(s![.., t * features..(t + 1) * features]).assign(&di.dot(&v.wi));
        dh = &(&dh * &c.z) + &dhh.dot(&v.wh);
    }
    let parts = dwi.iter().chain(dwh.iter()).chain(dbi.iter()).chain(dbh.iter());
    for (g, d) in grad.iter_mut().zip(parts) {
        *g += d;
    }
    dx
}
