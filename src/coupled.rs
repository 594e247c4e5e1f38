//! Runs in which a learned reduced model stands in for platelets ([`hemoscale_coupling`]).
//!
//! The engine holds only the platelets that run fine. At every platelet sample [`Coupled::sample`]
//! measures the local flow of every platelet (a least-squares fit to the plasma in a shell
//! around it, smoothed in time), feeds what the fine platelets did to the controller (the
//! harvest), advances the reduced ones, records everyone in the probe, and lets the policy
//! decide. When a platelet changes model the engine is rebuilt at the same step from the plasma
//! it had: a platelet going reduced leaves (its plasma stays as it was: the hole it leaves fills
//! within a few time units), a platelet falling back is re-created from its reduced state (the
//! template turned to the reduced normal, its particles moving with the local flow, the plasma
//! inside it removed as at placement) and keeps its global ids, so its noise stream is its own.
//! Platelets that stay fine keep their particles exactly.

use std::time::Instant;

use glam::{DVec3, Quat, Vec3};
use hemoscale_coupling::controller::Transition;
use hemoscale_coupling::{Controller, ControllerConfig, FineObservation, FlowSmoother, LocalFlow, Situation};
use hemoscale_kernels::geometry::Shape;
use hemoscale_kernels::platelet_observables::PlateletSample;
use hemoscale_kernels::platelet_set::{Placement, PlateletSet, PlateletState};
use hemoscale_kernels::{DpdSystem, Engine, ParticleState};
use serde::{Deserialize, Serialize};

use crate::output::ThermoCsv;
use crate::platelets::{PlateletProbe, RestStress};
use crate::run::{reopen, RunError};

/// How a scenario couples its platelets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CouplingConfig {
    /// Policy, harvest, verification and ensemble settings.
    pub controller: ControllerConfig,
    /// The local flow is fitted to the plasma between the platelet's radius plus `flow_gap` and
    /// that plus `flow_shell` (rc): far enough from the membrane that the plasma dragged along
    /// by the platelet's own rotation does not enter, near enough to be local.
    pub flow_gap: f64,
    /// Thickness of that shell (rc).
    pub flow_shell: f64,
    /// Smoothing time of the local flow (DPD time units).
    pub flow_tau: f64,
    /// Time between flow measurements (DPD time units; a fraction of `flow_tau`: the smoothed
    /// flow changes little in between, and the measurement, not the reduced step, is what a
    /// reduced platelet costs).
    pub flow_every: f64,
    /// Start from the model shipped for the scenario and platelet, when there is one
    /// ([`crate::shipped_models`]); a `--coupling-model` file overrides it.
    pub use_shipped: bool,
}

/// The coupling state of a run and what it needs to rebuild the engine.
#[derive(Debug)]
pub struct Coupled {
    /// Models, policy and counters.
    pub controller: Controller,
    /// Where the first model came from: "online", "shipped FILE" or "file PATH".
    pub model_source: String,
    cfg: CouplingConfig,
    /// Global indices of the platelets in the engine, in the engine's order.
    pub fine: Vec<usize>,
    smoothers: Vec<FlowSmoother>,
    last_step: u64,
    last_measured: Option<u64>,
    base: PlateletSet,
    carve_margin: f32,
    /// The run's system (it does not change; kept here so a sample need not clone it).
    system: DpdSystem,
    rest_sample: PlateletSample,
    /// Where the coupling's own time went.
    pub cost: CouplingCost,
    /// Platelet seconds of engines already replaced.
    pub retired_platelet_seconds: f64,
    /// Sum and count of the local shear rates seen at the samples (all platelets).
    pub shear_rate_sum: (f64, u64),
    log: Option<ThermoCsv>,
}

/// What a checkpoint keeps of a coupled run (CBOR, [`Coupled::save`]): the controller whole
/// (models, harvest, modes and reduced states, counters, events), which platelets the engine
/// holds, the flow smoothers and the sampling clocks. The rest comes back from the scenario
/// (settings, base set, system) and the platelet probe (rest sample); the wall-clock costs start
/// again from zero, as a resumed run's `wall_seconds` does.
#[derive(Serialize, Deserialize)]
struct CoupledState {
    controller: Controller,
    model_source: String,
    fine: Vec<usize>,
    smoothers: Vec<FlowSmoother>,
    last_step: u64,
    last_measured: Option<u64>,
    shear_rate_sum: (f64, u64),
}

/// Wall-clock seconds of the coupling's own work, by part.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CouplingCost {
    /// Reading the plasma back and fitting the local flow of fine platelets (the harvest).
    pub measure_fine: f64,
    /// Fitting the local flow of reduced platelets (their share of the read-back included).
    pub measure_reduced: f64,
    /// Advancing reduced platelets and predicting their stress.
    pub reduced: f64,
    /// Learning the models and applying the policy.
    pub learn: f64,
    /// Rebuilding the engine when platelets change model.
    pub rebuild: f64,
}

impl CouplingCost {
    /// Everything.
    pub fn total(&self) -> f64 {
        self.measure_fine + self.measure_reduced + self.reduced + self.learn + self.rebuild
    }
    /// What a reduced platelet costs: its flow measurement and its reduced steps.
    pub fn surrogate(&self) -> f64 {
        self.measure_reduced + self.reduced
    }
}

/// Columns of `coupling.csv`: per platelet sample, its model and what the policy saw.
pub const COUPLING_COLUMNS: [&str; 7] =
    ["step", "time_s", "platelet", "reduced", "local_shear_rate_per_s", "period_spread", "stress_spread"];

impl Coupled {
    /// Coupling for the platelets of `set` (all fine at first), starting at `step`.
    pub fn new(
        cfg: CouplingConfig,
        set: &PlateletSet,
        probe: &PlateletProbe,
        carve_margin: f32,
        system: &DpdSystem,
        step: u64,
    ) -> Self {
        let dt = f64::from(system.dt);
        Self {
            controller: Controller::new(cfg.controller, set.count, step as f64 * dt),
            cfg,
            fine: (0..set.count).collect(),
            smoothers: vec![FlowSmoother::new(cfg.flow_tau); set.count],
            last_step: step,
            last_measured: None,
            base: set.clone(),
            carve_margin,
            system: system.clone(),
            rest_sample: probe.rest_sample(),
            cost: CouplingCost::default(),
            retired_platelet_seconds: 0.0,
            shear_rate_sum: (0.0, 0),
            log: None,
            model_source: "online".into(),
        }
    }

    /// Writes `coupling.csv` ([`COUPLING_COLUMNS`]) into `dir`; a resumed run (`resume`: its
    /// step) drops the rows written after its checkpoint and appends.
    pub fn write_to(&mut self, dir: &std::path::Path, resume: Option<u64>) -> Result<(), RunError> {
        let path = dir.join("coupling.csv");
        self.log = Some(match resume {
            Some(step) => ThermoCsv::resume(path, &COUPLING_COLUMNS, step)?,
            None => ThermoCsv::create(path, &COUPLING_COLUMNS)?,
        });
        Ok(())
    }

    /// The coupling state for a checkpoint (see [`CoupledState`]), as CBOR bytes.
    pub fn save(&self) -> Vec<u8> {
        let state = CoupledState {
            controller: self.controller.clone(),
            model_source: self.model_source.clone(),
            fine: self.fine.clone(),
            smoothers: self.smoothers.clone(),
            last_step: self.last_step,
            last_measured: self.last_measured,
            shear_rate_sum: self.shear_rate_sum,
        };
        crate::checkpoint::to_cbor(&state)
    }

    /// Takes back what [`Coupled::save`] wrote, refusing a state for another number of platelets.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        let s: CoupledState = crate::checkpoint::from_cbor(bytes, "coupling state")?;
        let n = self.controller.len();
        if s.controller.len() != n || s.smoothers.len() != n || s.fine.iter().any(|&g| g >= n) {
            return Err(format!("coupling state for {} platelets; this run has {n}", s.controller.len()));
        }
        self.controller = s.controller;
        self.model_source = s.model_source;
        self.fine = s.fine;
        self.smoothers = s.smoothers;
        self.last_step = s.last_step;
        self.last_measured = s.last_measured;
        self.shear_rate_sum = s.shear_rate_sum;
        Ok(())
    }

    /// The platelets a checkpointed engine held (global indices; [`Coupled::save`]'s bytes), so
    /// the resumed engine can be opened with them before the coupling is restored.
    /// Only that field is built: the controller's harvest and models are skipped, not decoded.
    pub fn saved_fine(bytes: &[u8]) -> Result<Vec<usize>, String> {
        #[derive(Deserialize)]
        struct Fine {
            fine: Vec<usize>,
        }
        let s: Fine = crate::checkpoint::from_cbor(bytes, "coupling state")?;
        Ok(s.fine)
    }

    /// Wall-clock seconds the engines spent in their platelets' inner levels (the fine model).
    pub fn fine_seconds(&self, engine: &dyn Engine) -> f64 {
        self.retired_platelet_seconds + engine.platelet_seconds()
    }

    /// Wall-clock seconds spent on platelets: the engines' inner levels and the coupling's work.
    pub fn platelet_seconds(&self, engine: &dyn Engine) -> f64 {
        self.fine_seconds(engine) + self.cost.total()
    }

    /// One platelet sample at the engine's current step (see the module documentation). May
    /// replace `engine`.
    pub fn sample(
        &mut self,
        engine: &mut Box<dyn Engine>,
        probe: &mut PlateletProbe,
        shape: Option<&Shape>,
    ) -> Result<(), RunError> {
        let start = Instant::now();
        let system = &self.system;
        let step = engine.step();
        let steps = step - self.last_step;
        self.last_step = step;
        let dt = steps as f64 * f64::from(system.dt);
        let time = step as f64 * f64::from(system.dt);
        let due = self.last_measured.is_none_or(|m| (step - m) as f64 * f64::from(system.dt) >= self.cfg.flow_every);
        let mut plasma = if due { Some(engine.state()?) } else { None };
        let read_back = start.elapsed().as_secs_f64();
        let platelets = engine.platelet_state()?;
        let total = self.controller.len();
        let mut samples: Vec<Option<PlateletSample>> = vec![None; total];
        if let Some(ps) = &platelets {
            for (k, s) in probe.measure(ps).into_iter().enumerate() {
                samples[self.fine[k]] = Some(s);
            }
        }
        let centers: Vec<DVec3> = (0..total)
            .map(|g| match (&samples[g], self.controller.reduced(g)) {
                (Some(s), _) => DVec3::from(s.center),
                (None, Some(r)) => r.center,
                (None, None) => DVec3::ZERO,
            })
            .collect();
        let box_len = system.sim_box.len.map(f64::from);
        let inner = 0.5 * f64::from(self.base.template.spec.diameter) + self.cfg.flow_gap;
        let mut flows = Vec::with_capacity(total);
        let share = read_back / total.max(1) as f64;
        let since = self.last_measured.map_or(dt, |m| (step - m) as f64 * f64::from(system.dt));
        for (g, c) in centers.iter().enumerate() {
            let t = Instant::now();
            let fit = plasma.as_ref().and_then(|plasma| {
                let frozen = |i: usize| system.types[plasma.type_id[i] as usize].frozen;
                LocalFlow::around_shell(
                    *c,
                    inner,
                    inner + self.cfg.flow_shell,
                    box_len,
                    &plasma.pos,
                    &plasma.vel,
                    frozen,
                )
            });
            let flow = match (fit, self.smoothers[g].value) {
                (Some(f), _) => self.smoothers[g].update(f, since),
                (None, Some(old)) => old,
                (None, None) => {
                    return Err(RunError::blowup(
                        step,
                        format!("coupling: no plasma around platelet {g} to measure its local flow"),
                    ))
                }
            };
            self.shear_rate_sum.0 += flow.shear_rate();
            self.shear_rate_sum.1 += 1;
            flows.push(flow);
            let spent = share + t.elapsed().as_secs_f64();
            if self.controller.is_reduced(g) {
                self.cost.measure_reduced += spent;
            } else {
                self.cost.measure_fine += spent;
            }
        }
        if due {
            self.last_measured = Some(step);
        }
        let rest = probe.rest;
        for g in 0..total {
            if let Some(s) = samples[g] {
                let n = DVec3::from(s.normal);
                let obs = FineObservation {
                    center: DVec3::from(s.center),
                    velocity: DVec3::from(s.velocity),
                    normal: n,
                    flow: flows[g],
                    membrane: minus(s.mean_membrane_stress, RestStress::tensor(rest.membrane, s.normal)),
                    traction: minus(s.mean_traction_stress, RestStress::tensor(rest.traction, s.normal)),
                    weight: steps as f64,
                };
                self.controller.observe_fine(g, time, dt, obs);
                self.controller.count_fine(steps);
            } else {
                let t = Instant::now();
                let r = self.controller.advance_reduced(g, &flows[g], dt, steps);
                let n: [f64; 3] = r.normal.into();
                let mut s = self.rest_sample;
                s.center = r.center.into();
                s.velocity = r.velocity.into();
                s.normal = n;
                s.omega = r.omega.into();
                s.mean_membrane_stress = plus(r.membrane, RestStress::tensor(rest.membrane, n));
                s.mean_traction_stress = plus(r.traction, RestStress::tensor(rest.traction, n));
                s.membrane_stress = s.mean_membrane_stress;
                s.traction_stress = s.mean_traction_stress;
                samples[g] = Some(s);
                self.cost.reduced += t.elapsed().as_secs_f64();
            }
        }
        let t = Instant::now();
        let _fitted = self.controller.fit_if_due();
        let all: Vec<PlateletSample> = samples.into_iter().map(|s| s.expect("every platelet sampled")).collect();
        let centers: Vec<DVec3> = all.iter().map(|s| DVec3::from(s.center)).collect();
        self.cost.learn += t.elapsed().as_secs_f64();
        probe.record(step, &all, steps, platelets.as_ref())?;
        // Stress-activated platelets become adhesive, as in a fine run (the engine's order).
        let activated = probe.activated_flags();
        let mine: Vec<bool> = self.fine.iter().map(|&g| activated[g]).collect();
        if platelets.is_some() && mine.iter().any(|&a| a) {
            engine.activate_platelets(&mine)?;
        }
        let t = Instant::now();
        let min_image = |d: DVec3| {
            DVec3::new(
                d.x - box_len[0] * (d.x / box_len[0]).round(),
                d.y - box_len[1] * (d.y / box_len[1]).round(),
                d.z - box_len[2] * (d.z / box_len[2]).round(),
            )
        };
        let mut transitions = Vec::new();
        for g in 0..total {
            let wall = shape.map_or(f64::INFINITY, |s| -s.sdf(centers[g].into()));
            let other = (0..total)
                .filter(|&h| h != g)
                .map(|h| min_image(centers[h] - centers[g]).length())
                .fold(f64::INFINITY, f64::min);
            let situation = Situation {
                shear_rate: flows[g].shear_rate(),
                wall_distance: wall,
                platelet_distance: other,
                // Adhesive sites are wall patches and activated platelets: near either, run fine.
                adhesion_distance: if self.base.adhesion.is_some() { wall.min(other) } else { f64::INFINITY },
                period_spread: f64::NAN,
                stress_spread: f64::NAN,
            };
            let reduced = self.controller.is_reduced(g);
            match self.controller.decide(g, time, &flows[g], situation) {
                Transition::Stay => {}
                tr => transitions.push((g, tr, flows[g])),
            }
            if let Some(log) = self.log.as_mut() {
                let u = probe.units;
                let unc = self.controller.last_uncertainty(g);
                log.write_row(&[
                    step as f64,
                    u.time_to_s(time),
                    g as f64,
                    if reduced { 1.0 } else { 0.0 },
                    u.rate_to_si(situation.shear_rate),
                    unc.0,
                    unc.1,
                ])?;
            }
        }
        self.cost.learn += t.elapsed().as_secs_f64();
        if !transitions.is_empty() {
            let t = Instant::now();
            let plasma = match plasma.take() {
                Some(p) => p,
                None => engine.state()?,
            };
            self.rebuild(engine, plasma, platelets, &transitions, &activated)?;
            self.cost.rebuild += t.elapsed().as_secs_f64();
        }
        Ok(())
    }

    /// Replaces the engine by one holding the platelets that run fine after `transitions`.
    fn rebuild(
        &mut self,
        engine: &mut Box<dyn Engine>,
        plasma: ParticleState,
        platelets: Option<PlateletState>,
        transitions: &[(usize, Transition, LocalFlow)],
        activated: &[bool],
    ) -> Result<(), RunError> {
        let step = engine.step();
        let n = self.base.per_platelet();
        let old = std::mem::take(&mut self.fine);
        let mut fine: Vec<usize> = (0..self.controller.len()).filter(|&g| !self.controller.is_reduced(g)).collect();
        fine.sort_unstable();
        let recreated: Vec<(usize, Placement, LocalFlow)> = transitions
            .iter()
            .filter_map(|(g, t, f)| match t {
                Transition::ToFine(_, r) => Some((
                    *g,
                    Placement {
                        center: r.center.as_vec3().into(),
                        rotation: Quat::from_rotation_arc(Vec3::Z, r.normal.as_vec3().normalize()),
                        velocity: r.velocity.as_vec3().into(),
                    },
                    *f,
                )),
                _ => None,
            })
            .collect();
        let placement =
            |g: usize| -> Placement { recreated.iter().find(|r| r.0 == g).map_or(self.base.placements[g], |r| r.1) };
        let placements: Vec<Placement> = fine.iter().map(|&g| placement(g)).collect();
        let mut set = engine_set(&self.base, &fine, &placements, activated)?;
        for (k, &g) in fine.iter().enumerate() {
            let dst = k * n..(k + 1) * n;
            match (old.iter().position(|&h| h == g), &platelets) {
                (Some(j), Some(ps)) => {
                    set.pos[dst.clone()].copy_from_slice(&ps.pos[j * n..(j + 1) * n]);
                    set.vel[dst].copy_from_slice(&ps.vel[j * n..(j + 1) * n]);
                }
                _ => {
                    // Re-created: particles move with the local flow.
                    let (_, p, f) = recreated.iter().find(|r| r.0 == g).expect("a new fine platelet is re-created");
                    let c = DVec3::from(p.center.map(f64::from));
                    for i in dst {
                        let x = DVec3::from(set.pos[i].map(f64::from));
                        set.vel[i] = f.velocity_at(x - c).as_vec3().into();
                    }
                }
            }
        }
        let state = if recreated.is_empty() {
            plasma
        } else {
            let ps: Vec<Placement> = recreated.iter().map(|r| r.1).collect();
            let carver = PlateletSet::place(self.base.template.clone(), self.base.params, &ps, 0)?;
            carver.carve(&plasma, &self.system, self.carve_margin).0
        };
        self.retired_platelet_seconds += engine.platelet_seconds();
        *engine = reopen(engine.as_mut(), &self.system, &state, step, (!fine.is_empty()).then_some(&set))?;
        engine.compute_forces()?;
        self.fine = fine;
        Ok(())
    }
}

/// The platelet set of an engine holding the platelets `fine` (global indices, ascending) of
/// `base`, placed at `placements`, with their own ids (their noise streams) and activation.
pub fn engine_set(
    base: &PlateletSet,
    fine: &[usize],
    placements: &[Placement],
    activated: &[bool],
) -> Result<PlateletSet, hemoscale_kernels::KernelError> {
    let n = base.per_platelet();
    let mut set = PlateletSet::place(base.template.clone(), base.params, placements, 0)?;
    set.adhesion = base.adhesion.clone();
    set.activated = fine.iter().map(|&g| base.activated[g] || activated.get(g).copied().unwrap_or(false)).collect();
    for (k, &g) in fine.iter().enumerate() {
        set.tag[k * n..(k + 1) * n].copy_from_slice(&base.tag[g * n..(g + 1) * n]);
    }
    Ok(set)
}

/// The engine's platelet set of a resumed coupled run: the saved `fine` platelets of `base` at
/// their starting placements (the checkpoint's snapshot then puts every particle back where it
/// was, activation included). None when every platelet runs reduced.
pub fn resumed_engine_set(
    base: &PlateletSet,
    fine: &[usize],
) -> Result<Option<PlateletSet>, hemoscale_kernels::KernelError> {
    if fine.is_empty() {
        return Ok(None);
    }
    let placements: Vec<Placement> = fine.iter().map(|&g| base.placements[g]).collect();
    engine_set(base, fine, &placements, &[]).map(Some)
}

fn minus(a: [f64; 6], b: [f64; 6]) -> [f64; 6] {
    std::array::from_fn(|k| a[k] - b[k])
}

fn plus(a: [f64; 6], b: [f64; 6]) -> [f64; 6] {
    std::array::from_fn(|k| a[k] + b[k])
}

/// Writes the coupling's hand-overs and fall-backs as CSV (`time_s,platelet,event`).
pub fn write_events(path: &std::path::Path, c: &Controller, units: crate::units::Units) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "time_s,platelet,event")?;
    for e in &c.events {
        writeln!(f, "{:.6e},{},{}", units.time_to_s(e.time), e.platelet, e.what)?;
    }
    f.flush()
}

/// The coupling's observables (`coupling`, `fine_steps`, `surrogate_steps`, `fallbacks` and
/// their reasons, the learned models) added to a platelet scenario's summary; for a fine run
/// `coupling` is "fine" and every platelet-step is fine.
pub fn coupling_observables(
    m: &mut serde_json::Map<String, serde_json::Value>,
    o: &crate::run::RunOutcome,
    u: crate::units::Units,
) {
    use serde_json::json;
    let mut ins = |k: &str, v: serde_json::Value| {
        let _ = m.insert(k.into(), v);
    };
    let Some(co) = &o.coupling else {
        let platelets = o.probe.as_ref().and_then(|p| p.platelets.as_ref()).map_or(0, PlateletProbe::count);
        if let Some(a) = &o.adaptive {
            let c = &a.counters;
            ins("coupling", json!("adaptive"));
            ins("fine_steps", json!(o.steps * platelets as u64));
            ins("surrogate_steps", json!(0));
            ins("fallbacks", json!(0));
            ins("interface_levels", json!([a.fine, a.coarse]));
            ins("interface_substeps", json!(c.substeps));
            ins("reference_interface_substeps", json!(c.reference_substeps));
            ins("substeps_saved", json!(c.saved()));
            ins("coarse_segments", json!(c.coarse_segments));
            ins("segments", json!(c.segments));
            ins("level_switches", json!(c.switches));
            ins("ats_trials", json!(c.trials));
            ins("ats_harvested", json!(a.harvested));
            ins("ats_coarse_label_fraction", json!(a.coarse_label_fraction));
            ins("ats_seconds", json!(c.seconds));
            return;
        }
        ins("coupling", json!("fine"));
        ins("fine_steps", json!(o.steps * platelets as u64));
        ins("surrogate_steps", json!(0));
        ins("fallbacks", json!(0));
        return;
    };
    let c = &co.controller;
    let k = &c.counters;
    ins("coupling", json!("surrogate"));
    ins("coupling_model", json!(co.model_source));
    ins("fine_steps", json!(k.fine_steps));
    ins("surrogate_steps", json!(k.surrogate_steps));
    ins("fine_step_fraction", json!(k.fine_fraction()));
    ins("fallbacks", json!(k.total_fallbacks()));
    ins(
        "fallback_reasons",
        json!(k.fallbacks.iter().map(|(r, n)| (r.name().to_string(), json!(n))).collect::<serde_json::Map<_, _>>()),
    );
    ins("handovers", json!(k.handovers));
    ins(
        "held_fine",
        json!(k.held_fine.iter().map(|(r, n)| (r.name().to_string(), json!(n))).collect::<serde_json::Map<_, _>>()),
    );
    // Cost per platelet-step of each model: the engines' platelet levels (plus the harvest's flow
    // measurement) for fine steps, the flow measurement and the reduced step for surrogate steps.
    let fine = (co.fine_seconds + co.cost.measure_fine) / k.fine_steps.max(1) as f64;
    let surrogate = co.cost.surrogate() / k.surrogate_steps.max(1) as f64;
    ins("fine_seconds_per_platelet_step", json!(fine));
    ins("surrogate_seconds_per_platelet_step", json!(surrogate));
    ins("surrogate_speedup", json!(if k.surrogate_steps > 0 { fine / surrogate } else { f64::NAN }));
    ins(
        "coupling_seconds",
        json!({
            "fine_platelet_levels": co.fine_seconds,
            "measure_fine": co.cost.measure_fine,
            "measure_reduced": co.cost.measure_reduced,
            "reduced": co.cost.reduced,
            "learn": co.cost.learn,
            "rebuild": co.cost.rebuild,
        }),
    );
    let events: Vec<serde_json::Value> = c
        .events
        .iter()
        .map(|e| json!({"time_s": u.time_to_s(e.time), "platelet": e.platelet, "what": e.what}))
        .collect();
    ins("coupling_events", json!(events));
    if let Some(j) = &c.jeffery {
        let b = j.best();
        // The learned equation's own orbit period at the mean local shear rate of the run: the
        // model's accuracy, apart from where in its orbit the platelet was handed over.
        ins("learned_period", json!(u.time_to_s(b.period(co.mean_shear_rate))));
        ins("mean_local_shear_rate", json!(u.rate_to_si(co.mean_shear_rate)));
        ins(
            "learned_jeffery",
            json!({
                "a": b.a,
                "b": b.b,
                "effective_aspect_ratio": b.effective_aspect_ratio(),
                "period_spread": j.period_spread(),
                "rows": j.rows,
                "rms_residual": j.rms_residual,
            }),
        );
    }
    if let Some((lo, hi)) = c.trained_range() {
        ins("trained_shear_rate", json!([u.rate_to_si(lo), u.rate_to_si(hi)]));
    }
}
