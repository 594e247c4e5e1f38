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
//!
//! ```
//! use hemoscale_kernels::dpd::{min_image, pair_force, PairCoeffs};
//! use hemoscale_kernels::DpdPair;
//!
//! let c = PairCoeffs::new(&DpdPair::STANDARD, 1.0, 0.01); // kT 1, dt 0.01
//! // At rest and without noise only the repulsion a (1 - r/rc) = 25 x 0.5 acts, along d.
//! let f = pair_force([0.5, 0.0, 0.0], 0.25, [0.0; 3], &c, 0.0);
//! assert!((f[0] - 12.5).abs() < 1e-5 && f[1] == 0.0 && f[2] == 0.0);
//! // Newton's third law holds bit for bit: swapping i and j flips d and the relative velocity,
//! // and the noise theta_ij is symmetric.
//! let (d, dv, theta) = ([0.3, -0.4, 0.2], [0.5, 0.1, -0.2], 0.7);
//! let fij = pair_force(d, 0.29, dv, &c, theta);
//! let fji = pair_force(d.map(|x: f32| -x), 0.29, dv.map(|x: f32| -x), &c, theta);
//! assert_eq!(fij, fji.map(|x| -x));
//! // Separations use the nearest periodic image: 0.2 and 4.8 in a box of 5 are 0.4 apart.
//! let d = min_image(&[0.2, 1.0, 1.0, 0.0], &[4.8, 1.0, 1.0, 0.0], &[5.0; 3], &[2.5; 3]);
//! assert!((d[0] - 0.4).abs() < 1e-6);
//! ```

use bytemuck::{Pod, Zeroable};
use glam::Vec3A;

use crate::rng::pair_noise;
use crate::system::DpdSystem;

/// Per-type-pair coefficients as both backends read them (48 bytes, the WGSL struct `PairCoeffs`).
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
    /// 2 alpha D0 of the Morse term (0: none).
    pub morse_k: f32,
    /// Morse alpha.
    pub morse_alpha: f32,
    /// Morse r0.
    pub morse_r0: f32,
    /// Padding to 48 bytes.
    pub pad: [f32; 2],
}

impl PairCoeffs {
    /// The coefficients of pair parameters `p` at temperature `kt` and time step `dt` (the step
    /// the noise is drawn for: the plasma's, or a sub-step of the platelet interface).
    pub fn new(p: &crate::system::DpdPair, kt: f32, dt: f32) -> Self {
        Self {
            a: p.a,
            gamma: p.gamma,
            sigma_isdt: (2.0 * p.gamma * kt / dt).sqrt(),
            rc2: p.rc * p.rc,
            inv_rc: 1.0 / p.rc,
            half_s: 0.5 * p.s,
            s_is_two: if p.s == 2.0 { 1.0 } else { 0.0 },
            morse_k: 2.0 * p.morse.alpha * p.morse.d0,
            morse_alpha: p.morse.alpha,
            morse_r0: p.morse.r0,
            pad: [0.0; 2],
        }
    }
}

/// Flattened `n_types x n_types` coefficient table of `system` (row-major).
pub fn pair_coeffs(system: &DpdSystem) -> Vec<PairCoeffs> {
    let nt = system.types.len();
    let mut out = Vec::with_capacity(nt * nt);
    for i in 0..nt {
        for j in 0..nt {
            let p = system.pairs.get(i, j);
            let both_frozen = system.types[i].frozen && system.types[j].frozen;
            let mut c = PairCoeffs::new(&p, system.kt, system.dt);
            if both_frozen {
                c.rc2 = 0.0;
            }
            out.push(c);
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
    let wr = if c.s_is_two != 0.0 { w } else { w.powf(c.half_s) };
    let e = [d[0] * inv_r, d[1] * inv_r, d[2] * inv_r];
    let ev = e[0] * dv[0] + e[1] * dv[1] + e[2] * dv[2];
    let mut f = c.a * w - c.gamma * (wr * wr) * ev + c.sigma_isdt * wr * theta;
    if c.morse_k != 0.0 {
        let x = (c.morse_alpha * (c.morse_r0 - r)).exp();
        f += c.morse_k * (x * x - x);
    }
    [e[0] * f, e[1] * f, e[2] * f]
}

/// Minimum-image separation `a - b` of two positions wrapped into the box: the raw difference
/// lies in (-L, L), so one conditional shift by L suffices (no `round`, which costs a libm call on
/// baseline x86-64). The WGSL twin uses the same comparisons.
#[inline(always)]
pub fn min_image(a: &[f32; 4], b: &[f32; 4], len: &[f32; 3], half_len: &[f32; 3]) -> [f32; 3] {
    std::array::from_fn(|k| {
        let d = a[k] - b[k];
        if d > half_len[k] {
            d - len[k]
        } else if d < -half_len[k] {
            d + len[k]
        } else {
            d
        }
    })
}

/// Read-only inputs of a half-shell sweep: particles sorted by cell.
pub struct SweepInput<'a> {
    /// Sorted positions, x components (structure of arrays, so the distance filter vectorises).
    pub x: &'a [f32],
    /// Sorted positions, y components.
    pub y: &'a [f32],
    /// Sorted positions, z components.
    pub z: &'a [f32],
    /// Sorted predicted velocities.
    pub vel: &'a [Vec3A],
    /// Sorted types.
    pub type_id: &'a [u32],
    /// Sorted tags.
    pub tag: &'a [u32],
    /// Cell ranges into the sorted arrays (`start[c]..start[c+1]`).
    pub start: &'a [u32],
    /// Half-stencil CSR offsets (see [`crate::cell_list::CellGrid::half_stencil_runs`]).
    pub stencil_offsets: &'a [u32],
    /// Half-stencil runs of cells, the own cell's run first.
    pub stencil_runs: &'a [[u32; 2]],
    /// Coefficient table.
    pub coeffs: &'a [PairCoeffs],
    /// Number of types.
    pub n_types: usize,
    /// Box edges.
    pub len: Vec3A,
    /// Largest cut-off squared (the first, cheap filter).
    pub max_rc2: f32,
    /// Philox key (the seed).
    pub key: [u32; 2],
    /// Step index the noise is drawn for.
    pub step: u64,
    /// Sorted virial weights of a domain-decomposed sweep ([`crate::domain`]): 1/2 for a
    /// particle this rank owns, 0 for a ghost. A pair's virial counts with the sum of its two
    /// weights, so a pair across a rank boundary, swept on both ranks, counts once in all, and a
    /// pair of two ghosts (another rank's) is skipped. Empty for a single domain: every pair
    /// counts fully, and the sweep is compiled without the weights.
    pub weight: &'a [f32],
}

/// Candidates within the cut-off found for one particle before their forces are computed.
const BATCH: usize = 64;

/// The particle whose pairs are being swept, with its running sums.
struct Sweeper<'s, 'a, const WEIGHTED: bool> {
    input: &'s SweepInput<'a>,
    force: *mut Vec3A,
    pi: Vec3A,
    vi: Vec3A,
    /// Virial weight of the swept particle (WEIGHTED only).
    wi: f32,
    row: usize,
    tag_i: u32,
    fi: Vec3A,
    wd: Vec3A,
    wo: Vec3A,
    count: usize,
    idx: [u32; BATCH],
    sep: [Vec3A; BATCH],
    dist2: [f32; BATCH],
    // Scratch of the vectorised distance filter (kept here: re-zeroing it per call cost more
    // than the filter itself).
    dx: [f32; BATCH],
    dy: [f32; BATCH],
    dz: [f32; BATCH],
    r2: [f32; BATCH],
    // Candidates of the current cell: its own particles, then those of its half-stencil runs,
    // gathered once per cell so each particle's filter is one contiguous, vectorised loop.
    cand_x: Vec<f32>,
    cand_y: Vec<f32>,
    cand_z: Vec<f32>,
    cand_idx: Vec<u32>,
}

impl<const WEIGHTED: bool> Sweeper<'_, '_, WEIGHTED> {
    /// Fills the candidate arrays of cell `c` from the runs of its half stencil.
    fn gather(&mut self, runs: &[[u32; 2]]) {
        let input = self.input;
        self.cand_x.clear();
        self.cand_y.clear();
        self.cand_z.clear();
        self.cand_idx.clear();
        for r in runs {
            let (b0, b1) = (input.start[r[0] as usize] as usize, input.start[r[1] as usize + 1] as usize);
            self.cand_x.extend_from_slice(&input.x[b0..b1]);
            self.cand_y.extend_from_slice(&input.y[b0..b1]);
            self.cand_z.extend_from_slice(&input.z[b0..b1]);
            self.cand_idx.extend(b0 as u32..b1 as u32);
        }
    }

    /// Distance filter over the candidates `b0..b1` (indices into the candidate arrays), in chunks
    /// whose first loop the compiler vectorises (minimum image by one conditional shift: the raw
    /// difference of wrapped positions lies in (-L, L); the WGSL twin does the same), then a
    /// compaction of the hits.
    #[inline(always)]
    fn scan(&mut self, b0: usize, b1: usize) {
        let input = self.input;
        let (lx, ly, lz) = (input.len.x, input.len.y, input.len.z);
        let (hx, hy, hz) = (0.5 * lx, 0.5 * ly, 0.5 * lz);
        let (xi, yi, zi) = (self.pi.x, self.pi.y, self.pi.z);
        let mut s = b0;
        while s < b1 {
            let e = b1.min(s + BATCH);
            let m = e - s;
            let (xs, ys, zs) = (&self.cand_x[s..e], &self.cand_y[s..e], &self.cand_z[s..e]);
            let (dx, dy, dz, r2) = (&mut self.dx[..m], &mut self.dy[..m], &mut self.dz[..m], &mut self.r2[..m]);
            for k in 0..m {
                let mut a = xi - xs[k];
                a = if a > hx { a - lx } else { a };
                a = if a < -hx { a + lx } else { a };
                let mut b = yi - ys[k];
                b = if b > hy { b - ly } else { b };
                b = if b < -hy { b + ly } else { b };
                let mut c = zi - zs[k];
                c = if c > hz { c - lz } else { c };
                c = if c < -hz { c + lz } else { c };
                dx[k] = a;
                dy[k] = b;
                dz[k] = c;
                r2[k] = a * a + b * b + c * c;
            }
            // Branch-free compaction: always write, advance only on a hit (hits are ~15 % of
            // candidates, so a branch here mispredicts often).
            if self.count + m > BATCH {
                self.flush();
            }
            for k in 0..m {
                let c = self.count;
                self.idx[c] = self.cand_idx[s + k];
                self.sep[c] = Vec3A::new(self.dx[k], self.dy[k], self.dz[k]);
                self.dist2[c] = self.r2[k];
                self.count = c + usize::from(self.r2[k] < input.max_rc2);
            }
            s = e;
        }
    }

    /// Forces of the collected candidates.
    #[inline(always)]
    fn flush(&mut self) {
        let input = self.input;
        for k in 0..self.count {
            let b = self.idx[k] as usize;
            let cf = &input.coeffs[self.row + input.type_id[b] as usize];
            let r2 = self.dist2[k];
            let weight = if WEIGHTED { self.wi + input.weight[b] } else { 1.0 };
            if r2 < cf.rc2 && r2 > 0.0 && (!WEIGHTED || weight > 0.0) {
                let d = self.sep[k];
                let theta = pair_noise(input.key, input.step, self.tag_i, input.tag[b]);
                let dv = self.vi - input.vel[b];
                let f = Vec3A::from(pair_force(d.into(), r2, dv.into(), cf, theta));
                self.fi += f;
                // SAFETY: b belongs to this sweep's cells or their half stencil (contract of `sweep`).
                unsafe { *self.force.add(b) -= f };
                let fw = if WEIGHTED { f * weight } else { f };
                self.wd += d * fw;
                self.wo += Vec3A::new(d.x, d.x, d.y) * Vec3A::new(fw.y, fw.z, fw.z);
            }
        }
        self.count = 0;
    }
}

/// Sweeps the pairs owned by cells `cells` (own pairs and half-stencil neighbours), adding forces
/// to `force` (sorted order) and returning the virial sum over these pairs.
///
/// Two phases per particle: a branch-light distance filter over all candidates (SIMD through
/// `Vec3A`) collecting those inside the largest cut-off, then noise and forces for those only.
///
/// # Safety
/// `force` must be valid for every index of the particles of `cells` and of their half-stencil
/// neighbours, and no other thread may touch those entries during the call. [`crate::cpu`]
/// guarantees this by sweeping slabs of z layers with a gap between concurrent ones.
///
/// `WEIGHTED` sweeps take the virial weights of [`SweepInput::weight`] (a decomposed run's rank
/// with ghosts); unweighted ones ignore them and cost nothing extra.
pub unsafe fn sweep<const WEIGHTED: bool>(
    input: &SweepInput<'_>,
    cells: std::ops::Range<u32>,
    force: *mut Vec3A,
) -> [f64; 6] {
    let mut vir = [0.0f64; 6];
    let mut sw = Sweeper::<WEIGHTED> {
        input,
        force,
        pi: Vec3A::ZERO,
        vi: Vec3A::ZERO,
        wi: 0.0,
        row: 0,
        tag_i: 0,
        fi: Vec3A::ZERO,
        wd: Vec3A::ZERO,
        wo: Vec3A::ZERO,
        count: 0,
        idx: [0; BATCH],
        sep: [Vec3A::ZERO; BATCH],
        dist2: [0.0; BATCH],
        dx: [0.0; BATCH],
        dy: [0.0; BATCH],
        dz: [0.0; BATCH],
        r2: [0.0; BATCH],
        cand_x: Vec::with_capacity(256),
        cand_y: Vec::with_capacity(256),
        cand_z: Vec::with_capacity(256),
        cand_idx: Vec::with_capacity(256),
    };
    for c in cells {
        let (s0, s1) = (input.start[c as usize] as usize, input.start[c as usize + 1] as usize);
        if s0 == s1 {
            continue;
        }
        let runs = &input.stencil_runs
            [input.stencil_offsets[c as usize] as usize..input.stencil_offsets[c as usize + 1] as usize];
        sw.gather(runs);
        let n_cand = sw.cand_idx.len();
        for a in s0..s1 {
            sw.pi = Vec3A::new(input.x[a], input.y[a], input.z[a]);
            sw.vi = input.vel[a];
            sw.row = input.type_id[a] as usize * input.n_types;
            sw.tag_i = input.tag[a];
            if WEIGHTED {
                sw.wi = input.weight[a];
            }
            sw.fi = Vec3A::ZERO;
            sw.wd = Vec3A::ZERO;
            sw.wo = Vec3A::ZERO;
            // The own cell leads the candidates: pair a with the particles after it.
            sw.scan(a - s0 + 1, n_cand);
            sw.flush();
            // SAFETY: a is a particle of this sweep's cells (caller contract).
            unsafe { *force.add(a) += sw.fi };
            let w = [sw.wd.x, sw.wd.y, sw.wd.z, sw.wo.x, sw.wo.y, sw.wo.z];
            for k in 0..6 {
                vir[k] += f64::from(w[k]);
            }
        }
    }
    vir
}
