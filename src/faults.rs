//! Faults: how a run that goes wrong is caught and described. A blow-up (NaN or Inf, a particle
//! inside a wall, a speed or temperature beyond a bound) stops the run with the step and the
//! first particle to blame (its id, type, position and velocity); checkpoints are written only
//! from states that pass the same checks, so the last one is always good. Faults can be forced
//! into a run ([`Injection`]) to test exactly that.

use hemoscale_kernels::{DpdSystem, Engine, ParticleState};

use crate::run::RunError;

/// Bounds beyond which a run stops as blown up (None: unbounded). A DPD fluid at kT 1 has
/// speeds of order 1; a bound a few tens of times that catches a run going wrong long before
/// it turns into NaN.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Limits {
    /// Largest particle speed (checked at every thermo row and checkpoint, on the particles).
    pub max_speed: Option<f64>,
    /// Largest temperature kT (checked at every sample).
    pub max_temperature: Option<f64>,
}

/// A fault forced into a run at a step, to check that it is caught and diagnosed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The velocity of the fluid particle with the lowest id becomes NaN.
    NanVelocity,
    /// The fluid particle with the lowest id is moved onto a frozen wall particle, inside the
    /// wall.
    IntoWall,
    /// The run fails as it would when the GPU device is lost (on any backend: the recovery is
    /// what is tested).
    DeviceLost,
}

/// A [`Fault`] and the step it is forced in at: `nan-velocity@STEP`, `into-wall@STEP` or
/// `device-lost@STEP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Injection {
    /// The step.
    pub step: u64,
    /// The fault.
    pub fault: Fault,
}

impl std::str::FromStr for Injection {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || format!("{s:?}: expected nan-velocity@STEP, into-wall@STEP or device-lost@STEP");
        let (what, step) = s.split_once('@').ok_or_else(usage)?;
        let step = step.parse::<u64>().ok().filter(|&k| k > 0).ok_or_else(usage)?;
        let fault = match what {
            "nan-velocity" => Fault::NanVelocity,
            "into-wall" => Fault::IntoWall,
            "device-lost" => Fault::DeviceLost,
            _ => return Err(usage()),
        };
        Ok(Self { step, fault })
    }
}

/// How far inside a wall (rc) a mobile particle may sit before it counts as escaped: the
/// backends evaluate the distance field in their own f32 arithmetic, so a particle bounce-back
/// left a hair inside the surface on one may read a hair outside on the other.
pub const WALL_TOLERANCE: f32 = 1e-3;

/// The first particle (lowest id) that is not fine: a non-finite position, velocity or force, a
/// mobile particle inside a wall, or one faster than `limits.max_speed`; described with its id,
/// type, position and velocity, and how many particles are not fine in all. None when all are.
///
/// ```
/// use hemoscale::faults::{first_bad_particle, Limits};
/// use hemoscale::kernels::{DpdSystem, ParticleState, SimBox};
///
/// let system = DpdSystem::standard(SimBox::cubic(4.0), 1);
/// let state = ParticleState {
///     pos: vec![[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]],
///     vel: vec![[0.5, 0.0, 0.0], [f32::NAN, 0.0, 0.0]],
///     force: vec![[0.0; 3]; 2],
///     type_id: vec![0, 0],
///     tag: vec![4, 9],
///     n_local: 2,
/// };
/// let what = first_bad_particle(&system, &state, &Limits::default()).unwrap();
/// assert!(what.starts_with("particle 9 (plasma) at (2, 2, 2)") && what.contains("non-finite"));
/// // A speed bound flags the other one too; the lowest id is named first.
/// let what = first_bad_particle(&system, &state, &Limits { max_speed: Some(0.1), max_temperature: None });
/// assert!(what.unwrap().starts_with("particle 4"));
/// ```
pub fn first_bad_particle(system: &DpdSystem, state: &ParticleState, limits: &Limits) -> Option<String> {
    let mut first: Option<(u32, usize, String)> = None;
    let mut count = 0usize;
    for i in 0..state.len() {
        let t = state.type_id[i] as usize;
        let mobile = system.types.get(t).is_some_and(|t| !t.frozen);
        let (p, v, f) = (state.pos[i], state.vel[i], state.force[i]);
        let speed = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
        let depth = system.walls.as_ref().map_or(f32::NEG_INFINITY, |w| w.sdf.value(p));
        let why = if p.iter().chain(&v).chain(&f).any(|x| !x.is_finite()) {
            "non-finite position, velocity or force".to_string()
        } else if mobile && depth > WALL_TOLERANCE {
            format!("inside a wall, {depth:.4} rc beyond its surface")
        } else if let Some(max) = limits.max_speed.filter(|&m| mobile && speed > m) {
            format!("speed {speed:.4} above the bound --max-speed {max}")
        } else {
            continue;
        };
        count += 1;
        if first.as_ref().is_none_or(|b| state.tag[i] < b.0) {
            first = Some((state.tag[i], i, why));
        }
    }
    let (tag, i, why) = first?;
    let name = system.types.get(state.type_id[i] as usize).map_or("?", |t| t.name.as_str());
    let [x, y, z] = state.pos[i];
    let [vx, vy, vz] = state.vel[i];
    let all = if count > 1 { format!(" ({count} particles in all)") } else { String::new() };
    Some(format!("particle {tag} ({name}) at ({x}, {y}, {z}) with velocity ({vx}, {vy}, {vz}): {why}{all}"))
}

/// The blow-up error for `what` at `step`, with the first particle to blame in the engine's
/// current state (when it can be read) and the last good checkpoint.
pub fn blown(
    engine: &mut dyn Engine,
    system: &DpdSystem,
    limits: &Limits,
    step: u64,
    what: String,
    last_good: &Option<std::path::PathBuf>,
) -> RunError {
    let culprit = engine.state().ok().and_then(|s| first_bad_particle(system, &s, limits));
    let what = match culprit {
        Some(c) => format!("{what}; first bad particle at step {}: {c}", engine.step()),
        None => what,
    };
    RunError::Blowup { step, what, checkpoint: last_good.clone() }
}

/// Forces `fault` into the engine's current state ([`Fault`] says where).
pub fn inject(engine: &mut dyn Engine, system: &DpdSystem, fault: Fault) -> Result<(), RunError> {
    let mut st = engine.state()?;
    let mobile = |i: usize| system.types.get(st.type_id[i] as usize).is_some_and(|t| !t.frozen);
    let refuse = |why: &str| {
        let mut e = crate::params::ValidationErrors::default();
        e.push("--inject-fault", format!("{fault:?}"), why);
        RunError::Invalid(e)
    };
    let i =
        (0..st.len()).filter(|&i| mobile(i)).min_by_key(|&i| st.tag[i]).ok_or_else(|| refuse("no fluid particle"))?;
    match fault {
        Fault::DeviceLost => {
            return Err(RunError::Kernel(hemoscale_kernels::KernelError::Gpu(format!(
                "the GPU device was lost (injected at step {})",
                engine.step()
            ))))
        }
        Fault::NanVelocity => st.vel[i][0] = f32::NAN,
        Fault::IntoWall => {
            let walls = system.walls.as_ref().ok_or_else(|| refuse("into-wall needs a scenario with walls"))?;
            // Beside the deepest frozen particle (not onto it: a pair at distance 0 has no
            // direction), still inside the wall.
            let deepest = (0..st.len())
                .filter(|&j| !mobile(j))
                .max_by(|&a, &b| walls.sdf.value(st.pos[a]).total_cmp(&walls.sdf.value(st.pos[b])))
                .ok_or_else(|| refuse("into-wall needs frozen wall particles"))?;
            let l = system.sim_box.len[0];
            let mut p = st.pos[deepest];
            p[0] = (p[0] + 0.25) % l;
            if walls.sdf.value(p) <= WALL_TOLERANCE {
                return Err(refuse("found no point inside the wall"));
            }
            st.pos[i] = p;
        }
    }
    engine.overwrite(&st)?;
    Ok(())
}
