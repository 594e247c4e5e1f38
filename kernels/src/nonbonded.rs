//! Non-bonded forces among platelet particles: Lennard-Jones, by default truncated at its minimum
//! `2^(1/6) sigma` (purely repulsive, WCA), so the stress-free rest shape ([`crate::platelet`])
//! feels nothing and the force acts on compression and on contact between platelets. Pairs joined
//! by a spring are excluded. The WGSL twin of the force loop (`shaders/nonbonded.wgsl`, wrapped by
//! [`crate::gpu::nonbonded`]) gathers over the list built here.
//!
//! Pairs come from a Verlet list with a skin, built from a cell grid over the periodic box
//! ([`PairGrid`]) and rebuilt when some particle has moved more than half the skin since the last
//! build ([`NeighborList::is_stale`]): the inner levels of multiple time stepping call the force
//! many times per plasma step, and the list is what keeps each call cheap. Lists are per
//! particle (each pair appears in both lists) and forces are gathered, as everywhere in hemoscale.
//!
//! ```
//! use hemoscale_kernels::nonbonded::{lj_forces, Exclusions, LennardJones, NeighborList};
//!
//! // Three particles in a row, 0.5 apart; 0 and 1 are joined by a spring.
//! let lj = LennardJones::wca(1.0, 0.5);
//! let pos = [[1.0, 1.0, 1.0, 0.0], [1.5, 1.0, 1.0, 0.0], [2.0, 1.0, 1.0, 0.0]];
//! let springs = Exclusions::new(3, [(0, 1)].into_iter());
//! let list = NeighborList::build(&pos, [5.0; 3], lj.rcut + 0.3, &springs);
//! // Only the pair (1, 2) is listed (0 and 2 are beyond the cut-off plus skin), in both lists.
//! assert_eq!((list.offsets.as_slice(), list.list.as_slice()), (&[0, 0, 1, 2][..], &[2, 1][..]));
//! let mut f = [[0.0f32; 4]; 3];
//! lj_forces(&list, &pos, &lj, [5.0; 3], &mut f);
//! // At r = sigma the WCA force is 24 eps / sigma = 48, repulsive.
//! assert_eq!(f[0], [0.0; 4]);
//! assert!((f[2][0] - 48.0).abs() < 1e-3 && f[1][0] == -f[2][0]);
//! assert!(!list.is_stale(&pos, 0.3));
//! ```

use glam::Vec3;
use rayon::prelude::*;

/// Lennard-Jones `U = 4 eps [(sigma/r)^12 - (sigma/r)^6]`, cut (not shifted) at `rcut`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LennardJones {
    /// Well depth.
    pub epsilon: f32,
    /// Diameter.
    pub sigma: f32,
    /// Cut-off (`2^(1/6) sigma` for the repulsive WCA form).
    pub rcut: f32,
}

impl LennardJones {
    /// The purely repulsive form: cut at the minimum and shifted by eps, so force and energy are
    /// continuous there.
    pub fn wca(epsilon: f32, sigma: f32) -> Self {
        Self { epsilon, sigma, rcut: 2f32.powf(1.0 / 6.0) * sigma }
    }
    /// Force on i from j at separation `d = x_i - x_j` with `r2 = |d|^2 < rcut^2`.
    #[inline(always)]
    pub fn force(&self, d: Vec3, r2: f32) -> Vec3 {
        let s2 = self.sigma * self.sigma / r2;
        let s6 = s2 * s2 * s2;
        d * (24.0 * self.epsilon * s6 * (2.0 * s6 - 1.0) / r2)
    }
}

/// Minimum-image difference for positions that may be unwrapped (any number of boxes apart).
/// Rounds by truncating casts: `f32::round` is a libm call on baseline x86-64 (no SSE4.1), which
/// cost 3 % of a platelet run.
#[inline(always)]
pub fn min_image_any(d: Vec3, len: Vec3) -> Vec3 {
    let round = |x: f32| (if x >= 0.0 { x + 0.5 } else { x - 0.5 }) as i32 as f32;
    let q = d / len;
    d - len * Vec3::new(round(q.x), round(q.y), round(q.z))
}

/// Points binned into a periodic grid of cells at least `reach` wide (or one cell per axis
/// when the box is too small for three: the search then visits every cell once).
pub struct PairGrid {
    dims: [i32; 3],
    len: Vec3,
    /// `order[start[c]..start[c + 1]]` are the points in cell c.
    start: Vec<u32>,
    order: Vec<u32>,
}

impl PairGrid {
    /// Bins `pos` (unwrapped positions are wrapped for binning).
    pub fn new(pos: &[[f32; 4]], len: [f32; 3], reach: f32) -> Self {
        let len = Vec3::from(len);
        let dims: [i32; 3] = std::array::from_fn(|k| {
            let d = (len[k] / reach).floor() as i32;
            if d >= 3 {
                d
            } else {
                1
            }
        });
        let n_cells = (dims[0] * dims[1] * dims[2]) as usize;
        let cell_of: Vec<u32> = pos.iter().map(|p| Self::cell(dims, len, p)).collect();
        let mut count = vec![0u32; n_cells + 1];
        for &c in &cell_of {
            count[c as usize + 1] += 1;
        }
        for c in 0..n_cells {
            count[c + 1] += count[c];
        }
        let start = count.clone();
        let mut fill = count;
        let mut order = vec![0u32; pos.len()];
        for (i, &c) in cell_of.iter().enumerate() {
            order[fill[c as usize] as usize] = i as u32;
            fill[c as usize] += 1;
        }
        Self { dims, len, start, order }
    }

    fn cell(dims: [i32; 3], len: Vec3, p: &[f32; 4]) -> u32 {
        let c: [i32; 3] = std::array::from_fn(|k| {
            let x = p[k] - len[k] * (p[k] / len[k]).floor();
            ((x / len[k] * dims[k] as f32) as i32).clamp(0, dims[k] - 1)
        });
        ((c[2] * dims[1] + c[1]) * dims[0] + c[0]) as u32
    }

    /// Calls `visit(j)` for every binned point in the cells around `x` (the 27 neighbours, or all
    /// cells of an axis with a single cell), each point once.
    pub fn for_each_near(&self, x: &[f32; 4], mut visit: impl FnMut(u32)) {
        let c = Self::cell(self.dims, self.len, x) as i32;
        let (cx, cy, cz) = (c % self.dims[0], (c / self.dims[0]) % self.dims[1], c / (self.dims[0] * self.dims[1]));
        let span = |d: i32| if d == 1 { 0..=0 } else { -1..=1 };
        for dz in span(self.dims[2]) {
            for dy in span(self.dims[1]) {
                for dx in span(self.dims[0]) {
                    let w = |v: i32, d: i32| (v + d).rem_euclid(d.max(1));
                    let (x, y, z) = (
                        w(cx + dx, self.dims[0]) % self.dims[0],
                        w(cy + dy, self.dims[1]) % self.dims[1],
                        w(cz + dz, self.dims[2]) % self.dims[2],
                    );
                    let cell = ((z * self.dims[1] + y) * self.dims[0] + x) as usize;
                    for &j in &self.order[self.start[cell] as usize..self.start[cell + 1] as usize] {
                        visit(j);
                    }
                }
            }
        }
    }
}

/// Sorted per-particle exclusion lists (the spring partners), CSR.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exclusions {
    offsets: Vec<u32>,
    partners: Vec<u32>,
}

impl Exclusions {
    /// From the pairs `(i, j)` of `n` particles.
    pub fn new(n: usize, pairs: impl Iterator<Item = (u32, u32)>) -> Self {
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (i, j) in pairs {
            lists[i as usize].push(j);
            lists[j as usize].push(i);
        }
        let mut offsets = vec![0u32];
        let mut partners = Vec::new();
        for mut l in lists {
            l.sort_unstable();
            l.dedup();
            partners.extend(l);
            offsets.push(partners.len() as u32);
        }
        Self { offsets, partners }
    }
    /// True when `i` and `j` are excluded.
    pub fn contains(&self, i: u32, j: u32) -> bool {
        let l = &self.partners[self.offsets[i as usize] as usize..self.offsets[i as usize + 1] as usize];
        l.binary_search(&j).is_ok()
    }
}

/// Per-particle Verlet lists among one set of particles.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NeighborList {
    /// `list[offsets[i]..offsets[i + 1]]` are i's neighbours, in ascending order.
    pub offsets: Vec<u32>,
    /// Neighbour indices.
    pub list: Vec<u32>,
    /// Positions at the build.
    reference: Vec<[f32; 4]>,
}

impl NeighborList {
    /// The positions the list was built at (empty for an empty list).
    pub fn reference(&self) -> &[[f32; 4]] {
        &self.reference
    }

    /// All non-excluded pairs closer than `reach` (cut-off plus skin).
    pub fn build(pos: &[[f32; 4]], len: [f32; 3], reach: f32, exclusions: &Exclusions) -> Self {
        Self::build_where(pos, len, reach, exclusions, &|_| true)
    }

    /// As [`Self::build`], with lists only for the particles `include` accepts (the others get
    /// empty lists). Each list holds the same neighbours in the same order as [`Self::build`]'s,
    /// so forces summed from it are the same bits.
    pub fn build_where(
        pos: &[[f32; 4]],
        len: [f32; 3],
        reach: f32,
        exclusions: &Exclusions,
        include: &(dyn Fn(usize) -> bool + Sync),
    ) -> Self {
        let grid = PairGrid::new(pos, len, reach);
        let l = Vec3::from(len);
        let r2 = reach * reach;
        let lists: Vec<Vec<u32>> = (0..pos.len())
            .into_par_iter()
            .with_min_len(2048)
            .map(|i| {
                let xi = Vec3::new(pos[i][0], pos[i][1], pos[i][2]);
                let mut mine = Vec::new();
                if !include(i) {
                    return mine;
                }
                grid.for_each_near(&pos[i], |j| {
                    if j as usize != i && !exclusions.contains(i as u32, j) {
                        let xj = Vec3::new(pos[j as usize][0], pos[j as usize][1], pos[j as usize][2]);
                        if min_image_any(xi - xj, l).length_squared() < r2 {
                            mine.push(j);
                        }
                    }
                });
                mine.sort_unstable();
                mine
            })
            .collect();
        let mut offsets = vec![0u32];
        let mut list = Vec::new();
        for m in lists {
            list.extend(m);
            offsets.push(list.len() as u32);
        }
        Self { offsets, list, reference: pos.to_vec() }
    }

    /// True when some particle moved more than `skin / 2` since the build (pairs may be missing).
    pub fn is_stale(&self, pos: &[[f32; 4]], skin: f32) -> bool {
        let lim = 0.25 * skin * skin;
        self.reference.len() != pos.len()
            || pos.par_iter().zip(self.reference.par_iter()).any(|(a, b)| {
                let d = Vec3::new(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
                d.length_squared() > lim
            })
    }
}

/// Lennard-Jones forces on every particle from its list, written to `out` (overwriting).
pub fn lj_forces(nl: &NeighborList, pos: &[[f32; 4]], lj: &LennardJones, len: [f32; 3], out: &mut [[f32; 4]]) {
    lj_forces_where(nl, pos, lj, len, &|_| true, out);
}

/// As [`lj_forces`] for the particles `include` accepts; the others keep their entries of `out`.
pub fn lj_forces_where(
    nl: &NeighborList,
    pos: &[[f32; 4]],
    lj: &LennardJones,
    len: [f32; 3],
    include: &(dyn Fn(usize) -> bool + Sync),
    out: &mut [[f32; 4]],
) {
    let l = Vec3::from(len);
    let rc2 = lj.rcut * lj.rcut;
    out.par_iter_mut().with_min_len(2048).enumerate().for_each(|(i, o)| {
        if !include(i) {
            return;
        }
        let xi = Vec3::new(pos[i][0], pos[i][1], pos[i][2]);
        let mut f = Vec3::ZERO;
        for &j in &nl.list[nl.offsets[i] as usize..nl.offsets[i + 1] as usize] {
            let p = pos[j as usize];
            let d = min_image_any(xi - Vec3::new(p[0], p[1], p[2]), l);
            let r2 = d.length_squared();
            if r2 < rc2 && r2 > 0.0 {
                f += lj.force(d, r2);
            }
        }
        *o = [f.x, f.y, f.z, 0.0];
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list finds exactly the pairs a brute-force search finds, across the periodic boundary.
    #[test]
    fn verlet_list_matches_brute_force() {
        let len = [7.0f32, 5.5, 9.0];
        let n = 400;
        let pos: Vec<[f32; 4]> = (0..n)
            .map(|i| {
                let f = i as f32;
                [
                    (f * 0.618).fract() * 7.0 + 7.0 * (i % 3) as f32,
                    (f * 0.414).fract() * 5.5,
                    (f * 0.732).fract() * 9.0,
                    0.0,
                ]
            })
            .collect();
        let ex = Exclusions::new(n, (0..n as u32 - 1).map(|i| (i, i + 1)));
        let nl = NeighborList::build(&pos, len, 1.2, &ex);
        let l = Vec3::from(len);
        for i in 0..n {
            let mut want: Vec<u32> = (0..n as u32)
                .filter(|&j| j as usize != i && !ex.contains(i as u32, j))
                .filter(|&j| {
                    let (a, b) = (pos[i], pos[j as usize]);
                    min_image_any(Vec3::new(a[0] - b[0], a[1] - b[1], a[2] - b[2]), l).length() < 1.2
                })
                .collect();
            want.sort_unstable();
            assert_eq!(&nl.list[nl.offsets[i] as usize..nl.offsets[i + 1] as usize], &want[..], "particle {i}");
        }
    }

    #[test]
    fn wca_force_vanishes_at_the_cut_and_repels_inside() {
        let lj = LennardJones::wca(1.0, 0.5);
        let at = |r: f32| lj.force(Vec3::new(r, 0.0, 0.0), r * r).x;
        assert!(at(lj.rcut).abs() < 1e-4);
        assert!(at(0.9 * lj.rcut) > 0.0 && at(0.5) > at(0.55));
    }
}
