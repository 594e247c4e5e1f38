//! Binned fields, time-averaged over samples: a 3-D grid over the periodic box ([`FieldGrid`]:
//! number and mass density, velocity, stress tensor, like LAMMPS' `compute chunk/atom bin/3d` +
//! `fix ave/chunk` with `compute stress/atom`) and 1-D profiles along an axis or radially about a
//! line ([`Profile1d`]: number density and one mean velocity component, e.g. a Poiseuille
//! profile). Sums are kept in `f64`; positions are wrapped into the box `[0, L)` first.
//!
//! Empty bins report zero velocity and zero stress; their `count` is 0, so a reader can mask them.
//!
//! ```
//! use hemoscale::output::{FieldGrid, Masses};
//!
//! // Two bins along x of a 4 x 2 x 2 box; three particles of mass 1 in the first, one in the second.
//! let mut grid = FieldGrid::new([4.0, 2.0, 2.0], [2, 1, 1]).unwrap();
//! let pos = [[0.5f32, 1.0, 1.0], [1.0, 0.5, 0.5], [1.5, 1.5, 1.5], [3.0, 1.0, 1.0]];
//! let vel = [[0.3f32, 0.0, 0.0], [0.3, 0.0, 0.0], [0.3, 0.0, 0.0], [-0.6, 0.0, 0.0]];
//! grid.accumulate(&pos, &vel, Masses::Uniform(1.0), None).unwrap();
//! let f = grid.finish().unwrap();
//! // Bin volume 2 x 2 x 2 = 8: densities 3/8 and 1/8, and each bin's mean velocity.
//! assert_eq!((f.density[0], f.density[1]), (0.375, 0.125));
//! assert!((f.velocity[0][0] - 0.3).abs() < 1e-6 && (f.velocity[1][0] + 0.6).abs() < 1e-6);
//! ```

use std::path::Path;

use super::{OutputError, ThermoCsv};

/// A Cartesian axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    /// x (index 0).
    X,
    /// y (index 1).
    Y,
    /// z (index 2).
    Z,
}

impl Axis {
    /// 0, 1 or 2.
    pub fn index(self) -> usize {
        self as usize
    }
    /// The other two axes' indices, in increasing order.
    fn others(self) -> [usize; 2] {
        match self {
            Axis::X => [1, 2],
            Axis::Y => [0, 2],
            Axis::Z => [0, 1],
        }
    }
}

/// Particle masses for [`FieldGrid::accumulate`].
#[derive(Clone, Copy, Debug)]
pub enum Masses<'a> {
    /// Every particle has this mass.
    Uniform(f64),
    /// One mass per particle.
    PerParticle(&'a [f64]),
    /// `masses[type_ids[i]]` for particle `i`.
    ByType {
        /// Type of each particle.
        type_ids: &'a [u32],
        /// Mass of each type.
        masses: &'a [f64],
    },
}

fn check_box(box_lengths: [f64; 3]) -> Result<(), OutputError> {
    if box_lengths.iter().any(|l| !(l.is_finite() && *l > 0.0)) {
        return Err(OutputError::Invalid(format!("box lengths {box_lengths:?} must be positive and finite")));
    }
    Ok(())
}

fn check_particles(positions: &[[f32; 3]], velocities: &[[f32; 3]]) -> Result<(), OutputError> {
    if velocities.len() != positions.len() {
        return Err(OutputError::Invalid(format!("{} velocities for {} positions", velocities.len(), positions.len())));
    }
    if let Some(i) = positions.iter().position(|p| p.iter().any(|x| !x.is_finite())) {
        return Err(OutputError::Invalid(format!("particle {i} has a non-finite position {:?}", positions[i])));
    }
    Ok(())
}

/// Bin of coordinate `x` on an axis of length `l` cut into `n` bins, `x` wrapped into `[0, l)`.
fn bin_1d(x: f64, l: f64, n: usize) -> usize {
    let w = x.rem_euclid(l);
    ((w / l * n as f64) as usize).min(n - 1)
}

/// Time-averaged fields on a grid of `bins[0] x bins[1] x bins[2]` equal bins over the box.
///
/// Per bin it sums, over all particles and samples, the count `N`, mass `M`, momentum
/// `P = sum m v`, second moment `S_ab = sum m v_a v_b` and (when given) the per-particle virial
/// `W`. [`finish`](Self::finish) turns them into per-sample averages: the kinetic tensor about the
/// bin's mean velocity `u = P / M` (averaged over the samples) is `K = S - P P / M`, and the stress
/// is `-(K + W) / (samples * V_bin)`: the sign convention of LAMMPS' `compute stress/atom`
/// (summed over the bin and divided by its volume), so the local pressure is `-trace / 3`.
#[derive(Clone, Debug)]
pub struct FieldGrid {
    box_lengths: [f64; 3],
    bins: [usize; 3],
    samples: u64,
    count: Vec<f64>,
    mass: Vec<f64>,
    momentum: Vec<[f64; 3]>,
    second_moment: Vec<[f64; 6]>,
    virial: Vec<[f64; 6]>,
}

/// What a [`FieldGrid`] reports. Bin `(ix, iy, iz)` is at index `ix + nx (iy + ny iz)`
/// ([`index`](Self::index)), x fastest (VTK's cell order).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldData {
    /// Bins along x, y, z.
    pub bins: [usize; 3],
    /// Box edge lengths.
    pub box_lengths: [f64; 3],
    /// Samples averaged.
    pub samples: u64,
    /// Mean number of particles in the bin per sample.
    pub count: Vec<f64>,
    /// Number density: count / (samples * bin volume).
    pub density: Vec<f64>,
    /// Mass density: mass / (samples * bin volume).
    pub mass_density: Vec<f64>,
    /// Mass-weighted mean velocity (0 in empty bins).
    pub velocity: Vec<[f64; 3]>,
    /// Stress tensor (xx, yy, zz, xy, xz, yz): `-(kinetic + virial) / (samples * bin volume)`;
    /// pressure is `-(xx + yy + zz) / 3`.
    pub stress: Vec<[f64; 6]>,
}

impl FieldData {
    /// Index of bin `(ix, iy, iz)` in the per-bin vectors.
    pub fn index(&self, ix: usize, iy: usize, iz: usize) -> usize {
        ix + self.bins[0] * (iy + self.bins[1] * iz)
    }
    /// Bin edge lengths.
    pub fn bin_size(&self) -> [f64; 3] {
        [0, 1, 2].map(|k| self.box_lengths[k] / self.bins[k] as f64)
    }
    /// Bin volume.
    pub fn bin_volume(&self) -> f64 {
        self.bin_size().iter().product()
    }
    /// Centre of bin `(ix, iy, iz)`.
    pub fn bin_center(&self, ix: usize, iy: usize, iz: usize) -> [f64; 3] {
        let d = self.bin_size();
        [(ix as f64 + 0.5) * d[0], (iy as f64 + 0.5) * d[1], (iz as f64 + 0.5) * d[2]]
    }
    /// Local pressure `-(xx + yy + zz) / 3` of the bin at `index`.
    pub fn pressure(&self, index: usize) -> f64 {
        let s = &self.stress[index];
        -(s[0] + s[1] + s[2]) / 3.0
    }
}

impl FieldGrid {
    /// An empty accumulator over a box of `box_lengths` (origin 0) cut into `bins` bins per axis.
    pub fn new(box_lengths: [f64; 3], bins: [usize; 3]) -> Result<Self, OutputError> {
        check_box(box_lengths)?;
        if bins.contains(&0) {
            return Err(OutputError::Invalid(format!("field grid bins {bins:?}: at least one bin per axis")));
        }
        let n = bins
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b))
            .filter(|&n| n <= 1 << 28)
            .ok_or_else(|| OutputError::Invalid(format!("field grid bins {bins:?}: more than 2^28 bins")))?;
        Ok(Self {
            box_lengths,
            bins,
            samples: 0,
            count: vec![0.0; n],
            mass: vec![0.0; n],
            momentum: vec![[0.0; 3]; n],
            second_moment: vec![[0.0; 6]; n],
            virial: vec![[0.0; 6]; n],
        })
    }

    /// Bins along x, y, z.
    pub fn bins(&self) -> [usize; 3] {
        self.bins
    }

    /// Samples accumulated since creation or the last [`reset`](Self::reset).
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Index of the bin holding position `p` (wrapped into the box).
    pub fn bin_of(&self, p: [f32; 3]) -> usize {
        let [ix, iy, iz] = [0, 1, 2].map(|k| bin_1d(f64::from(p[k]), self.box_lengths[k], self.bins[k]));
        ix + self.bins[0] * (iy + self.bins[1] * iz)
    }

    /// Adds one sample: every particle's count, mass, momentum and `m v v` to its bin, and its
    /// virial when `virial` is given: the per-particle virial tensor `W_i` (xx, yy, zz, xy, xz, yz)
    /// in energy units, positive for repulsion (half the pair sum of `r_ij F_ij` per particle;
    /// LAMMPS' `stress/atom` reports `-(m v v + W_i)`). Nothing is added when an argument is
    /// inconsistent (lengths, a type id without a mass, a non-finite position).
    pub fn accumulate(
        &mut self,
        positions: &[[f32; 3]],
        velocities: &[[f32; 3]],
        masses: Masses<'_>,
        virial: Option<&[[f32; 6]]>,
    ) -> Result<(), OutputError> {
        check_particles(positions, velocities)?;
        let n = positions.len();
        match masses {
            Masses::Uniform(m) if !m.is_finite() || m < 0.0 => {
                return Err(OutputError::Invalid(format!("mass {m} must be finite and non-negative")));
            }
            Masses::PerParticle(m) if m.len() != n => {
                return Err(OutputError::Invalid(format!("{} masses for {n} particles", m.len())));
            }
            Masses::ByType { type_ids, masses } => {
                if type_ids.len() != n {
                    return Err(OutputError::Invalid(format!("{} type ids for {n} particles", type_ids.len())));
                }
                if let Some(t) = type_ids.iter().find(|&&t| t as usize >= masses.len()) {
                    return Err(OutputError::Invalid(format!("type id {t} but {} type masses", masses.len())));
                }
            }
            _ => {}
        }
        if let Some(w) = virial.filter(|w| w.len() != n) {
            return Err(OutputError::Invalid(format!("{} virial tensors for {n} particles", w.len())));
        }
        for i in 0..n {
            let b = self.bin_of(positions[i]);
            let m = match masses {
                Masses::Uniform(m) => m,
                Masses::PerParticle(ms) => ms[i],
                Masses::ByType { type_ids, masses } => masses[type_ids[i] as usize],
            };
            let v = velocities[i].map(f64::from);
            self.count[b] += 1.0;
            self.mass[b] += m;
            for (p, vk) in self.momentum[b].iter_mut().zip(v) {
                *p += m * vk;
            }
            let s = &mut self.second_moment[b];
            s[0] += m * v[0] * v[0];
            s[1] += m * v[1] * v[1];
            s[2] += m * v[2] * v[2];
            s[3] += m * v[0] * v[1];
            s[4] += m * v[0] * v[2];
            s[5] += m * v[1] * v[2];
            if let Some(w) = virial {
                for (acc, wk) in self.virial[b].iter_mut().zip(w[i]) {
                    *acc += f64::from(wk);
                }
            }
        }
        self.samples += 1;
        Ok(())
    }

    /// The per-sample averages (see the type's documentation). Refuses when no sample was taken.
    pub fn finish(&self) -> Result<FieldData, OutputError> {
        if self.samples == 0 {
            return Err(OutputError::Invalid("field grid finished before any sample was accumulated".into()));
        }
        let samples = self.samples as f64;
        let d = [0, 1, 2].map(|k| self.box_lengths[k] / self.bins[k] as f64);
        let norm = samples * d[0] * d[1] * d[2];
        let n = self.count.len();
        let mut out = FieldData {
            bins: self.bins,
            box_lengths: self.box_lengths,
            samples: self.samples,
            count: Vec::with_capacity(n),
            density: Vec::with_capacity(n),
            mass_density: Vec::with_capacity(n),
            velocity: Vec::with_capacity(n),
            stress: Vec::with_capacity(n),
        };
        const PAIRS: [(usize, usize); 6] = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)];
        for b in 0..n {
            let (m, p) = (self.mass[b], self.momentum[b]);
            out.count.push(self.count[b] / samples);
            out.density.push(self.count[b] / norm);
            out.mass_density.push(m / norm);
            out.velocity.push(if m > 0.0 { p.map(|x| x / m) } else { [0.0; 3] });
            let mut s = [0.0; 6];
            for (k, &(a, c)) in PAIRS.iter().enumerate() {
                let kinetic = if m > 0.0 { self.second_moment[b][k] - p[a] * p[c] / m } else { 0.0 };
                s[k] = -(kinetic + self.virial[b][k]) / norm;
            }
            out.stress.push(s);
        }
        Ok(out)
    }

    /// Appends the sums and the sample count to `out` (a checkpoint; [`restore`](Self::restore)
    /// reads them back into a grid of the same bins).
    pub fn save(&self, out: &mut Vec<f64>) {
        out.push(crate::checkpoint::bits(self.samples));
        out.extend(&self.count);
        out.extend(&self.mass);
        out.extend(self.momentum.iter().flatten());
        out.extend(self.second_moment.iter().flatten());
        out.extend(self.virial.iter().flatten());
    }

    /// Reads back what [`save`](Self::save) wrote.
    pub fn restore(&mut self, w: &mut crate::checkpoint::Words<'_>) -> Result<(), String> {
        let n = self.count.len();
        self.samples = w.int()?;
        self.count.copy_from_slice(w.take(n)?);
        self.mass.copy_from_slice(w.take(n)?);
        let m = w.take(3 * n)?;
        self.momentum = m.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
        let s = w.take(6 * n)?;
        self.second_moment = s.chunks_exact(6).map(|c| std::array::from_fn(|k| c[k])).collect();
        let v = w.take(6 * n)?;
        self.virial = v.chunks_exact(6).map(|c| std::array::from_fn(|k| c[k])).collect();
        Ok(())
    }

    /// Clears the sums and the sample count (the bins stay).
    pub fn reset(&mut self) {
        self.samples = 0;
        self.count.fill(0.0);
        self.mass.fill(0.0);
        self.momentum.fill([0.0; 3]);
        self.second_moment.fill([0.0; 6]);
        self.virial.fill([0.0; 6]);
    }
}

/// How a [`Profile1d`] bins particles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ProfileGeometry {
    /// Slabs across the whole box along this axis, from 0 to the box length.
    Along(Axis),
    /// Coaxial shells of radius 0 to `r_max` about the line parallel to `axis` through `through`
    /// (its coordinate along `axis` is ignored); distances use the minimum image across the
    /// periodic box. Particles at `r >= r_max` are not counted.
    Radial {
        /// Direction of the line.
        axis: Axis,
        /// A point on the line.
        through: [f64; 3],
        /// Outer radius of the last shell, at most half the smaller perpendicular box length.
        r_max: f64,
    },
}

/// A time-averaged 1-D profile: per bin, the number density and the mean of one velocity component.
#[derive(Clone, Debug)]
pub struct Profile1d {
    box_lengths: [f64; 3],
    geometry: ProfileGeometry,
    velocity_component: Axis,
    bins: usize,
    samples: u64,
    count: Vec<f64>,
    velocity_sum: Vec<f64>,
}

/// What a [`Profile1d`] reports, per bin.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileData {
    /// Bin centres: a coordinate along the axis, or a radius.
    pub centers: Vec<f64>,
    /// Number density: count / (samples * bin volume); a radial bin's volume is its annulus
    /// `pi (r_out^2 - r_in^2)` times the box length along the axis.
    pub density: Vec<f64>,
    /// Mean of the chosen velocity component over the particles in the bin (number-weighted;
    /// 0 in empty bins).
    pub velocity: Vec<f64>,
    /// Mean number of particles in the bin per sample.
    pub count: Vec<f64>,
    /// Samples averaged.
    pub samples: u64,
}

impl ProfileData {
    /// `(centre, density)` for every bin, for [`plot_profile`](super::plot_profile).
    pub fn density_points(&self) -> Vec<(f64, f64)> {
        self.centers.iter().copied().zip(self.density.iter().copied()).collect()
    }

    /// `(centre, mean velocity)` for the bins that held particles.
    pub fn velocity_points(&self) -> Vec<(f64, f64)> {
        (0..self.centers.len()).filter(|&i| self.count[i] > 0.0).map(|i| (self.centers[i], self.velocity[i])).collect()
    }

    /// Writes the profile as CSV with columns `position_label`, `density`, `velocity`, `count`.
    pub fn write_csv(&self, path: impl AsRef<Path>, position_label: &str) -> Result<(), OutputError> {
        let mut csv = ThermoCsv::create(path, &[position_label, "density", "velocity", "count"])?;
        for i in 0..self.centers.len() {
            csv.write_row(&[self.centers[i], self.density[i], self.velocity[i], self.count[i]])?;
        }
        Ok(())
    }
}

impl Profile1d {
    /// Slabs along `axis`, `bins` of them across the box, averaging velocity component
    /// `velocity_component`.
    pub fn along(
        axis: Axis,
        box_lengths: [f64; 3],
        bins: usize,
        velocity_component: Axis,
    ) -> Result<Self, OutputError> {
        Self::new(box_lengths, ProfileGeometry::Along(axis), bins, velocity_component)
    }

    /// Coaxial shells about the line parallel to `axis` through `through`, `bins` of them from
    /// radius 0 to `r_max`, averaging velocity component `velocity_component`.
    pub fn radial(
        axis: Axis,
        through: [f64; 3],
        r_max: f64,
        box_lengths: [f64; 3],
        bins: usize,
        velocity_component: Axis,
    ) -> Result<Self, OutputError> {
        Self::new(box_lengths, ProfileGeometry::Radial { axis, through, r_max }, bins, velocity_component)
    }

    /// A profile of `geometry` with `bins` bins.
    pub fn new(
        box_lengths: [f64; 3],
        geometry: ProfileGeometry,
        bins: usize,
        velocity_component: Axis,
    ) -> Result<Self, OutputError> {
        check_box(box_lengths)?;
        if bins == 0 || bins > 1 << 28 {
            return Err(OutputError::Invalid(format!("profile of {bins} bins: between 1 and 2^28")));
        }
        if let ProfileGeometry::Radial { axis, through, r_max } = geometry {
            let half = axis.others().map(|k| box_lengths[k] / 2.0);
            let limit = half[0].min(half[1]);
            if !(r_max > 0.0 && r_max <= limit) {
                return Err(OutputError::Invalid(format!(
                    "radial profile r_max {r_max} must be in (0, {limit}], half the smaller box length across \
                     the axis (beyond it shells would be cut by the periodic box)"
                )));
            }
            if through.iter().any(|x| !x.is_finite()) {
                return Err(OutputError::Invalid(format!("radial profile axis point {through:?} must be finite")));
            }
        }
        Ok(Self {
            box_lengths,
            geometry,
            velocity_component,
            bins,
            samples: 0,
            count: vec![0.0; bins],
            velocity_sum: vec![0.0; bins],
        })
    }

    /// The binning.
    pub fn geometry(&self) -> ProfileGeometry {
        self.geometry
    }

    /// Samples accumulated since creation or the last [`reset`](Self::reset).
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Edges of bin `i`: a coordinate range along the axis, or a radius range.
    fn edges(&self, i: usize) -> (f64, f64) {
        let extent = match self.geometry {
            ProfileGeometry::Along(axis) => self.box_lengths[axis.index()],
            ProfileGeometry::Radial { r_max, .. } => r_max,
        };
        let w = extent / self.bins as f64;
        (i as f64 * w, (i + 1) as f64 * w)
    }

    /// Bin centres (coordinates along the axis, or radii).
    pub fn centers(&self) -> Vec<f64> {
        (0..self.bins).map(|i| self.edges(i)).map(|(a, b)| 0.5 * (a + b)).collect()
    }

    /// Volume of bin `i`: a slab, or an annulus times the box length along the axis.
    pub fn bin_volume(&self, i: usize) -> f64 {
        let (a, b) = self.edges(i);
        match self.geometry {
            ProfileGeometry::Along(axis) => {
                let [p, q] = axis.others();
                (b - a) * self.box_lengths[p] * self.box_lengths[q]
            }
            ProfileGeometry::Radial { axis, .. } => {
                std::f64::consts::PI * (b * b - a * a) * self.box_lengths[axis.index()]
            }
        }
    }

    /// The bin of position `p`, or `None` outside `r_max` (radial profiles).
    pub fn bin_of(&self, p: [f32; 3]) -> Option<usize> {
        match self.geometry {
            ProfileGeometry::Along(axis) => {
                let k = axis.index();
                Some(bin_1d(f64::from(p[k]), self.box_lengths[k], self.bins))
            }
            ProfileGeometry::Radial { axis, through, r_max } => {
                let r2: f64 = axis
                    .others()
                    .iter()
                    .map(|&k| {
                        let l = self.box_lengths[k];
                        let d = f64::from(p[k]) - through[k];
                        let d = d - l * (d / l).round();
                        d * d
                    })
                    .sum();
                let r = r2.sqrt();
                (r < r_max).then(|| ((r / r_max * self.bins as f64) as usize).min(self.bins - 1))
            }
        }
    }

    /// Adds one sample of every particle's count and velocity component to its bin.
    pub fn accumulate(&mut self, positions: &[[f32; 3]], velocities: &[[f32; 3]]) -> Result<(), OutputError> {
        check_particles(positions, velocities)?;
        let c = self.velocity_component.index();
        for (p, v) in positions.iter().zip(velocities) {
            if let Some(b) = self.bin_of(*p) {
                self.count[b] += 1.0;
                self.velocity_sum[b] += f64::from(v[c]);
            }
        }
        self.samples += 1;
        Ok(())
    }

    /// The per-sample averages. Refuses when no sample was taken.
    pub fn finish(&self) -> Result<ProfileData, OutputError> {
        if self.samples == 0 {
            return Err(OutputError::Invalid("profile finished before any sample was accumulated".into()));
        }
        let s = self.samples as f64;
        Ok(ProfileData {
            centers: self.centers(),
            density: (0..self.bins).map(|i| self.count[i] / (s * self.bin_volume(i))).collect(),
            velocity: (0..self.bins)
                .map(|i| if self.count[i] > 0.0 { self.velocity_sum[i] / self.count[i] } else { 0.0 })
                .collect(),
            count: self.count.iter().map(|c| c / s).collect(),
            samples: self.samples,
        })
    }

    /// Appends the sums and the sample count to `out` (a checkpoint).
    pub fn save(&self, out: &mut Vec<f64>) {
        out.push(crate::checkpoint::bits(self.samples));
        out.extend(&self.count);
        out.extend(&self.velocity_sum);
    }

    /// Reads back what [`save`](Self::save) wrote into a profile of the same bins.
    pub fn restore(&mut self, w: &mut crate::checkpoint::Words<'_>) -> Result<(), String> {
        self.samples = w.int()?;
        self.count.copy_from_slice(w.take(self.bins)?);
        self.velocity_sum.copy_from_slice(w.take(self.bins)?);
        Ok(())
    }

    /// Clears the sums and the sample count.
    pub fn reset(&mut self) {
        self.samples = 0;
        self.count.fill(0.0);
        self.velocity_sum.fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simple cubic lattice of `n^3` sites with spacing `a`, offset by half a spacing.
    fn lattice(n: usize, a: f32) -> Vec<[f32; 3]> {
        let mut p = Vec::new();
        for i in 0..n {
            for j in 0..n {
                for k in 0..n {
                    p.push([(i as f32 + 0.5) * a, (j as f32 + 0.5) * a, (k as f32 + 0.5) * a]);
                }
            }
        }
        p
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn uniform_lattice_gives_exact_density() {
        // 8^3 sites, spacing 0.5, box 4: 2x2x2 bins of volume 8 hold 64 each -> density 8.
        let pos = lattice(8, 0.5);
        let vel = vec![[0.0f32; 3]; pos.len()];
        let mut g = FieldGrid::new([4.0; 3], [2, 2, 2]).unwrap();
        for _ in 0..3 {
            g.accumulate(&pos, &vel, Masses::Uniform(2.0), None).unwrap();
        }
        let f = g.finish().unwrap();
        assert_eq!(f.samples, 3);
        assert_eq!(f.bin_volume(), 8.0);
        for b in 0..8 {
            assert_eq!(f.count[b], 64.0);
            assert_eq!(f.density[b], 8.0);
            assert_eq!(f.mass_density[b], 16.0);
            assert_eq!(f.velocity[b], [0.0; 3]);
            assert_eq!(f.stress[b], [0.0; 6]);
        }
        assert_eq!(f.index(1, 0, 1), 5);
        assert_eq!(f.bin_center(1, 0, 1), [3.0, 1.0, 3.0]);
        g.reset();
        assert_eq!(g.samples(), 0);
        assert!(g.finish().is_err());
    }

    #[test]
    fn positions_outside_the_box_wrap() {
        let g = FieldGrid::new([4.0; 3], [2, 2, 2]).unwrap();
        assert_eq!(g.bin_of([-0.5, 4.5, 8.0]), g.bin_of([3.5, 0.5, 0.0]));
        assert_eq!(g.bin_of([4.0, 3.999_999_8, 0.0]), 2);
    }

    #[test]
    fn linear_velocity_field_gives_exact_bin_means() {
        // v_x = y on a lattice with spacing 0.5 in a box of 4, 4 bins along y: bin j holds the
        // y values 1j + 0.25 and 1j + 0.75, so its mean velocity is j + 0.5.
        let pos = lattice(8, 0.5);
        let vel: Vec<[f32; 3]> = pos.iter().map(|p| [p[1], 0.0, 0.0]).collect();
        let mut g = FieldGrid::new([4.0; 3], [1, 4, 1]).unwrap();
        g.accumulate(&pos, &vel, Masses::Uniform(1.0), None).unwrap();
        let f = g.finish().unwrap();
        for j in 0..4 {
            let b = f.index(0, j, 0);
            assert_eq!(f.velocity[b], [j as f64 + 0.5, 0.0, 0.0]);
            // Kinetic xx about the mean: 128 particles at +-0.25 -> 128 * 0.0625 = 8 per bin of
            // volume 16.
            assert!(close(f.stress[b][0], -8.0 / 16.0), "{:?}", f.stress[b]);
            assert_eq!(&f.stress[b][1..], &[0.0; 5]);
        }
        let mut p = Profile1d::along(Axis::Y, [4.0; 3], 4, Axis::X).unwrap();
        p.accumulate(&pos, &vel).unwrap();
        p.accumulate(&pos, &vel).unwrap();
        let d = p.finish().unwrap();
        assert_eq!(d.centers, [0.5, 1.5, 2.5, 3.5]);
        assert_eq!(d.velocity, [0.5, 1.5, 2.5, 3.5]);
        assert_eq!(d.density, [8.0; 4]);
        assert_eq!(d.count, [128.0; 4]);
        assert_eq!(d.velocity_points()[2], (2.5, 2.5));
    }

    #[test]
    fn kinetic_stress_is_about_the_local_mean_and_virial_adds() {
        // Two particles of mass 3 in one bin (volume 2), velocities u +- (1, 2, 0), u = (5, -1, 2):
        // K = 2 * 3 * [1, 4, 0, 2, 0, 0].
        let pos = [[0.2f32, 0.3, 0.4], [0.6, 0.7, 0.8]];
        let vel = [[6.0f32, 1.0, 2.0], [4.0, -3.0, 2.0]];
        let w = [[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]];
        let mut g = FieldGrid::new([1.0, 1.0, 2.0], [1, 1, 1]).unwrap();
        let types = [1u32, 1];
        let masses = Masses::ByType { type_ids: &types, masses: &[1.0, 3.0] };
        g.accumulate(&pos, &vel, masses, Some(&w)).unwrap();
        g.accumulate(&pos, &vel, masses, Some(&w)).unwrap();
        let f = g.finish().unwrap();
        assert_eq!(f.velocity[0], [5.0, -1.0, 2.0]);
        let kinetic = [6.0, 24.0, 0.0, 12.0, 0.0, 0.0];
        let virial = [1.5, 2.5, 3.5, 4.5, 5.5, 6.5];
        for k in 0..6 {
            assert!(close(f.stress[0][k], -(kinetic[k] + virial[k]) / 2.0), "{k}: {:?}", f.stress[0]);
        }
        assert!(close(f.pressure(0), (6.0 + 24.0 + 1.5 + 2.5 + 3.5) / 6.0));
        assert_eq!(f.mass_density[0], 3.0);
    }

    #[test]
    fn empty_bins_and_bad_arguments() {
        let mut g = FieldGrid::new([2.0; 3], [2, 1, 1]).unwrap();
        g.accumulate(&[[0.5, 0.5, 0.5]], &[[1.0, 0.0, 0.0]], Masses::PerParticle(&[1.0]), None).unwrap();
        let f = g.finish().unwrap();
        assert_eq!((f.count[1], f.velocity[1], f.stress[1]), (0.0, [0.0; 3], [0.0; 6]));
        let e = |r: Result<(), OutputError>| r.unwrap_err().to_string();
        assert!(e(g.accumulate(&[[0.0; 3]], &[], Masses::Uniform(1.0), None)).contains("0 velocities for 1 positions"));
        assert!(
            e(g.accumulate(&[[f32::NAN, 0.0, 0.0]], &[[0.0; 3]], Masses::Uniform(1.0), None)).contains("non-finite")
        );
        assert!(e(g.accumulate(&[[0.0; 3]], &[[0.0; 3]], Masses::PerParticle(&[]), None)).contains("0 masses"));
        let m = Masses::ByType { type_ids: &[2], masses: &[1.0] };
        assert!(e(g.accumulate(&[[0.0; 3]], &[[0.0; 3]], m, None)).contains("type id 2"));
        assert!(e(g.accumulate(&[[0.0; 3]], &[[0.0; 3]], Masses::Uniform(1.0), Some(&[]))).contains("0 virial"));
        assert_eq!(g.samples(), 1);
        assert!(FieldGrid::new([2.0; 3], [0, 1, 1]).is_err());
        assert!(FieldGrid::new([2.0, -1.0, 1.0], [1, 1, 1]).is_err());
        assert!(FieldGrid::new([2.0; 3], [1 << 20, 1 << 20, 1]).is_err());
    }

    #[test]
    fn radial_profile_uses_annulus_volumes_and_minimum_image() {
        // Axis along x through (., 5, 5) in a 2 x 10 x 10 box, 2 shells up to r = 4. Particles
        // at r = 1 (4 of them) and r = 3 (2 of them, one across the periodic boundary).
        let pos = [
            [0.5f32, 6.0, 5.0],
            [0.5, 4.0, 5.0],
            [1.5, 5.0, 6.0],
            [1.5, 5.0, 4.0],
            [1.0, 8.0, 5.0],
            [1.0, 5.0, 12.0], // wraps to z = 2: r = 3
            [1.0, 9.5, 9.5],  // r = 6.36: outside
        ];
        let vel: Vec<[f32; 3]> = (0..pos.len()).map(|i| [i as f32, 0.0, 0.0]).collect();
        let mut p = Profile1d::radial(Axis::X, [0.0, 5.0, 5.0], 4.0, [2.0, 10.0, 10.0], 2, Axis::X).unwrap();
        p.accumulate(&pos, &vel).unwrap();
        let d = p.finish().unwrap();
        let pi = std::f64::consts::PI;
        assert_eq!(d.centers, [1.0, 3.0]);
        assert_eq!(d.count, [4.0, 2.0]);
        assert!(close(d.density[0], 4.0 / (pi * 4.0 * 2.0)));
        assert!(close(d.density[1], 2.0 / (pi * (16.0 - 4.0) * 2.0)));
        assert_eq!(d.velocity, [1.5, 4.5]);
        assert!(close(p.bin_volume(0) + p.bin_volume(1), pi * 16.0 * 2.0));
        let e = Profile1d::radial(Axis::X, [0.0; 3], 5.5, [2.0, 10.0, 12.0], 2, Axis::X).unwrap_err();
        assert!(e.to_string().contains("(0, 5]"), "{e}");
        assert!(Profile1d::along(Axis::Z, [1.0; 3], 0, Axis::X).is_err());
    }

    #[test]
    fn profile_csv() {
        let dir = std::env::temp_dir().join(format!("hemoscale-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut p = Profile1d::along(Axis::Z, [1.0, 1.0, 2.0], 2, Axis::X).unwrap();
        p.accumulate(&[[0.5, 0.5, 0.5]], &[[2.0, 0.0, 0.0]]).unwrap();
        let path = dir.join("p.csv");
        p.finish().unwrap().write_csv(&path, "z").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "z,density,velocity,count\n0.5,1,2,1\n1.5,0,0,0\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
