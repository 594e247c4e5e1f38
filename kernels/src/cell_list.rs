//! Cell lists by counting sort (count, exclusive prefix sum, scatter), rebuilt every step.
//!
//! Cells have edge >= the largest cut-off, so every pair in range lies in the same or an adjacent
//! cell. Cells are numbered `c = x + n_x (y + n_y z)`. Within a cell, entries are in ascending
//! memory index on both backends (a stable sort here; the GPU sorts each cell after its atomic
//! scatter), so the neighbour order is the same everywhere and runs are deterministic.
//!
//! The same geometry serves the GPU kernels (`shaders/cell_list.wgsl`): [`CellGrid::cell_of`] is
//! computed with the same f32 operations there.
//!
//! ```
//! use hemoscale_kernels::cell_list::{CellGrid, CellList};
//! use hemoscale_kernels::{DpdSystem, SimBox};
//!
//! let grid = CellGrid::new(&DpdSystem::standard(SimBox { len: [4.0, 3.0, 5.5] }, 1));
//! assert_eq!((grid.dims, grid.n_cells()), ([4, 3, 5], 60));
//! assert_eq!(grid.cell_of(&[1.5, 2.5, 0.2]), 1 + 4 * 2); // x = 1, y = 2, z = 0
//! // With 3 or more cells per axis each cell owns the pairs with 13 of its 26 neighbours.
//! let (offsets, _) = grid.half_stencil();
//! assert!(offsets.windows(2).all(|w| w[1] - w[0] == 13));
//!
//! // Particles 0 and 2 share the last cell of the first row in the top layer (x 3, y 0, z 4).
//! let pos = [[3.9, 0.1, 5.4, 0.0], [0.5, 0.5, 0.5, 0.0], [3.5, 0.9, 5.0, 0.0]];
//! let mut list = CellList::default();
//! list.build(&grid, &pos);
//! let c = (3 + 4 * 3 * 4) as usize;
//! assert_eq!(&list.entries[list.start[c] as usize..list.start[c + 1] as usize], &[0, 2]);
//! ```

use rayon::prelude::*;

use crate::system::DpdSystem;

/// The cell decomposition of a periodic box, or of one rank's subdomain with its halo.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellGrid {
    /// Cells per axis.
    pub dims: [u32; 3],
    /// Reciprocal cell edge per axis (`dims / L`).
    pub inv_edge: [f32; 3],
    /// Per axis: the grid wraps around (a periodic box), or it ends (an axis of a subdomain cut
    /// by the domain decomposition, whose halo holds the neighbours' particles as ghosts).
    pub periodic: [bool; 3],
}

impl CellGrid {
    /// The grid for `system` (cells of edge >= the largest cut-off).
    pub fn new(system: &DpdSystem) -> Self {
        let dims = system.cell_dims();
        let l = system.sim_box.len;
        Self { dims, inv_edge: std::array::from_fn(|k| dims[k] as f32 / l[k]), periodic: [true; 3] }
    }
    /// The grid of a region of edges `extent` (cells of edge >= `rc`), periodic along the axes
    /// marked so: one rank's subdomain plus its halo in a domain-decomposed run
    /// ([`crate::domain`]).
    pub fn region(extent: [f32; 3], rc: f32, periodic: [bool; 3]) -> Self {
        let dims = extent.map(|l| ((l / rc).floor() as u32).max(1));
        Self { dims, inv_edge: std::array::from_fn(|k| dims[k] as f32 / extent[k]), periodic }
    }
    /// Total number of cells.
    pub fn n_cells(&self) -> usize {
        self.dims.iter().map(|&d| d as usize).product()
    }
    /// Cell of a position inside the box.
    #[inline(always)]
    pub fn cell_of(&self, p: &[f32; 3]) -> u32 {
        let c = |k: usize| ((p[k] * self.inv_edge[k]) as u32).min(self.dims[k] - 1);
        c(0) + self.dims[0] * (c(1) + self.dims[1] * c(2))
    }
    /// Integer coordinates of cell `c`.
    #[inline(always)]
    pub fn coords(&self, c: u32) -> [u32; 3] {
        [c % self.dims[0], (c / self.dims[0]) % self.dims[1], c / (self.dims[0] * self.dims[1])]
    }
    /// Cell index of coordinates shifted by `d`, wrapped around every axis (callers skip
    /// neighbours beyond the ends of axes that are not periodic).
    #[inline(always)]
    pub fn shifted(&self, xyz: [u32; 3], d: [i32; 3]) -> u32 {
        let w = |k: usize| ((xyz[k] as i32 + d[k]).rem_euclid(self.dims[k] as i32)) as u32;
        w(0) + self.dims[0] * (w(1) + self.dims[1] * w(2))
    }
    /// True when every periodic axis has at least 3 cells, so the 26 neighbours of a cell are
    /// distinct (an axis that ends never wraps onto itself).
    pub fn has_distinct_neighbours(&self) -> bool {
        (0..3).all(|k| !self.periodic[k] || self.dims[k] >= 3)
    }

    /// For every cell, the neighbour cells whose pairs it owns in a half-shell sweep, as CSR
    /// (`offsets`, `cells`): each unordered pair of neighbouring cells appears exactly once and a
    /// cell's own pairs are handled separately.
    ///
    /// With at least 3 cells per axis this is the classic 13-cell forward stencil (`dz > 0`, or
    /// `dz = 0, dy > 0`, or `dz = dy = 0, dx > 0`), which reaches only the same and the next z
    /// layer: that is what lets [`crate::cpu`] sweep slabs of z layers in parallel. Smaller boxes
    /// alias neighbours (with 2 cells, -1 and +1 are the same cell), so there each distinct
    /// neighbour with a larger index is taken instead.
    pub fn half_stencil(&self) -> (Vec<u32>, Vec<u32>) {
        let n = self.n_cells() as u32;
        let mut offsets = Vec::with_capacity(n as usize + 1);
        let mut cells = Vec::with_capacity(13 * n as usize);
        offsets.push(0);
        let distinct = self.has_distinct_neighbours();
        for c in 0..n {
            let xyz = self.coords(c);
            let mut mine: Vec<u32> = Vec::with_capacity(26);
            for dz in -1i32..=1 {
                for dy in -1i32..=1 {
                    for dx in -1i32..=1 {
                        if (dx, dy, dz) == (0, 0, 0) {
                            continue;
                        }
                        let d = [dx, dy, dz];
                        let off_grid = (0..3).any(|k| {
                            let x = xyz[k] as i32 + d[k];
                            !self.periodic[k] && (x < 0 || x >= self.dims[k] as i32)
                        });
                        if off_grid {
                            continue;
                        }
                        let nb = self.shifted(xyz, d);
                        let forward = dz > 0 || (dz == 0 && (dy > 0 || (dy == 0 && dx > 0)));
                        let take = if distinct { forward } else { nb > c && !mine.contains(&nb) };
                        if take {
                            mine.push(nb);
                        }
                    }
                }
            }
            cells.extend_from_slice(&mine);
            offsets.push(cells.len() as u32);
        }
        (offsets, cells)
    }

    /// The half stencil as runs of consecutive cell indices, own cell included, as CSR
    /// (`offsets`, inclusive `[first, last]` runs). The first run of cell c starts at c itself.
    /// Particles are stored cell by cell, so each run is one contiguous particle range: the
    /// 13-cell stencil becomes 5 ranges (own cell + the next along x, one row of 3 in the same
    /// layer, three rows of 3 in the next), which is what keeps the CPU pair loop tight.
    pub fn half_stencil_runs(&self) -> (Vec<u32>, Vec<[u32; 2]>) {
        let (off, cells) = self.half_stencil();
        let mut offsets = vec![0u32];
        let mut runs = Vec::with_capacity(5 * self.n_cells());
        for c in 0..self.n_cells() {
            let mut mine: Vec<u32> = cells[off[c] as usize..off[c + 1] as usize].to_vec();
            mine.push(c as u32);
            mine.sort_unstable();
            // Runs starting at or after c first, so the own cell's run leads.
            let mut merged: Vec<[u32; 2]> = Vec::new();
            for x in mine {
                match merged.last_mut() {
                    Some(r) if r[1] + 1 == x => r[1] = x,
                    _ => merged.push([x, x]),
                }
            }
            let own = merged.iter().position(|r| r[0] <= c as u32 && c as u32 <= r[1]).unwrap_or(0);
            let head = merged.remove(own);
            runs.push(head);
            runs.extend(merged);
            offsets.push(runs.len() as u32);
        }
        (offsets, runs)
    }
}

/// A cell list: for each cell the range of `entries` holding its particles' memory indices.
#[derive(Clone, Debug, Default)]
pub struct CellList {
    /// Cell of each particle (memory order).
    pub cell_of: Vec<u32>,
    /// Exclusive prefix sum of the cell counts; `start[c]..start[c + 1]` are cell c's entries.
    pub start: Vec<u32>,
    /// Particle indices grouped by cell, ascending within a cell.
    pub entries: Vec<u32>,
}

impl CellList {
    /// Rebuilds the list for `pos` (count, exclusive scan, stable scatter).
    pub fn build(&mut self, grid: &CellGrid, pos: &[[f32; 4]]) {
        let n = pos.len();
        self.cell_of.resize(n, 0);
        self.cell_of
            .par_iter_mut()
            .zip(pos.par_iter())
            .with_min_len(4096)
            .for_each(|(c, p)| *c = grid.cell_of(&[p[0], p[1], p[2]]));
        let nc = grid.n_cells();
        self.start.clear();
        self.start.resize(nc + 1, 0);
        for &c in &self.cell_of {
            self.start[c as usize + 1] += 1;
        }
        for c in 0..nc {
            self.start[c + 1] += self.start[c];
        }
        self.entries.resize(n, 0);
        // `fill` is the running insertion point of each cell; scanning particles in index order
        // keeps the sort stable.
        let mut fill = self.start[..nc].to_vec();
        for (i, &c) in self.cell_of.iter().enumerate() {
            let slot = &mut fill[c as usize];
            self.entries[*slot as usize] = i as u32;
            *slot += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::{DpdSystem, SimBox};

    fn pairs_from_stencil(grid: &CellGrid) -> Vec<(u32, u32)> {
        let (off, cells) = grid.half_stencil();
        let mut v = Vec::new();
        for c in 0..grid.n_cells() {
            for &nb in &cells[off[c] as usize..off[c + 1] as usize] {
                v.push(((c as u32).min(nb), (c as u32).max(nb)));
            }
        }
        v
    }

    /// The half stencil must list every unordered pair of distinct neighbouring cells exactly once,
    /// for large grids and for the aliasing small ones (1 and 2 cells per axis).
    #[test]
    fn half_stencil_covers_each_neighbour_pair_once() {
        for l in [[3.0f32, 3.0, 3.0], [2.0, 5.0, 4.0], [2.5, 2.0, 7.0], [6.0, 7.0, 8.0]] {
            let system = DpdSystem::standard(SimBox { len: l }, 1);
            let grid = CellGrid::new(&system);
            let mut got = pairs_from_stencil(&grid);
            got.sort_unstable();
            let mut want = Vec::new();
            for c in 0..grid.n_cells() as u32 {
                for dz in -1..=1 {
                    for dy in -1..=1 {
                        for dx in -1..=1 {
                            let nb = grid.shifted(grid.coords(c), [dx, dy, dz]);
                            if nb != c {
                                want.push((c.min(nb), c.max(nb)));
                            }
                        }
                    }
                }
            }
            want.sort_unstable();
            want.dedup();
            assert_eq!(got, want, "box {l:?}, grid {:?}", grid.dims);
        }
    }

    /// A rank's region (domain decomposition): axes that end have no neighbours across the end,
    /// periodic ones wrap, and every neighbour pair is still owned exactly once.
    #[test]
    fn half_stencil_of_a_region_stops_at_the_ends_of_cut_axes() {
        for (extent, periodic) in [
            ([5.0f32, 4.0, 6.0], [false, true, true]),
            ([4.0, 2.0, 5.0], [false, true, false]),
            ([3.0, 3.0, 4.5], [false, false, false]),
        ] {
            let grid = CellGrid::region(extent, 1.0, periodic);
            let mut got = pairs_from_stencil(&grid);
            got.sort_unstable();
            let mut want = Vec::new();
            for c in 0..grid.n_cells() as u32 {
                let xyz = grid.coords(c);
                for d in (0..27).map(|i| [i % 3 - 1, (i / 3) % 3 - 1, i / 9 - 1]) {
                    let ends = (0..3).any(|k| {
                        let x = xyz[k] as i32 + d[k];
                        !periodic[k] && (x < 0 || x >= grid.dims[k] as i32)
                    });
                    let nb = grid.shifted(xyz, d);
                    if !ends && nb != c {
                        want.push((c.min(nb), c.max(nb)));
                    }
                }
            }
            want.sort_unstable();
            want.dedup();
            assert_eq!(got, want, "region {extent:?}, periodic {periodic:?}");
        }
    }

    #[test]
    fn counting_sort_is_stable_and_complete() {
        let system = DpdSystem::standard(SimBox::cubic(4.0), 1);
        let grid = CellGrid::new(&system);
        let pos: Vec<[f32; 4]> =
            (0..500).map(|i| [(i * 7 % 40) as f32 / 10.0, (i % 13) as f32 * 0.3, (i % 4) as f32, 0.0]).collect();
        let mut cl = CellList::default();
        cl.build(&grid, &pos);
        assert_eq!(cl.start[grid.n_cells()] as usize, pos.len());
        for c in 0..grid.n_cells() {
            let e = &cl.entries[cl.start[c] as usize..cl.start[c + 1] as usize];
            assert!(e.windows(2).all(|w| w[0] < w[1]), "cell {c} not ascending");
            assert!(e.iter().all(|&i| cl.cell_of[i as usize] == c as u32));
        }
    }
}
