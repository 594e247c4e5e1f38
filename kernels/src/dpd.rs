//! DPD pair forces (Groot & Warren 1997, J. Chem. Phys. 107:4423) with the generalised weight
//! exponent, on the CPU. The GPU twin is `shaders/dpd.wgsl` (driven by `gpu/dpd.rs`).
//!
//! Both compute, for a pair at separation `d = x_i - x_j` (minimum image), `r = |d|`, `e = d / r`:
//!
//! `F_ij = [a w - gamma w_R^2 (e . v_ij) + sigma w_R theta_ij / sqrt(dt)] e`,
//! `w = 1 - r/rc`, `w_R = w^(s/2)`, `sigma = sqrt(2 gamma kT)`,
//!
//! with `theta_ij` from [`crate::rng::pair_noise`]. The pair virial `d (x) F_ij` is summed for the
//! pressure tensor. The CPU sweeps each pair once (half shell, Newton's third law) while the GPU
//! gathers each particle's force from both sides; the sums then differ in order only.

use bytemuck::{Pod, Zeroable};

use crate::rng::pair_noise;
use crate::system::DpdSystem;

/// Per-type-pair coefficients as both backends read them (32 bytes, the WGSL struct `PairCoeffs`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct PairCoeffs {
    /// Conservative amplitude a.
    pub a: f32,
    /// Dissipation gamma.
    pub gamma: f32,
    /// sigma / sqrt(dt) = sqrt(2 gamma kT / dt).
    pub sigma_isdt: f32,
    /// Cut-off squared.
    pub rc2: f32,
    /// 1 / rc.
    pub inv_rc: f32,
    /// s / 2, the exponent of w_R.
    pub half_s: f32,
    /// 1.0 when s = 2 (w_R = w, no `pow`), else 0.0.
    pub s_is_two: f32,
    /// Padding to 32 bytes.
    pub pad: f32,
}

/// Flattened `n_types x n_types` coefficient table of `system` (row-major).
pub fn pair_coeffs(system: &DpdSystem) -> Vec<PairCoeffs> {
    let nt = system.types.len();
    let mut out = Vec::with_capacity(nt * nt);
    for i in 0..nt {
        for j in 0..nt {
            let p = system.pairs.get(i, j);
            out.push(PairCoeffs {
                a: p.a,
                gamma: p.gamma,
                sigma_isdt: (2.0 * p.gamma * system.kt / system.dt).sqrt(),
                rc2: p.rc * p.rc,
                inv_rc: 1.0 / p.rc,
                half_s: 0.5 * p.s,
                s_is_two: if p.s == 2.0 { 1.0 } else { 0.0 },
                pad: 0.0,
            });
        }
    }
    out
}

/// Force on i from j for a pair inside the cut-off (`r2 < rc2`, `r2 > 0`).
#[inline(always)]
pub fn pair_force(d: [f32; 3], r2: f32, dv: [f32; 3], c: &PairCoeffs, theta: f32) -> [f32; 3] {
    let r = r2.sqrt();
    let inv_r = 1.0 / r;
    let w = 1.0 - r * c.inv_rc;
    let wr = if c.s_is_two != 0.0 {
        w
    } else {
        w.powf(c.half_s)
    };
    let e = [d[0] * inv_r, d[1] * inv_r, d[2] * inv_r];
    let ev = e[0] * dv[0] + e[1] * dv[1] + e[2] * dv[2];
    let f = c.a * w - c.gamma * (wr * wr) * ev + c.sigma_isdt * wr * theta;
    [e[0] * f, e[1] * f, e[2] * f]
}

/// Minimum-image separation `a - b` in a periodic box (`round` ties to even, as WGSL's `round`).
#[inline(always)]
pub fn min_image(a: &[f32; 4], b: &[f32; 4], len: &[f32; 3], inv_len: &[f32; 3]) -> [f32; 3] {
    std::array::from_fn(|k| {
        let d = a[k] - b[k];
        d - len[k] * (d * inv_len[k]).round_ties_even()
    })
}

/// Read-only inputs of a half-shell sweep: particles sorted by cell, `pos[k].w` holding the type
/// and `vel[k].w` the tag (both as f32 bits).
pub struct SweepInput<'a> {
    /// Sorted positions with the type in `w`.
    pub pos: &'a [[f32; 4]],
    /// Sorted (predicted) velocities with the tag in `w`.
    pub vel: &'a [[f32; 4]],
    /// Cell ranges into the sorted arrays (`start[c]..start[c+1]`).
    pub start: &'a [u32],
    /// Half-stencil CSR offsets (see [`crate::cell_list::CellGrid::half_stencil`]).
    pub stencil_offsets: &'a [u32],
    /// Half-stencil neighbour cells.
    pub stencil_cells: &'a [u32],
    /// Coefficient table.
    pub coeffs: &'a [PairCoeffs],
    /// Number of types.
    pub n_types: usize,
    /// Box edges and their reciprocals.
    pub len: [f32; 3],
    /// Reciprocal box edges.
    pub inv_len: [f32; 3],
    /// Philox key (the seed).
    pub key: [u32; 2],
    /// Step index the noise is drawn for.
    pub step: u64,
}

/// Sweeps the pairs owned by cells `cells` (own pairs and half-stencil neighbours), adding forces
/// to `force` (sorted order) and returning the virial sum over these pairs.
///
/// # Safety
/// `force` must be valid for every index of the particles of `cells` and of their half-stencil
/// neighbours, and no other thread may touch those entries during the call. [`crate::cpu`]
/// guarantees this by sweeping slabs of z layers with a gap between concurrent ones.
pub unsafe fn sweep(
    input: &SweepInput<'_>,
    cells: std::ops::Range<u32>,
    force: *mut [f32; 4],
) -> [f64; 6] {
    let mut vir = [0.0f64; 6];
    for c in cells {
        let (s0, s1) = (
            input.start[c as usize] as usize,
            input.start[c as usize + 1] as usize,
        );
        if s0 == s1 {
            continue;
        }
        let st = &input.stencil_cells[input.stencil_offsets[c as usize] as usize
            ..input.stencil_offsets[c as usize + 1] as usize];
        for a in s0..s1 {
            let pi = input.pos[a];
            let vi = input.vel[a];
            let ti = pi[3].to_bits() as usize;
            let tag_i = vi[3].to_bits();
            let mut fi = [0.0f32; 3];
            let mut wi = [0.0f32; 6];
            let mut visit = |b: usize| {
                let pj = &input.pos[b];
                let d = min_image(&pi, pj, &input.len, &input.inv_len);
                let r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                let cf = &input.coeffs[ti * input.n_types + pj[3].to_bits() as usize];
                if r2 < cf.rc2 && r2 > 0.0 {
                    let vj = &input.vel[b];
                    let dv = [vi[0] - vj[0], vi[1] - vj[1], vi[2] - vj[2]];
                    let theta = pair_noise(input.key, input.step, tag_i, vj[3].to_bits());
                    let f = pair_force(d, r2, dv, cf, theta);
                    fi[0] += f[0];
                    fi[1] += f[1];
                    fi[2] += f[2];
                    // SAFETY: b belongs to this sweep's cells or their half-stencil (caller contract).
                    let fj = unsafe { &mut *force.add(b) };
                    fj[0] -= f[0];
                    fj[1] -= f[1];
                    fj[2] -= f[2];
                    wi[0] += d[0] * f[0];
                    wi[1] += d[1] * f[1];
                    wi[2] += d[2] * f[2];
                    wi[3] += d[0] * f[1];
                    wi[4] += d[0] * f[2];
                    wi[5] += d[1] * f[2];
                }
            };
            for b in a + 1..s1 {
                visit(b);
            }
            for &nb in st {
                let (t0, t1) = (
                    input.start[nb as usize] as usize,
                    input.start[nb as usize + 1] as usize,
                );
                for b in t0..t1 {
                    visit(b);
                }
            }
            // SAFETY: a is a particle of this sweep's cells (caller contract).
            let f = unsafe { &mut *force.add(a) };
            f[0] += fi[0];
            f[1] += fi[1];
            f[2] += fi[2];
            for k in 0..6 {
                vir[k] += f64::from(wi[k]);
            }
        }
    }
    vir
}
