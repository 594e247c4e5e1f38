//! Platelets in a scenario: what to place ([`PlateletsConfig`], part of the DSL), what is
//! measured on them during a run ([`PlateletProbe`]: orientation, flipping, membrane stress, stress
//! accumulation and activation in physical units) and what is written for people to look at
//! (per-platelet CSV time series, membrane meshes for ParaView, a PNG histogram of stress
//! accumulation).
//!
//! ```
//! use glam::Quat;
//! use hemoscale::params::ParamValues;
//! use hemoscale::scenarios::{find, platelet_plasma::platelets_config};
//! use hemoscale::kernels::platelet_set::Placement;
//!
//! // The platelet of `shear-flip`'s keys, two of them side by side, at rest.
//! let sf = find("shear-flip").unwrap();
//! let mut cfg = platelets_config(&ParamValues::parse(&sf.params(), &[]).unwrap(), 20);
//! let at = |x: f32| Placement { center: [x, 6.0, 8.0], rotation: Quat::IDENTITY, velocity: [0.0; 3] };
//! cfg.placements = vec![at(4.0), at(12.0)];
//! let set = cfg.build_set(1_000_000).unwrap();
//! assert_eq!((set.count, set.len()), (2, 2 * set.per_platelet()));
//! // Ids start where asked: they key the platelets' pair noise.
//! assert_eq!(set.tag[0], 1_000_000);
//! // An agonist-activated platelet must be one that was placed.
//! cfg.agonist_activated = vec![5];
//! assert!(cfg.build_set(0).unwrap_err().to_string().contains("agonist_activated"));
//! ```

use std::path::{Path, PathBuf};

use glam::DVec3;
use hemoscale_kernels::activation::{Activation, ActivationModel};
use hemoscale_kernels::adhesion::Adhesion;
use hemoscale_kernels::platelet::{PlateletSpec, PlateletTemplate, Stiffness};
use hemoscale_kernels::platelet_observables::{sample_all, scalar_stress, PlateletSample, Sampler};
use hemoscale_kernels::platelet_set::{Placement, PlateletParams, PlateletSet, PlateletState};

use crate::output::{plot_profile, MeshFrame, MeshSeries, OutputError, Series, ThermoCsv};
use crate::units::Units;

/// Platelets of a scenario (all lengths in rc; [`Units`] converts what is reported).
#[derive(Clone, Debug, PartialEq)]
pub struct PlateletsConfig {
    /// Shape, resolution, mass and stiffness of every platelet.
    pub spec: PlateletSpec,
    /// Interactions and time-step levels.
    pub params: PlateletParams,
    /// Where they start.
    pub placements: Vec<Placement>,
    /// Plasma within this distance of a platelet's surface is removed when it is placed.
    pub carve_margin: f32,
    /// Activation model (stress in dyn/cm^2, time in s).
    pub activation: ActivationModel,
    /// A platelet counts as activated when its activation state reaches this.
    pub activation_threshold: f64,
    /// Physical units of the run.
    pub units: Units,
    /// Steps between platelet samples.
    pub sample_every: u64,
    /// Steps over which the membrane stress is averaged (thermal noise falls as the square root
    /// of the window).
    pub stress_window: u64,
    /// Steps of the rest-stress calibration run (0: none, nothing subtracted).
    pub calibration_steps: u64,
    /// Adhesion force field and adhesive wall patches (None: platelets do not adhere).
    pub adhesion: Option<Adhesion>,
    /// Platelets activated from the start (by an agonist), by placement index; the others
    /// activate when their stress-driven activation state reaches `activation_threshold`.
    pub agonist_activated: Vec<usize>,
    /// A learned reduced model stands in for the particles where the policy allows
    /// ([`crate::coupled`]); None: every platelet runs fine.
    pub coupling: Option<crate::coupled::CouplingConfig>,
    /// Adaptive time stepping of the fine platelets ([`crate::adaptive`]); None: the scenario's
    /// levels throughout.
    pub adaptive: Option<crate::adaptive::AdaptiveConfig>,
}

impl PlateletsConfig {
    /// The `stiffness` key's value in a plasma at `kt`: the springs relative to the default
    /// platelet's, which the platelet scenarios also scale with kT
    /// (`scenarios::platelet_plasma::platelets_config`).
    pub fn stiffness_key(&self, kt: f32) -> f64 {
        f64::from(self.spec.stiffness.membrane) / f64::from(Stiffness::DEFAULT.membrane * kt)
    }

    /// Builds the template and places the platelets (ids from `first_tag` on).
    pub fn build_set(&self, first_tag: u32) -> Result<PlateletSet, hemoscale_kernels::KernelError> {
        let t = PlateletTemplate::build(&self.spec)?;
        let mut set = PlateletSet::place(t, self.params, &self.placements, first_tag)?;
        set.adhesion = self.adhesion.clone();
        for &p in &self.agonist_activated {
            match set.activated.get_mut(p) {
                Some(a) => *a = true,
                None => {
                    return Err(hemoscale_kernels::KernelError::invalid(
                        "platelets.agonist_activated",
                        p,
                        format!("must name a placed platelet (0..{})", self.placements.len()),
                    ))
                }
            }
        }
        Ok(set)
    }
}

/// A platelet's stress at rest in the plasma (DPD units), as an axisymmetric tensor in its own
/// frame: `s_p (I - n n) + s_n n n` with `n` the disc normal.
///
/// Why it is needed: a platelet at rest in DPD plasma is not stress-free. The soft fluid presses
/// with its pressure (about 2 at the platelet scenarios' kT = 0.1) and, next to a surface, with an
/// anisotropic pressure (an interfacial tension); on a flat disc both leave a deviatoric stress
/// of order 1 in the membrane and in the traction stresslet, 30 to 60 times the stress a shear of
/// 2e5 1/s adds. The flow-induced stress, what activates platelets, is the measured stress minus
/// this rest stress turned with the platelet.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RestStress {
    /// Membrane virial: in-plane and normal components.
    pub membrane: [f64; 2],
    /// Traction stresslet: in-plane and normal components.
    pub traction: [f64; 2],
    /// Scalar of the membrane stress's thermal noise at rest over one stress window (DPD units):
    /// the noise floor of `max_membrane_stress` and of stress accumulation.
    pub noise: f64,
}

impl RestStress {
    /// The rest tensor `[in-plane, normal]` turned to normal `n` (xx, yy, zz, xy, xz, yz).
    pub fn tensor(c: [f64; 2], n: [f64; 3]) -> [f64; 6] {
        let (sp, sn) = (c[0], c[1]);
        let d = sn - sp;
        [
            sp + d * n[0] * n[0],
            sp + d * n[1] * n[1],
            sp + d * n[2] * n[2],
            d * n[0] * n[1],
            d * n[0] * n[2],
            d * n[1] * n[2],
        ]
    }
}

/// One sample of one platelet, in DPD units plus the continuous orientation angle.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrackPoint {
    /// Step.
    pub step: u64,
    /// Time (DPD units).
    pub time: f64,
    /// What was measured.
    pub sample: PlateletSample,
    /// Disc normal, its sign kept continuous from sample to sample.
    pub normal: [f64; 3],
    /// Angle of the normal in the x–z plane (flow–gradient plane of plane Couette flow),
    /// `atan2(n_x, n_z)`, unwrapped.
    pub phi: f64,
}

/// Samples every platelet every `every` steps and keeps the time series, the activation state and
/// the output files.
#[derive(Debug)]
pub struct PlateletProbe {
    /// Steps between samples.
    pub every: u64,
    /// Time step (DPD units).
    pub dt: f64,
    /// Unit mapping.
    pub units: Units,
    /// Activation model.
    pub model: ActivationModel,
    /// Activation threshold.
    pub threshold: f64,
    /// Rest volume of the template.
    pub rest_volume: f64,
    /// Per platelet, its samples in order.
    pub tracks: Vec<Vec<TrackPoint>>,
    /// Per platelet, its activation state.
    pub activation: Vec<Activation>,
    /// Steps over which the membrane stress is averaged before its scalar is taken.
    pub window: u64,
    /// The rest stress subtracted from the measured one.
    pub rest: RestStress,
    /// Per platelet, the flow-induced stress of each completed window: (time at the window's
    /// end, membrane scalar, traction scalar), DPD units.
    pub windows: Vec<Vec<(f64, f64, f64)>>,
    acc: Vec<([f64; 6], [f64; 6], DVec3)>,
    acc_steps: u64,
    window_start: u64,
    sampler: Sampler,
    template: PlateletTemplate,
    last_step: Option<u64>,
    files: Option<ProbeFiles>,
}

impl Clone for PlateletProbe {
    /// A copy of the measurements; the copy writes no files.
    fn clone(&self) -> Self {
        Self {
            every: self.every,
            dt: self.dt,
            units: self.units,
            model: self.model,
            threshold: self.threshold,
            rest_volume: self.rest_volume,
            tracks: self.tracks.clone(),
            activation: self.activation.clone(),
            window: self.window,
            rest: self.rest,
            windows: self.windows.clone(),
            acc: self.acc.clone(),
            acc_steps: self.acc_steps,
            window_start: self.window_start,
            sampler: self.sampler.clone(),
            template: self.template.clone(),
            last_step: self.last_step,
            files: None,
        }
    }
}

/// What [`PlateletProbe::save`] keeps.
#[derive(serde::Serialize, serde::Deserialize)]
struct ProbeState {
    tracks: Vec<Vec<TrackPoint>>,
    activation: Vec<Activation>,
    rest: RestStress,
    windows: Vec<Vec<(f64, f64, f64)>>,
    acc: Vec<([f64; 6], [f64; 6], [f64; 3])>,
    acc_steps: u64,
    window_start: u64,
    last_step: Option<u64>,
}

#[derive(Debug)]
struct ProbeFiles {
    dir: PathBuf,
    csv: ThermoCsv,
    meshes: MeshSeries,
    mesh_every: u64,
}

/// Columns of `platelets.csv`.
pub const PLATELET_COLUMNS: [&str; 17] = [
    "step",
    "time_s",
    "platelet",
    "x_um",
    "y_um",
    "z_um",
    "normal_x",
    "normal_y",
    "normal_z",
    "phi_rad",
    "omega_y_per_s",
    "stress_dyn_cm2",
    "traction_stress_dyn_cm2",
    "stress_accumulation_dyn_s_cm2",
    "activation",
    "volume_change",
    "shape_ratio",
];

impl PlateletProbe {
    /// A probe for the platelets of `cfg` built from `template`, in a run with time step `dt`.
    pub fn new(cfg: &PlateletsConfig, template: &PlateletTemplate, count: usize, dt: f64) -> Self {
        Self {
            every: cfg.sample_every.max(1),
            dt,
            units: cfg.units,
            model: cfg.activation,
            threshold: cfg.activation_threshold,
            rest_volume: f64::from(template.volume),
            tracks: vec![Vec::new(); count],
            activation: vec![Activation::default(); count],
            window: cfg.stress_window.max(1),
            rest: RestStress::default(),
            windows: vec![Vec::new(); count],
            acc: vec![([0.0; 6], [0.0; 6], DVec3::ZERO); count],
            acc_steps: 0,
            window_start: 0,
            sampler: Sampler::new(template),
            template: template.clone(),
            last_step: None,
            files: None,
        }
    }

    /// Writes `platelets.csv` and membrane meshes (every `mesh_every` steps, 0: never) into `dir`;
    /// for a run resumed at step `resume`, keeps what was written up to that step and appends.
    pub fn write_to(&mut self, dir: &Path, mesh_every: u64, resume: Option<u64>) -> Result<(), OutputError> {
        std::fs::create_dir_all(dir).map_err(|e| OutputError::io(dir, e))?;
        let (csv, meshes) = match resume {
            Some(step) => (
                ThermoCsv::resume(dir.join("platelets.csv"), &PLATELET_COLUMNS, step)?,
                MeshSeries::resume(dir.join("platelets"), "membrane", step)?,
            ),
            None => (
                ThermoCsv::create(dir.join("platelets.csv"), &PLATELET_COLUMNS)?,
                MeshSeries::create(dir.join("platelets"), "membrane")?,
            ),
        };
        self.files = Some(ProbeFiles { dir: dir.to_path_buf(), csv, meshes, mesh_every });
        Ok(())
    }

    /// The measurements so far, for a checkpoint ([`restore`](Self::restore) reads them back
    /// into a probe of the same platelets): tracks, activation, the rest stress, the stress
    /// windows and the running window's sums.
    pub fn save(&self) -> serde_json::Value {
        let state = ProbeState {
            tracks: self.tracks.clone(),
            activation: self.activation.clone(),
            rest: self.rest,
            windows: self.windows.clone(),
            acc: self.acc.iter().map(|(m, t, n)| (*m, *t, n.to_array())).collect(),
            acc_steps: self.acc_steps,
            window_start: self.window_start,
            last_step: self.last_step,
        };
        serde_json::to_value(state).expect("plain data")
    }

    /// Reads back what [`save`](Self::save) wrote.
    pub fn restore(&mut self, v: &serde_json::Value) -> Result<(), String> {
        let s: ProbeState = serde_json::from_value(v.clone()).map_err(|e| format!("platelet probe: {e}"))?;
        let n = self.tracks.len();
        if [s.tracks.len(), s.activation.len(), s.windows.len(), s.acc.len()].iter().any(|&l| l != n) {
            return Err(format!("platelet probe: saved for {} platelets, the run has {n}", s.tracks.len()));
        }
        (self.tracks, self.activation, self.rest, self.windows) = (s.tracks, s.activation, s.rest, s.windows);
        self.acc = s.acc.into_iter().map(|(m, t, v)| (m, t, DVec3::from_array(v))).collect();
        (self.acc_steps, self.window_start, self.last_step) = (s.acc_steps, s.window_start, s.last_step);
        Ok(())
    }

    /// Whether the probe samples at `step`.
    pub fn due(&self, step: u64) -> bool {
        step % self.every == 0
    }

    /// Measures every platelet of `state` ([`PlateletSample`]s, in the engine's order).
    pub fn measure(&self, state: &PlateletState) -> Vec<PlateletSample> {
        sample_all(&self.sampler, state)
    }

    /// The rest volume's gyration radii of the template (largest first): the shape a reduced
    /// platelet reports.
    pub fn rest_sample(&self) -> PlateletSample {
        let n = self.template.len();
        let state = PlateletState {
            pos: self.template.pos.clone(),
            vel: vec![[0.0; 3]; n],
            interface_force: vec![[0.0; 3]; n],
            ..PlateletState::default()
        };
        sample_all(&self.sampler, &state)[0]
    }

    /// Records one sample of every platelet (`samples` in platelet order, stresses averaged over
    /// `stress_steps` steps) at `step`: orientation every sample; the membrane stress is summed until
    /// a window of `window` steps is complete, then its rest part is removed, its scalar taken, and
    /// the activation advanced. `state`, when it holds every
    /// platelet's particles, also gives the membrane meshes.
    pub fn record(
        &mut self,
        step: u64,
        samples: &[PlateletSample],
        stress_steps: u64,
        state: Option<&PlateletState>,
    ) -> Result<(), OutputError> {
        self.last_step = Some(step);
        let time = step as f64 * self.dt;
        let w = stress_steps as f64;
        for (p, s) in samples.iter().enumerate() {
            let track = &mut self.tracks[p];
            let mut n = DVec3::from(s.normal);
            let phi = match track.last() {
                Some(prev) => {
                    if n.dot(DVec3::from(prev.normal)) < 0.0 {
                        n = -n;
                    }
                    let raw = n.x.atan2(n.z);
                    let mut d = raw - prev.phi.rem_euclid(std::f64::consts::TAU);
                    d -= std::f64::consts::TAU * (d / std::f64::consts::TAU).round();
                    prev.phi + d
                }
                None => {
                    // Start with the normal in the upper half (n_z >= 0).
                    if n.z < 0.0 {
                        n = -n;
                    }
                    n.x.atan2(n.z)
                }
            };
            track.push(TrackPoint { step, time, sample: *s, normal: n.into(), phi });
            let a = &mut self.acc[p];
            for k in 0..6 {
                a.0[k] += w * s.mean_membrane_stress[k];
                a.1[k] += w * s.mean_traction_stress[k];
            }
            // The rest tensor is even in n: average n n^T's principal axis via the sign-fixed n.
            a.2 += w * n;
        }
        self.acc_steps += stress_steps;
        if step >= self.window_start + self.window && self.acc_steps > 0 {
            self.close_window(step);
        }
        let u = self.units;
        if let Some(f) = self.files.as_mut() {
            for (p, s) in samples.iter().enumerate() {
                let t = self.tracks[p].last().expect("just pushed");
                let a = &self.activation[p];
                let (sm, st) = self.windows[p].last().map_or((f64::NAN, f64::NAN), |w| (w.1, w.2));
                f.csv.write_row(&[
                    step as f64,
                    u.time_to_s(time),
                    p as f64,
                    u.length_to_um(s.center[0]),
                    u.length_to_um(s.center[1]),
                    u.length_to_um(s.center[2]),
                    t.normal[0],
                    t.normal[1],
                    t.normal[2],
                    t.phi,
                    u.rate_to_si(s.omega[1]),
                    u.stress_to_dyn_cm2(sm),
                    u.stress_to_dyn_cm2(st),
                    a.stress_accumulation,
                    a.level(&self.model),
                    s.volume / self.rest_volume - 1.0,
                    s.shape_ratio(),
                ])?;
            }
            let whole = state.filter(|s| s.pos.len() == self.template.len() * self.tracks.len());
            if let (Some(state), true) = (whole, f.mesh_every > 0 && step % f.mesh_every == 0) {
                write_meshes(&mut f.meshes, &self.template, step, u.time_to_s(time), state)?;
            }
        }
        Ok(())
    }

    /// Ends the current stress window at `step`.
    fn close_window(&mut self, step: u64) {
        let n_steps = self.acc_steps as f64;
        let seconds = self.units.time_to_s((step - self.window_start) as f64 * self.dt);
        for p in 0..self.acc.len() {
            let (m, t, nsum) = self.acc[p];
            let n: [f64; 3] = nsum.normalize_or(DVec3::Z).into();
            let rm = RestStress::tensor(self.rest.membrane, n);
            let rt = RestStress::tensor(self.rest.traction, n);
            let fm: [f64; 6] = std::array::from_fn(|k| m[k] / n_steps - rm[k]);
            let ft: [f64; 6] = std::array::from_fn(|k| t[k] / n_steps - rt[k]);
            let (sm, st) = (scalar_stress(&fm), scalar_stress(&ft));
            self.windows[p].push((step as f64 * self.dt, sm, st));
            self.activation[p].advance(&self.model, self.units.stress_to_dyn_cm2(sm), seconds);
            self.acc[p] = ([0.0; 6], [0.0; 6], DVec3::ZERO);
        }
        self.acc_steps = 0;
        self.window_start = step;
    }

    /// Particles in each platelet.
    pub fn particles_per_platelet(&self) -> usize {
        self.template.len()
    }

    /// Number of platelets.
    pub fn count(&self) -> usize {
        self.tracks.len()
    }

    /// Largest relative change of any platelet's enclosed volume over the run.
    pub fn volume_change(&self) -> f64 {
        self.tracks.iter().flatten().map(|t| (t.sample.volume / self.rest_volume - 1.0).abs()).fold(0.0, f64::max)
    }

    /// Largest scalar membrane stress (dyn/cm^2) any platelet showed.
    pub fn max_stress(&self) -> f64 {
        self.activation.iter().map(|a| a.max_stress).fold(0.0, f64::max)
    }

    /// Largest scalar of the traction stresslet (the plasma's stress on the membrane, without
    /// the platelet's internal spring forces) over all windows and platelets (dyn/cm^2).
    pub fn max_traction_stress(&self) -> f64 {
        let m = self.windows.iter().flatten().map(|w| w.2).fold(0.0, f64::max);
        self.units.stress_to_dyn_cm2(m)
    }

    /// Stress accumulation of each platelet (dyn s/cm^2).
    pub fn stress_accumulations(&self) -> Vec<f64> {
        self.activation.iter().map(|a| a.stress_accumulation).collect()
    }

    /// Whether each platelet's stress-driven activation state reached the threshold.
    pub fn activated_flags(&self) -> Vec<bool> {
        self.activation.iter().map(|a| a.level(&self.model) >= self.threshold).collect()
    }

    /// Fraction of platelets whose activation reached the threshold.
    pub fn activated_fraction(&self) -> f64 {
        let n = self.activation.iter().filter(|a| a.level(&self.model) >= self.threshold).count();
        n as f64 / self.count().max(1) as f64
    }

    /// Writes the stress-accumulation histogram (PNG) into the output folder, if any.
    pub fn finish(&mut self) -> Result<Option<PathBuf>, OutputError> {
        let sa = self.stress_accumulations();
        let Some(f) = self.files.as_mut() else { return Ok(None) };
        f.csv.sync()?;
        let path = f.dir.join("stress_accumulation_histogram.png");
        plot_histogram(&path, &sa)?;
        Ok(Some(path))
    }
}

/// Measures the rest stress of the platelets of `cfg` ([`RestStress`]): one platelet, normal
/// along z, in a periodic box of the scenario's plasma at rest (edge: diameter + 4 rc), settled
/// for 500 steps, then averaged over `cfg.calibration_steps` steps in ten windows. The mean
/// scalar of the window averages about their mean, scaled by `sqrt(window / stress_window)`, is
/// the noise floor of one stress window.
pub fn calibrate_rest_stress(
    scenario: &crate::dsl::Scenario,
    cfg: &PlateletsConfig,
) -> Result<RestStress, hemoscale_kernels::KernelError> {
    use hemoscale_kernels::{init, CpuEngine, Engine, SimBox};
    let edge = cfg.spec.diameter + 4.0;
    let mut sys = scenario.system();
    sys.sim_box = SimBox::cubic(edge);
    sys.body_force = [0.0; 3];
    sys.body_force_reversed = false;
    let n = (scenario.density * f64::from(edge).powi(3)).round() as usize;
    let st = init::random_fluid(&sys, n);
    let mut e = CpuEngine::new(&sys, &st, 0)?;
    e.compute_forces()?;
    let _ = e.run(300, 0)?;
    let st = e.state()?;
    let mut one = cfg.clone();
    one.placements = vec![Placement { center: [0.5 * edge; 3], rotation: glam::Quat::IDENTITY, velocity: [0.0; 3] }];
    // Alone in a periodic box: nothing to adhere to.
    one.adhesion = None;
    one.agonist_activated.clear();
    let first = st.tag.iter().copied().max().map_or(0, |t| t + 1);
    let set = one.build_set(first)?;
    let (st, _) = set.carve(&st, &sys, one.carve_margin);
    let mut e = CpuEngine::with_platelets(&sys, &st, 0, &set)?;
    e.compute_forces()?;
    let _ = e.run(500, 0)?;
    let _ = e.platelet_state()?;
    let count = 10u64;
    let window = (cfg.calibration_steps / count).max(1);
    let mut means: Vec<([f64; 6], [f64; 6])> = Vec::new();
    for _ in 0..count {
        let _ = e.run(window, 0)?;
        let ps = e.platelet_state()?.unwrap_or_default();
        if let (Some(m), Some(t)) = (ps.mean_membrane_stress.first(), ps.mean_traction_stress.first()) {
            means.push((*m, *t));
        }
    }
    let k = means.len().max(1) as f64;
    let (mut m, mut t) = ([0.0f64; 6], [0.0f64; 6]);
    for (a, b) in &means {
        for j in 0..6 {
            m[j] += a[j] / k;
            t[j] += b[j] / k;
        }
    }
    let noise = means.iter().map(|x| scalar_stress(&std::array::from_fn(|j| x.0[j] - m[j]))).sum::<f64>() / k
        * (window as f64 / cfg.stress_window.max(1) as f64).sqrt();
    Ok(RestStress { membrane: [0.5 * (m[0] + m[1]), m[2]], traction: [0.5 * (t[0] + t[1]), t[2]], noise })
}

/// Writes the outer membranes of all platelets as one mesh frame.
fn write_meshes(
    meshes: &mut MeshSeries,
    t: &PlateletTemplate,
    step: u64,
    time: f64,
    state: &PlateletState,
) -> Result<(), OutputError> {
    let per = t.len();
    let nv = t.outer_vertices();
    let count = state.pos.len() / per.max(1);
    let mut points = Vec::with_capacity(nv * count);
    let mut ids = Vec::with_capacity(nv * count);
    let mut tris = Vec::with_capacity(t.triangles.len() * count);
    for p in 0..count {
        let base = points.len() as u32;
        points.extend_from_slice(&state.pos[p * per..p * per + nv]);
        ids.extend(std::iter::repeat_n(p as u32, nv));
        tris.extend(t.triangles.iter().map(|tr| tr.map(|k| k + base)));
    }
    let frame = MeshFrame {
        step,
        time,
        points: &points,
        triangles: &tris,
        point_ids: &[("platelet", &ids)],
        point_values: &[],
    };
    let _ = meshes.write_frame(&frame)?;
    Ok(())
}

/// A histogram of `values` as a step outline, 10 bins or fewer.
pub fn plot_histogram(path: &Path, values: &[f64]) -> Result<(), OutputError> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return Err(OutputError::data(path, "no finite stress accumulation to plot"));
    }
    let (lo, hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let bins = finite.len().clamp(1, 10);
    let width = if hi > lo { (hi - lo) / bins as f64 } else { lo.abs().max(1e-12) * 0.1 };
    let mut counts = vec![0usize; bins];
    for v in &finite {
        let k = (((v - lo) / width) as usize).min(bins - 1);
        counts[k] += 1;
    }
    let mut pts = vec![(lo, 0.0)];
    for (k, &c) in counts.iter().enumerate() {
        let (a, b) = (lo + k as f64 * width, lo + (k + 1) as f64 * width);
        pts.extend([(a, c as f64), (b, c as f64)]);
    }
    pts.push((lo + bins as f64 * width, 0.0));
    plot_profile(
        path,
        &format!("stress accumulation over {} platelets", finite.len()),
        "stress accumulation (dyn s/cm^2)",
        "platelets",
        &[Series::line("", pts)],
    )
}

/// Jeffery's orbit fitted to a platelet's tumbling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JefferyFit {
    /// Orbit period (the normal turns through 2 pi: two flips), DPD time units.
    pub period: f64,
    /// Effective aspect ratio from the orbit's shape.
    pub aspect_ratio: f64,
    /// Root-mean-square residual of the phase (rad).
    pub rms: f64,
}

/// Fits Jeffery's orbit `tan phi = r tan(2 pi (t - t0) / T)` to unwrapped angles `phi(t)`.
///
/// For a trial `r`, the phase `psi = atan2(sin phi / r, cos phi)` (unwrapped) of a true Jeffery
/// orbit grows linearly in time; the slope gives `T = 2 pi / slope` and the straightness of the
/// line tells how well `r` describes the orbit's uneven rotation (slow when the disc lies in the
/// flow, fast when it turns over). `r` is chosen by golden-section search on the residual, so
/// `r` and `T` are measured independently and Jeffery's relation between them,
/// `T = 2 pi (r + 1/r) / shear_rate`, is a test of the hydrodynamics.
pub fn jeffery_fit(points: &[(f64, f64)]) -> Option<JefferyFit> {
    if points.len() < 8 {
        return None;
    }
    let line = |r: f64| -> (f64, f64) {
        let mut prev: Option<f64> = None;
        let mut psi = Vec::with_capacity(points.len());
        for &(_, phi) in points {
            let raw = (phi.sin() / r).atan2(phi.cos());
            let v = match prev {
                Some(p) => {
                    let d = raw - p.rem_euclid(std::f64::consts::TAU);
                    p + d - std::f64::consts::TAU * (d / std::f64::consts::TAU).round()
                }
                None => raw,
            };
            prev = Some(v);
            psi.push(v);
        }
        let n = points.len() as f64;
        let mt = points.iter().map(|p| p.0).sum::<f64>() / n;
        let mp = psi.iter().sum::<f64>() / n;
        let sxx: f64 = points.iter().map(|p| (p.0 - mt).powi(2)).sum();
        let sxy: f64 = points.iter().zip(&psi).map(|(p, q)| (p.0 - mt) * (q - mp)).sum();
        let slope = sxy / sxx;
        let rss: f64 = points.iter().zip(&psi).map(|(p, q)| (q - mp - slope * (p.0 - mt)).powi(2)).sum();
        (slope, (rss / n).sqrt())
    };
    let (mut a, mut b) = (0.03f64, 1.0f64);
    let g = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..60 {
        let (c, d) = (b - g * (b - a), a + g * (b - a));
        if line(c).1 < line(d).1 {
            b = d;
        } else {
            a = c;
        }
    }
    let r = 0.5 * (a + b);
    let (slope, rms) = line(r);
    if !(slope.is_finite() && slope != 0.0) {
        return None;
    }
    Some(JefferyFit { period: std::f64::consts::TAU / slope.abs(), aspect_ratio: r, rms })
}

/// Jeffery's period `2 pi (r + 1/r) / shear_rate`.
pub fn jeffery_period(aspect_ratio: f64, shear_rate: f64) -> f64 {
    std::f64::consts::TAU * (aspect_ratio + 1.0 / aspect_ratio) / shear_rate
}

/// Flips completed: times the unwrapped angle crossed `pi/2 + k pi` (the disc turning over).
pub fn flips(phis: &[f64]) -> u64 {
    let (Some(first), Some(last)) = (phis.first(), phis.last()) else { return 0 };
    let k = |p: f64| ((p - std::f64::consts::FRAC_PI_2) / std::f64::consts::PI).floor();
    (k(*last) - k(*first)).abs() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic Jeffery orbit gives back its period and aspect ratio.
    #[test]
    fn jeffery_fit_recovers_a_known_orbit() {
        let (r, shear) = (0.3f64, 0.05f64);
        let t_orbit = jeffery_period(r, shear);
        let pts: Vec<(f64, f64)> = (0..400)
            .map(|i| {
                let t = i as f64 * 1.1 * t_orbit / 400.0;
                let psi = std::f64::consts::TAU * t / t_orbit + 0.4;
                (t, (r * psi.sin()).atan2(psi.cos()))
            })
            .collect();
        // Unwrap the angles as the probe does.
        let mut phis: Vec<f64> = Vec::new();
        for &(_, p) in &pts {
            let v = match phis.last() {
                Some(&q) => {
                    let d = p - q.rem_euclid(std::f64::consts::TAU);
                    q + d - std::f64::consts::TAU * (d / std::f64::consts::TAU).round()
                }
                None => p,
            };
            phis.push(v);
        }
        let un: Vec<(f64, f64)> = pts.iter().zip(&phis).map(|(a, &p)| (a.0, p)).collect();
        let f = jeffery_fit(&un).expect("fit");
        assert!((f.period / t_orbit - 1.0).abs() < 1e-3, "{f:?} vs {t_orbit}");
        assert!((f.aspect_ratio - r).abs() < 1e-3, "{f:?}");
        assert_eq!(flips(&phis), 2);
    }
}
