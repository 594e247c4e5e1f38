//! What is simulated, independent of the backend: the periodic box, particle types, per-type-pair
//! DPD parameters and the integrator settings. Engines ([`crate::CpuEngine`], [`crate::GpuEngine`])
//! are built from a [`DpdSystem`] and a [`crate::ParticleState`].
//!
//! ```
//! use hemoscale_kernels::{DpdPair, DpdSystem, PairTable, ParticleType, SimBox};
//!
//! let mut system = DpdSystem::standard(SimBox { len: [6.0, 4.0, 3.5] }, 1);
//! system.validate()?;
//! assert_eq!(system.sim_box.volume(), 84.0);
//! assert_eq!(system.cell_dims(), [6, 4, 3]); // cells of edge >= rc = 1
//!
//! // A second fluid that repels the first more strongly than itself.
//! system.types.push(ParticleType::fluid("solvent", 1.0));
//! system.pairs = PairTable::uniform(2, DpdPair::STANDARD);
//! system.pairs.set(0, 1, DpdPair::new(40.0, 4.5, 1.0, 2.0));
//! assert_eq!(system.pairs.get(1, 0).a, 40.0); // the table is symmetric
//! system.validate()?;
//!
//! // The minimum image convention needs every edge to be at least 2 rc.
//! system.sim_box.len[2] = 1.5;
//! assert!(system.validate().unwrap_err().to_string().contains("box.z"));
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use crate::error::{KernelError, Result};
use crate::walls::Walls;

/// An orthorhombic periodic box `[0, L_x) x [0, L_y) x [0, L_z)` (lengths in DPD units of rc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimBox {
    /// Edge lengths.
    pub len: [f32; 3],
}

impl SimBox {
    /// A cube of edge `l`.
    pub fn cubic(l: f32) -> Self {
        Self { len: [l; 3] }
    }
    /// Volume.
    pub fn volume(&self) -> f64 {
        self.len.iter().map(|&l| f64::from(l)).product()
    }
}

/// One particle type. Pair parameters live with the interaction ([`PairTable`]), not here.
#[derive(Clone, Debug, PartialEq)]
pub struct ParticleType {
    /// Name used in scenarios and outputs.
    pub name: String,
    /// Mass (DPD units; 1 for plasma).
    pub mass: f32,
    /// Frozen particles (walls) feel no force: they keep their velocity (the wall's, zero for still
    /// walls) and move rigidly with it, exert forces on the others, take no part in temperature or
    /// momentum, and pairs of two frozen particles are skipped.
    pub frozen: bool,
}

impl ParticleType {
    /// A mobile type.
    pub fn fluid(name: &str, mass: f32) -> Self {
        Self { name: name.into(), mass, frozen: false }
    }
    /// A frozen (wall) type of mass 1.
    pub fn frozen(name: &str) -> Self {
        Self { name: name.into(), mass: 1.0, frozen: true }
    }
}

/// Morse term added to the conservative DPD force (DPD-Morse, Gao et al. 2017): along the pair
/// axis, `F_M(r) = 2 alpha D0 [exp(2 alpha (r0 - r)) - exp(alpha (r0 - r))]` for `r < rc`
/// (the force of `U = D0 [exp(2 alpha (r0 - r)) - 2 exp(alpha (r0 - r))]`, as LAMMPS `pair morse`),
/// repulsive below `r0` and attractive above. `d0 = 0` switches it off.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Morse {
    /// Well depth D0.
    pub d0: f32,
    /// Stiffness alpha.
    pub alpha: f32,
    /// Equilibrium distance r0.
    pub r0: f32,
}

impl Morse {
    /// No Morse term.
    pub const NONE: Self = Self { d0: 0.0, alpha: 0.0, r0: 0.0 };
}

/// Groot–Warren DPD parameters of one type pair, with the generalised weight exponent.
///
/// `F_ij = [a w_C - gamma w_D (e.v) + sigma w_R theta / sqrt(dt)] e` with `w_C = 1 - r/rc`,
/// `w_D = (1 - r/rc)^s`, `w_R = sqrt(w_D)` and `sigma = sqrt(2 gamma kT)` (fluctuation–dissipation).
/// `s = 2` is standard DPD; Fan et al. 2006 use `s = 0.5` (Mirheo's `power` p is `s / 2`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DpdPair {
    /// Conservative repulsion amplitude a.
    pub a: f32,
    /// Dissipation coefficient gamma.
    pub gamma: f32,
    /// Cut-off radius rc.
    pub rc: f32,
    /// Exponent s of the dissipative weight.
    pub s: f32,
    /// Optional Morse term (DPD-Morse).
    pub morse: Morse,
}

impl DpdPair {
    /// The standard fluid of Groot & Warren 1997: a 25, gamma 4.5, rc 1, s 2.
    pub const STANDARD: Self = Self { a: 25.0, gamma: 4.5, rc: 1.0, s: 2.0, morse: Morse::NONE };
    /// Plain DPD with these parameters.
    pub const fn new(a: f32, gamma: f32, rc: f32, s: f32) -> Self {
        Self { a, gamma, rc, s, morse: Morse::NONE }
    }
    /// The same with a Morse term.
    pub const fn with_morse(self, morse: Morse) -> Self {
        Self { morse, ..self }
    }
}

/// Symmetric table of per-type-pair parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct PairTable {
    n_types: usize,
    entries: Vec<DpdPair>,
}

impl PairTable {
    /// All pairs of `n_types` types share `p`.
    pub fn uniform(n_types: usize, p: DpdPair) -> Self {
        Self { n_types, entries: vec![p; n_types * n_types] }
    }
    /// Sets the parameters of the pair (i, j) and (j, i).
    pub fn set(&mut self, i: usize, j: usize, p: DpdPair) {
        self.entries[i * self.n_types + j] = p;
        self.entries[j * self.n_types + i] = p;
    }
    /// Parameters of the pair (i, j).
    pub fn get(&self, i: usize, j: usize) -> DpdPair {
        self.entries[i * self.n_types + j]
    }
    /// Number of types.
    pub fn n_types(&self) -> usize {
        self.n_types
    }
    /// Largest cut-off over all pairs: the cell size must be at least this.
    pub fn max_rc(&self) -> f32 {
        self.entries.iter().map(|p| p.rc).fold(0.0, f32::max)
    }
}

/// Everything an engine needs besides the particles.
#[derive(Clone, Debug, PartialEq)]
pub struct DpdSystem {
    /// Periodic box.
    pub sim_box: SimBox,
    /// Particle types; `ParticleState::type_id` indexes this.
    pub types: Vec<ParticleType>,
    /// DPD parameters per type pair.
    pub pairs: PairTable,
    /// Thermostat temperature kT.
    pub kt: f32,
    /// Time step.
    pub dt: f32,
    /// Modified velocity-Verlet lambda (Groot & Warren 1997): 0.5 is plain velocity-Verlet.
    pub lambda: f32,
    /// Body force per particle (a pressure gradient in a periodic box); zero for none.
    pub body_force: [f32; 3],
    /// Reverse the body force in the upper half of the box (`z >= L_z / 2`): the periodic
    /// (reverse) Poiseuille flow of Backer et al. 2005, two opposite parabolas with no walls.
    pub body_force_reversed: bool,
    /// Seed of the pair noise (and of initial conditions built by [`crate::init`]).
    pub seed: u64,
    /// Particles are reordered in memory by cell every this many steps (0: never).
    pub reorder_every: u32,
    /// Walls (None: fully periodic box).
    pub walls: Option<Walls>,
}

impl DpdSystem {
    /// A one-type system of the standard DPD fluid in `sim_box`.
    pub fn standard(sim_box: SimBox, seed: u64) -> Self {
        Self {
            sim_box,
            types: vec![ParticleType::fluid("plasma", 1.0)],
            pairs: PairTable::uniform(1, DpdPair::STANDARD),
            kt: 1.0,
            dt: 0.01,
            lambda: 0.5,
            body_force: [0.0; 3],
            body_force_reversed: false,
            seed,
            reorder_every: 50,
            walls: None,
        }
    }

    /// Checks every parameter; the first violation is returned with its field name and range.
    pub fn validate(&self) -> Result<()> {
        let positive = |field: &str, v: f32| -> Result<()> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(KernelError::invalid(field, v, "must be finite and > 0"))
            }
        };
        positive("dt", self.dt)?;
        if !(self.kt.is_finite() && self.kt >= 0.0) {
            return Err(KernelError::invalid("kT", self.kt, "must be finite and >= 0"));
        }
        if !(0.0..=1.0).contains(&self.lambda) {
            return Err(KernelError::invalid("lambda", self.lambda, "must be in [0, 1]"));
        }
        if self.types.is_empty() || self.types.len() != self.pairs.n_types() {
            return Err(KernelError::InconsistentState(format!(
                "{} particle types but a pair table for {}",
                self.types.len(),
                self.pairs.n_types()
            )));
        }
        for t in &self.types {
            positive(&format!("type({}).mass", t.name), t.mass)?;
        }
        for i in 0..self.types.len() {
            for j in i..self.types.len() {
                let p = self.pairs.get(i, j);
                let f = |k: &str| format!("pair({},{}).{k}", self.types[i].name, self.types[j].name);
                positive(&f("rc"), p.rc)?;
                positive(&f("s"), p.s)?;
                if !(p.a.is_finite()) {
                    return Err(KernelError::invalid(f("a"), p.a, "must be finite"));
                }
                if !(p.gamma.is_finite() && p.gamma >= 0.0) {
                    return Err(KernelError::invalid(f("gamma"), p.gamma, "must be finite and >= 0"));
                }
                let m = p.morse;
                if !(m.d0.is_finite() && m.d0 >= 0.0) {
                    return Err(KernelError::invalid(f("morse.d0"), m.d0, "must be finite and >= 0"));
                }
                if m.d0 > 0.0 && !(m.alpha.is_finite() && m.alpha > 0.0 && m.r0.is_finite() && m.r0 >= 0.0) {
                    return Err(KernelError::invalid(f("morse.alpha"), m.alpha, "must be > 0 with r0 >= 0"));
                }
            }
        }
        let rc = self.pairs.max_rc();
        for (axis, &l) in ["box.x", "box.y", "box.z"].iter().zip(&self.sim_box.len) {
            // Minimum image: with L >= 2 rc at most one periodic image of a particle is in range.
            if !(l.is_finite() && l >= 2.0 * rc) {
                return Err(KernelError::invalid(
                    *axis,
                    l,
                    format!("must be >= 2 rc = {} (minimum image convention)", 2.0 * rc),
                ));
            }
        }
        for (k, f) in self.body_force.iter().enumerate() {
            if !f.is_finite() {
                return Err(KernelError::invalid(format!("body_force[{k}]"), f, "must be finite"));
            }
        }
        if let Some(w) = &self.walls {
            let g = &w.sdf;
            let n = g.dims.iter().map(|&d| d as usize).product::<usize>();
            if g.dims.iter().any(|&d| d < 2)
                || g.values.len() != n
                || g.inv_h.iter().any(|h| !(h.is_finite() && *h > 0.0))
            {
                return Err(KernelError::InconsistentState("wall distance field is malformed".into()));
            }
            if !g.values.iter().any(|&v| v < 0.0) {
                return Err(KernelError::invalid("walls", 0.0, "the geometry leaves no fluid"));
            }
            if !(w.motion.speed.is_finite() && w.motion.center.is_finite()) {
                return Err(KernelError::invalid("walls.speed", w.motion.speed, "must be finite"));
            }
            if !(w.force.amplitude.is_finite() && (w.force.amplitude == 0.0 || w.force.range > 0.0)) {
                return Err(KernelError::invalid("walls.force", w.force.amplitude, "must be finite, range > 0"));
            }
        }
        Ok(())
    }

    /// True when some type is frozen (walls).
    pub fn has_frozen(&self) -> bool {
        self.types.iter().any(|t| t.frozen)
    }

    /// Cells per axis: the box is cut into cells of edge >= the largest cut-off.
    pub fn cell_dims(&self) -> [u32; 3] {
        let rc = self.pairs.max_rc();
        self.sim_box.len.map(|l| ((l / rc).floor() as u32).max(1))
    }
}
