//! Thermodynamic observables from a few global sums: total momentum, the kinetic tensor
//! `K_ab = sum_i m v_a v_b` and the pair virial `W_ab = sum_{pairs} r_a F_b` (all three DPD forces,
//! as LAMMPS counts them). Engines reduce these sums (the GPU on the device) and the formulas below
//! turn them into temperature and pressure; component order of tensors is xx, yy, zz, xy, xz, yz.
//!
//! ```
//! use hemoscale_kernels::{init, CpuEngine, DpdSystem, Engine, SimBox};
//!
//! let system = DpdSystem::standard(SimBox::cubic(4.0), 3);
//! let mut engine = CpuEngine::new(&system, &init::random_fluid(&system, 192), 0)?;
//! engine.compute_forces()?;
//! let o = engine.observables()?;
//! // The initial conditions set kT = 1 over 3N - 3 degrees of freedom.
//! assert_eq!(o.dof(), 3.0 * 192.0 - 3.0);
//! assert!((o.temperature() - 1.0).abs() < 1e-4);
//! // The scalar pressure is a third of the trace of the pressure tensor.
//! let trace: f64 = o.pressure_tensor()[..3].iter().sum();
//! assert!((o.pressure() - trace / 3.0).abs() < 1e-9 * trace);
//! // Mostly the soft repulsion: uncorrelated positions at density 3 give about 27 (mean
//! // field), the equilibrated fluid 24.
//! assert!((15.0..40.0).contains(&o.pressure()), "{}", o.pressure());
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

/// Raw sums from which every observable follows, taken after a completed step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Observables {
    /// Step the sums belong to.
    pub step: u64,
    /// Number of particles.
    pub n: usize,
    /// Box volume.
    pub volume: f64,
    /// Total momentum.
    pub momentum: [f64; 3],
    /// Kinetic tensor sum_i m v_a v_b.
    pub kinetic: [f64; 6],
    /// Pair virial sum_{i<j} r_ij,a F_ij,b (body forces excluded).
    pub virial: [f64; 6],
}

impl Observables {
    /// Degrees of freedom: 3N - 3, the momentum being conserved (LAMMPS's thermo temperature).
    pub fn dof(&self) -> f64 {
        (3 * self.n).saturating_sub(3).max(1) as f64
    }
    /// Kinetic energy.
    pub fn kinetic_energy(&self) -> f64 {
        0.5 * (self.kinetic[0] + self.kinetic[1] + self.kinetic[2])
    }
    /// Temperature kT = 2 KE / dof.
    pub fn temperature(&self) -> f64 {
        2.0 * self.kinetic_energy() / self.dof()
    }
    /// Scalar pressure p = (2 KE + tr W) / (3 V), kinetic part taken with the 3N - 3 temperature as
    /// in LAMMPS's `compute pressure`.
    pub fn pressure(&self) -> f64 {
        (self.dof() * self.temperature() + self.virial[0] + self.virial[1] + self.virial[2]) / (3.0 * self.volume)
    }
    /// Pressure tensor P_ab = (K_ab + W_ab) / V.
    pub fn pressure_tensor(&self) -> [f64; 6] {
        std::array::from_fn(|k| (self.kinetic[k] + self.virial[k]) / self.volume)
    }
    /// |total momentum| / N.
    pub fn momentum_per_particle(&self) -> f64 {
        self.momentum.iter().map(|p| p * p).sum::<f64>().sqrt() / self.n.max(1) as f64
    }
    /// True when every sum is finite (a blown-up run is not).
    pub fn is_finite(&self) -> bool {
        self.momentum.iter().chain(&self.kinetic).chain(&self.virial).all(|v| v.is_finite())
    }
}

/// Number of f32 words one reduction record holds (GPU partial sums): momentum (3), kinetic (6),
/// virial (6), one pad.
pub const SUM_WORDS: usize = 16;

/// Builds observables from summed records laid out as [`SUM_WORDS`] words.
pub fn from_sums(step: u64, n: usize, volume: f64, sums: &[f64; SUM_WORDS]) -> Observables {
    Observables {
        step,
        n,
        volume,
        momentum: [sums[0], sums[1], sums[2]],
        kinetic: std::array::from_fn(|k| sums[3 + k]),
        virial: std::array::from_fn(|k| sums[9 + k]),
    }
}
