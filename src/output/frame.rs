//! One snapshot of the particles, borrowed from the engine's read-back: what the trajectory
//! writers ([`XyzWriter`](super::XyzWriter), [`VtpSeries`](super::VtpSeries)) take.
//!
//! ```
//! use hemoscale::output::{Frame, VtpSeries};
//!
//! let dir = std::env::temp_dir().join(format!("hemoscale-doc-frame-{}", std::process::id()));
//! let (pos, vel) = (vec![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]], vec![[0.1f32, 0.0, 0.0]; 2]);
//! let names = vec!["plasma".to_string(), "wall".to_string()];
//! let frame = Frame {
//!     step: 100,
//!     time: 1.0,
//!     box_lengths: [10.0; 3],
//!     positions: &pos,
//!     velocities: &vel,
//!     type_ids: &[0, 1],
//!     tags: &[7, 8],
//!     type_names: &names,
//! };
//! assert!(frame.check().is_ok());
//! // ParaView opens the series through its .pvd, one .vtp per frame.
//! let mut series = VtpSeries::create(&dir, "particles").unwrap();
//! let vtp = series.write_frame(&frame).unwrap();
//! assert!(vtp.is_file() && dir.join("particles.pvd").is_file());
//! // A type id that names no type is refused, naming the problem.
//! let bad = Frame { type_ids: &[0, 2], ..frame };
//! assert!(bad.check().unwrap_err().contains("type"));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

/// A snapshot of the particles at one step. Positions lie in the box `[0, L)` per axis (the
/// kernel's convention); all per-particle slices have one entry per particle, in any order (the
/// `tags` identify particles across frames).
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Time step number.
    pub step: u64,
    /// Simulation time (step times dt, in the run's units).
    pub time: f64,
    /// Edge lengths of the orthorhombic periodic box, origin at 0.
    pub box_lengths: [f64; 3],
    /// Positions.
    pub positions: &'a [[f32; 3]],
    /// Velocities.
    pub velocities: &'a [[f32; 3]],
    /// Type index of each particle into `type_names`.
    pub type_ids: &'a [u32],
    /// Global particle tags (stable identifiers).
    pub tags: &'a [u32],
    /// Name of each type (the system's type list).
    pub type_names: &'a [String],
}

impl Frame<'_> {
    /// Number of particles.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether the frame holds no particle.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Checks that the slices agree in length, every type id names a type, and the box is
    /// positive and finite; the message says what does not fit.
    pub fn check(&self) -> Result<(), String> {
        let n = self.positions.len();
        for (what, len) in
            [("velocities", self.velocities.len()), ("type_ids", self.type_ids.len()), ("tags", self.tags.len())]
        {
            if len != n {
                return Err(format!("frame at step {}: {len} {what} for {n} positions", self.step));
            }
        }
        if let Some((i, t)) = self.type_ids.iter().enumerate().find(|(_, &t)| t as usize >= self.type_names.len()) {
            return Err(format!(
                "frame at step {}: particle {i} has type id {t}, but only {} type names are given",
                self.step,
                self.type_names.len()
            ));
        }
        if self.box_lengths.iter().any(|l| !(l.is_finite() && *l > 0.0)) {
            return Err(format!("frame at step {}: box lengths {:?} must be positive", self.step, self.box_lengths));
        }
        if !self.time.is_finite() {
            return Err(format!("frame at step {}: time {} is not finite", self.step, self.time));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_the_mismatch() {
        let pos = [[0.0f32; 3]; 2];
        let names = vec!["A".to_string()];
        let mut f = Frame {
            step: 7,
            time: 0.07,
            box_lengths: [1.0; 3],
            positions: &pos,
            velocities: &pos,
            type_ids: &[0, 0],
            tags: &[0, 1],
            type_names: &names,
        };
        assert_eq!(f.len(), 2);
        assert!(f.check().is_ok());
        f.tags = &[0];
        assert_eq!(f.check().unwrap_err(), "frame at step 7: 1 tags for 2 positions");
        f.tags = &[0, 1];
        f.type_ids = &[0, 1];
        assert!(f.check().unwrap_err().contains("particle 1 has type id 1, but only 1 type names"));
        f.type_ids = &[0, 0];
        f.box_lengths = [1.0, 0.0, 1.0];
        assert!(f.check().unwrap_err().contains("must be positive"));
    }
}
