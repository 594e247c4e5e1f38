//! Flow measurements taken from the particle state during a run (the same host code for both
//! backends, so CPU and GPU runs are measured identically): time-averaged 1-D profiles of fluid
//! particles ([`Profile1d`]: along an axis or radially about the flow axis) and the shear force
//! the fluid exerts on moving walls.
//!
//! A probe samples every `every` steps from step `start` on (the transient before is skipped).
//! Reading the state back costs a device synchronisation on the GPU; at every 20 steps it is a
//! small fraction of a step's cost for the sizes flow scenarios use.
//!
//! ```
//! use hemoscale::flow::{FlowProbe, Selection};
//! use hemoscale::kernels::{DpdSystem, ParticleState, SimBox, WallCounts};
//! use hemoscale::output::{Axis, Profile1d};
//!
//! // A velocity profile of vx across z, sampled from a state with vx = 0.1 z.
//! let system = DpdSystem::standard(SimBox::cubic(4.0), 1);
//! let pos: Vec<[f32; 3]> = (0..400).map(|i| [0.5, 0.5, 0.01 * i as f32]).collect();
//! let vel: Vec<[f32; 3]> = pos.iter().map(|p| [0.1 * p[2], 0.0, 0.0]).collect();
//! let n = pos.len();
//! let state =
//!     ParticleState { force: vec![[0.0; 3]; n], type_id: vec![0; n], tag: (0..n as u32).collect(), n_local: n, pos, vel };
//! let profile = Profile1d::along(Axis::Z, [4.0; 3], 8, Axis::X).unwrap();
//! let mut probe = FlowProbe::new(10, 100).with("vx_z", Selection::Fluid, profile);
//! assert!(!probe.due(50) && probe.due(100));
//! probe.sample(&system, &state, 100, WallCounts::default()).unwrap();
//! let points = probe.profile("vx_z").unwrap().velocity_points();
//! // Each bin holds the mean velocity of its particles: 0.1 times the mean z in the bin.
//! let (z, v) = points[3];
//! assert!((v - 0.1 * z).abs() < 1e-3, "bin at z = {z}: {v}");
//! ```

use hemoscale_kernels::{DpdSystem, ParticleState, WallCounts};

use crate::output::{OutputError, Profile1d, ProfileData};

/// Which fluid particles a profile counts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Selection {
    /// All fluid (mobile) particles.
    Fluid,
    /// Fluid particles within `radius` of the line parallel to x through `(y, z) = center`.
    NearAxis {
        /// (y, z) of the axis.
        center: [f64; 2],
        /// Largest distance from the axis.
        radius: f64,
    },
}

impl Selection {
    fn admits(&self, p: [f32; 3]) -> bool {
        match *self {
            Selection::Fluid => true,
            Selection::NearAxis { center, radius } => {
                (f64::from(p[1]) - center[0]).hypot(f64::from(p[2]) - center[1]) < radius
            }
        }
    }
}

/// A profile with its name and selection.
#[derive(Clone, Debug)]
pub struct NamedProfile {
    /// Name the scenario looks it up by.
    pub name: &'static str,
    /// Particles counted.
    pub selection: Selection,
    /// The accumulator.
    pub profile: Profile1d,
}

/// Time-averaged x-force of the fluid on the walls above and below the plane `z = center`, per
/// unit wall area: the pair forces on the frozen particles (sampled) plus the momentum that
/// bounce-back reflections hand the walls (counted exactly by the engines, [`WallCounts`]).
#[derive(Clone, Debug, Default)]
pub struct WallShear {
    /// z of the plane between the walls.
    pub center: f64,
    /// Area of one wall (L_x L_y).
    pub area: f64,
    sum_top: f64,
    sum_bottom: f64,
    samples: u64,
    first: Option<(u64, WallCounts)>,
    last: Option<(u64, WallCounts)>,
    dt: f64,
}

impl WallShear {
    /// A wall-shear accumulator for walls either side of `z = center`, each of area `area`.
    pub fn new(center: f64, area: f64) -> Self {
        Self { center, area, ..Self::default() }
    }
    /// Mean force of the reflections on wall `side` (0 below, 1 above) between the first and the
    /// last sample.
    fn reflection_force(&self, side: usize) -> f64 {
        match (self.first, self.last) {
            (Some((s0, c0)), Some((s1, c1))) if s1 > s0 => {
                (c1.impulse(side) - c0.impulse(side)) / ((s1 - s0) as f64 * self.dt)
            }
            _ => 0.0,
        }
    }
    /// Mean x-force per unit area on the top wall (negative when the fluid holds the top wall back).
    pub fn top_stress(&self) -> f64 {
        (self.sum_top / self.samples.max(1) as f64 + self.reflection_force(1)) / self.area
    }
    /// Mean x-force per unit area on the bottom wall.
    pub fn bottom_stress(&self) -> f64 {
        (self.sum_bottom / self.samples.max(1) as f64 + self.reflection_force(0)) / self.area
    }
    /// Shear stress transmitted across the channel: the mean of the drag on both walls,
    /// `(F_bottom - F_top) / (2 A)`.
    pub fn shear_stress(&self) -> f64 {
        0.5 * (self.bottom_stress() - self.top_stress())
    }
}

/// Everything a flow scenario samples.
#[derive(Clone, Debug)]
pub struct FlowProbe {
    /// Steps between samples.
    pub every: u64,
    /// First step sampled.
    pub start: u64,
    /// The profiles.
    pub profiles: Vec<NamedProfile>,
    /// Wall shear, for moving walls.
    pub wall_shear: Option<WallShear>,
    /// Samples taken.
    pub samples: u64,
    /// Platelet measurements (scenarios with platelets; set up by the run, which knows the
    /// platelets only once they are built).
    pub platelets: Option<crate::platelets::PlateletProbe>,
}

impl FlowProbe {
    /// A probe sampling every `every` steps from `start`.
    pub fn new(every: u64, start: u64) -> Self {
        Self { every: every.max(1), start, profiles: Vec::new(), wall_shear: None, samples: 0, platelets: None }
    }
    /// Adds a profile.
    pub fn with(mut self, name: &'static str, selection: Selection, profile: Profile1d) -> Self {
        self.profiles.push(NamedProfile { name, selection, profile });
        self
    }
    /// Adds the wall-shear measurement.
    pub fn with_wall_shear(mut self, shear: WallShear) -> Self {
        self.wall_shear = Some(shear);
        self
    }
    /// Whether the probe samples at `step`.
    pub fn due(&self, step: u64) -> bool {
        step >= self.start && step % self.every == 0
    }
    /// Takes one sample of `state` at `step`, with the engine's wall counters then.
    pub fn sample(
        &mut self,
        system: &DpdSystem,
        state: &ParticleState,
        step: u64,
        counts: WallCounts,
    ) -> Result<(), OutputError> {
        let fluid = |i: usize| !system.types[state.type_id[i] as usize].frozen;
        for p in &mut self.profiles {
            let (mut pos, mut vel) = (Vec::with_capacity(state.len()), Vec::with_capacity(state.len()));
            for i in 0..state.len() {
                if fluid(i) && p.selection.admits(state.pos[i]) {
                    pos.push(state.pos[i]);
                    vel.push(state.vel[i]);
                }
            }
            p.profile.accumulate(&pos, &vel)?;
        }
        if let Some(w) = &mut self.wall_shear {
            for i in (0..state.len()).filter(|&i| !fluid(i)) {
                let fx = f64::from(state.force[i][0]);
                if f64::from(state.pos[i][2]) >= w.center {
                    w.sum_top += fx;
                } else {
                    w.sum_bottom += fx;
                }
            }
            w.samples += 1;
            w.dt = f64::from(system.dt);
            w.first.get_or_insert((step, counts));
            w.last = Some((step, counts));
        }
        self.samples += 1;
        Ok(())
    }
    /// Appends every accumulator (profiles, wall shear, sample count) to `out`, for a
    /// checkpoint. The platelet measurements are saved on their own
    /// ([`crate::platelets::PlateletProbe::save`]).
    pub fn save(&self, out: &mut Vec<f64>) {
        use crate::checkpoint::bits;
        out.push(bits(self.samples));
        for p in &self.profiles {
            p.profile.save(out);
        }
        if let Some(w) = &self.wall_shear {
            out.extend([w.sum_top, w.sum_bottom, bits(w.samples), w.dt]);
            for mark in [w.first, w.last] {
                let (step, c) = mark.unwrap_or_default();
                out.extend([bits(u64::from(mark.is_some())), bits(step), bits(c.bounced), bits(c.leaked)]);
                // Signed: as a number (exact below 2^53 in fixed-point units, far beyond any
                // run), not as bits (a negative one's bits would read as a NaN).
                out.extend(c.impulse.map(|i| i as f64));
            }
        }
    }

    /// Reads back what [`save`](Self::save) wrote into a probe built the same way.
    pub fn restore(&mut self, w: &mut crate::checkpoint::Words<'_>) -> Result<(), String> {
        self.samples = w.int()?;
        for p in &mut self.profiles {
            p.profile.restore(w)?;
        }
        if let Some(s) = &mut self.wall_shear {
            (s.sum_top, s.sum_bottom, s.samples, s.dt) = (w.one()?, w.one()?, w.int()?, w.one()?);
            let mut mark = || -> Result<Option<(u64, WallCounts)>, String> {
                let (some, step, bounced, leaked) = (w.int()?, w.int()?, w.int()?, w.int()?);
                let impulse = [w.one()? as i64, w.one()? as i64];
                Ok((some == 1).then_some((step, WallCounts { bounced, leaked, impulse })))
            };
            (s.first, s.last) = (mark()?, mark()?);
        }
        Ok(())
    }

    /// The averaged profile called `name`.
    pub fn profile(&self, name: &str) -> Option<ProfileData> {
        self.profiles.iter().find(|p| p.name == name).and_then(|p| p.profile.finish().ok())
    }
}
