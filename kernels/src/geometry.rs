//! Vessel geometry as signed distance functions (SDF): negative in the fluid, positive inside the
//! wall, zero on the surface (Mirheo's convention). Flow is along x; every shape is periodic along
//! x because the box is.
//!
//! Shapes are described analytically ([`Shape`], evaluated in f64 when a system is set up) and
//! sampled once onto a periodic grid ([`SdfGrid`]) that both backends interpolate with the same
//! f32 trilinear formula (`shaders/walls.wgsl` is the GPU twin of [`SdfGrid::sample`]). One
//! mechanism then serves every shape, composed ones included, at the cost of one 8-point lookup.
//! Composition uses the exact-outside min/max rules (union = min, intersection = max,
//! difference = max(a, -b)); their distances are bounds inside, which bounce-back and the wall
//! force tolerate because both only need the sign and the value near the surface.
//!
//! ```
//! use hemoscale_kernels::{SdfGrid, Shape};
//!
//! // A channel between the planes z = 2 and z = 8.
//! let channel = Shape::Channel { center: 5.0, half_height: 3.0 };
//! assert_eq!(channel.sdf([0.0, 0.0, 5.0]), -3.0); // mid-plane: fluid, 3 from either wall
//! assert_eq!(channel.sdf([0.0, 0.0, 9.0]), 1.0); // inside the top wall
//! // The channel with a rod of radius 1 along x removed from it: the rod's axis is now wall.
//! let rod = Shape::Tube { center: [2.0, 5.0], radius: 1.0 };
//! let around = Shape::Difference(Box::new(channel.clone()), Box::new(rod));
//! assert!(around.sdf([0.0, 2.0, 5.0]) > 0.0 && around.sdf([0.0, 0.5, 5.0]) < 0.0);
//!
//! // What the engines use: the field sampled at spacing 0.25 and interpolated, exact where it
//! // is linear.
//! let grid = SdfGrid::sample(&channel, [4.0, 4.0, 10.0], 1 << 20)?;
//! assert_eq!(grid.dims, [16, 16, 40]);
//! let (value, gradient) = grid.eval([1.3, 2.7, 3.1]);
//! assert!((value + 1.1).abs() < 1e-5 && (gradient[2] + 1.0).abs() < 1e-4);
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use crate::error::{KernelError, Result};

/// An analytic vessel shape. Lengths in DPD units; the box origin is at 0; the flow axis is x.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// Fluid between two planes normal to z: `|z - center| < half_height`.
    Channel {
        /// z of the mid-plane.
        center: f64,
        /// Half the distance between the walls.
        half_height: f64,
    },
    /// Fluid inside a cylinder along x through `(y, z) = center`.
    Tube {
        /// (y, z) of the axis.
        center: [f64; 2],
        /// Radius.
        radius: f64,
    },
    /// A tube with an axisymmetric constriction centred at `x0`: the radius follows
    /// `R(x) = R (1 - delta (1 + cos(2 pi (x - x0) / length)) / 2)` for `|x - x0| < length / 2`
    /// and `R` elsewhere, with `delta = 1 - sqrt(1 - area_reduction)`, so the throat area is
    /// `(1 - area_reduction)` of the open area (a smooth cosine profile; Gao et al. 2017 use 67 %).
    Stenosis {
        /// (y, z) of the axis.
        center: [f64; 2],
        /// Open radius.
        radius: f64,
        /// x of the throat.
        x0: f64,
        /// Axial length of the constriction.
        length: f64,
        /// Fraction of the open area removed at the throat, in [0, 1).
        area_reduction: f64,
    },
    /// Fluid where either shape has fluid.
    Union(Box<Shape>, Box<Shape>),
    /// Fluid where both shapes have fluid.
    Intersection(Box<Shape>, Box<Shape>),
    /// Fluid of the first shape minus the fluid of the second.
    Difference(Box<Shape>, Box<Shape>),
}

impl Shape {
    /// Signed distance at `p` (negative in the fluid).
    pub fn sdf(&self, p: [f64; 3]) -> f64 {
        match self {
            Shape::Channel { center, half_height } => (p[2] - center).abs() - half_height,
            Shape::Tube { center, radius } => (p[1] - center[0]).hypot(p[2] - center[1]) - radius,
            Shape::Stenosis { center, radius, x0, length, area_reduction } => {
                let r = (p[1] - center[0]).hypot(p[2] - center[1]);
                let rw = self.stenosis_radius(p[0]).unwrap_or(*radius);
                // The wall is a surface of revolution; r - R(x) is exact where the profile is flat
                // and within a factor sqrt(1 + R'(x)^2) of the distance on the slope, so divide by
                // that factor (first-order distance, exact on the surface).
                let slope = if (p[0] - x0).abs() < 0.5 * length {
                    let delta = 1.0 - (1.0 - area_reduction).sqrt();
                    let k = 2.0 * std::f64::consts::PI / length;
                    radius * delta * 0.5 * k * (k * (p[0] - x0)).sin()
                } else {
                    0.0
                };
                (r - rw) / (1.0 + slope * slope).sqrt()
            }
            Shape::Union(a, b) => a.sdf(p).min(b.sdf(p)),
            Shape::Intersection(a, b) => a.sdf(p).max(b.sdf(p)),
            Shape::Difference(a, b) => a.sdf(p).max(-b.sdf(p)),
        }
    }

    /// Wall radius of a stenosis at axial position `x` (None for other shapes).
    pub fn stenosis_radius(&self, x: f64) -> Option<f64> {
        match self {
            Shape::Stenosis { radius, x0, length, area_reduction, .. } => {
                let delta = 1.0 - (1.0 - area_reduction).sqrt();
                let u = x - x0;
                Some(if u.abs() < 0.5 * length {
                    radius * (1.0 - 0.5 * delta * (1.0 + (2.0 * std::f64::consts::PI * u / length).cos()))
                } else {
                    *radius
                })
            }
            _ => None,
        }
    }
}

/// A signed distance function sampled at the points `(i hx, j hy, k hz)` of a periodic grid over
/// the box, interpolated trilinearly. Identical f32 arithmetic on both backends.
#[derive(Clone, Debug, PartialEq)]
pub struct SdfGrid {
    /// Points per axis.
    pub dims: [u32; 3],
    /// Reciprocal spacing per axis.
    pub inv_h: [f32; 3],
    /// Values, x fastest.
    pub values: Vec<f32>,
    /// Upper bound of the interpolant over each block of [`SDF_BLOCK`]^3 grid cells (the largest
    /// corner value, plus a rounding allowance), x fastest; `ceil(dims / SDF_BLOCK)` blocks per
    /// axis. Most particles are far from the wall: one look-up here tells them so without the
    /// 8-point interpolation (see [`SdfGrid::deeper_than`]).
    pub block_max: Vec<f32>,
}

/// Grid cells per block edge of [`SdfGrid::block_max`] (1 rc at the usual spacing).
pub const SDF_BLOCK: u32 = 4;

/// Added to a block's largest corner value: trilinear interpolation in f32 can exceed its largest
/// corner by a few ulps (values are O(10)), never by this much.
const BLOCK_ROUNDING: f32 = 1e-3;

/// Grid spacing aimed for when sampling a shape (a quarter of the usual cut-off).
pub const SDF_SPACING: f64 = 0.25;

impl SdfGrid {
    /// Samples `shape` over a box of edges `len` with spacing close to [`SDF_SPACING`], coarser
    /// where needed to keep at most `max_points` values (the caller passes the device's limit).
    pub fn sample(shape: &Shape, len: [f32; 3], max_points: usize) -> Result<Self> {
        let mut h = SDF_SPACING;
        loop {
            let dims = len.map(|l| ((f64::from(l) / h).round() as u32).max(4));
            let total = dims.iter().map(|&d| d as usize).product::<usize>();
            if total <= max_points {
                let hs: [f64; 3] = std::array::from_fn(|k| f64::from(len[k]) / f64::from(dims[k]));
                let mut values = Vec::with_capacity(total);
                for k in 0..dims[2] {
                    for j in 0..dims[1] {
                        for i in 0..dims[0] {
                            let p = [f64::from(i) * hs[0], f64::from(j) * hs[1], f64::from(k) * hs[2]];
                            values.push(shape.sdf(p) as f32);
                        }
                    }
                }
                let block_max = block_maxima(&values, dims);
                return Ok(Self { dims, inv_h: hs.map(|h| (1.0 / h) as f32), values, block_max });
            }
            h *= 1.25;
            if h > 1.0 {
                return Err(KernelError::DeviceLimit(format!(
                    "the wall's distance field needs more than {max_points} grid points even at spacing 1"
                )));
            }
        }
    }

    /// Blocks per axis of [`SdfGrid::block_max`].
    pub fn block_dims(&self) -> [u32; 3] {
        self.dims.map(|d| d.div_ceil(SDF_BLOCK))
    }

    /// Whether the interpolated distance at `p` is certainly below `-margin` (deeper than
    /// `margin` in the fluid), from one look-up in [`SdfGrid::block_max`]. `false` means "look
    /// closer", not "near the wall"; when it says `true`, [`SdfGrid::eval`] would have given a
    /// value below `-margin`, so callers may skip it without changing any result.
    #[inline(always)]
    pub fn deeper_than(&self, p: [f32; 3], margin: f32) -> bool {
        let (i, _, _) = Self::locate(p[0], self.inv_h[0], self.dims[0]);
        let (j, _, _) = Self::locate(p[1], self.inv_h[1], self.dims[1]);
        let (k, _, _) = Self::locate(p[2], self.inv_h[2], self.dims[2]);
        let b = self.block_dims();
        let at = (i / SDF_BLOCK) + b[0] * ((j / SDF_BLOCK) + b[1] * (k / SDF_BLOCK));
        self.block_max[at as usize] < -margin
    }

    /// The values followed by the block maxima: the GPU's single distance-field buffer.
    pub fn gpu_words(&self) -> Vec<f32> {
        self.values.iter().chain(&self.block_max).copied().collect()
    }

    #[inline(always)]
    fn at(&self, i: u32, j: u32, k: u32) -> f32 {
        self.values[(i + self.dims[0] * (j + self.dims[1] * k)) as usize]
    }

    /// Grid cell and fractions of `p` along one axis (periodic).
    #[inline(always)]
    fn locate(x: f32, inv_h: f32, n: u32) -> (u32, u32, f32) {
        let nf = n as f32;
        let g = x * inv_h;
        let g = g - nf * (g / nf).floor();
        let i0 = (g as u32).min(n - 1);
        let f = g - i0 as f32;
        let i1 = if i0 + 1 == n { 0 } else { i0 + 1 };
        (i0, i1, f)
    }

    /// Interpolated distance and its gradient (of the trilinear interpolant) at `p`.
    #[inline]
    pub fn eval(&self, p: [f32; 3]) -> (f32, [f32; 3]) {
        let (i0, i1, fx) = Self::locate(p[0], self.inv_h[0], self.dims[0]);
        let (j0, j1, fy) = Self::locate(p[1], self.inv_h[1], self.dims[1]);
        let (k0, k1, fz) = Self::locate(p[2], self.inv_h[2], self.dims[2]);
        let c000 = self.at(i0, j0, k0);
        let c100 = self.at(i1, j0, k0);
        let c010 = self.at(i0, j1, k0);
        let c110 = self.at(i1, j1, k0);
        let c001 = self.at(i0, j0, k1);
        let c101 = self.at(i1, j0, k1);
        let c011 = self.at(i0, j1, k1);
        let c111 = self.at(i1, j1, k1);
        // Along x first, then y, then z: the WGSL twin uses the same order.
        let c00 = c000 + fx * (c100 - c000);
        let c10 = c010 + fx * (c110 - c010);
        let c01 = c001 + fx * (c101 - c001);
        let c11 = c011 + fx * (c111 - c011);
        let c0 = c00 + fy * (c10 - c00);
        let c1 = c01 + fy * (c11 - c01);
        let value = c0 + fz * (c1 - c0);
        let dx0 = (c100 - c000) + fy * ((c110 - c010) - (c100 - c000));
        let dx1 = (c101 - c001) + fy * ((c111 - c011) - (c101 - c001));
        let gx = (dx0 + fz * (dx1 - dx0)) * self.inv_h[0];
        let gy = ((c10 - c00) + fz * ((c11 - c01) - (c10 - c00))) * self.inv_h[1];
        let gz = (c1 - c0) * self.inv_h[2];
        (value, [gx, gy, gz])
    }

    /// Interpolated distance only.
    #[inline]
    pub fn value(&self, p: [f32; 3]) -> f32 {
        self.eval(p).0
    }
}

/// [`SdfGrid::block_max`] of `values` on a periodic grid of `dims` points: block `b` along an axis
/// covers the cells starting at points `SDF_BLOCK b ..`, whose corners are the points
/// `SDF_BLOCK b ..= SDF_BLOCK (b + 1)` (wrapped, and clipped at the last cell of a partial block).
fn block_maxima(values: &[f32], dims: [u32; 3]) -> Vec<f32> {
    let nb = dims.map(|d| d.div_ceil(SDF_BLOCK));
    // Per axis, the point indices the cells of block b touch.
    let span = |b: u32, n: u32| {
        let first = b * SDF_BLOCK;
        let last_cell = (first + SDF_BLOCK - 1).min(n - 1);
        (first..=last_cell + 1).map(move |i| i % n)
    };
    let mut out = Vec::with_capacity(nb.iter().map(|&b| b as usize).product());
    for bk in 0..nb[2] {
        for bj in 0..nb[1] {
            for bi in 0..nb[0] {
                let mut m = f32::NEG_INFINITY;
                for k in span(bk, dims[2]) {
                    for j in span(bj, dims[1]) {
                        for i in span(bi, dims[0]) {
                            m = m.max(values[(i + dims[0] * (j + dims[1] * k)) as usize]);
                        }
                    }
                }
                out.push(m + BLOCK_ROUNDING);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_have_the_right_sign_and_distance() {
        let ch = Shape::Channel { center: 5.0, half_height: 3.0 };
        assert!((ch.sdf([1.0, 1.0, 5.0]) + 3.0).abs() < 1e-12);
        assert!((ch.sdf([1.0, 1.0, 9.0]) - 1.0).abs() < 1e-12);
        let tube = Shape::Tube { center: [5.0, 5.0], radius: 4.0 };
        assert!((tube.sdf([0.0, 5.0, 5.0]) + 4.0).abs() < 1e-12);
        assert!((tube.sdf([0.0, 5.0, 10.0]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn stenosis_throat_has_the_requested_area() {
        let s = Shape::Stenosis { center: [0.0, 0.0], radius: 6.0, x0: 10.0, length: 8.0, area_reduction: 0.67 };
        let throat = s.stenosis_radius(10.0).expect("radius");
        assert!(((throat / 6.0).powi(2) - 0.33).abs() < 1e-12, "throat radius {throat}");
        assert_eq!(s.stenosis_radius(2.0), Some(6.0));
        assert!(s.sdf([10.0, throat - 0.1, 0.0]) < 0.0 && s.sdf([10.0, throat + 0.1, 0.0]) > 0.0);
    }

    #[test]
    fn composition_combines_fluid_regions() {
        let a = Shape::Channel { center: 5.0, half_height: 2.0 };
        let b = Shape::Tube { center: [5.0, 5.0], radius: 1.0 };
        let u = Shape::Union(Box::new(a.clone()), Box::new(b.clone()));
        let i = Shape::Intersection(Box::new(a.clone()), Box::new(b.clone()));
        let d = Shape::Difference(Box::new(a), Box::new(b));
        let on_axis = [0.0, 5.0, 5.0];
        let in_channel_only = [0.0, 1.0, 5.5];
        assert!(u.sdf(on_axis) < 0.0 && u.sdf(in_channel_only) < 0.0);
        assert!(i.sdf(on_axis) < 0.0 && i.sdf(in_channel_only) > 0.0);
        assert!(d.sdf(on_axis) > 0.0 && d.sdf(in_channel_only) < 0.0);
    }

    /// Trilinear interpolation reproduces a linear field exactly and its gradient too.
    #[test]
    fn grid_interpolates_linear_fields_exactly() {
        let ch = Shape::Channel { center: 5.0, half_height: 3.0 };
        let g = SdfGrid::sample(&ch, [4.0, 4.0, 10.0], 1 << 20).expect("grid");
        for z in [2.1f32, 3.3, 4.9, 6.7, 7.9] {
            let (v, grad) = g.eval([1.3, 2.7, z]);
            let exact = (z - 5.0).abs() - 3.0;
            // The kink at the mid-plane spoils exactness only within one grid spacing of z = 5.
            if (z - 5.0).abs() > 0.3 {
                assert!((v - exact).abs() < 1e-5, "z {z}: {v} vs {exact}");
                assert!((grad[2] - (z - 5.0).signum()).abs() < 1e-4 && grad[0].abs() < 1e-5);
            }
        }
    }

    #[test]
    fn grid_wraps_periodically() {
        let tube = Shape::Tube { center: [3.0, 3.0], radius: 2.0 };
        let g = SdfGrid::sample(&tube, [5.0, 6.0, 6.0], 1 << 20).expect("grid");
        let a = g.value([0.3, 3.0, 4.5]);
        let b = g.value([5.3, 3.0, 4.5]);
        let c = g.value([-4.7, 3.0, 4.5]);
        assert!((a - b).abs() < 1e-5 && (a - c).abs() < 1e-5);
    }

    #[test]
    fn coarsens_to_fit_the_limit() {
        let tube = Shape::Tube { center: [10.0, 10.0], radius: 8.0 };
        let g = SdfGrid::sample(&tube, [40.0, 20.0, 20.0], 100_000).expect("grid");
        assert!(g.values.len() <= 100_000);
    }

    /// The block bound never claims "deep" where the interpolant is not (the fast paths of
    /// bounce-back and the near-wall force would then change results), and it does claim it for
    /// most of a wide tube's interior (or it saves nothing). Dims not divisible by the block size
    /// and the periodic wrap are covered: 43 x 50 x 50 points.
    #[test]
    fn block_bound_is_safe_and_useful() {
        let s = Shape::Stenosis { center: [6.25, 6.25], radius: 5.0, x0: 5.0, length: 4.0, area_reduction: 0.67 };
        let len = [10.75f32, 12.5, 12.5];
        let g = SdfGrid::sample(&s, len, 1 << 20).expect("grid");
        assert_eq!(g.dims, [43, 50, 50]);
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let (mut deep, mut eligible) = (0, 0);
        for _ in 0..200_000 {
            let p = [next() * 1.2 * len[0] - 0.1 * len[0], next() * len[1], next() * len[2]];
            let v = g.value(p);
            for margin in [0.0f32, 1.0] {
                if g.deeper_than(p, margin) {
                    assert!(v < -margin, "{p:?}: value {v} but deeper than {margin}");
                }
            }
            // A block is one unit wide, so its corners lie within sqrt(3) of any point in it (the
            // stenosis field is not an exact distance near the throat, hence 97 %, not all).
            if v < -1.0 - 1.8 {
                eligible += 1;
                deep += usize::from(g.deeper_than(p, 1.0));
            }
        }
        assert!(deep as f64 > 0.97 * eligible as f64, "{deep} of {eligible} deep points found");
    }
}
