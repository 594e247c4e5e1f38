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
//!     .dpd(DpdPair::new(25.0, 4.5, 1.0, 2.0))
//!     .kt(1.0)
//!     .dt(0.01)
//!     .seed(7)
//!     .steps(1000)
//!     .backend(Backend::Cpu)
//!     .build()
//!     .expect("a valid scenario");
//! assert_eq!(scenario.particles(), 3000);
//! ```
//!
//! Vessels are signed distance functions (flow along x, periodic); here a tube of radius 5 with a
//! wall layer one rc thick, driven by a body force, and a shape the builder refuses:
//!
//! ```
//! use hemoscale::dsl::Scenario;
//! use hemoscale::kernels::geometry::Shape;
//!
//! let tube = Scenario::builder("my-tube")
//!     .box_lengths([20.0, 12.0, 12.0])
//!     .body_force([0.03, 0.0, 0.0])
//!     .vessel(Shape::Tube { center: [6.0, 6.0], radius: 5.0 }, 1.0)
//!     .near_wall_force(-1.0, 1.0)
//!     .build()
//!     .expect("a valid vessel");
//! assert!(tube.walled_system().is_some());
//!
//! // A wall thinner than the cut-off lets fluid feel through it: refused, naming the field.
//! let thin = Scenario::builder("thin").box_lengths([20.0, 12.0, 12.0])
//!     .vessel(Shape::Tube { center: [6.0, 6.0], radius: 5.0 }, 0.5)
//!     .build();
//! assert!(thin.unwrap_err().to_string().contains("wall_thickness"));
//! ```
//!
//! With [`Units`], quantities can be given in SI and are converted when the scenario is built:
//! here plasma sheared at 1000 1/s between channel walls for 10 ms, rc = 1 µm.
//!
//! ```
//! use hemoscale::dsl::{Scenario, Units};
//! use hemoscale::kernels::geometry::Shape;
//! use hemoscale::units::Plasma;
//!
//!
//! let u = Units::from_plasma(1.0, 3.0, 0.853, &Plasma::HUMAN);
//! let s = Scenario::builder("sheared")
//!     .box_lengths([10.0, 10.0, 12.0])
//!     .vessel(Shape::Channel { center: 6.0, half_height: 5.0 }, 1.0)
//!     .units(u)
//!     .wall_shear_rate(1000.0)
//!     .duration_seconds(0.01)
//!     .build()
//!     .expect("a valid scenario");
//! let speed = s.vessel.as_ref().unwrap().motion.speed;
//! assert!((u.rate_to_si(f64::from(speed) / 10.0) - 1000.0).abs() < 1e-3);
//! assert_eq!(Some(s.steps), hemoscale::dsl::steps_for(u.time_to_dpd(0.01), s.dt));
//! ```

use hemoscale_kernels::geometry::{SdfGrid, Shape};
use hemoscale_kernels::{
    DpdPair, DpdSystem, Driving, NearWallForce, PairTable, ParticleType, SimBox, WallMotion, Walls,
};

use std::path::PathBuf;

pub use crate::observers::Observers;
use crate::output::Trigger;
use crate::params::ValidationErrors;
pub use crate::units::Units;
pub use crate::variant::Variant;

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

/// Walls around the fluid: the vessel's shape, the thickness of the frozen-particle layer, and how
/// the walls move.
#[derive(Clone, Debug, PartialEq)]
pub struct Vessel {
    /// Geometry (negative distance in the fluid); flow is along x, periodic.
    pub shape: Shape,
    /// Thickness of the layer of frozen wall particles (at least the cut-off, so a fluid particle
    /// at the surface sees a full wall).
    pub wall_thickness: f32,
    /// Wall motion (plane Couette: speed of the top wall relative to the bottom one).
    pub motion: WallMotion,
    /// Near-wall force (amplitude 0: off).
    pub force: NearWallForce,
    /// Steps the periodic fluid is equilibrated before the wall particles are frozen out of it.
    pub equilibration_steps: u64,
    /// Dissipation of fluid–wall pairs relative to fluid–fluid pairs (1: the same). Frozen walls
    /// sample the liquid's structure but not its motion, so the no-slip plane sits slightly inside
    /// the wall; more friction moves it to the surface.
    pub wall_friction: f32,
}

/// A fluid species besides the plasma: particles of their own type (a tracer, a second solvent,
/// a coarse suspended phase), a fraction of the fluid's particles, mixed at random. They meet
/// every type with the plasma's pair parameters unless an [`Interaction`] says otherwise, and
/// platelet membranes through the platelets' interface pair, as the plasma does.
#[derive(Clone, Debug, PartialEq)]
pub struct Species {
    /// Type name (in trajectories and interactions); not `plasma` or `wall`.
    pub name: String,
    /// Particle mass (the plasma's is 1).
    pub mass: f32,
    /// Fraction of the fluid's particles, in (0, 1]; the plasma keeps the rest.
    pub fraction: f64,
}

/// The pair parameters of two named particle types (`plasma`, `wall` with a vessel, or a
/// [`Species`]), as LAMMPS's `pair_coeff I J`: it replaces the default (the plasma's pair, with
/// the vessel's wall friction on fluid–wall pairs).
#[derive(Clone, Debug, PartialEq)]
pub struct Interaction {
    /// One type's name.
    pub a: String,
    /// The other type's name (may be the same).
    pub b: String,
    /// Their DPD parameters.
    pub pair: DpdPair,
}

/// Most grid points of a wall distance field: 32 MiB of f32, within every adapter's 128 MiB
/// default storage-binding limit.
pub const MAX_SDF_POINTS: usize = 8 << 20;

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
    /// Body force reversed for z >= L_z/2 (reverse Poiseuille).
    pub body_force_reversed: bool,
    /// Walls (None: periodic box).
    pub vessel: Option<Vessel>,
    /// Seed of every random number of the run.
    pub seed: u64,
    /// Steps to run.
    pub steps: u64,
    /// Wall-clock seconds the run may take; when they are spent it writes a checkpoint (if it
    /// has a checkpoint folder) and stops, to be resumed (None: no limit).
    pub wall_limit: Option<f64>,
    /// Backend choice.
    pub backend: Backend,
    /// Platelets suspended in the plasma (None: plasma only).
    pub platelets: Option<crate::platelets::PlateletsConfig>,
    /// Start the fluid between moving channel walls with the linear Couette profile (rather than
    /// at rest), so a run need not wait the `H^2 rho / eta` it takes shear to cross the gap.
    pub start_sheared: bool,
    /// Time-varying factors of the body force, temperature and wall speed.
    pub variants: Variants,
    /// What the run writes and checks, and when (not part of the physics: left out of the
    /// [`fingerprint`](Scenario::fingerprint)).
    pub observers: Observers,
    /// Fluid species besides the plasma.
    pub species: Vec<Species>,
    /// Pair parameters of named type pairs, replacing the defaults (later ones win).
    pub interactions: Vec<Interaction>,
    /// How DPD units map to SI ([`Units`]): needed by the builder's physical-quantity methods,
    /// and used to report times, rates and stresses in SI. With platelets, their units (None
    /// here takes them; set both and they must agree).
    pub units: Option<Units>,
}

/// Factors that scale the scenario's body force, temperature and wall speed step by step
/// ([`Variant`]; None: the value as built, throughout). A shear rate that steps up is a
/// wall-speed variant; a flow switched on gently is a body-force ramp from 0 to 1.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Variants {
    /// Factor of the body force.
    pub body_force: Option<Variant>,
    /// Factor of the temperature kT.
    pub kt: Option<Variant>,
    /// Factor of the wall speed (and so of the shear rate between moving walls).
    pub wall_speed: Option<Variant>,
}

impl Variants {
    /// The variants by the names users give them (`body_force`, `kT`, `wall_speed`).
    pub const NAMES: [&'static str; 3] = ["body_force", "kT", "wall_speed"];

    fn all(&self) -> [(&'static str, Option<&Variant>); 3] {
        [("body_force", self.body_force.as_ref()), ("kT", self.kt.as_ref()), ("wall_speed", self.wall_speed.as_ref())]
    }

    /// True when no variant is set.
    pub fn is_empty(&self) -> bool {
        self.all().iter().all(|v| v.1.is_none())
    }
}

impl Scenario {
    /// Starts a builder with the standard DPD fluid (density 3, a 25, gamma 4.5, rc 1, s 2, kT 1,
    /// dt 0.01, lambda 0.5) in a 10^3 box, seed 1, 1000 steps, backend auto.
    pub fn builder(name: &str) -> ScenarioBuilder {
        ScenarioBuilder {
            duration: None,
            physical: Physical::default(),
            s: Scenario {
                name: name.to_string(),
                sim_box: SimBox::cubic(10.0),
                density: 3.0,
                pair: DpdPair::STANDARD,
                kt: 1.0,
                dt: 0.01,
                lambda: 0.5,
                body_force: [0.0; 3],
                body_force_reversed: false,
                vessel: None,
                seed: 1,
                steps: 1000,
                backend: Backend::Auto,
                platelets: None,
                start_sheared: false,
                variants: Variants::default(),
                wall_limit: None,
                observers: Observers::default(),
                species: Vec::new(),
                interactions: Vec::new(),
                units: None,
            },
        }
    }

    /// The driving for the step that advances from `step`: the base values scaled by the
    /// variants.
    pub fn driving_at(&self, step: u64) -> Driving {
        let v = &self.variants;
        let factor = |x: &Option<Variant>| x.as_ref().map_or(1.0, |x| x.value(step)) as f32;
        let speed = self.vessel.as_ref().map_or(0.0, |w| w.motion.speed);
        Driving {
            body_force: self.body_force.map(|f| f * factor(&v.body_force)),
            kt: self.kt * factor(&v.kt),
            wall_speed: speed * factor(&v.wall_speed),
        }
    }

    /// The first step after `step` at which the driving may change (None: never).
    pub fn next_driving_change(&self, step: u64) -> Option<u64> {
        self.variants.all().iter().filter_map(|(_, v)| v.and_then(|v| v.next_change(step))).min()
    }

    /// This scenario with variant `name` (one of [`Variants::NAMES`]) set, checked as
    /// [`ScenarioBuilder::build`] checks it.
    ///
    /// ```
    /// use hemoscale::dsl::{Scenario, Variant};
    ///
    /// // Switch a body force on over the first 1,000 steps.
    /// let s = Scenario::builder("gentle").body_force([0.05, 0.0, 0.0]).build().unwrap();
    /// let s = s.vary("body_force", "ramp:0:1:0:1000".parse().unwrap()).unwrap();
    /// assert_eq!((s.driving_at(0).body_force[0], s.driving_at(500).body_force[0]), (0.0, 0.025));
    /// // A wall speed needs moving walls: refused, naming the variant.
    /// let e = s.vary("wall_speed", Variant::Constant(2.0)).unwrap_err();
    /// assert!(e.to_string().contains("variant wall_speed"));
    /// ```
    pub fn vary(mut self, name: &str, variant: Variant) -> Result<Self, ValidationErrors> {
        match name {
            "body_force" => self.variants.body_force = Some(variant),
            "kT" => self.variants.kt = Some(variant),
            "wall_speed" => self.variants.wall_speed = Some(variant),
            _ => {
                let mut e = ValidationErrors::default();
                e.push("--vary", name, format!("unknown; one of {}", Variants::NAMES.join(", ")));
                return Err(e);
            }
        }
        let mut e = ValidationErrors::default();
        check_variants(&self, &mut e);
        e.into_result(self)
    }

    /// A checksum of everything that shapes the physics of a run (the scenario without its run
    /// length, backend, wall-clock limit and observers): a checkpoint records it, and a resume
    /// into a scenario with another fingerprint is refused rather than continued with the wrong
    /// physics.
    pub fn fingerprint(&self) -> u32 {
        let physics = Self {
            steps: 0,
            backend: Backend::Auto,
            wall_limit: None,
            observers: Observers::default(),
            ..self.clone()
        };
        crc32fast::hash(format!("{physics:?}").as_bytes())
    }

    /// Number of particles filling the whole box at the density: the plasma of a periodic box, or
    /// the fluid the walls are frozen out of.
    pub fn particles(&self) -> usize {
        (self.density * self.sim_box.volume()).round() as usize
    }

    /// The particle types, in type-id order: `plasma`, then `wall` with a vessel, then the
    /// species.
    pub fn type_names(&self) -> Vec<&str> {
        let wall = self.vessel.as_ref().map(|_| "wall");
        std::iter::once("plasma").chain(wall).chain(self.species.iter().map(|s| s.name.as_str())).collect()
    }

    /// The periodic kernel-level system (no walls): the plasma of a box, or the fluid that is
    /// equilibrated before the walls are frozen out of it. Its types are
    /// [`type_names`](Self::type_names) (the `wall` type has no particles yet), so type ids do not
    /// change when the walls are frozen.
    pub fn system(&self) -> DpdSystem {
        let mut types = vec![ParticleType::fluid("plasma", 1.0)];
        if self.vessel.is_some() {
            types.push(ParticleType::frozen("wall"));
        }
        types.extend(self.species.iter().map(|s| ParticleType::fluid(&s.name, s.mass)));
        DpdSystem {
            sim_box: self.sim_box,
            pairs: self.pair_table(&types),
            types,
            kt: self.kt,
            dt: self.dt,
            lambda: self.lambda,
            body_force: self.body_force,
            body_force_reversed: self.body_force_reversed,
            seed: self.seed,
            reorder_every: 50,
            walls: None,
        }
    }

    /// Every pair of `types` takes the plasma's pair, fluid–wall pairs with the vessel's wall
    /// friction, then the interactions in order (names checked by [`ScenarioBuilder::build`]).
    fn pair_table(&self, types: &[ParticleType]) -> PairTable {
        let mut pairs = PairTable::uniform(types.len(), self.pair);
        if let Some(v) = &self.vessel {
            let wall = DpdPair { gamma: self.pair.gamma * v.wall_friction, ..self.pair };
            for i in (0..types.len()).filter(|&i| !types[i].frozen) {
                pairs.set(i, 1, wall);
            }
        }
        let id = |name: &str| types.iter().position(|t| t.name == name);
        for x in &self.interactions {
            if let (Some(i), Some(j)) = (id(&x.a), id(&x.b)) {
                pairs.set(i, j, x.pair);
            }
        }
        pairs
    }

    /// The system with walls: the frozen `wall` type and the sampled distance field. None
    /// without a vessel.
    pub fn walled_system(&self) -> Option<DpdSystem> {
        let v = self.vessel.as_ref()?;
        let sdf = SdfGrid::sample(&v.shape, self.sim_box.len, MAX_SDF_POINTS).ok()?;
        let mut system = self.system();
        system.walls = Some(Walls { sdf, motion: v.motion, force: v.force });
        Some(system)
    }

    /// The largest cut-off of any pair (the plasma's, the interactions'): box edges and wall
    /// thickness are checked against it.
    pub fn max_rc(&self) -> f32 {
        self.interactions.iter().map(|x| x.pair.rc).fold(self.pair.rc, f32::max)
    }
}

/// Steps that cover simulated time `time` at time step `dt`: `time / dt` rounded up, except
/// that a quotient within a millionth of a whole number is that number (`dt` is an f32, so
/// 1 / 0.01 comes out a hair above 100). None for a time that is not positive and finite or
/// would take more than 1e15 steps.
pub fn steps_for(time: f64, dt: f32) -> Option<u64> {
    let n = time / f64::from(dt);
    if !(time.is_finite() && time > 0.0 && n.is_finite() && n <= 1e15) {
        return None;
    }
    let whole = n.round();
    Some((if (n - whole).abs() <= 1e-6 * whole.max(1.0) { whole } else { n.ceil() }) as u64)
}

/// Builder of a [`Scenario`]; [`ScenarioBuilder::build`] validates everything at once.
#[derive(Clone, Debug)]
pub struct ScenarioBuilder {
    s: Scenario,
    /// Run length in simulated time, turned into steps by `build`.
    duration: Option<f64>,
    /// Quantities given in SI, converted by `build` with the scenario's units.
    physical: Physical,
}

/// Quantities given in SI units, converted when the scenario is built (so the order of the
/// builder calls does not matter).
#[derive(Clone, Debug, Default)]
struct Physical {
    /// Run length (s).
    duration_s: Option<f64>,
    /// Pressure drop along x per length (Pa/m).
    pressure_gradient: Option<f64>,
    /// Shear rate between the moving walls of a channel (1/s).
    wall_shear_rate: Option<f64>,
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
    /// Reverses the body force in the upper half of the box (Backer's periodic Poiseuille flow).
    pub fn reverse_body_force(mut self, on: bool) -> Self {
        self.s.body_force_reversed = on;
        self
    }
    /// Walls of shape `shape` with a frozen layer `wall_thickness` thick (still walls, no near-wall
    /// force, 300 equilibration steps; see the methods below to change these).
    pub fn vessel(mut self, shape: Shape, wall_thickness: f32) -> Self {
        self.s.vessel = Some(Vessel {
            shape,
            wall_thickness,
            motion: WallMotion::default(),
            force: NearWallForce::default(),
            equilibration_steps: 300,
            wall_friction: 1.0,
        });
        self
    }
    /// Walls moving at `±speed/2` along x on either side of the plane `z = center` (plane Couette
    /// flow); needs [`ScenarioBuilder::vessel`] first.
    pub fn wall_speed(mut self, speed: f32, center: f32) -> Self {
        if let Some(v) = &mut self.s.vessel {
            v.motion = WallMotion { speed, center };
        }
        self
    }
    /// Near-wall force of `amplitude` over `range` (see [`hemoscale_kernels::walls`]).
    pub fn near_wall_force(mut self, amplitude: f32, range: f32) -> Self {
        if let Some(v) = &mut self.s.vessel {
            v.force = NearWallForce { amplitude, range };
        }
        self
    }
    /// Dissipation of fluid–wall pairs relative to fluid–fluid ones (see [`Vessel::wall_friction`]).
    pub fn wall_friction(mut self, factor: f32) -> Self {
        if let Some(v) = &mut self.s.vessel {
            v.wall_friction = factor;
        }
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
    /// Run length as simulated time (DPD time units): the steps are `ceil(time / dt)` with the
    /// time step in force when [`build`](Self::build) runs (set after [`dt`](Self::dt) or
    /// before, either way).
    pub fn duration(mut self, time: f64) -> Self {
        self.duration = Some(time);
        self
    }
    /// Wall-clock seconds the run may take before it checkpoints and stops (as HOOMD-blue's
    /// walltime limit or LAMMPS's `timer timeout`).
    pub fn wall_clock_limit(mut self, seconds: f64) -> Self {
        self.s.wall_limit = Some(seconds);
        self
    }
    /// Backend.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.s.backend = backend;
        self
    }
    /// Starts the fluid with the linear profile between moving channel walls.
    pub fn start_sheared(mut self) -> Self {
        self.s.start_sheared = true;
        self
    }
    /// Platelets in the plasma (checked at [`ScenarioBuilder::build`]: a resolution too low to
    /// close the membrane, a jump factor of 0, platelets overlapping each other or a wall).
    pub fn platelets(mut self, p: crate::platelets::PlateletsConfig) -> Self {
        self.s.platelets = Some(p);
        self
    }

    /// A fluid species besides the plasma: `fraction` of the fluid's particles, of mass `mass`
    /// (see [`Species`]).
    pub fn species(mut self, name: &str, mass: f32, fraction: f64) -> Self {
        self.s.species.push(Species { name: name.to_string(), mass, fraction });
        self
    }
    /// The pair parameters of types `a` and `b` (see [`Interaction`]), e.g.
    /// `.interaction("plasma", "wall", DpdPair { gamma: 20.0, ..DpdPair::STANDARD })`.
    pub fn interaction(mut self, a: &str, b: &str, pair: DpdPair) -> Self {
        self.s.interactions.push(Interaction { a: a.to_string(), b: b.to_string(), pair });
        self
    }

    /// How DPD units map to SI (see [`Scenario::units`]).
    pub fn units(mut self, units: Units) -> Self {
        self.s.units = Some(units);
        self
    }
    /// Run length in seconds of physical time (needs [`units`](Self::units)).
    pub fn duration_seconds(mut self, seconds: f64) -> Self {
        self.physical.duration_s = Some(seconds);
        self
    }
    /// A body force along x standing for a pressure drop of `pa_per_m` Pa/m (needs
    /// [`units`](Self::units); see [`Units::pressure_gradient_to_body_force`]).
    pub fn pressure_gradient(mut self, pa_per_m: f64) -> Self {
        self.physical.pressure_gradient = Some(pa_per_m);
        self
    }
    /// Moving channel walls shearing the fluid at `per_s` 1/s: the wall speed is the rate times
    /// the gap, centred on the channel (needs a channel [`vessel`](Self::vessel) and
    /// [`units`](Self::units)).
    pub fn wall_shear_rate(mut self, per_s: f64) -> Self {
        self.physical.wall_shear_rate = Some(per_s);
        self
    }

    /// Folder of the run's files (see [`Observers::dir`]).
    pub fn output_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.s.observers.dir = Some(dir.into());
        self
    }
    /// Steps between thermo rows (see [`Observers::thermo_every`]).
    pub fn thermo_every(mut self, steps: u64) -> Self {
        self.s.observers.thermo_every = Some(steps);
        self
    }
    /// Steps between samples of the global observables.
    pub fn sample_every(mut self, steps: u64) -> Self {
        self.s.observers.sample_every = Some(steps);
        self
    }
    /// Trajectory frames when `trigger` fires (needs [`output_dir`](Self::output_dir)).
    pub fn trajectory(mut self, trigger: Trigger) -> Self {
        self.s.observers.trajectory = Some(trigger);
        self
    }
    /// Binned fields when `trigger` fires (needs [`output_dir`](Self::output_dir)).
    pub fn fields(mut self, trigger: Trigger) -> Self {
        self.s.observers.fields = Some(trigger);
        self
    }
    /// Checkpoints into `dir` every `every` steps (0: only at the end and on a signal).
    pub fn checkpoints(mut self, dir: impl Into<PathBuf>, every: u64) -> Self {
        self.s.observers.checkpoint = Some((dir.into(), every));
        self
    }
    /// Stops the run as blown up when a particle is faster than `speed` (checked at thermo rows
    /// and checkpoints).
    pub fn max_speed(mut self, speed: f64) -> Self {
        self.s.observers.limits.max_speed = Some(speed);
        self
    }
    /// Stops the run as blown up when the temperature exceeds `kt` (checked at every sample).
    pub fn max_temperature(mut self, kt: f64) -> Self {
        self.s.observers.limits.max_temperature = Some(kt);
        self
    }

    /// Scales the body force by `variant` step by step.
    pub fn vary_body_force(mut self, variant: Variant) -> Self {
        self.s.variants.body_force = Some(variant);
        self
    }
    /// Scales the temperature by `variant` step by step.
    pub fn vary_kt(mut self, variant: Variant) -> Self {
        self.s.variants.kt = Some(variant);
        self
    }
    /// Scales the wall speed (the shear rate between moving walls) by `variant` step by step.
    pub fn vary_wall_speed(mut self, variant: Variant) -> Self {
        self.s.variants.wall_speed = Some(variant);
        self
    }

    /// Validates every field and returns the scenario, or every violation found.
    pub fn build(self) -> Result<Scenario, ValidationErrors> {
        let mut s = self.s;
        let mut e = ValidationErrors::default();
        let mut duration = self.duration;
        apply_units(&mut s, &self.physical, &mut duration, &mut e);
        if let Some(t) = duration {
            match steps_for(t, s.dt) {
                Some(n) => s.steps = n,
                None => e.push("duration", t, format!("must be > 0 and finite, at most 1e15 steps of dt = {}", s.dt)),
            }
        }
        if let Some(w) = s.wall_limit.filter(|w| !(w.is_finite() && *w > 0.0)) {
            e.push("wall_limit", w, "must be > 0 seconds");
        }
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
        check_pair("", &s.pair, &mut e);
        check_types(&s, &mut e);
        if s.body_force.iter().any(|f| !f.is_finite()) {
            e.push("body_force", format!("{:?}", s.body_force), "must be finite");
        }
        let rc = s.max_rc();
        for (axis, &l) in ["box edge x", "box edge y", "box edge z"].iter().zip(&s.sim_box.len) {
            if !(l.is_finite() && l >= 2.0 * rc) {
                e.push(*axis, l, format!("must be >= 2 rc = {} (minimum image; below rc no pair fits)", 2.0 * rc));
            }
        }
        if let Some(v) = &s.vessel {
            check_vessel(&s, v, &mut e);
        }
        if let (true, Some(p)) = (e.0.is_empty(), &s.platelets) {
            check_platelets(&s, p, &mut e);
        }
        check_variants(&s, &mut e);
        s.observers.check(&mut e);
        if e.0.is_empty() && s.particles() < 2 {
            e.push("particles", s.particles(), "density x volume must give at least 2 particles");
        }
        e.into_result(s)
    }
}

/// Settles the scenario's units (the platelets' when it names none) and converts the quantities
/// given in SI: a duration in seconds into `duration`, a pressure gradient into the body force, a
/// wall shear rate into the channel walls' speed.
fn apply_units(s: &mut Scenario, q: &Physical, duration: &mut Option<f64>, e: &mut ValidationErrors) {
    if let Some(p) = &s.platelets {
        match s.units {
            None => s.units = Some(p.units),
            Some(u) if u != p.units => e.push(
                "units",
                format!("{:.4} um per rc", u.length_um()),
                "must be the platelets' units when both are set",
            ),
            Some(_) => {}
        }
    }
    if let Some(u) = s.units {
        if ![u.length, u.mass, u.time].iter().all(|x| x.is_finite() && *x > 0.0) {
            e.push("units", format!("{u:?}"), "length, mass and time units must be > 0");
            return;
        }
    }
    let need = |e: &mut ValidationErrors, field: &str, v: f64| -> Option<Units> {
        if !v.is_finite() {
            e.push(field, v, "must be finite");
            return None;
        }
        if s.units.is_none() {
            e.push(field, v, "is in SI units: set the scenario's units (ScenarioBuilder::units) first");
        }
        s.units
    };
    if let Some(t) = q.duration_s {
        if let Some(u) = need(e, "duration_seconds", t) {
            *duration = Some(u.time_to_dpd(t));
        }
    }
    if let Some(g) = q.pressure_gradient {
        if let Some(u) = need(e, "pressure_gradient", g) {
            s.body_force = [u.pressure_gradient_to_body_force(g, s.density) as f32, 0.0, 0.0];
        }
    }
    if let Some(rate) = q.wall_shear_rate {
        if let Some(u) = need(e, "wall_shear_rate", rate) {
            match s.vessel.as_mut() {
                Some(Vessel { shape: Shape::Channel { center, half_height }, motion, .. }) => {
                    *motion =
                        WallMotion { speed: (u.rate_to_dpd(rate) * 2.0 * *half_height) as f32, center: *center as f32 };
                }
                _ => e.push("wall_shear_rate", rate, "needs a channel vessel (moving walls shear a channel)"),
            }
        }
    }
}

/// Checks DPD pair parameters; `prefix` names the pair (empty for the plasma's, whose fields go
/// by their own names: `a`, `gamma`, `rc`, ...).
fn check_pair(prefix: &str, p: &DpdPair, e: &mut ValidationErrors) {
    let f = |k: &str| format!("{prefix}{k}");
    if !(p.gamma.is_finite() && p.gamma >= 0.0) {
        e.push(f("gamma"), p.gamma, "must be >= 0");
    }
    if !p.a.is_finite() {
        e.push(f("a"), p.a, "must be finite");
    }
    if !(p.rc.is_finite() && p.rc > 0.0) {
        e.push(f("rc"), p.rc, "must be > 0");
    }
    if !(p.s.is_finite() && p.s > 0.0) {
        e.push(f("s"), p.s, "must be > 0");
    }
    let m = p.morse;
    if !(m.d0.is_finite() && m.d0 >= 0.0) {
        e.push(f("morse_d0"), m.d0, "must be >= 0");
    }
    if m.d0 > 0.0 && !(m.alpha.is_finite() && m.alpha > 0.0) {
        e.push(f("morse_alpha"), m.alpha, "must be > 0");
    }
    if m.d0 > 0.0 && !(m.r0.is_finite() && m.r0 >= 0.0 && m.r0 <= p.rc) {
        e.push(f("morse_r0"), m.r0, format!("must lie in [0, rc = {}]", p.rc));
    }
}

/// Checks the species (names free and unique, masses, fractions) and the interactions (known
/// type names, valid parameters, no wall–wall pair: frozen pairs are never computed).
fn check_types(s: &Scenario, e: &mut ValidationErrors) {
    let mut seen: Vec<&str> = vec!["plasma", "wall"];
    for (k, sp) in s.species.iter().enumerate() {
        let field = format!("species[{k}]");
        if sp.name.trim().is_empty() || seen.contains(&sp.name.as_str()) {
            e.push(format!("{field}.name"), &sp.name, "must be a new, non-empty name (plasma and wall are taken)");
        }
        seen.push(&sp.name);
        if !(sp.mass.is_finite() && sp.mass > 0.0) {
            e.push(format!("{field}.mass"), sp.mass, "must be > 0");
        }
        if !(sp.fraction.is_finite() && sp.fraction > 0.0 && sp.fraction <= 1.0) {
            e.push(format!("{field}.fraction"), sp.fraction, "must lie in (0, 1]");
        }
    }
    let total: f64 = s.species.iter().map(|sp| sp.fraction).sum();
    if total > 1.0 + 1e-12 {
        e.push("species fractions", total, "must add up to at most 1 (the plasma takes the rest)");
    }
    let names = s.type_names();
    for (k, x) in s.interactions.iter().enumerate() {
        let field = format!("interaction[{k}]");
        for n in [&x.a, &x.b] {
            if !names.contains(&n.as_str()) {
                e.push(&field, n, format!("unknown type; known: {}", names.join(", ")));
            }
        }
        if x.a == "wall" && x.b == "wall" {
            e.push(&field, "wall-wall", "frozen particles never interact with each other");
        }
        check_pair(&format!("{field}({},{}).", x.a, x.b), &x.pair, e);
    }
}

/// Checks the variants: sensible values and something to scale.
fn check_variants(s: &Scenario, e: &mut ValidationErrors) {
    let speed = s.vessel.as_ref().map_or(0.0, |v| v.motion.speed);
    let base = [
        ("body_force", s.body_force.iter().any(|&f| f != 0.0), "the body force is 0"),
        ("kT", s.kt > 0.0, "kT is 0"),
        ("wall_speed", speed != 0.0, "the walls do not move"),
    ];
    for ((name, v), (_, nonzero, why)) in s.variants.all().into_iter().zip(base) {
        let Some(v) = v else { continue };
        let field = format!("variant {name}");
        if let Some(p) = v.problem() {
            e.push(&field, v, p);
        } else if name == "kT" && v.extremes().iter().any(|&x| x < 0.0) {
            e.push(&field, v, "a temperature factor must be >= 0");
        } else if !nonzero {
            e.push(&field, v, format!("scales a value that is 0 ({why}); set it first"));
        }
    }
}

/// Checks a vessel against the fluid: walls at least rc thick, a constriction that leaves an
/// opening of at least rc, and a geometry that leaves fluid in the box.
fn check_vessel(s: &Scenario, v: &Vessel, e: &mut ValidationErrors) {
    let rc = s.max_rc();
    if !(v.wall_thickness.is_finite() && v.wall_thickness >= rc) {
        e.push(
            "wall_thickness",
            v.wall_thickness,
            format!("must be >= rc = {rc} (a thinner wall lets particles feel through it)"),
        );
    }
    if !(v.wall_friction.is_finite() && v.wall_friction >= 0.0) {
        e.push("wall_friction", v.wall_friction, "must be >= 0");
    }
    if !(v.motion.speed.is_finite() && v.motion.center.is_finite()) {
        e.push("wall_speed", v.motion.speed, "must be finite");
    }
    if !v.force.amplitude.is_finite()
        || (v.force.amplitude != 0.0 && !(v.force.range.is_finite() && v.force.range > 0.0))
    {
        e.push("near_wall_force", v.force.amplitude, "must be finite with a range > 0");
    }
    check_shape(&v.shape, rc, e);
    if v.motion.speed != 0.0 && !matches!(v.shape, Shape::Channel { .. }) {
        e.push("wall_speed", v.motion.speed, "moving walls need a geometry invariant along x (a channel)");
    }
    if !e.0.is_empty() {
        return;
    }
    // Fluid must remain: sample the field on a coarse grid.
    match SdfGrid::sample(&v.shape, s.sim_box.len, MAX_SDF_POINTS) {
        Ok(g) => {
            let fluid = g.values.iter().filter(|&&x| x < 0.0).count();
            if fluid == 0 {
                e.push("geometry", format!("{:?}", v.shape), "leaves no fluid in the box");
            }
            let wall = g.values.iter().filter(|&&x| x >= 0.0 && x < v.wall_thickness).count();
            if wall == 0 {
                e.push("geometry", format!("{:?}", v.shape), "has no wall inside the box");
            }
        }
        Err(err) => e.push("box", format!("{:?}", s.sim_box.len), err.to_string()),
    }
}

/// Builds the platelets once to check them against the scenario (the kernel layer's checks name
/// the field and the allowed range).
fn check_platelets(s: &Scenario, p: &crate::platelets::PlateletsConfig, e: &mut ValidationErrors) {
    use hemoscale_kernels::KernelError;
    let push = |e: &mut ValidationErrors, err: KernelError| match err {
        KernelError::InvalidParameter { field, value, allowed } => e.push(field, value, allowed),
        other => e.push("platelets", "", other.to_string()),
    };
    if p.placements.is_empty() {
        e.push("platelets", 0, "at least one platelet must be placed");
        return;
    }
    if p.sample_every == 0 {
        e.push("platelets.sample_every", p.sample_every, "must be >= 1");
    }
    if s.lambda != 0.5 {
        e.push("lambda", s.lambda, "must be 0.5 with platelets (multiple time stepping splits velocity-Verlet)");
    }
    let set = match p.build_set(0) {
        Ok(set) => set,
        Err(err) => return push(e, err),
    };
    let system = s.walled_system().unwrap_or_else(|| s.system());
    if let Err(err) = set.check(&system) {
        push(e, err);
    }
}

fn check_shape(shape: &Shape, rc: f32, e: &mut ValidationErrors) {
    let rc = f64::from(rc);
    match shape {
        Shape::Channel { half_height, .. } => {
            if !(half_height.is_finite() && 2.0 * half_height >= rc) {
                e.push("height", 2.0 * half_height, format!("must be >= rc = {rc}"));
            }
        }
        Shape::Tube { radius, .. } => {
            if !(radius.is_finite() && *radius >= rc) {
                e.push("radius", radius, format!("must be >= rc = {rc}"));
            }
        }
        Shape::Stenosis { radius, length, area_reduction, .. } => {
            if !(radius.is_finite() && *radius >= rc) {
                e.push("radius", radius, format!("must be >= rc = {rc}"));
            }
            if !(area_reduction.is_finite() && (0.0..1.0).contains(area_reduction)) {
                e.push("stenosis", area_reduction, "must lie in [0, 1): the fraction of the lumen area removed");
            } else {
                let throat = radius * (1.0 - area_reduction).sqrt();
                if throat < rc {
                    e.push(
                        "stenosis",
                        area_reduction,
                        format!(
                            "leaves an outlet of radius {throat:.3} < rc = {rc}; lower `stenosis` or raise `radius`"
                        ),
                    );
                }
            }
            if !(length.is_finite() && *length > 0.0) {
                e.push("stenosis_length", length, "must be > 0");
            }
        }
        Shape::Union(a, b) | Shape::Intersection(a, b) | Shape::Difference(a, b) => {
            check_shape(a, rc as f32, e);
            check_shape(b, rc as f32, e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tube(radius: f64) -> Shape {
        Shape::Tube { center: [6.0, 6.0], radius }
    }

    #[test]
    fn a_geometry_without_fluid_is_refused() {
        // A tube minus a wider tube: nothing is left.
        let empty = Shape::Difference(Box::new(tube(4.0)), Box::new(tube(5.5)));
        let e = Scenario::builder("empty").box_lengths([10.0, 12.0, 12.0]).vessel(empty, 1.0).build().unwrap_err();
        assert!(e.to_string().contains("geometry") && e.to_string().contains("no fluid"), "{e}");
    }

    #[test]
    fn moving_walls_need_a_channel_and_stenoses_an_outlet() {
        let e = Scenario::builder("moving tube")
            .box_lengths([10.0, 12.0, 12.0])
            .vessel(tube(5.0), 1.0)
            .wall_speed(1.0, 6.0)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("wall_speed"), "{e}");
        let s = Shape::Stenosis { center: [6.0, 6.0], radius: 5.0, x0: 5.0, length: 4.0, area_reduction: 1.0 };
        let e = Scenario::builder("closed").box_lengths([10.0, 12.0, 12.0]).vessel(s, 1.0).build().unwrap_err();
        assert!(e.to_string().contains("stenosis") && e.to_string().contains("[0, 1)"), "{e}");
    }

    #[test]
    fn quantities_in_si_are_converted_with_the_scenario_units() {
        use crate::units::Plasma;
        let u = Units::from_plasma(0.6, 3.0, 0.853, &Plasma::HUMAN);
        let channel = Shape::Channel { center: 6.0, half_height: 5.0 };
        let s = Scenario::builder("si")
            .box_lengths([10.0, 10.0, 12.0])
            .vessel(channel.clone(), 1.0)
            .wall_shear_rate(1.0e5)
            .pressure_gradient(2.0e6)
            .duration_seconds(1.0e-5)
            .dt(0.005)
            .units(u)
            .build()
            .unwrap();
        assert_eq!(s.steps, steps_for(u.time_to_dpd(1.0e-5), 0.005).unwrap());
        assert_eq!(s.body_force[0], u.pressure_gradient_to_body_force(2.0e6, 3.0) as f32);
        let v = s.vessel.as_ref().unwrap();
        assert_eq!((v.motion.speed, v.motion.center), ((u.rate_to_dpd(1.0e5) * 10.0) as f32, 6.0));
        // The shear rate comes back from the wall speed over the gap.
        assert!((u.rate_to_si(f64::from(v.motion.speed) / 10.0) / 1.0e5 - 1.0).abs() < 1e-6);
        // Without units each SI quantity is refused by name; a shear rate needs a channel.
        let e = Scenario::builder("no-units")
            .duration_seconds(1.0)
            .pressure_gradient(1.0)
            .wall_shear_rate(1.0)
            .build()
            .unwrap_err()
            .to_string();
        for f in ["duration_seconds", "pressure_gradient", "wall_shear_rate"] {
            assert!(e.contains(&format!("{f} = 1: is in SI units")), "{f}: {e}");
        }
        let e = Scenario::builder("tube").units(u).wall_shear_rate(1.0).build().unwrap_err().to_string();
        assert!(e.contains("wall_shear_rate = 1: needs a channel vessel"), "{e}");
    }

    #[test]
    fn a_platelet_scenario_takes_the_platelets_units() {
        let sf = crate::scenarios::find("shear-flip").unwrap();
        let v = crate::params::ParamValues::parse(&sf.params(), &[]).unwrap();
        let s = sf.build(&v, 1, 10, Backend::Cpu).unwrap();
        let u = s.platelets.as_ref().unwrap().units;
        assert_eq!(s.units, Some(u));
        let other = Units { length: u.length * 2.0, ..u };
        let mut b = Scenario::builder("x").units(other);
        b.s.platelets = s.platelets.clone();
        let e = b.build().unwrap_err().to_string();
        assert!(e.contains("must be the platelets' units"), "{e}");
    }

    #[test]
    fn a_duration_becomes_steps_of_the_final_time_step() {
        // duration before dt: the steps follow the dt set later.
        let s = Scenario::builder("t").duration(1.005).dt(0.005).build().unwrap();
        assert_eq!(s.steps, 201);
        assert_eq!(steps_for(1.0, 0.01), Some(100));
        assert_eq!(steps_for(1.0001, 0.01), Some(101));
        assert_eq!(steps_for(0.0, 0.01), None);
        let e = Scenario::builder("t").duration(-1.0).wall_clock_limit(0.0).build().unwrap_err().to_string();
        assert!(e.contains("duration = -1") && e.contains("wall_limit = 0"), "{e}");
    }
}
