//! The hybrid force between the platelet membrane and the plasma: a DPD pair force (repulsion,
//! dissipation and noise, which carry the fluid's shear stress to the membrane and keep the
//! contact thermalised) plus a Morse term, between outer-membrane particles and plasma (and wall)
//! particles. The WGSL twin (`shaders/interface.wgsl`, wrapped by [`crate::gpu::interface`]) gathers
//! both sides over the list and reverse index built here.
//!
//! Under multiple time stepping ([`crate::mts`]) this force is evaluated several times per plasma
//! step while the plasma stands still at its mid-step positions, so its pairs come from a list
//! built once per plasma step with a skin ([`InterfaceList`]), rebuilt early if a membrane particle
//! moves more than half the skin. Each pair's force is computed once per evaluation into a pair
//! array; the membrane side and the plasma side then gather their sums from it in list order, so
//! Newton's third law holds exactly and nothing needs atomics.
//!
//! The pair noise uses the same Philox stream as plasma pairs ([`crate::rng::pair_noise`]), keyed
//! by the unordered pair of global ids and the interface sub-step counter; platelet and plasma ids
//! never coincide, so the streams cannot collide.
//!
//! ```
//! use hemoscale_kernels::dpd::PairCoeffs;
//! use hemoscale_kernels::interface::{interface_forces, InterfaceInput, InterfaceList};
//! use hemoscale_kernels::{rng::seed_key, DpdPair};
//!
//! // One membrane particle; plasma particles 0.5 and 2 away along x.
//! let len = [6.0; 3];
//! let membrane_pos = [[2.0, 2.0, 2.0, 0.0]];
//! let plasma_pos = [[2.5, 2.0, 2.0, 0.0], [4.0, 2.0, 2.0, 0.0]];
//! // Reach: the cut-off 1 plus a skin of 0.3. Only the near plasma particle pairs.
//! let list = InterfaceList::build(&[0], &membrane_pos, &plasma_pos, len, 1.3);
//! assert_eq!((list.pairs(), list.touched.as_slice()), (1, &[0][..]));
//! let coeffs = PairCoeffs::new(&DpdPair::STANDARD, 1.0, 0.01);
//! let still = [[0.0; 4]; 2];
//! let input = InterfaceInput {
//!     plat_pos: &membrane_pos,
//!     plat_vel: &still[..1],
//!     plat_tag: &[1_000_000],
//!     plasma_pos: &plasma_pos,
//!     plasma_vel: &still,
//!     plasma_tag: &[0, 1],
//!     coeffs: &coeffs,
//!     len,
//!     key: seed_key(1),
//!     counter: 0,
//! };
//! let (mut pair_f, mut membrane_f, mut plasma_f) = (Vec::new(), Vec::new(), Vec::new());
//! interface_forces(&list, &input, &mut pair_f, &mut membrane_f, &mut plasma_f);
//! // Action and reaction cancel exactly, along the pair axis.
//! assert_eq!(membrane_f[0], -plasma_f[0]);
//! assert!(membrane_f[0].x != 0.0 && membrane_f[0].y == 0.0 && membrane_f[0].z == 0.0);
//! ```

use glam::Vec3;
use rayon::prelude::*;

use crate::dpd::{pair_force, PairCoeffs};
use crate::nonbonded::{min_image_any, PairGrid};
use crate::rng::pair_noise;

/// Membrane–plasma pairs within reach, and the reverse index for the plasma side.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InterfaceList {
    /// Platelet-particle index of each membrane particle that takes part (the outer layer).
    pub membrane: Vec<u32>,
    /// `plasma[offsets[m]..offsets[m + 1]]` are the plasma partners of `membrane[m]`.
    pub offsets: Vec<u32>,
    /// Plasma indices (engine memory order) of the pair entries.
    pub plasma: Vec<u32>,
    /// Plasma particles that have at least one pair.
    pub touched: Vec<u32>,
    /// `touched_entries[touched_offsets[t]..touched_offsets[t + 1]]` are the pair entries of
    /// `touched[t]`.
    pub touched_offsets: Vec<u32>,
    /// Pair entry indices, grouped by plasma particle.
    pub touched_entries: Vec<u32>,
    /// Membrane positions at the build.
    reference: Vec<[f32; 4]>,
}

impl InterfaceList {
    /// Pairs between the membrane particles `membrane` (indices into `plat_pos`) and plasma
    /// particles `plasma_pos` closer than `reach`.
    pub fn build(membrane: &[u32], plat_pos: &[[f32; 4]], plasma_pos: &[[f32; 4]], len: [f32; 3], reach: f32) -> Self {
        let l = Vec3::from(len);
        let r2 = reach * reach;
        // Only plasma near the membrane can pair with it: keep the particles inside the bounding
        // box of the membrane grown by the reach (periodic), and bin those alone, rather than the
        // whole plasma every plasma step.
        let (lo, hi) = membrane.iter().fold((Vec3::splat(f32::MAX), Vec3::splat(f32::MIN)), |(a, b), &m| {
            let x = plat_pos[m as usize];
            let v = Vec3::new(x[0], x[1], x[2]);
            (a.min(v), b.max(v))
        });
        let (center, half) = (0.5 * (lo + hi), 0.5 * (hi - lo) + Vec3::splat(reach));
        let near: Vec<u32> = (0..plasma_pos.len() as u32)
            .into_par_iter()
            .with_min_len(4096)
            .filter(|&j| {
                let p = plasma_pos[j as usize];
                let d = min_image_any(Vec3::new(p[0], p[1], p[2]) - center, l).abs();
                d.x <= half.x && d.y <= half.y && d.z <= half.z
            })
            .collect();
        let near_pos: Vec<[f32; 4]> = near.iter().map(|&j| plasma_pos[j as usize]).collect();
        let grid = PairGrid::new(&near_pos, len, reach);
        let lists: Vec<Vec<u32>> = membrane
            .par_iter()
            .with_min_len(512)
            .map(|&m| {
                let x = plat_pos[m as usize];
                let xm = Vec3::new(x[0], x[1], x[2]);
                let mut mine = Vec::new();
                grid.for_each_near(&x, |k| {
                    let p = near_pos[k as usize];
                    if min_image_any(xm - Vec3::new(p[0], p[1], p[2]), l).length_squared() < r2 {
                        mine.push(near[k as usize]);
                    }
                });
                mine.sort_unstable();
                mine
            })
            .collect();
        let mut offsets = vec![0u32];
        let mut plasma = Vec::new();
        for m in lists {
            plasma.extend(m);
            offsets.push(plasma.len() as u32);
        }
        // Reverse index: entries sorted by plasma particle, ties in entry order.
        let mut by_plasma: Vec<u32> = (0..plasma.len() as u32).collect();
        by_plasma.sort_by_key(|&e| (plasma[e as usize], e));
        let mut touched = Vec::new();
        let mut touched_offsets = vec![0u32];
        for (k, &e) in by_plasma.iter().enumerate() {
            let j = plasma[e as usize];
            if touched.last() != Some(&j) {
                if k > 0 {
                    touched_offsets.push(k as u32);
                }
                touched.push(j);
            }
        }
        touched_offsets.push(by_plasma.len() as u32);
        if touched.is_empty() {
            touched_offsets = vec![0];
        }
        let reference = membrane.iter().map(|&m| plat_pos[m as usize]).collect();
        Self {
            membrane: membrane.to_vec(),
            offsets,
            plasma,
            touched,
            touched_offsets,
            touched_entries: by_plasma,
            reference,
        }
    }

    /// True when a membrane particle moved more than `skin / 2` since the build.
    pub fn is_stale(&self, plat_pos: &[[f32; 4]], skin: f32) -> bool {
        let lim = 0.25 * skin * skin;
        self.membrane.iter().zip(&self.reference).any(|(&m, r)| {
            let a = plat_pos[m as usize];
            let d = Vec3::new(a[0] - r[0], a[1] - r[1], a[2] - r[2]);
            d.length_squared() > lim
        })
    }

    /// Number of pairs.
    pub fn pairs(&self) -> usize {
        self.plasma.len()
    }
}

/// Inputs of one evaluation of the interface force.
pub struct InterfaceInput<'a> {
    /// Platelet positions (unwrapped).
    pub plat_pos: &'a [[f32; 4]],
    /// Platelet velocities.
    pub plat_vel: &'a [[f32; 4]],
    /// Global ids of platelet particles.
    pub plat_tag: &'a [u32],
    /// Plasma positions (engine order).
    pub plasma_pos: &'a [[f32; 4]],
    /// Plasma velocities.
    pub plasma_vel: &'a [[f32; 4]],
    /// Plasma global ids.
    pub plasma_tag: &'a [u32],
    /// Pair coefficients (sigma scaled for the interface sub-step).
    pub coeffs: &'a PairCoeffs,
    /// Box edges.
    pub len: [f32; 3],
    /// Philox key of the run.
    pub key: [u32; 2],
    /// Interface sub-step counter (the noise's step word).
    pub counter: u64,
}

/// Evaluates every pair into `pair_f` (force on the membrane side), then gathers the membrane
/// forces into `membrane_f` (one per entry of `list.membrane`) and the plasma forces into
/// `plasma_f` (one per entry of `list.touched`).
pub fn interface_forces(
    list: &InterfaceList,
    inp: &InterfaceInput<'_>,
    pair_f: &mut Vec<Vec3>,
    membrane_f: &mut Vec<Vec3>,
    plasma_f: &mut Vec<Vec3>,
) {
    let l = Vec3::from(inp.len);
    let c = inp.coeffs;
    pair_f.resize(list.plasma.len(), Vec3::ZERO);
    membrane_f.resize(list.membrane.len(), Vec3::ZERO);
    plasma_f.resize(list.touched.len(), Vec3::ZERO);
    // Pairs, grouped by membrane particle (each group written by one task).
    let groups: Vec<(usize, usize)> =
        (0..list.membrane.len()).map(|m| (list.offsets[m] as usize, list.offsets[m + 1] as usize)).collect();
    let pf = SharedSlice(pair_f.as_mut_ptr());
    membrane_f.par_iter_mut().with_min_len(512).zip(groups.par_iter()).enumerate().for_each(|(m, (mf, &(lo, hi)))| {
        let pm = list.membrane[m] as usize;
        let (x, v) = (inp.plat_pos[pm], inp.plat_vel[pm]);
        let mut sum = Vec3::ZERO;
        for e in lo..hi {
            let j = list.plasma[e] as usize;
            let (y, w) = (inp.plasma_pos[j], inp.plasma_vel[j]);
            let d = min_image_any(Vec3::new(x[0] - y[0], x[1] - y[1], x[2] - y[2]), l);
            let r2 = d.length_squared();
            let f = if r2 < c.rc2 && r2 > 0.0 {
                let theta = pair_noise(inp.key, inp.counter, inp.plat_tag[pm], inp.plasma_tag[j]);
                let dv = [v[0] - w[0], v[1] - w[1], v[2] - w[2]];
                Vec3::from(pair_force(d.into(), r2, dv, c, theta))
            } else {
                Vec3::ZERO
            };
            // SAFETY: entry e belongs to membrane particle m's range only; ranges are disjoint.
            unsafe { *pf.get().add(e) = f };
            sum += f;
        }
        *mf = sum;
    });
    let pair_f: &[Vec3] = pair_f;
    plasma_f.par_iter_mut().with_min_len(2048).enumerate().for_each(|(t, out)| {
        let (lo, hi) = (list.touched_offsets[t] as usize, list.touched_offsets[t + 1] as usize);
        *out = -list.touched_entries[lo..hi].iter().fold(Vec3::ZERO, |s, &e| s + pair_f[e as usize]);
    });
}

/// Raw pointer shared by tasks that write disjoint entries.
#[derive(Clone, Copy)]
struct SharedSlice(*mut Vec3);
// SAFETY: used only for writes to disjoint index ranges, as documented at the use.
unsafe impl Send for SharedSlice {}
// SAFETY: as above.
unsafe impl Sync for SharedSlice {}
impl SharedSlice {
    fn get(self) -> *mut Vec3 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpd::pair_coeffs;
    use crate::rng::seed_key;
    use crate::system::{DpdSystem, SimBox};

    /// Membrane and plasma forces are equal and opposite in total, and each membrane force equals
    /// the direct sum over all plasma particles in range (the list misses nothing).
    #[test]
    fn forces_balance_and_the_list_is_complete() {
        let len = [8.0f32, 8.0, 8.0];
        let plasma: Vec<[f32; 4]> = (0..1500)
            .map(|i| {
                let f = i as f32;
                [(f * 0.618).fract() * 8.0, (f * 0.414).fract() * 8.0, (f * 0.732).fract() * 8.0, 0.0]
            })
            .collect();
        let pv: Vec<[f32; 4]> = (0..1500).map(|i| [((i % 7) as f32 - 3.0) * 0.1, 0.2, -0.1, 0.0]).collect();
        let ptag: Vec<u32> = (0..1500).collect();
        let plat: Vec<[f32; 4]> = (0..40)
            .map(|i| {
                let t = i as f32 * 0.3;
                [4.0 + 3.0 * t.cos(), 4.0 + 3.0 * t.sin(), 7.5 + 0.01 * i as f32, 0.0]
            })
            .collect();
        let mv: Vec<[f32; 4]> = vec![[0.3, 0.0, 0.1, 0.0]; 40];
        let mtag: Vec<u32> = (2000..2040).collect();
        let membrane: Vec<u32> = (0..40).collect();
        let sys = DpdSystem::standard(SimBox::cubic(8.0), 3);
        let c = pair_coeffs(&sys)[0];
        let list = InterfaceList::build(&membrane, &plat, &plasma, len, 1.3);
        let inp = InterfaceInput {
            plat_pos: &plat,
            plat_vel: &mv,
            plat_tag: &mtag,
            plasma_pos: &plasma,
            plasma_vel: &pv,
            plasma_tag: &ptag,
            coeffs: &c,
            len,
            key: seed_key(3),
            counter: 11,
        };
        let (mut pf, mut mf, mut qf) = (Vec::new(), Vec::new(), Vec::new());
        interface_forces(&list, &inp, &mut pf, &mut mf, &mut qf);
        let total = mf.iter().chain(qf.iter()).fold(Vec3::ZERO, |s, f| s + *f);
        assert!(total.length() < 1e-3, "net {total}");
        let l = Vec3::from(len);
        for (m, &p) in membrane.iter().enumerate() {
            let x = plat[p as usize];
            let mut want = Vec3::ZERO;
            for j in 0..plasma.len() {
                let y = plasma[j];
                let d = min_image_any(Vec3::new(x[0] - y[0], x[1] - y[1], x[2] - y[2]), l);
                let r2 = d.length_squared();
                if r2 < c.rc2 {
                    let theta = pair_noise(inp.key, 11, mtag[m], ptag[j]);
                    let w = pv[j];
                    let dv = [mv[m][0] - w[0], mv[m][1] - w[1], mv[m][2] - w[2]];
                    want += Vec3::from(pair_force(d.into(), r2, dv, &c, theta));
                }
            }
            assert!((want - mf[m]).length() < 1e-3 * (1.0 + want.length()), "membrane {m}: {want} vs {}", mf[m]);
        }
    }
}
