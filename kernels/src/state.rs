//! The particle state in structure-of-arrays form, as the host sees it.
//!
//! Layout rules that later work relies on:
//! - `tag` is a global id that stays with a particle when engines reorder memory (by cell, for
//!   locality) and, later, when particles migrate between MPI ranks; the pair noise is keyed by tags,
//!   never by memory indices.
//! - Indices `[0, n_local)` are owned particles; `[n_local, len)` is reserved for ghosts (the halo of
//!   a domain-decomposed run). Single-domain runs have no ghosts.

use crate::error::{KernelError, Result};
use crate::system::DpdSystem;

/// Positions, velocities, forces, types and global ids of all particles.
///
/// Engines take a state, check it against their system and hand copies back in their own memory
/// order; [`ParticleState::sorted_by_tag`] gives the order in which two runs can be compared.
///
/// ```
/// use hemoscale_kernels::{DpdSystem, ParticleState, SimBox};
///
/// let system = DpdSystem::standard(SimBox::cubic(4.0), 1);
/// let state = ParticleState {
///     pos: vec![[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]],
///     vel: vec![[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0]],
///     force: vec![[0.0; 3]; 2],
///     type_id: vec![0, 0],
///     tag: vec![7, 3],
///     n_local: 2,
/// };
/// state.check(&system)?;
/// let sorted = state.sorted_by_tag();
/// assert_eq!(sorted.tag, [3, 7]);
/// assert_eq!(sorted.pos[0], [2.0, 2.0, 2.0]); // the particle goes with its tag
///
/// // Positions must lie in [0, L): a particle on the upper face is refused.
/// let mut outside = state.clone();
/// outside.pos[0][2] = 4.0;
/// assert!(outside.check(&system).is_err());
/// # Ok::<(), hemoscale_kernels::KernelError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParticleState {
    /// Positions, wrapped into the box.
    pub pos: Vec<[f32; 3]>,
    /// Velocities.
    pub vel: Vec<[f32; 3]>,
    /// Forces of the last evaluation (velocity-Verlet needs them for the next first half-kick).
    pub force: Vec<[f32; 3]>,
    /// Type index into [`DpdSystem::types`].
    pub type_id: Vec<u32>,
    /// Global particle id, unique, kept through reordering.
    pub tag: Vec<u32>,
    /// Number of owned particles; the rest are ghosts.
    pub n_local: usize,
}

impl ParticleState {
    /// Total number of entries (owned and ghosts).
    pub fn len(&self) -> usize {
        self.pos.len()
    }
    /// True when there are no particles.
    pub fn is_empty(&self) -> bool {
        self.pos.is_empty()
    }

    /// Checks lengths, types, tags and positions against `system`.
    pub fn check(&self, system: &DpdSystem) -> Result<()> {
        let n = self.pos.len();
        let bad = |m: String| Err(KernelError::InconsistentState(m));
        if [self.vel.len(), self.force.len(), self.type_id.len(), self.tag.len()].iter().any(|&l| l != n) {
            return bad("pos, vel, force, type_id and tag must have equal lengths".into());
        }
        if self.n_local != n {
            return bad(format!("{} ghosts present; single-domain engines take none", n - self.n_local));
        }
        if n == 0 {
            return bad("no particles".into());
        }
        let nt = system.types.len() as u32;
        if let Some(i) = self.type_id.iter().position(|&t| t >= nt) {
            return bad(format!("particle {i} has type {} but only {nt} types exist", self.type_id[i]));
        }
        let mut tags = self.tag.clone();
        tags.sort_unstable();
        if tags.windows(2).any(|w| w[0] == w[1]) {
            return bad("particle tags are not unique".into());
        }
        for (i, p) in self.pos.iter().enumerate() {
            for k in 0..3 {
                if !(p[k].is_finite() && p[k] >= 0.0 && p[k] < system.sim_box.len[k]) {
                    return bad(format!("particle {i} (tag {}) lies outside the box: {p:?}", self.tag[i]));
                }
            }
            if self.vel[i].iter().chain(self.force[i].iter()).any(|v| !v.is_finite()) {
                return bad(format!("particle {i} (tag {}) has a non-finite velocity or force", self.tag[i]));
            }
        }
        Ok(())
    }

    /// Checks that `other` holds the same particles in the same order (tags and types), as
    /// [`crate::Engine::overwrite`] requires.
    pub fn check_same_particles(&self, other: &ParticleState) -> Result<()> {
        if self.len() != other.len() || self.tag != other.tag || self.type_id != other.type_id {
            return Err(KernelError::InconsistentState(
                "overwrite: the state must hold the engine's particles (tags and types) in its memory order".into(),
            ));
        }
        if [other.vel.len(), other.force.len()].iter().any(|&l| l != other.len()) {
            return Err(KernelError::InconsistentState("overwrite: pos, vel and force must have equal lengths".into()));
        }
        Ok(())
    }

    /// Returns a copy sorted by tag, the canonical order for comparing runs.
    pub fn sorted_by_tag(&self) -> Self {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_unstable_by_key(|&i| self.tag[i]);
        self.permuted(&order)
    }

    /// Returns a copy whose entry k is entry `order[k]` of `self` (`order` a permutation).
    pub fn permuted(&self, order: &[usize]) -> Self {
        Self {
            pos: order.iter().map(|&i| self.pos[i]).collect(),
            vel: order.iter().map(|&i| self.vel[i]).collect(),
            force: order.iter().map(|&i| self.force[i]).collect(),
            type_id: order.iter().map(|&i| self.type_id[i]).collect(),
            tag: order.iter().map(|&i| self.tag[i]).collect(),
            n_local: self.n_local,
        }
    }
}
