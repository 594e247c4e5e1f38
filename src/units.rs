//! Physical units of a DPD run: how reduced lengths, masses and times map to micrometres, kilograms
//! and seconds, set from the plasma's properties.
//!
//! Three base units fix every other one. hemoscale chooses them so that what activates platelets
//! comes out right, stress and exposure time:
//!
//! - **length** `L`: the cut-off rc in micrometres (for platelets, set from the platelet's diameter
//!   in µm and its diameter in rc, which the resolution decides);
//! - **mass** `M`: from the plasma's mass density, `M = rho_phys L^3 / n`, with `n` the DPD number
//!   density;
//! - **time** `T`: from the plasma's viscosity. The DPD fluid's own viscosity `eta_dpd` (a measured
//!   property of the parameter set: 0.853 for the standard fluid, `tests/dpd_physics.rs`) must map
//!   to the plasma's: `eta_phys = eta_dpd M / (L T)`, so `T = eta_dpd M / (L eta_phys)`.
//!
//! Density, viscosity and size matched, the Reynolds number of a flow is the same in both unit
//! systems, and stresses (`M / (L T^2)`) and times are physical: shear stress in dyn/cm^2 and
//! exposure in seconds are what the activation models ([`hemoscale_kernels::activation`]) take.
//! What cannot be matched as well is the temperature: `kT = 1` in DPD units is an energy of
//! `M L^2 / T^2`, far above `k_B 310 K` (see [`Units::effective_temperature`]). Thermal motion of
//! a platelet is therefore exaggerated; the rotational Péclet number of a run, printed with it,
//! says by how much it matters.
//!
//! ```
//! use hemoscale::units::{Plasma, Units};
//!
//! // rc = 0.6 µm (a 3.6 µm platelet 6 rc across), human plasma, the standard DPD fluid.
//! let u = Units::from_plasma(0.6, 3.0, 0.853, &Plasma::HUMAN);
//! let shear_rate = u.rate_to_dpd(1.0e5); // 1e5 1/s in DPD units
//! assert!((u.rate_to_si(shear_rate) - 1.0e5).abs() < 1e-6);
//! // Plasma viscosity times that shear rate is 120 Pa, 1200 dyn/cm^2:
//! let stress = 0.853 * shear_rate;
//! assert!((u.stress_to_dyn_cm2(stress) - 1200.0).abs() < 1e-6);
//! ```

use serde::Serialize;

/// Boltzmann's constant (J/K).
pub const K_BOLTZMANN: f64 = 1.380_649e-23;
/// One pascal in dyn/cm^2.
pub const DYN_CM2_PER_PA: f64 = 10.0;

/// Physical properties of the suspending plasma.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Plasma {
    /// Mass density (kg/m^3).
    pub density: f64,
    /// Dynamic viscosity (Pa s).
    pub viscosity: f64,
    /// Temperature (K).
    pub temperature: f64,
}

impl Plasma {
    /// Human blood plasma at body temperature: 1025 kg/m^3, 1.2 mPa s, 310 K (textbook values;
    /// plasma viscosity is 1.1 to 1.3 mPa s).
    pub const HUMAN: Self = Self { density: 1025.0, viscosity: 1.2e-3, temperature: 310.0 };
}

/// The mapping from DPD reduced units to SI.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Units {
    /// Length unit (m): one rc.
    pub length: f64,
    /// Mass unit (kg): one plasma particle.
    pub mass: f64,
    /// Time unit (s).
    pub time: f64,
    /// The plasma the units were set from.
    pub plasma: Plasma,
}

impl Units {
    /// Units with rc = `rc_um` micrometres, for a DPD plasma of number density `number_density`
    /// (per rc^3, particle mass 1) whose measured viscosity is `dpd_viscosity` (DPD units), matched
    /// to `plasma`.
    pub fn from_plasma(rc_um: f64, number_density: f64, dpd_viscosity: f64, plasma: &Plasma) -> Self {
        let length = rc_um * 1e-6;
        let mass = plasma.density * length.powi(3) / number_density;
        let time = dpd_viscosity * mass / (length * plasma.viscosity);
        Self { length, mass, time, plasma: *plasma }
    }

    /// Micrometres per rc.
    pub fn length_um(&self) -> f64 {
        self.length * 1e6
    }
    /// A length in rc to micrometres.
    pub fn length_to_um(&self, l: f64) -> f64 {
        l * self.length_um()
    }
    /// A length in micrometres to rc.
    pub fn length_to_dpd(&self, um: f64) -> f64 {
        um / self.length_um()
    }
    /// A time in DPD units to seconds.
    pub fn time_to_s(&self, t: f64) -> f64 {
        t * self.time
    }
    /// A time in seconds to DPD units.
    pub fn time_to_dpd(&self, s: f64) -> f64 {
        s / self.time
    }
    /// The body force per particle (DPD units) that stands for a pressure gradient of
    /// `pa_per_m` (Pa/m, the drop along the flow) in a fluid of `number_density` particles per
    /// rc^3: each particle carries the force on the volume it stands for, `G L^3 / n`.
    pub fn pressure_gradient_to_body_force(&self, pa_per_m: f64, number_density: f64) -> f64 {
        let newtons = pa_per_m * self.length.powi(3) / number_density;
        newtons / (self.mass * self.length / (self.time * self.time))
    }
    /// A rate (1/s) to DPD units.
    pub fn rate_to_dpd(&self, per_s: f64) -> f64 {
        per_s * self.time
    }
    /// A rate in DPD units to 1/s.
    pub fn rate_to_si(&self, r: f64) -> f64 {
        r / self.time
    }
    /// Stress unit (Pa).
    pub fn stress_pa(&self) -> f64 {
        self.mass / (self.length * self.time * self.time)
    }
    /// A stress in DPD units to dyn/cm^2.
    pub fn stress_to_dyn_cm2(&self, s: f64) -> f64 {
        s * self.stress_pa() * DYN_CM2_PER_PA
    }
    /// A stress in dyn/cm^2 to DPD units.
    pub fn stress_to_dpd(&self, dyn_cm2: f64) -> f64 {
        dyn_cm2 / (self.stress_pa() * DYN_CM2_PER_PA)
    }
    /// Energy unit (J).
    pub fn energy_j(&self) -> f64 {
        self.mass * self.length * self.length / (self.time * self.time)
    }
    /// The temperature (K) that `kT = 1` of the DPD fluid stands for: how far thermal motion is
    /// exaggerated against the plasma's own temperature.
    pub fn effective_temperature(&self, kt: f64) -> f64 {
        kt * self.energy_j() / K_BOLTZMANN
    }
    /// A force in DPD units to piconewtons.
    pub fn force_to_pn(&self, f: f64) -> f64 {
        f * self.energy_j() / self.length * 1e12
    }
    /// A force in piconewtons to DPD units.
    pub fn force_to_dpd(&self, pn: f64) -> f64 {
        pn / self.force_to_pn(1.0)
    }
    /// A velocity in DPD units to µm/s.
    pub fn velocity_to_um_s(&self, v: f64) -> f64 {
        v * self.length_um() / self.time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plane Poiseuille flow's centre speed `G h^2 / (8 eta)` comes out the same computed in SI
    /// and in DPD units with the converted body force (`f n h^2 / (8 eta_dpd)`).
    #[test]
    fn a_pressure_gradient_drives_the_same_flow_in_both_unit_systems() {
        let (n, eta_dpd) = (3.0, 0.853);
        let u = Units::from_plasma(0.6, n, eta_dpd, &Plasma::HUMAN);
        let (g, h_um) = (1.0e6, 30.0); // 1 MPa/m, a 30 µm gap
        let f = u.pressure_gradient_to_body_force(g, n);
        let h = u.length_to_dpd(h_um);
        let si = g * (h_um * 1e-6).powi(2) / (8.0 * Plasma::HUMAN.viscosity) * 1e6; // µm/s
        let dpd = u.velocity_to_um_s(f * n * h * h / (8.0 * eta_dpd));
        assert!((dpd / si - 1.0).abs() < 1e-12, "{dpd} against {si} µm/s");
        assert!((u.time_to_dpd(u.time_to_s(3.5)) - 3.5).abs() < 1e-12);
    }

    /// Viscosity in SI recovered from the units equals the plasma's; stress, rate and time are
    /// consistent (stress = viscosity x rate in both systems).
    #[test]
    fn matched_properties_come_back() {
        let p = Plasma::HUMAN;
        let u = Units::from_plasma(0.6, 3.0, 0.853, &p);
        let eta_si = 0.853 * u.mass / (u.length * u.time);
        assert!((eta_si / p.viscosity - 1.0).abs() < 1e-12);
        let rho_si = 3.0 * u.mass / u.length.powi(3);
        assert!((rho_si / p.density - 1.0).abs() < 1e-12);
        let rate = 0.07;
        let tau_dpd = 0.853 * rate;
        let tau_pa = p.viscosity * u.rate_to_si(rate);
        assert!((u.stress_to_dyn_cm2(tau_dpd) / (10.0 * tau_pa) - 1.0).abs() < 1e-12);
        assert!((u.stress_to_dpd(u.stress_to_dyn_cm2(1.7)) - 1.7).abs() < 1e-12);
        // The standard fluid with rc = 0.6 µm: the time unit is 87 ns.
        assert!((u.time / 8.72e-8 - 1.0).abs() < 0.01, "{}", u.time);
        // And kT = 1 stands for a temperature far above 310 K.
        assert!(u.effective_temperature(1.0) > 1e5);
    }
}
