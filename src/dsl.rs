//! The scenario DSL: a typed builder that reads like the physics and refuses nonsense before
//! anything runs. Built-in scenarios ([`crate::scenarios`]) are written with it, and so are users'.
//!
//! ```
//! use hemoscale::dsl::{Backend, Scenario};
//! use hemoscale::kernels::DpdPair;
//!
//! let scenario = Scenario::builder("my-box")
//!     .cubic_box(10.0)
//!     .density(3.0)
//!     .dpd(DpdPair { a: 25.0, gamma: 4.5, rc: 1.0, s: 2.0 })
//!     .kt(1.0)
//!     .dt(0.01)
//!     .seed(7)
//!     .steps(1000)
//!     .backend(Backend::Cpu)
//!     .build()
//!     .expect("a valid scenario");
//! assert_eq!(scenario.particles(), 3000);
//! ```

use hemoscale_kernels::{DpdPair, DpdSystem, PairTable, ParticleType, SimBox};

use crate::params::ValidationErrors;

/// Where a scenario runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A hardware GPU adapter if there is one, else the native CPU (with a one-line notice).
    Auto,
    /// The native CPU backend.
    Cpu,
    /// A wgpu adapter, software ones (lavapipe) included.
    Gpu,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            _ => Err(format!("unknown backend {s:?}; allowed: auto, cpu, gpu")),
        }
    }
}

/// A complete, validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Name (used for output folders and summaries).
    pub name: String,
    /// Periodic box.
    pub sim_box: SimBox,
    /// Number density of the plasma (particles per rc^3).
    pub density: f64,
    /// DPD parameters of plasma-plasma pairs.
    pub pair: DpdPair,
    /// Temperature kT.
    pub kt: f32,
    /// Time step.
    pub dt: f32,
    /// Modified velocity-Verlet lambda.
    pub lambda: f32,
    /// Body force per particle.
    pub body_force: [f32; 3],
    /// Seed of every random number of the run.
    pub seed: u64,
    /// Steps to run.
    pub steps: u64,
    /// Backend choice.
    pub backend: Backend,
}

impl Scenario {
    /// Starts a builder with the standard DPD fluid (density 3, a 25, gamma 4.5, rc 1, s 2, kT 1,
    /// dt 0.01, lambda 0.5) in a 10^3 box, seed 1, 1000 steps, backend auto.
    pub fn builder(name: &str) -> ScenarioBuilder {
        ScenarioBuilder {
            s: Scenario {
                name: name.to_string(),
                sim_box: SimBox::cubic(10.0),
                density: 3.0,
                pair: DpdPair::STANDARD,
                kt: 1.0,
                dt: 0.01,
                lambda: 0.5,
                body_force: [0.0; 3],
                seed: 1,
                steps: 1000,
                backend: Backend::Auto,
            },
        }
    }

    /// Number of plasma particles: density x volume, rounded.
    pub fn particles(&self) -> usize {
        (self.density * self.sim_box.volume()).round() as usize
    }

    /// The kernel-level system.
    pub fn system(&self) -> DpdSystem {
        DpdSystem {
            sim_box: self.sim_box,
            types: vec![ParticleType { name: "plasma".into(), mass: 1.0 }],
            pairs: PairTable::uniform(1, self.pair),
            kt: self.kt,
            dt: self.dt,
            lambda: self.lambda,
            body_force: self.body_force,
            seed: self.seed,
            reorder_every: 50,
        }
    }
}

/// Builder of a [`Scenario`]; [`ScenarioBuilder::build`] validates everything at once.
#[derive(Clone, Debug)]
pub struct ScenarioBuilder {
    s: Scenario,
}

impl ScenarioBuilder {
    /// A cubic periodic box of edge `l` (rc).
    pub fn cubic_box(mut self, l: f32) -> Self {
        self.s.sim_box = SimBox::cubic(l);
        self
    }
    /// An orthorhombic periodic box (rc).
    pub fn box_lengths(mut self, len: [f32; 3]) -> Self {
        self.s.sim_box = SimBox { len };
        self
    }
    /// Number density (particles per rc^3).
    pub fn density(mut self, rho: f64) -> Self {
        self.s.density = rho;
        self
    }
    /// DPD pair parameters of the plasma.
    pub fn dpd(mut self, pair: DpdPair) -> Self {
        self.s.pair = pair;
        self
    }
    /// Temperature kT.
    pub fn kt(mut self, kt: f32) -> Self {
        self.s.kt = kt;
        self
    }
    /// Time step.
    pub fn dt(mut self, dt: f32) -> Self {
        self.s.dt = dt;
        self
    }
    /// Modified velocity-Verlet lambda (0.5: velocity-Verlet).
    pub fn lambda(mut self, lambda: f32) -> Self {
        self.s.lambda = lambda;
        self
    }
    /// Uniform body force per particle.
    pub fn body_force(mut self, f: [f32; 3]) -> Self {
        self.s.body_force = f;
        self
    }
    /// Seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.s.seed = seed;
        self
    }
    /// Steps to run.
    pub fn steps(mut self, steps: u64) -> Self {
        self.s.steps = steps;
        self
    }
    /// Backend.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.s.backend = backend;
        self
    }

    /// Validates every field and returns the scenario, or every violation found.
    pub fn build(self) -> Result<Scenario, ValidationErrors> {
        let s = self.s;
        let mut e = ValidationErrors::default();
        let p = &s.pair;
        if !(s.density.is_finite() && s.density > 0.0) {
            e.push("density", s.density, "must be > 0 particles per rc^3");
        }
        if !(s.dt.is_finite() && s.dt > 0.0) {
            e.push("dt", s.dt, "must be > 0");
        }
        if !(s.kt.is_finite() && s.kt >= 0.0) {
            e.push("kT", s.kt, "must be >= 0");
        }
        if !(0.0..=1.0).contains(&s.lambda) {
            e.push("lambda", s.lambda, "must lie in [0, 1]");
        }
        if !(p.gamma.is_finite() && p.gamma >= 0.0) {
            e.push("gamma", p.gamma, "must be >= 0");
        }
        if !p.a.is_finite() {
            e.push("a", p.a, "must be finite");
        }
        if !(p.rc.is_finite() && p.rc > 0.0) {
            e.push("rc", p.rc, "must be > 0");
        }
        if !(p.s.is_finite() && p.s > 0.0) {
            e.push("s", p.s, "must be > 0");
        }
        if s.body_force.iter().any(|f| !f.is_finite()) {
            e.push("body_force", format!("{:?}", s.body_force), "must be finite");
        }
        for (axis, &l) in ["box edge x", "box edge y", "box edge z"].iter().zip(&s.sim_box.len) {
            if !(l.is_finite() && l >= 2.0 * p.rc) {
                e.push(*axis, l, format!("must be >= 2 rc = {} (minimum image; below rc no pair fits)", 2.0 * p.rc));
            }
        }
        if e.0.is_empty() && s.particles() < 2 {
            e.push("particles", s.particles(), "density x volume must give at least 2 particles");
        }
        e.into_result(s)
    }
}
