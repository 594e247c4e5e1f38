//! Cartesian domain decomposition: one simulation over many ranks (MPI processes, one per GPU or
//! node, or threads in one process), each owning the particles of one brick of the box.
//!
//! The scheme is LAMMPS's and Mirheo's:
//!
//! - **Bricks.** The box is cut into `n_x x n_y x n_z` bricks ([`Decomposition`]); the rank grid
//!   is chosen from the box shape to make the halo smallest, or given. A rank owns the particles
//!   whose (wrapped) position lies in its brick.
//! - **Halo.** Before the forces a rank receives copies (ghosts) of the particles within the halo
//!   width (the largest cut-off) of its faces: position, predicted velocity, type and tag. Tags
//!   key the pair noise ([`crate::rng::pair_noise`]), so a pair across a boundary draws the same
//!   number on both ranks, which each compute it for their own particle. The exchange goes axis
//!   by axis, and ghosts received along one axis are passed on along the next, so edge and corner
//!   ghosts arrive with 2 messages per cut axis and none diagonal.
//! - **Migration.** After the drift a particle that left its brick moves to the neighbour that
//!   now owns it, with its velocity and force, again axis by axis. A particle crosses at most one
//!   brick per step in a sound run; one that jumps further (a blown-up run) moves one brick per
//!   step toward its owner, and the run's blow-up checks stop the run.
//! - **Walls** are the same signed distance field on every rank, in global coordinates, and frozen
//!   wall particles migrate and serve as ghosts like the others.
//! - **Reductions.** Observables and wall counters are summed over ranks in rank order
//!   ([`DomainComm::sum`]), so they do not depend on the MPI library's reduction order.
//! - **One system on every rank.** Through the [`crate::Engine`] interface a decomposed engine
//!   is the whole system: every call is collective, and [`crate::Engine::state`] gathers all
//!   particles on every rank (as LAMMPS gathers a dump). So a run loop, its checks and its
//!   outputs work unchanged, every rank takes the same decisions, and only rank 0 needs to write.
//!   Gathering costs one all-gather of the state per output or checkpoint, not per step.
//!
//! What travels is accounted in [`HaloTraffic`], for the model of `docs/scaling.md`.
//!
//! ```
//! use hemoscale_kernels::domain::Decomposition;
//!
//! // A long tube along x on 4 ranks: cutting x only gives the smallest halo.
//! let d = Decomposition::choose(4, [40.0, 10.0, 10.0], 1.0)?;
//! assert_eq!(d.ranks, [4, 1, 1]);
//! assert_eq!(d.owner([25.0, 3.0, 3.0]), 2); // bricks of 10 along x
//! assert_eq!(d.neighbour(0, 0, -1), 3); // periodic: rank 0's left neighbour is the last
//! // A cube on 4 ranks: 4 x 1 x 1 and 2 x 2 x 1 cut the same area; the more even grid wins.
//! assert_eq!(Decomposition::choose(4, [12.0; 3], 1.0)?.ranks, [2, 2, 1]);
//! // Bricks narrower than two halo widths are refused: ghosts must come from the next brick only.
//! assert!(Decomposition::new([8, 1, 1], [12.0; 3], 1.0).is_err());
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use crate::error::{KernelError, Result};

/// What a decomposed engine needs from its peers: a halo exchange, sums and a gather. The root
/// crate implements it over MPI and over threads (the communicators of `hemoscale-surrogates`),
/// which this crate does not know.
pub trait DomainComm: Send {
    /// This rank, `0..size`.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn size(&self) -> usize;
    /// Sends `data` to `dest` and receives from `source` with `tag`, as `MPI_Sendrecv`: every
    /// rank calls it at once, and it must not wait for its own send to be received first.
    fn exchange(&mut self, dest: usize, source: usize, tag: u32, data: &[u8]) -> Result<Vec<u8>>;
    /// Sums `values` over ranks in place, in rank order (the same bits on every rank and every
    /// run).
    fn sum(&mut self, values: &mut [f64]) -> Result<()>;
    /// Gathers every rank's `data` on every rank, in rank order.
    fn all_gather(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>>;
}

/// Tags of the exchanges: migration and halo, per axis and direction.
pub(crate) fn exchange_tag(halo: bool, axis: usize, to_right: bool) -> u32 {
    0x100 + 8 * u32::from(halo) + 2 * axis as u32 + u32::from(to_right)
}

/// Bricks of the box: how many ranks along each axis and where the cuts lie.
#[derive(Clone, Debug, PartialEq)]
pub struct Decomposition {
    /// Ranks along x, y and z; rank `r = c_x + n_x (c_y + n_y c_z)`.
    pub ranks: [usize; 3],
    /// Per axis, the `n + 1` cut positions from 0 to the box edge; brick `c` spans
    /// `[cuts[c], cuts[c + 1])`. Even cuts by default; a weighted decomposition moves them.
    pub cuts: [Vec<f32>; 3],
    /// Box edges.
    pub box_len: [f32; 3],
    /// Halo width: the largest reach of a force (the cut-off).
    pub halo: f32,
}

impl Decomposition {
    /// Even bricks on a given rank grid. Every cut axis needs bricks at least two halo widths
    /// wide, so that ghosts come from the next brick only and the two halves of a halo never
    /// overlap.
    pub fn new(ranks: [usize; 3], box_len: [f32; 3], halo: f32) -> Result<Self> {
        if !(halo.is_finite() && halo > 0.0) {
            return Err(KernelError::invalid("halo", halo, "must be finite and > 0"));
        }
        let cuts: [Vec<f32>; 3] = std::array::from_fn(|k| {
            let n = ranks[k].max(1);
            (0..=n).map(|c| (f64::from(box_len[k]) * c as f64 / n as f64) as f32).collect()
        });
        let d = Self { ranks, cuts, box_len, halo };
        d.check()?;
        Ok(d)
    }

    /// The rank grid of `size` ranks with the least halo (the smallest total area of cut faces),
    /// among those whose bricks are wide enough ([`Decomposition::new`]). Of grids with equal
    /// area the most even one wins (2 x 2 x 2 rather than 4 x 2 x 1), whose bricks stay closest
    /// to cubes as the box grows.
    pub fn choose(size: usize, box_len: [f32; 3], halo: f32) -> Result<Self> {
        if size == 0 {
            return Err(KernelError::invalid("ranks", 0, "must be >= 1"));
        }
        let mut best: Option<(f64, Self)> = None;
        for nz in (1..=size).filter(|n| size % n == 0) {
            for ny in (1..=size / nz).filter(|n| (size / nz) % n == 0) {
                let nx = size / nz / ny;
                let Ok(d) = Self::new([nx, ny, nz], box_len, halo) else { continue };
                let area = d.cut_area();
                let widest = |d: &Self| d.ranks.iter().copied().max().unwrap_or(1);
                let better = best.as_ref().is_none_or(|(a, b)| {
                    area < *a * (1.0 - 1e-9) || (area <= *a * (1.0 + 1e-9) && widest(&d) < widest(b))
                });
                if better {
                    best = Some((area, d));
                }
            }
        }
        best.map(|(_, d)| d).ok_or_else(|| {
            KernelError::invalid(
                "ranks",
                size,
                format!(
                    "no grid of {size} ranks gives bricks at least 2 x halo = {} wide in a box of {box_len:?}",
                    2.0 * halo
                ),
            )
        })
    }

    /// Bricks on the rank grid `ranks` whose cuts give every slab along each cut axis an equal
    /// share of `weight` (integrated over the other two axes, sampled every `resolution`, or more
    /// coarsely where that would take more than [`WEIGHT_SAMPLES`] samples): a
    /// static load balance. With `weight` the fluid indicator of a vessel, a stenosis's throat or
    /// a tube's thin wall-free corners get longer bricks, so each rank holds about as much fluid.
    /// Cuts are then spread to keep every brick at least two halo widths wide. As LAMMPS's
    /// `balance ... shift`, each axis is balanced on its own marginal, which is exact for one cut
    /// axis and a good start for two or three.
    ///
    /// The weight is a function of the geometry alone, not of particle positions, so the same
    /// scenario gets the same bricks at every start and resume.
    ///
    /// ```
    /// use hemoscale_kernels::domain::Decomposition;
    ///
    /// // Fluid only in x < 6 of a 12-long box: two ranks along x cut it at 3.
    /// let d = Decomposition::weighted([2, 1, 1], [12.0, 4.0, 4.0], 1.0, |p| f64::from(u8::from(p[0] < 6.0)), 0.25)?;
    /// assert!((d.cuts[0][1] - 3.0).abs() < 0.2, "{:?}", d.cuts[0]);
    /// # Ok::<(), hemoscale_kernels::KernelError>(())
    /// ```
    pub fn weighted(
        ranks: [usize; 3],
        box_len: [f32; 3],
        halo: f32,
        weight: impl Fn([f32; 3]) -> f64,
        resolution: f32,
    ) -> Result<Self> {
        let mut d = Self::new(ranks, box_len, halo)?;
        if !(resolution.is_finite() && resolution > 0.0) {
            return Err(KernelError::invalid("resolution", resolution, "must be finite and > 0"));
        }
        // At most WEIGHT_SAMPLES samples: a large box is sampled more coarsely (a 10^8-particle
        // box at a quarter cut-off would take billions).
        let volume: f64 = box_len.iter().map(|&l| f64::from(l)).product();
        let resolution = resolution.max((volume / WEIGHT_SAMPLES as f64).cbrt() as f32);
        let bins: [usize; 3] = std::array::from_fn(|k| ((box_len[k] / resolution).ceil() as usize).max(1));
        let centre = |k: usize, i: usize| (i as f32 + 0.5) * box_len[k] / bins[k] as f32;
        // Marginal weight along each axis, from one pass over the sample grid.
        let mut marginal: [Vec<f64>; 3] = std::array::from_fn(|k| vec![0.0; bins[k]]);
        for iz in 0..bins[2] {
            for iy in 0..bins[1] {
                for ix in 0..bins[0] {
                    let w = weight([centre(0, ix), centre(1, iy), centre(2, iz)]);
                    marginal[0][ix] += w;
                    marginal[1][iy] += w;
                    marginal[2][iz] += w;
                }
            }
        }
        for k in (0..3).filter(|&k| ranks[k] > 1) {
            let n = ranks[k];
            let total: f64 = marginal[k].iter().sum();
            if !(total.is_finite() && total > 0.0) {
                return Err(KernelError::invalid("weight", total, "must be finite, >= 0 and not all zero"));
            }
            let edge = f64::from(box_len[k]) / bins[k] as f64;
            let mut cuts = vec![0.0f64; n + 1];
            cuts[n] = f64::from(box_len[k]);
            let (mut acc, mut bin) = (0.0, 0);
            for (c, cut) in cuts.iter_mut().enumerate().take(n).skip(1) {
                let target = total * c as f64 / n as f64;
                while bin < bins[k] && acc + marginal[k][bin] < target {
                    acc += marginal[k][bin];
                    bin += 1;
                }
                // Within the bin that crosses the target, in proportion.
                let m = marginal[k].get(bin).copied().unwrap_or(0.0);
                let frac = if m > 0.0 { (target - acc) / m } else { 0.0 };
                *cut = (bin as f64 + frac) * edge;
            }
            // At least two halo widths per brick: push cuts up from below, then down from above.
            let min_w = 2.0 * f64::from(halo) * (1.0 + 1e-6);
            for c in 1..n {
                cuts[c] = cuts[c].max(cuts[c - 1] + min_w);
            }
            for c in (1..n).rev() {
                cuts[c] = cuts[c].min(cuts[c + 1] - min_w);
            }
            d.cuts[k] = cuts.iter().map(|&x| x as f32).collect();
            d.cuts[k][n] = box_len[k];
        }
        d.check()?;
        Ok(d)
    }

    fn check(&self) -> Result<()> {
        for k in 0..3 {
            let axis = ["x", "y", "z"][k];
            if self.ranks[k] == 0 {
                return Err(KernelError::invalid(format!("ranks.{axis}"), 0, "must be >= 1"));
            }
            let c = &self.cuts[k];
            if c.len() != self.ranks[k] + 1 || c[0] != 0.0 || c[c.len() - 1] != self.box_len[k] {
                return Err(KernelError::InconsistentState(format!(
                    "cuts along {axis} must run from 0 to the box edge"
                )));
            }
            if self.ranks[k] > 1 {
                if let Some(w) = c.windows(2).map(|w| w[1] - w[0]).find(|&w| w < 2.0 * self.halo || w.is_nan()) {
                    return Err(KernelError::invalid(
                        format!("brick width along {axis}"),
                        w,
                        format!(
                            "must be >= 2 x halo = {} (box {} over {} ranks)",
                            2.0 * self.halo,
                            self.box_len[k],
                            self.ranks[k]
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Total area of the faces between bricks: what the halo volume is proportional to.
    pub fn cut_area(&self) -> f64 {
        let l = self.box_len.map(f64::from);
        (0..3).filter(|&k| self.ranks[k] > 1).map(|k| self.ranks[k] as f64 * l[(k + 1) % 3] * l[(k + 2) % 3]).sum()
    }

    /// Number of ranks.
    pub fn size(&self) -> usize {
        self.ranks.iter().product()
    }

    /// True when the box is cut along `axis`.
    pub fn is_cut(&self, axis: usize) -> bool {
        self.ranks[axis] > 1
    }

    /// Grid coordinates of `rank`.
    pub fn coords(&self, rank: usize) -> [usize; 3] {
        let [nx, ny, _] = self.ranks;
        [rank % nx, (rank / nx) % ny, rank / (nx * ny)]
    }

    /// The rank at grid coordinates `c`.
    pub fn rank_at(&self, c: [usize; 3]) -> usize {
        c[0] + self.ranks[0] * (c[1] + self.ranks[1] * c[2])
    }

    /// The brick of `rank`: lower and upper corners.
    pub fn bounds(&self, rank: usize) -> ([f32; 3], [f32; 3]) {
        let c = self.coords(rank);
        (std::array::from_fn(|k| self.cuts[k][c[k]]), std::array::from_fn(|k| self.cuts[k][c[k] + 1]))
    }

    /// The brick index along `axis` holding coordinate `x` (in `[0, L)`; values outside are
    /// clamped to the first or last brick).
    pub fn coord_along(&self, axis: usize, x: f32) -> usize {
        let c = &self.cuts[axis];
        // The first cut above x, minus one: brick c holds [cuts[c], cuts[c + 1]).
        c[1..c.len() - 1].partition_point(|&cut| cut <= x)
    }

    /// The rank that owns a particle at `pos`.
    pub fn owner(&self, pos: [f32; 3]) -> usize {
        self.rank_at(std::array::from_fn(|k| self.coord_along(k, pos[k])))
    }

    /// The neighbour of `rank` one brick along `axis` in direction `dir` (+1 or -1), periodic.
    pub fn neighbour(&self, rank: usize, axis: usize, dir: i32) -> usize {
        let mut c = self.coords(rank);
        let n = self.ranks[axis] as i64;
        c[axis] = (c[axis] as i64 + i64::from(dir)).rem_euclid(n) as usize;
        self.rank_at(c)
    }

    /// Lower corner of `rank`'s region (its brick widened by the halo along cut axes) and the
    /// region's edges: the frame of its cell grid. Uncut axes span the whole periodic box.
    pub fn region(&self, rank: usize) -> ([f32; 3], [f32; 3]) {
        let (lo, hi) = self.bounds(rank);
        let origin = std::array::from_fn(|k| if self.is_cut(k) { lo[k] - self.halo } else { 0.0 });
        let extent =
            std::array::from_fn(|k| if self.is_cut(k) { hi[k] - lo[k] + 2.0 * self.halo } else { self.box_len[k] });
        (origin, extent)
    }
}

/// Bytes and messages a rank sent for the halo and migration, and particles it received, since
/// its engine was built: the measured side of the communication model in `docs/scaling.md`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HaloTraffic {
    /// Halo exchanges: one per step, and one per force computation from scratch.
    pub exchanges: u64,
    /// Migration rounds: one per step.
    pub migrations: u64,
    /// Point-to-point messages sent for the halo (empty ones included: MPI sends them).
    pub halo_messages: u64,
    /// Point-to-point messages sent for migration.
    pub migration_messages: u64,
    /// Bytes of ghost records sent.
    pub halo_bytes: u64,
    /// Bytes of migrating particle records sent.
    pub migration_bytes: u64,
    /// Ghosts received.
    pub ghosts: u64,
    /// Particles that left this rank.
    pub migrated: u64,
    /// Bytes this rank put into the platelets' two all-gathers (the plasma around the platelets,
    /// then what its platelets changed: [`crate::platelet_division`]); each reaches every other
    /// rank.
    pub platelet_bytes: u64,
}

impl HaloTraffic {
    /// The sum of two counts (of two ranks).
    pub fn plus(self, o: Self) -> Self {
        Self {
            exchanges: self.exchanges + o.exchanges,
            migrations: self.migrations + o.migrations,
            halo_messages: self.halo_messages + o.halo_messages,
            migration_messages: self.migration_messages + o.migration_messages,
            halo_bytes: self.halo_bytes + o.halo_bytes,
            migration_bytes: self.migration_bytes + o.migration_bytes,
            ghosts: self.ghosts + o.ghosts,
            migrated: self.migrated + o.migrated,
            platelet_bytes: self.platelet_bytes + o.platelet_bytes,
        }
    }
}

/// Wall-clock seconds a rank spent in each part of its steps, summed over the steps: where a
/// decomposed step's time goes, as LAMMPS's "MPI task timing breakdown" tells. The parts do not
/// overlap; together they are nearly the whole step (outputs and observables are left out).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepSeconds {
    /// Steps timed.
    pub steps: u64,
    /// First half-kick and drift with bounce-back.
    pub integrate: f64,
    /// Migration, and the re-sort of the owned particles every `reorder_every` steps.
    pub migrate: f64,
    /// The halo exchange. On GPU ranks the interior's forces run on the device meanwhile.
    pub halo: f64,
    /// Pair forces with the force tail (body and wall forces, second half-kick): the cell list
    /// and the sweep on the CPU; on GPU ranks the host's share (ordering, packing and uploading,
    /// reading back) and [`Self::device_wait`].
    pub forces: f64,
    /// GPU ranks: the part of [`Self::forces`] spent waiting for the device.
    pub device_wait: f64,
    /// The platelets' inner levels with the gather of the plasma around them.
    pub platelets: f64,
}

impl StepSeconds {
    /// The names of the parts, in the order of [`Self::parts`].
    pub const NAMES: [&'static str; 6] = ["integrate", "migrate", "halo", "forces", "device_wait", "platelets"];

    /// The parts as numbers, in field order after `steps` (for sums over ranks).
    pub fn parts(&self) -> [f64; 6] {
        [self.integrate, self.migrate, self.halo, self.forces, self.device_wait, self.platelets]
    }

    /// The inverse of [`Self::parts`].
    pub fn from_parts(steps: u64, p: [f64; 6]) -> Self {
        let [integrate, migrate, halo, forces, device_wait, platelets] = p;
        Self { steps, integrate, migrate, halo, forces, device_wait, platelets }
    }

    /// Named parts per step (seconds per step; zeros before the first step).
    pub fn per_step(&self) -> [(&'static str, f64); 6] {
        let (n, parts) = (self.steps.max(1) as f64, self.parts());
        std::array::from_fn(|k| (Self::NAMES[k], parts[k] / n))
    }
}

/// A decomposed run's layout and its traffic summed over all ranks: what
/// [`crate::Engine::domain_report`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainReport {
    /// The bricks.
    pub decomposition: Decomposition,
    /// Traffic of all ranks together (`exchanges` and `migrations` are per rank: every rank
    /// takes part in each).
    pub traffic: HaloTraffic,
    /// Where a rank's time went: the mean over ranks.
    pub seconds: StepSeconds,
    /// Platelet-steps each rank advanced, in rank order (each plasma step, each platelet is
    /// advanced by one rank: [`crate::platelet_division`]). Empty without platelets.
    pub platelet_steps: Vec<u64>,
}

/// Bytes and messages per step that the communication model predicts (`docs/scaling.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrafficModel {
    /// Point-to-point messages per step.
    pub messages: f64,
    /// Bytes of ghost records per step.
    pub halo_bytes: f64,
    /// Bytes of migrating particles per step.
    pub migration_bytes: f64,
}

impl TrafficModel {
    /// The sum of two models (of two ranks).
    pub fn plus(self, o: Self) -> Self {
        Self {
            messages: self.messages + o.messages,
            halo_bytes: self.halo_bytes + o.halo_bytes,
            migration_bytes: self.migration_bytes + o.migration_bytes,
        }
    }
}

impl Decomposition {
    /// Traffic of `rank` per step for a uniform fluid of number density `density`, temperature
    /// `kt`, particle mass `mass` and time step `dt` (no mean flow).
    ///
    /// - **Halo.** Along each cut axis in turn (x, then y, then z) each face sends the particles
    ///   within the halo width `h` of it. The candidates along axis k are the owned particles and
    ///   the ghosts of the axes before it, so the band spans `w_j + 2h` along those axes and `w_j`
    ///   along the others: `2 rho h prod_(j != k) e_j` ghosts, [`HALO_WORDS`] x 4 bytes each.
    /// - **Migration.** A face of area `A` is crossed outward by `rho A dt <v+>` particles per
    ///   step, with `<v+> = sqrt(kT / (2 pi m))` the mean outward speed of a Maxwell distribution;
    ///   [`MIGRATION_WORDS`] x 4 bytes each.
    /// - **Messages.** Four per cut axis (halo and migration, both ways), empty or not.
    ///
    /// ```
    /// use hemoscale_kernels::domain::Decomposition;
    ///
    /// // Two ranks along x in a 12^3 box at density 3: each sends two faces of 12 x 12 x 1.
    /// let d = Decomposition::new([2, 1, 1], [12.0; 3], 1.0)?;
    /// let m = d.traffic_model(0, 3.0, 1.0, 1.0, 0.01);
    /// assert_eq!((m.messages, m.halo_bytes), (4.0, 2.0 * 3.0 * 144.0 * 32.0));
    /// # Ok::<(), hemoscale_kernels::KernelError>(())
    /// ```
    pub fn traffic_model(&self, rank: usize, density: f64, kt: f64, mass: f64, dt: f64) -> TrafficModel {
        let (lo, hi) = self.bounds(rank);
        let w: [f64; 3] = std::array::from_fn(|k| f64::from(hi[k] - lo[k]));
        let h = f64::from(self.halo);
        let outward = (kt / (2.0 * std::f64::consts::PI * mass)).sqrt();
        let mut m = TrafficModel::default();
        for k in (0..3).filter(|&k| self.is_cut(k)) {
            let others = (0..3).filter(|&j| j != k);
            let band: f64 =
                others.clone().map(|j| if self.is_cut(j) && j < k { w[j] + 2.0 * h } else { w[j] }).product();
            let face: f64 = others.map(|j| w[j]).product();
            m.messages += 4.0;
            m.halo_bytes += 2.0 * density * h * band * (4 * HALO_WORDS) as f64;
            m.migration_bytes += 2.0 * density * face * dt * outward * (4 * MIGRATION_WORDS) as f64;
        }
        m
    }

    /// [`Decomposition::traffic_model`] summed over all ranks.
    pub fn total_traffic_model(&self, density: f64, kt: f64, mass: f64, dt: f64) -> TrafficModel {
        (0..self.size())
            .map(|r| self.traffic_model(r, density, kt, mass, dt))
            .fold(TrafficModel::default(), TrafficModel::plus)
    }
}

/// Words (u32) of one migrating particle: position, velocity, predicted velocity and force (f32
/// bits), type and tag.
pub const MIGRATION_WORDS: usize = 14;
/// Words (u32) of one ghost: position, predicted velocity (f32 bits), type and tag.
pub const HALO_WORDS: usize = 8;

/// Appends records to a message, word by word.
fn push_f32s(out: &mut Vec<u32>, v: &[f32]) {
    out.extend(v.iter().map(|x| x.to_bits()));
}

/// Appends the [`HALO_WORDS`]-word record of a particle that another rank reads but does not
/// own: position, a velocity, type and tag. A ghost carries its predicted velocity (what the
/// pair forces read); the plasma gathered around platelets its current one
/// ([`crate::CpuEngine::decomposed_with_platelets`]).
pub(crate) fn push_view_record(out: &mut Vec<u32>, pos: &[f32; 4], vel: &[f32; 4], type_id: u32, tag: u32) {
    push_f32s(out, &pos[..3]);
    push_f32s(out, &vel[..3]);
    out.extend([type_id, tag]);
}

/// Position, velocity, type and tag of a record written by [`push_view_record`].
pub(crate) fn view_record(r: &[u32]) -> ([f32; 4], [f32; 4], u32, u32) {
    let f = |k: usize| [f32::from_bits(r[k]), f32::from_bits(r[k + 1]), f32::from_bits(r[k + 2]), 0.0];
    (f(0), f(3), r[6], r[7])
}

/// The most samples of the weight [`Decomposition::weighted`] takes (about a second of distance
/// field evaluations on one core).
pub const WEIGHT_SAMPLES: usize = 1 << 24;

/// The words of a received message, checked to hold whole records of `words` words. Read in
/// place when the bytes are 4-aligned (as the allocator gives them), copied otherwise.
pub(crate) fn words_of(bytes: &[u8], words: usize) -> Result<std::borrow::Cow<'_, [u32]>> {
    if bytes.len() % (4 * words) != 0 {
        return Err(KernelError::InconsistentState(format!(
            "a halo message of {} bytes is not a whole number of {words}-word records",
            bytes.len()
        )));
    }
    Ok(match bytemuck::try_cast_slice(bytes) {
        Ok(w) => std::borrow::Cow::Borrowed(w),
        Err(_) => std::borrow::Cow::Owned(bytemuck::pod_collect_to_vec(bytes)),
    })
}

/// The particle columns of an engine in memory order: owned particles first, then ghosts.
pub(crate) struct Columns<'a> {
    pub pos: &'a mut Vec<[f32; 4]>,
    pub vel: &'a mut Vec<[f32; 4]>,
    pub vpred: &'a mut Vec<[f32; 4]>,
    pub force: &'a mut Vec<[f32; 4]>,
    pub type_id: &'a mut Vec<u32>,
    pub tag: &'a mut Vec<u32>,
}

impl Columns<'_> {
    fn len(&self) -> usize {
        self.pos.len()
    }

    /// Drops every entry from `n` on (the ghosts).
    pub fn truncate(&mut self, n: usize) {
        self.pos.truncate(n);
        self.vel.truncate(n);
        self.vpred.truncate(n);
        self.force.truncate(n);
        self.type_id.truncate(n);
        self.tag.truncate(n);
    }

    /// Removes the entries `gone` (ascending, distinct) in time proportional to their number,
    /// not to the length: the last entries that stay move into the holes below the new length,
    /// the lowest hole taking the lowest such entry. A stable compaction (`Vec::retain`) moves
    /// every entry after the first hole, which for hundreds of thousands of owned particles
    /// cost a rank milliseconds each step. The order this leaves is a fixed function of the
    /// order before and of `gone`, so every run that migrates alike (MPI ranks, thread ranks,
    /// a run resumed from its checkpoint) keeps the same order; the periodic re-sort by cell
    /// restores the memory locality it disturbs.
    fn remove(&mut self, gone: &[u32]) {
        let n = self.len();
        let stay = n - gone.len();
        let holes = gone.iter().take_while(|&&i| (i as usize) < stay).map(|&i| i as usize);
        let mut above = gone.iter().skip_while(|&&i| (i as usize) < stay).map(|&i| i as usize).peekable();
        let donors = (stay..n).filter(move |&j| {
            if above.peek() == Some(&j) {
                above.next();
                false
            } else {
                true
            }
        });
        for (h, d) in holes.zip(donors) {
            self.pos[h] = self.pos[d];
            self.vel[h] = self.vel[d];
            self.vpred[h] = self.vpred[d];
            self.force[h] = self.force[d];
            self.type_id[h] = self.type_id[d];
            self.tag[h] = self.tag[d];
        }
        self.truncate(stay);
    }

    /// Appends entry `i`'s migration record (its whole dynamic state).
    fn push_migrant(&self, i: usize, out: &mut Vec<u32>) {
        for v in [&self.pos[i], &self.vel[i], &self.vpred[i], &self.force[i]] {
            push_f32s(out, &v[..3]);
        }
        out.push(self.type_id[i]);
        out.push(self.tag[i]);
    }

    /// Appends the particles of migration records.
    fn append_migrants(&mut self, words: &[u32]) {
        for r in words.chunks_exact(MIGRATION_WORDS) {
            let f = |k: usize| [f32::from_bits(r[k]), f32::from_bits(r[k + 1]), f32::from_bits(r[k + 2]), 0.0];
            self.pos.push(f(0));
            self.vel.push(f(3));
            self.vpred.push(f(6));
            self.force.push(f(9));
            self.type_id.push(r[12]);
            self.tag.push(r[13]);
        }
    }

    /// Appends entry `i`'s ghost record: what the pair forces read.
    fn push_ghost(&self, i: usize, out: &mut Vec<u32>) {
        push_view_record(out, &self.pos[i], &self.vpred[i], self.type_id[i], self.tag[i]);
    }

    /// Appends ghosts from ghost records (their velocity is the predicted one, their force zero).
    fn append_ghosts(&mut self, words: &[u32]) {
        for r in words.chunks_exact(HALO_WORDS) {
            let (pos, vpred, type_id, tag) = view_record(r);
            self.pos.push(pos);
            self.vel.push(vpred);
            self.vpred.push(vpred);
            self.force.push([0.0; 4]);
            self.type_id.push(type_id);
            self.tag.push(tag);
        }
    }
}

/// One rank's part of a decomposed run: its brick, its peers, and the traffic so far. The CPU
/// engine ([`crate::CpuEngine::decomposed`]) holds one and calls it at each step.
pub struct RankDomain {
    /// The decomposition.
    pub decomposition: Decomposition,
    /// This rank.
    pub rank: usize,
    comm: Box<dyn DomainComm>,
    lo: [f32; 3],
    hi: [f32; 3],
    origin: [f32; 3],
    /// Owned particles: the first `n_local` entries of the engine's arrays; ghosts follow.
    pub n_local: usize,
    /// Particles on all ranks together (conserved: migration moves them, never drops them).
    pub n_total: usize,
    /// What was sent so far.
    pub traffic: HaloTraffic,
    /// Send buffers toward the right and left neighbours, kept so a step allocates nothing.
    send: [Vec<u32>; 2],
    /// The owned particles leaving along an axis during a migration (kept likewise).
    gone: Vec<u32>,
}

impl RankDomain {
    /// This rank's part of `decomposition`, talking through `comm`.
    pub fn new(decomposition: Decomposition, comm: Box<dyn DomainComm>) -> Result<Self> {
        if comm.size() != decomposition.size() {
            return Err(KernelError::invalid(
                "ranks",
                comm.size(),
                format!("the decomposition {:?} needs {} ranks", decomposition.ranks, decomposition.size()),
            ));
        }
        let rank = comm.rank();
        let (lo, hi) = decomposition.bounds(rank);
        let (origin, _) = decomposition.region(rank);
        Ok(Self {
            decomposition,
            rank,
            comm,
            lo,
            hi,
            origin,
            n_local: 0,
            n_total: 0,
            traffic: HaloTraffic::default(),
            send: [Vec::new(), Vec::new()],
            gone: Vec::new(),
        })
    }

    /// The cell grid of this rank's region (brick plus halo along cut axes), cells of edge >= `rc`.
    pub fn cell_grid(&self, rc: f32) -> crate::cell_list::CellGrid {
        let d = &self.decomposition;
        let (_, extent) = d.region(self.rank);
        crate::cell_list::CellGrid::region(extent, rc, std::array::from_fn(|k| !d.is_cut(k)))
    }

    /// Sums over ranks, in rank order.
    pub fn sum(&mut self, values: &mut [f64]) -> Result<()> {
        self.comm.sum(values)
    }

    /// Gathers bytes on every rank, in rank order.
    pub fn all_gather(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>> {
        self.comm.all_gather(data)
    }

    /// Sends `words` toward `to_right` along `axis` and returns what the opposite neighbour sent.
    fn shift(&mut self, halo: bool, axis: usize, to_right: bool, words: &[u32]) -> Result<Vec<u8>> {
        let dir = if to_right { 1 } else { -1 };
        let d = &self.decomposition;
        let (dest, source) = (d.neighbour(self.rank, axis, dir), d.neighbour(self.rank, axis, -dir));
        let bytes: &[u8] = bytemuck::cast_slice(words);
        if halo {
            self.traffic.halo_messages += 1;
            self.traffic.halo_bytes += bytes.len() as u64;
        } else {
            self.traffic.migration_messages += 1;
            self.traffic.migration_bytes += bytes.len() as u64;
        }
        self.comm.exchange(dest, source, exchange_tag(halo, axis, to_right), bytes)
    }

    /// Moves owned particles that left the brick to the neighbours that own them now, axis by
    /// axis, and takes in theirs; `cols` must hold no ghosts. A particle more than one brick away
    /// (a blown-up run: it crossed two halo widths in one step) goes one brick its nearer way and
    /// goes on at the next step; the run's checks on speed and temperature catch such a run.
    pub(crate) fn migrate(&mut self, cols: &mut Columns<'_>) -> Result<()> {
        self.traffic.migrations += 1;
        let cut: Vec<usize> = (0..3).filter(|&k| self.decomposition.is_cut(k)).collect();
        for axis in cut {
            let n = self.decomposition.ranks[axis];
            let mine = self.decomposition.coords(self.rank)[axis];
            let (lo, hi) = (self.lo[axis], self.hi[axis]);
            let [mut right, mut left] = std::mem::take(&mut self.send);
            right.clear();
            left.clear();
            let mut gone = std::mem::take(&mut self.gone);
            gone.clear();
            for i in 0..cols.len() {
                let x = cols.pos[i][axis];
                // The brick's own bounds are its cuts: inside them is this brick, as for
                // `coord_along`; only particles outside pay for the search.
                if (lo..hi).contains(&x) {
                    continue;
                }
                let c = self.decomposition.coord_along(axis, x);
                if c == mine {
                    continue;
                }
                // Bricks to the right, the periodic way round: 1 is the right neighbour.
                let ahead = (c + n - mine) % n;
                let out = if ahead <= n / 2 { &mut right } else { &mut left };
                cols.push_migrant(i, out);
                gone.push(i as u32);
                self.traffic.migrated += 1;
            }
            cols.remove(&gone);
            self.gone = gone;
            for (to_right, out) in [(true, &right), (false, &left)] {
                let got = self.shift(false, axis, to_right, out)?;
                cols.append_migrants(&words_of(&got, MIGRATION_WORDS)?);
            }
            self.send = [right, left];
        }
        self.n_local = cols.len();
        Ok(())
    }

    /// Appends the ghosts: for each cut axis in turn, the particles (owned, and ghosts received
    /// along earlier axes) within the halo width of each face go to the neighbour across it.
    pub(crate) fn exchange_halo(&mut self, cols: &mut Columns<'_>) -> Result<()> {
        self.traffic.exchanges += 1;
        let h = self.decomposition.halo;
        let cut: Vec<usize> = (0..3).filter(|&k| self.decomposition.is_cut(k)).collect();
        for axis in cut {
            let (lo, hi) = (self.lo[axis], self.hi[axis]);
            let [mut right, mut left] = std::mem::take(&mut self.send);
            right.clear();
            left.clear();
            for i in 0..cols.len() {
                let x = cols.pos[i][axis];
                if x >= hi - h {
                    cols.push_ghost(i, &mut right);
                }
                if x < lo + h {
                    cols.push_ghost(i, &mut left);
                }
            }
            for (to_right, out) in [(true, &right), (false, &left)] {
                let got = self.shift(true, axis, to_right, out)?;
                let words = words_of(&got, HALO_WORDS)?;
                self.traffic.ghosts += (words.len() / HALO_WORDS) as u64;
                cols.append_ghosts(&words);
            }
            self.send = [right, left];
        }
        Ok(())
    }

    /// The test whether an owned particle at `p` lies farther than the halo width from every
    /// face of the brick across which ghosts go: the particles [`Self::exchange_halo`] sends
    /// none of. All of its neighbours within the cut-off are then owned, so its forces need no
    /// ghost, and GPU ranks compute them while the halo is in flight
    /// ([`crate::gpu::rank_forces`]). A closure, so that threads can share it (the domain holds
    /// its communicator, which they cannot).
    pub(crate) fn interior(&self) -> impl Fn(&[f32; 4]) -> bool + Sync {
        let h = self.decomposition.halo;
        let cut: [bool; 3] = std::array::from_fn(|k| self.decomposition.is_cut(k));
        let (lo, hi) = (self.lo, self.hi);
        move |p: &[f32; 4]| (0..3).filter(|&k| cut[k]).all(|k| p[k] >= lo[k] + h && p[k] < hi[k] - h)
    }

    /// Positions in the frame of this rank's cell grid: shifted by the region's origin and
    /// unwrapped across the periodic boundary along cut axes, so ghosts from across it sit
    /// beside the brick.
    pub(crate) fn local_positions(&self, pos: &[[f32; 4]], out: &mut Vec<[f32; 4]>) {
        out.clear();
        self.append_local_positions(pos, out);
    }

    /// As [`Self::local_positions`], appending to `out`.
    pub(crate) fn append_local_positions(&self, pos: &[[f32; 4]], out: &mut Vec<[f32; 4]>) {
        let l = self.decomposition.box_len;
        let cut: [bool; 3] = std::array::from_fn(|k| self.decomposition.is_cut(k));
        let origin = self.origin;
        out.extend(pos.iter().map(|p| {
            let mut u = *p;
            for k in (0..3).filter(|&k| cut[k]) {
                let mut x = p[k] - origin[k];
                if x < 0.0 {
                    x += l[k];
                } else if x >= l[k] {
                    x -= l[k];
                }
                u[k] = x;
            }
            u
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Columns::remove` against `Vec::retain`: the same particles stay, each with its whole
    /// record (position, velocities, force, type, tag moved together), and entries before the
    /// first hole do not move.
    #[test]
    fn removal_keeps_the_records_that_stay_whole() {
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 8
        };
        for n in [0usize, 1, 2, 5, 64, 1000] {
            for trial in 0..20 {
                let gone: Vec<u32> = (0..n as u32).filter(|_| next() % 7 < (trial % 4) as u32).collect();
                let rec = |i: u32| [i as f32, 2.0 * i as f32, 3.0, 4.0];
                let mut v: [Vec<[f32; 4]>; 4] =
                    std::array::from_fn(|k| (0..n as u32).map(|i| rec(i + k as u32)).collect());
                let (mut ty, mut tag): (Vec<u32>, Vec<u32>) =
                    ((0..n as u32).map(|i| i % 3).collect(), (0..n as u32).collect());
                let [pos, vel, vpred, force] = &mut v;
                let mut cols = Columns { pos, vel, vpred, force, type_id: &mut ty, tag: &mut tag };
                cols.remove(&gone);
                let mut want: Vec<u32> = (0..n as u32).filter(|i| gone.binary_search(i).is_err()).collect();
                let first_hole = gone.first().map_or(n, |&g| g as usize);
                assert_eq!(tag.len(), want.len(), "n {n}");
                assert_eq!(&tag[..first_hole.min(tag.len())], &want[..first_hole.min(want.len())]);
                for (j, &t) in tag.iter().enumerate() {
                    assert_eq!(ty[j], t % 3);
                    for (k, col) in v.iter().enumerate() {
                        assert_eq!(col[j], rec(t + k as u32), "record of tag {t} moved whole");
                    }
                }
                tag.sort_unstable();
                want.sort_unstable();
                assert_eq!(tag, want, "the same particles stay");
            }
        }
    }

    #[test]
    fn owners_agree_with_bounds_and_neighbours_wrap() {
        let d = Decomposition::new([3, 2, 1], [9.3, 6.0, 5.0], 1.0).expect("valid");
        assert_eq!(d.size(), 6);
        for r in 0..6 {
            assert_eq!(d.rank_at(d.coords(r)), r);
            let (lo, hi) = d.bounds(r);
            assert_eq!(d.owner(lo), r, "the lower corner belongs to its brick");
            let inside = std::array::from_fn(|k| 0.5 * (lo[k] + hi[k]));
            assert_eq!(d.owner(inside), r);
            for axis in 0..3 {
                assert_eq!(d.neighbour(d.neighbour(r, axis, 1), axis, -1), r);
            }
        }
        // The upper cut belongs to the next brick, and the last brick runs to the box edge.
        assert_eq!(d.coord_along(0, d.cuts[0][1]), 1);
        assert_eq!(d.coord_along(0, 9.29), 2);
        assert_eq!(d.neighbour(0, 2, 1), 0, "an uncut axis is its own neighbour");
        let (origin, extent) = d.region(4);
        assert_eq!(origin, [d.cuts[0][1] - 1.0, 2.0, 0.0]);
        assert!((extent[0] - (9.3 / 3.0 + 2.0)).abs() < 1e-5 && extent[1] == 5.0 && extent[2] == 5.0);
    }

    #[test]
    fn the_chosen_grid_has_the_least_cut_area() {
        // A slab thin in z: cutting z would give bricks under 2 halo widths; cutting x and y, or
        // x four times, cut the same area, and the more even grid wins.
        let d = Decomposition::choose(4, [20.0, 20.0, 3.0], 1.0).expect("valid");
        assert_eq!(d.ranks, [2, 2, 1]);
        // 8 ranks on a cube: 2 x 2 x 2.
        assert_eq!(Decomposition::choose(8, [16.0; 3], 1.0).expect("valid").ranks, [2, 2, 2]);
        // One rank: nothing is cut.
        assert_eq!(Decomposition::choose(1, [5.0; 3], 1.0).expect("valid").cut_area(), 0.0);
        // 7 ranks in a 10-box: bricks of 10/7 < 2 along any axis.
        let e = Decomposition::choose(7, [10.0; 3], 1.0).unwrap_err().to_string();
        assert!(e.contains("no grid of 7 ranks"), "{e}");
    }
}
