//! The plasma and platelet keys shared by the platelet scenarios (`shear-flip`,
//! `stenosis-platelets`, `aggregation`), and the unit mapping they report in.
//!
//! **Why a cooler plasma.** The standard DPD fluid (kT = 1) makes a platelet's thermal life far
//! too lively: with springs stiff enough to keep its shape, their thermal forces put an
//! instantaneous membrane stress of order 50 (DPD units) on the shell, against a flow-induced
//! stress of order 0.1 to 1, and rotational diffusion scrambles the orientation within a flip
//! (rotational Péclet number about 25). In physical units the plasma's thermal energy is a
//! millionth of what kT = 1 stands for ([`crate::units::Units::effective_temperature`]). These
//! scenarios therefore use kT = 0.1 with the conservative amplitude scaled with it (a = 2.5, so
//! a/kT = 25 keeps the standard fluid's structure) and gamma = 20 for a viscous plasma: the same
//! choice blood-cell DPD makes (Fedosov et al. 2010 run kT of about 0.1). Thermal stress noise
//! scales as the square root of kT and rotational diffusion as kT over viscosity; the platelet's
//! springs are scaled with kT so its thermal strains stay those checked at kT = 1 (springs 1.2 to
//! 1.3 times their rest length at most, `kernels/tests/platelet_dynamics.rs`).

use super::fluid::{float, fluid_params};
use crate::adaptive::AdaptiveConfig;
use crate::coupled::CouplingConfig;
use crate::kernels::activation::ActivationModel;
use crate::kernels::adhesion::{Adhesion, AdhesionParams, Patch};
use crate::kernels::platelet::{PlateletSpec, Stiffness};
use crate::kernels::platelet_set::{MtsLevels, PlateletParams};
use crate::params::{Bound, Kind, ParamSpec, ParamValues};
use crate::platelets::PlateletsConfig;
use crate::units::{Plasma, Units};
use hemoscale_coupling::adaptive::ErrorTolerance;
use hemoscale_coupling::{ControllerConfig, Policy};

/// Temperature of the platelet scenarios' plasma.
pub const PLASMA_KT: f64 = 0.1;
/// Conservative amplitude (a/kT = 25, as the standard fluid).
pub const PLASMA_A: f64 = 2.5;
/// Dissipation.
pub const PLASMA_GAMMA: f64 = 20.0;
/// Weight exponent of the dissipative force (Fan et al. 2006; Soares et al. 2013 used the same
/// soft weight for their platelet plasma): 0.5 makes the plasma 7.3 times as viscous as s = 2 at the
/// same gamma, which raises the platelet's rotational Péclet number and lowers its Reynolds number.
pub const PLASMA_S: f64 = 0.5;
/// Viscosity of this plasma (DPD units), measured by reverse Poiseuille flow (the method and
/// code validated against LAMMPS for the standard fluid, 0.853 against 0.855):
/// `hemoscale run poiseuille --set kT=0.1 --set a=2.5 --set gamma=20 --set s=0.5
/// --set body_force=0.01 --steps 25000` gave 4.49 (halves 4.41 and 4.58); with s = 2 the same
/// plasma gives 0.614. Plane Couette's wall-stress estimate is too noisy at this temperature's
/// small stresses (the two walls disagreed threefold over 40,000 steps).
pub const PLASMA_VISCOSITY: f64 = 4.49;
/// Dissipation of membrane–plasma pairs relative to plasma pairs. With 1 the plasma slips at the
/// membrane and a flat disc stops tumbling: in `shear-flip` at 6.5e4 1/s the platelet stalled
/// 0.1 to 0.25 rad from the flow plane after its first flip (fitted period 2.9 times Jeffery's);
/// with 4 it tumbles on, two flips in 50,000 steps with a period 0.95 of Jeffery's. Light membrane
/// particles under this friction need interface sub-steps of dt/8 (`mts_interface` = 8).
pub const INTERFACE_FRICTION: f64 = 4.0;
/// Time (DPD units) over which the membrane stress is averaged before its scalar is taken; the
/// rest-stress calibration runs twice as long.
pub const STRESS_WINDOW_TIME: f64 = 20.0;
/// Default of `rest_stress_time`: the rest-stress calibration averages two stress windows. It
/// costs about 28 CPU-seconds at the default resolution (4,800 steps of a platelet in 3,000
/// plasma particles, mostly the platelet's eight interface sub-steps), paid by every run that does
/// not resume from a checkpoint; a run that only compares trajectories (ranks, restarts) may
/// shorten it, as the tests do. Both the subtracted stress and the printed noise floor come from
/// it, so stress accumulation and activation want the default.
pub const REST_STRESS_TIME: f64 = 2.0 * STRESS_WINDOW_TIME;
/// Platelet diameter in rc: six cut-offs across, so the plasma resolves the disc's thickness
/// (1.5 rc at aspect ratio 0.25).
pub const PLATELET_DIAMETER_RC: f64 = 6.0;

/// An integer key.
pub fn integer(
    key: &'static str,
    default: f64,
    unit: &'static str,
    min: f64,
    max: f64,
    help: &'static str,
) -> ParamSpec {
    ParamSpec { key, default, unit, kind: Kind::Integer, min: Bound::Inclusive(min), max: Bound::Inclusive(max), help }
}

/// The fluid keys with the platelet plasma's defaults.
pub fn plasma_params() -> Vec<ParamSpec> {
    fluid_params()
        .into_iter()
        .map(|mut p| {
            p.default = match p.key {
                "kT" => PLASMA_KT,
                "a" => PLASMA_A,
                "gamma" => PLASMA_GAMMA,
                "s" => PLASMA_S,
                _ => p.default,
            };
            p
        })
        .collect()
}

/// The platelet keys (physical units where users think in them).
pub fn platelet_params(resolution: f64) -> Vec<ParamSpec> {
    use Bound::{Exclusive as Ex, Inclusive as In};
    vec![
        float("diameter", 3.6, "um", Ex(0.0), In(20.0), "platelet diameter (sets the length unit: diameter / 6 rc)"),
        float("aspect_ratio", 0.25, "1", Ex(0.05), In(1.0), "platelet thickness over diameter"),
        integer(
            "resolution",
            resolution,
            "particles",
            1.0,
            2_000_000.0,
            "particles per platelet (about 140,000 published)",
        ),
        float("stiffness", 1.0, "1", Ex(0.0), In(1e4), "scales every spring and bending constant of the platelet"),
        integer("mts_interface", 8.0, "1", 0.0, 1000.0, "interface sub-steps per plasma step"),
        integer("mts_nonbonded", 1.0, "1", 0.0, 1000.0, "non-bonded sub-steps per interface step"),
        integer("mts_bonded", 1.0, "1", 0.0, 1000.0, "bonded sub-steps per non-bonded step"),
        integer("activation_model", 0.0, "1", 0.0, 1.0, "0: power law (Nobili 2008), 1: with history sensitisation"),
        float("activation_threshold", 0.01, "1", Ex(0.0), In(1.0), "activation state counted as activated"),
        float(
            "interface_friction",
            INTERFACE_FRICTION,
            "1",
            In(0.0),
            In(100.0),
            "dissipation of membrane-plasma pairs relative to plasma pairs (more: less slip at the membrane)",
        ),
        float("plasma_viscosity", 1.2, "mPa s", Ex(0.0), In(100.0), "plasma viscosity the time unit is matched to"),
        float("plasma_density", 1025.0, "kg/m^3", Ex(0.0), In(1e4), "plasma mass density the mass unit is matched to"),
        float(
            "rest_stress_time",
            REST_STRESS_TIME,
            "DPD time",
            In(0.0),
            In(1e5),
            "time the rest-stress calibration averages before the run (0: none, no rest stress subtracted)",
        ),
    ]
}

/// The unit mapping of a platelet scenario with values `v`.
pub fn units(v: &ParamValues) -> Units {
    let plasma = Plasma {
        density: v.get("plasma_density"),
        viscosity: v.get("plasma_viscosity") * 1e-3,
        temperature: Plasma::HUMAN.temperature,
    };
    Units::from_plasma(v.get("diameter") / PLATELET_DIAMETER_RC, v.get("density"), PLASMA_VISCOSITY, &plasma)
}

/// Jump factors from the keys (0 passes through to validation, which names it).
pub fn mts(v: &ParamValues) -> MtsLevels {
    MtsLevels {
        interface: v.get("mts_interface") as u32,
        nonbonded: v.get("mts_nonbonded") as u32,
        bonded: v.get("mts_bonded") as u32,
    }
}

/// The platelet configuration of the keys, without placements.
pub fn platelets_config(v: &ParamValues, sample_every: u64) -> PlateletsConfig {
    let d = PLATELET_DIAMETER_RC as f32;
    let ar = v.get("aspect_ratio") as f32;
    // Neutrally buoyant: the plasma's mass density times the spheroid's volume.
    let volume = std::f32::consts::PI / 6.0 * d * d * d * ar;
    let spec = PlateletSpec {
        diameter: d,
        aspect_ratio: ar,
        resolution: v.get("resolution") as u32,
        mass: v.get("density") as f32 * volume,
        // The default constants keep thermal strains of a few per cent at kT = 1; scaled with kT
        // they keep the same strains in this plasma (and a third of the thermal stress noise).
        stiffness: Stiffness::DEFAULT.scaled((v.get("stiffness") * v.get("kT")) as f32),
    };
    let mut params = PlateletParams { mts: mts(v), ..PlateletParams::DEFAULT };
    // The interface scales with the plasma's temperature like the plasma's own repulsion.
    let kt = v.get("kT") as f32;
    params.interface.a *= kt;
    params.interface.morse.d0 *= kt;
    params.interface.gamma = (v.get("gamma") * v.get("interface_friction")) as f32;
    params.interface.s = v.get("s") as f32;
    params.lj_epsilon *= kt;
    PlateletsConfig {
        spec,
        params,
        placements: Vec::new(),
        carve_margin: 0.3,
        activation: if v.get("activation_model") >= 1.0 { ActivationModel::HISTORY } else { ActivationModel::NOBILI },
        activation_threshold: v.get("activation_threshold"),
        units: units(v),
        sample_every,
        // Windows in time, not steps (20 and 40 time units: 2,000 and 4,000 steps at the default
        // dt), so runs at other time steps average the same stretch of physics.
        stress_window: (STRESS_WINDOW_TIME / v.get("dt")).round().max(1.0) as u64,
        // 0 stays 0 (no calibration); a positive time gives at least one step.
        calibration_steps: match v.get("rest_stress_time") {
            t if t > 0.0 => (t / v.get("dt")).round().max(1.0) as u64,
            _ => 0,
        },
        adhesion: None,
        agonist_activated: Vec::new(),
        coupling: None,
        adaptive: None,
    }
}

/// Names of the `coupling` key's values.
pub const COUPLINGS: &[&str] = &["fine", "surrogate", "adaptive"];
/// Where a coupled run's first reduced model comes from (`coupling_source`).
pub const COUPLING_SOURCES: &[&str] = &["shipped", "online"];

/// The coupling keys (times in DPD time units: the platelet's orbit is what they are compared
/// with, and it is about 350 time units at the default shear rate).
pub fn coupling_params() -> Vec<ParamSpec> {
    use Bound::{Exclusive as Ex, Inclusive as In};
    vec![
        ParamSpec::choice(
            "coupling",
            COUPLINGS,
            "fine: every platelet as particles; surrogate: a reduced model (shipped or learned online, see coupling_source) stands in where the policy allows; adaptive: particles, at an interface time step a network chooses per segment (ats_* keys; --coupling-model NETWORK, or ats_harvest=1 to harvest its training data)",
        ),
        ParamSpec::choice(
            "coupling_source",
            COUPLING_SOURCES,
            "shipped: start from the model shipped for this scenario and platelet (models/, if there is one; else learn online); online: learn from this run's harvest",
        ),
        float("coupling_harvest", 80.0, "DPD time", Ex(0.0), In(1e7), "fine platelet-time harvested before the first fit"),
        float(
            "coupling_verify_every",
            150.0,
            "DPD time",
            Ex(0.0),
            In(1e7),
            "reduced time after which a platelet runs fine again to verify (and refit) the model",
        ),
        float("coupling_fine_time", 20.0, "DPD time", Ex(0.0), In(1e7), "fine time after a fall-back before handing over again"),
        float(
            "coupling_period_tolerance",
            0.03,
            "1",
            Ex(0.0),
            In(10.0),
            "largest relative spread of the learned orbit period the reduced model may have",
        ),
        float(
            "coupling_stress_tolerance",
            0.1,
            "1",
            Ex(0.0),
            In(10.0),
            "largest spread of the learned stress (relative to the typical stress) the reduced model may have",
        ),
        float("coupling_range_margin", 0.25, "1", In(0.0), In(10.0), "widening of the trained shear-rate range on each side"),
        integer("ats_coarse", 4.0, "1", 1.0, 1000.0, "coupling=adaptive: interface sub-steps per plasma step of the coarse level (at most mts_interface)"),
        integer("ats_segment", 5.0, "samples", 1.0, 1000.0, "coupling=adaptive: platelet samples per segment (between decisions)"),
        integer("ats_window", 8.0, "samples", 1.0, 64.0, "coupling=adaptive: platelet samples the network reads"),
        integer("ats_max_jump", 8.0, "segments", 1.0, 1000.0, "coupling=adaptive: longest step jump (segments a decision holds)"),
        float("ats_margin", 0.5, "1", In(0.0), In(10.0), "coupling=adaptive: coarsen only where the predicted ln(error / tolerance) is below -margin"),
        float("ats_tolerance", 0.03, "1", Ex(0.0), In(1.0), "coupling=adaptive: tolerance of a trial's orientation error, relative to the rotation over the segment"),
        float("ats_stress_tolerance", 0.03, "1", Ex(0.0), In(1.0), "coupling=adaptive: tolerance of a trial's membrane-stress error, relative to the mean flow-induced stress accumulated so far"),
        integer("ats_harvest", 0.0, "1", 0.0, 1.0, "coupling=adaptive: 1 runs noise-free trials at both levels every segment and writes ats_harvest.hsd instead of deciding"),
    ]
}

/// Adaptive stepping of the keys (None unless `coupling=adaptive`).
pub fn adaptive(v: &ParamValues) -> Option<AdaptiveConfig> {
    if v.choice("coupling") != "adaptive" {
        return None;
    }
    Some(AdaptiveConfig {
        coarse: v.get("ats_coarse") as u32,
        segment: v.get("ats_segment") as u64,
        window: v.get("ats_window") as usize,
        tolerance: ErrorTolerance {
            rotation: v.get("ats_tolerance"),
            rotation_floor: 0.01,
            stress: v.get("ats_stress_tolerance"),
        },
        max_jump: v.get("ats_max_jump") as u32,
        margin: v.get("ats_margin"),
        harvest: v.get("ats_harvest") > 0.5,
    })
}

/// The coupling of the keys (None for `coupling=fine`); clearances from the platelet's size.
pub fn coupling(v: &ParamValues) -> Option<CouplingConfig> {
    if v.choice("coupling") != "surrogate" {
        return None;
    }
    let radius = 0.5 * PLATELET_DIAMETER_RC;
    let verify = v.get("coupling_verify_every");
    Some(CouplingConfig {
        controller: ControllerConfig {
            policy: Policy {
                range_margin: v.get("coupling_range_margin"),
                wall_clearance: radius + 2.0,
                platelet_clearance: 2.0 * radius + 2.0,
                adhesion_clearance: radius + 2.0,
                period_tolerance: v.get("coupling_period_tolerance"),
                stress_tolerance: v.get("coupling_stress_tolerance"),
            },
            harvest_time: v.get("coupling_harvest"),
            refit_time: v.get("coupling_fine_time"),
            min_fine_time: v.get("coupling_fine_time"),
            verify_every: verify,
            lag: 5,
            // A tenth of the orbit at 1.3e5 1/s (samples every 0.2 time units in the platelet
            // scenarios).
            horizon: 125,
            members: 8,
            blocks: 8,
            seed: 1,
        },
        flow_gap: 1.5,
        flow_shell: 3.0,
        flow_tau: 5.0,
        flow_every: 1.0,
        use_shipped: v.choice("coupling_source") == "shipped",
    })
}

/// The adhesion keys of `stenosis-platelets` and `aggregation` (bond forces in pN, where users
/// think in them; the defaults are [`AdhesionParams::DEFAULT`] at `diameter` 3.6 um).
pub fn adhesion_params() -> Vec<ParamSpec> {
    use Bound::{Exclusive as Ex, Inclusive as In};
    vec![
        float("adhesion", 1.0, "1", In(0.0), In(1.0), "1: activated platelets form bonds (0: no adhesion)"),
        float("adhesion_well", 2.0, "kT", In(0.0), In(100.0), "Morse well depth between unbonded adhesive sites"),
        float("bond_spring", 100.0, "kT/rc^2", Ex(0.0), In(1e5), "Hooke constant of an adhesion bond"),
        float("bond_rupture_force", 600.0, "pN", Ex(0.0), In(1e6), "a bond pulled harder than this breaks"),
    ]
}

/// The adhesion force field of the keys (None when `adhesion` is 0), with `patches`.
pub fn adhesion(v: &ParamValues, patches: Vec<Patch>) -> Option<Adhesion> {
    if v.get("adhesion") < 0.5 {
        return None;
    }
    let kt = v.get("kT") as f32;
    let mut p = AdhesionParams::DEFAULT;
    p.morse.d0 = v.get("adhesion_well") as f32 * kt;
    p.spring = v.get("bond_spring") as f32 * kt;
    p.rupture = units(v).force_to_dpd(v.get("bond_rupture_force")) as f32;
    Some(Adhesion { params: p, patches })
}
