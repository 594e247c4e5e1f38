//! Runs with adaptive time stepping of their fine platelets (`coupling=adaptive`,
//! [`hemoscale_coupling::adaptive`]).
//!
//! At every platelet sample each platelet's features enter its window. Every `segment` samples a
//! decision is due:
//! - harvesting (`ats_harvest=1`): the run stays at the scenario's interface factor (it is the
//!   reference), and two noise-free copies of the state run the coming segment at the fine and the
//!   coarse factor; their difference is the segment's label. The windows and errors are written
//!   as `ats_harvest.hsd` for `hemoscale train`;
//! - deciding (a network from `--coupling-model`): when the current decision's step jump is used
//!   up, the network reads every platelet's window; the engine runs the coarse factor only if it
//!   allows it for every platelet (the platelets of one engine share their levels), for the
//!   shortest jump predicted. A change of factor rebuilds the engine at the same step from its
//!   state, as the reduced-model coupling does.
//!
//! Sub-steps are counted at the interface level: what the run spent against what the scenario's
//! factor would have spent.

use std::time::Instant;

use hemoscale_coupling::adaptive::{self, segment_error, AtsDecider, AtsHarvest, ErrorTolerance, SegmentTrack, Window};
use hemoscale_coupling::ModelKey;
use hemoscale_kernels::platelet_observables::PlateletSample;
use hemoscale_kernels::platelet_set::{PlateletSet, PlateletState};
use hemoscale_kernels::{DpdSystem, Engine};

use crate::platelets::{PlateletProbe, RestStress};
use crate::run::{reopen, RunError};
use serde::{Deserialize, Serialize};

/// Adaptive stepping settings (the `ats_*` keys).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaptiveConfig {
    /// Interface sub-steps per plasma step of the coarse level.
    pub coarse: u32,
    /// Platelet samples per segment (between decisions).
    pub segment: u64,
    /// Platelet samples per window.
    pub window: usize,
    /// Tolerances of the trial error.
    pub tolerance: ErrorTolerance,
    /// Cap of the step jump (segments).
    pub max_jump: u32,
    /// Margin on the predicted `ln` error.
    pub margin: f64,
    /// Harvest labels by trials instead of deciding.
    pub harvest: bool,
}

/// What adaptive stepping did over a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveCounters {
    /// Interface sub-steps run (plasma steps times the factor in force, summed over platelets).
    pub substeps: u64,
    /// What the scenario's factor would have run.
    pub reference_substeps: u64,
    /// Segments run at the coarse factor.
    pub coarse_segments: u64,
    /// Segments run in all (a segment ends at a decision).
    pub segments: u64,
    /// Engine rebuilds for a change of factor.
    pub switches: u64,
    /// Trial pairs run (harvesting).
    pub trials: u64,
    /// Wall-clock seconds in trials, decisions and rebuilds.
    pub seconds: f64,
}

impl AdaptiveCounters {
    /// Fraction of the reference's interface sub-steps saved.
    pub fn saved(&self) -> f64 {
        1.0 - self.substeps as f64 / self.reference_substeps.max(1) as f64
    }
}

/// One platelet's harvested (window, error) rows ([`AtsHarvest::tracks`]).
type Track = Vec<(Vec<f64>, f64)>;

/// What a checkpoint keeps of an adaptive-stepping run (CBOR, [`Adaptive::save`]): the factor
/// in force, every platelet's window, the decision clock and hold, the harvested rows and the
/// counters (their wall-clock seconds start again from zero, as a resumed run's do). The network
/// comes back from `--coupling-model`, the rest from the scenario.
#[derive(Serialize, Deserialize)]
struct AdaptiveState {
    current: u32,
    windows: Vec<Window>,
    samples: u64,
    hold: u32,
    last_step: u64,
    tracks: Option<Vec<Track>>,
    counters: AdaptiveCounters,
}

/// The adaptive-stepping state of a run.
pub struct Adaptive {
    cfg: AdaptiveConfig,
    /// The scenario's interface factor (the reference).
    pub fine: u32,
    current: u32,
    base: PlateletSet,
    system: DpdSystem,
    cold: DpdSystem,
    windows: Vec<Window>,
    samples: u64,
    hold: u32,
    last_step: u64,
    noise_floor: f64,
    decider: Option<AtsDecider>,
    /// Harvested rows (harvesting only).
    pub harvest: Option<AtsHarvest>,
    /// Counters.
    pub counters: AdaptiveCounters,
    /// Platelet seconds of engines already replaced.
    pub retired_platelet_seconds: f64,
    sample_every: u64,
}

impl Adaptive {
    /// Adaptive stepping of the platelets of `set` in `system`, from `step`; `decider` is the
    /// network (None: harvesting, which `cfg.harvest` must then ask for).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: AdaptiveConfig,
        set: &PlateletSet,
        system: &DpdSystem,
        step: u64,
        rest: &RestStress,
        decider: Option<AtsDecider>,
        scenario: &str,
        key: ModelKey,
        sample_every: u64,
    ) -> Self {
        let fine = set.params.mts.interface;
        let mut cold = system.clone();
        cold.kt = 0.0;
        // Stress errors are relative to the flow-induced stress the run accumulates, never below
        // the rest stress's thermal noise over one stress window (see `Adaptive::trial`).
        let noise_floor = rest.noise.max(1e-12);
        let segment_steps = cfg.segment * sample_every;
        let harvest = cfg.harvest.then(|| {
            AtsHarvest::new(adaptive::description(
                scenario,
                key,
                cfg.window,
                fine,
                cfg.coarse,
                segment_steps,
                cfg.tolerance,
                cfg.max_jump,
            ))
        });
        Self {
            cfg,
            fine,
            current: fine,
            base: set.clone(),
            system: system.clone(),
            cold,
            windows: vec![Window::new(cfg.window); set.count],
            samples: 0,
            hold: 0,
            last_step: step,
            noise_floor,
            decider,
            harvest,
            counters: AdaptiveCounters::default(),
            retired_platelet_seconds: 0.0,
            sample_every,
        }
    }

    /// The interface factor in force.
    pub fn current(&self) -> u32 {
        self.current
    }

    /// The coarse interface factor.
    pub fn coarse(&self) -> u32 {
        self.cfg.coarse
    }

    /// The adaptive-stepping state for a checkpoint (see [`AdaptiveState`]), as CBOR bytes.
    pub fn save(&self) -> Vec<u8> {
        let state = AdaptiveState {
            current: self.current,
            windows: self.windows.clone(),
            samples: self.samples,
            hold: self.hold,
            last_step: self.last_step,
            tracks: self.harvest.as_ref().map(|h| h.tracks.clone()),
            counters: AdaptiveCounters { seconds: 0.0, ..self.counters.clone() },
        };
        crate::checkpoint::to_cbor(&state)
    }

    /// Takes back what [`Adaptive::save`] wrote, refusing a state for another number of platelets
    /// or for another mode (harvesting or deciding).
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        let s = decode(bytes)?;
        if s.windows.len() != self.windows.len() || s.tracks.is_some() != self.harvest.is_some() {
            return Err(format!(
                "adaptive-stepping state for {} platelets ({}); this run has {} ({})",
                s.windows.len(),
                if s.tracks.is_some() { "harvesting" } else { "deciding" },
                self.windows.len(),
                if self.harvest.is_some() { "harvesting" } else { "deciding" }
            ));
        }
        self.current = s.current;
        self.windows = s.windows;
        self.samples = s.samples;
        self.hold = s.hold;
        self.last_step = s.last_step;
        if let (Some(h), Some(t)) = (self.harvest.as_mut(), s.tracks) {
            h.tracks = t;
        }
        self.counters = s.counters;
        Ok(())
    }

    /// The interface factor a checkpointed engine ran at ([`Adaptive::save`]'s bytes), so the
    /// resumed engine is opened with it before the state is restored.
    /// Only that field is built: windows and harvest are skipped, not decoded.
    pub fn saved_interface(bytes: &[u8]) -> Result<u32, String> {
        #[derive(Deserialize)]
        struct Current {
            current: u32,
        }
        let s: Current = crate::checkpoint::from_cbor(bytes, "adaptive-stepping state")?;
        Ok(s.current)
    }

    /// Seconds spent on platelets: the engines' platelet levels plus adaptive stepping's own work
    /// (trials, decisions, rebuilds), as a coupled run counts its coupling's work.
    pub fn platelet_seconds(&self, engine: &dyn Engine) -> f64 {
        self.retired_platelet_seconds + engine.platelet_seconds() + self.counters.seconds
    }

    /// One platelet sample: `ps` is the state the probe just sampled, `now` its measurement (in
    /// platelet order), `activated` the probe's activation flags. May replace `engine`.
    pub fn sample(
        &mut self,
        engine: &mut Box<dyn Engine>,
        probe: &PlateletProbe,
        ps: &PlateletState,
        now: &[PlateletSample],
        activated: &[bool],
    ) -> Result<(), RunError> {
        let step = engine.step();
        let steps = step - self.last_step;
        self.last_step = step;
        let count = self.base.count as u64;
        self.counters.substeps += steps * u64::from(self.current) * count;
        self.counters.reference_substeps += steps * u64::from(self.fine) * count;
        let n = self.base.per_platelet();
        let dt = f64::from(self.system.dt);
        for (p, s) in now.iter().enumerate() {
            let v = adaptive::velocity_variance(&ps.vel[p * n..(p + 1) * n]);
            self.windows[p].push(adaptive::features(s, dt, v));
        }
        self.samples += 1;
        if self.samples % self.cfg.segment != 0 {
            return Ok(());
        }
        let t = Instant::now();
        // The segment that just ended, at the factor it ran at.
        self.counters.segments += 1;
        if self.current != self.fine {
            self.counters.coarse_segments += 1;
        }
        if self.cfg.harvest {
            if self.windows.iter().all(Window::is_full) {
                self.trial(engine, probe, ps, activated, now)?;
            }
        } else if self.hold > 0 {
            self.hold -= 1;
        } else {
            let wanted = self.decide();
            if wanted != self.current {
                self.rebuild(engine, ps, activated, wanted)?;
            }
        }
        self.counters.seconds += t.elapsed().as_secs_f64();
        Ok(())
    }

    /// The factor for the next segments (setting the hold).
    fn decide(&mut self) -> u32 {
        let Some(d) = &self.decider else { return self.fine };
        if !self.windows.iter().all(Window::is_full) {
            return self.fine;
        }
        let windows: Vec<Vec<f64>> = self.windows.iter().map(Window::flat).collect();
        let decisions = d.decide(&windows);
        let coarse = decisions.iter().all(|d| d.coarse);
        let jump = decisions.iter().map(|d| d.jump).min().unwrap_or(1);
        self.hold = jump.saturating_sub(1);
        if coarse {
            self.cfg.coarse
        } else {
            self.fine
        }
    }

    /// The platelet set of `ps` at interface factor `interface`.
    fn set_at(&self, ps: &PlateletState, activated: &[bool], interface: u32) -> PlateletSet {
        let mut set = self.base.clone();
        set.pos.clone_from(&ps.pos);
        set.vel.clone_from(&ps.vel);
        set.params.mts.interface = interface;
        set.activated = self.base.activated.iter().zip(activated).map(|(a, b)| *a || *b).collect();
        set
    }

    fn rebuild(
        &mut self,
        engine: &mut Box<dyn Engine>,
        ps: &PlateletState,
        activated: &[bool],
        interface: u32,
    ) -> Result<(), RunError> {
        let step = engine.step();
        let plasma = engine.state()?;
        let set = self.set_at(ps, activated, interface);
        self.retired_platelet_seconds += engine.platelet_seconds();
        *engine = reopen(engine.as_mut(), &self.system, &plasma, step, Some(&set))?;
        engine.compute_forces()?;
        tracing::info!(step, from = self.current, to = interface, "adaptive stepping: interface factor switched");
        self.current = interface;
        self.counters.switches += 1;
        Ok(())
    }

    /// Runs the coming segment noise-free at both factors from the current state and records
    /// each platelet's window and error.
    fn trial(
        &mut self,
        engine: &mut Box<dyn Engine>,
        probe: &PlateletProbe,
        ps: &PlateletState,
        activated: &[bool],
        now: &[PlateletSample],
    ) -> Result<(), RunError> {
        let step = engine.step();
        let plasma = engine.state()?;
        let every = self.sample_every;
        let mut tracks = Vec::new();
        for interface in [self.fine, self.cfg.coarse] {
            let set = self.set_at(ps, activated, interface);
            let mut e = reopen(engine.as_mut(), &self.cold, &plasma, step, Some(&set))?;
            e.compute_forces()?;
            let mut stress = vec![[0.0; 6]; self.base.count];
            let mut last = Vec::new();
            for _ in 0..self.cfg.segment {
                e.run(every, 0)?;
                let s = e
                    .platelet_state()?
                    .ok_or_else(|| RunError::blowup(step, "adaptive stepping: a trial engine lost its platelets"))?;
                last = probe.measure(&s);
                for (acc, m) in stress.iter_mut().zip(&last) {
                    for (a, v) in acc.iter_mut().zip(m.mean_membrane_stress) {
                        *a += v / self.cfg.segment as f64;
                    }
                }
            }
            tracks.push(
                (0..self.base.count)
                    .map(|p| SegmentTrack {
                        start: now[p].normal.into(),
                        end: last[p].normal.into(),
                        stress: stress[p],
                    })
                    .collect::<Vec<_>>(),
            );
        }
        self.counters.trials += 1;
        // The scale of the stress error: the platelet's mean flow-induced stress so far (its stress
        // accumulation over the time run: what the 3 % of stress accumulation is 3 % of), at least
        // the thermal noise floor of one stress window (before the first window closes, the
        // accumulation is still 0).
        let elapsed = probe.units.time_to_s(step as f64 * f64::from(self.system.dt)).max(f64::MIN_POSITIVE);
        let scales: Vec<f64> = probe
            .stress_accumulations()
            .iter()
            .map(|sa| probe.units.stress_to_dpd(sa / elapsed).max(self.noise_floor))
            .collect();
        let h = self.harvest.as_mut().expect("harvesting");
        if h.tracks.len() < self.base.count {
            h.tracks.resize(self.base.count, Vec::new());
        }
        for (p, (fine, coarse)) in tracks[0].iter().zip(&tracks[1]).enumerate() {
            let e = segment_error(fine, coarse, scales[p], &self.cfg.tolerance);
            h.tracks[p].push((self.windows[p].flat(), e));
        }
        Ok(())
    }
}

fn decode(bytes: &[u8]) -> Result<AdaptiveState, String> {
    crate::checkpoint::from_cbor(bytes, "adaptive-stepping state")
}
