//! Runs over many ranks: the kernels' domain decomposition ([`hemoscale_kernels::domain`]) talks
//! through the communicators of `hemoscale-surrogates` (MPI with the `mpi` feature, threads in one
//! process otherwise), so there is one communicator mechanism in the project. The kernels crate
//! cannot depend on the surrogates crate (both are leaves); this adapter joins them.
//!
//! Four ranks as threads run 20 steps of the standard fluid and gather the particles:
//!
//! ```
//! use hemoscale::kernels::{init, DpdSystem, Engine, SimBox};
//! use hemoscale::ranks::Ranks;
//! use hemoscale::surrogates::comm::threads::ThreadComm;
//!
//! let system = DpdSystem::standard(SimBox::cubic(8.0), 3);
//! let state = init::random_fluid(&system, 1536);
//! let out = ThreadComm::run(4, |comm| {
//!     let ranks = Ranks::new(comm, None); // the grid from the box shape: 2 x 2 x 1
//!     assert_eq!(ranks.decomposition(&system).expect("valid").ranks, [2, 2, 1]);
//!     let mut e = ranks.engine(&system, &state, 0).expect("engine");
//!     e.compute_forces().expect("forces");
//!     e.run(20, 0).expect("run");
//!     let t = e.observables().expect("collective").temperature();
//!     (e.state().expect("gathered on every rank").len(), e.n_particles(), t)
//! });
//! assert!(out.iter().all(|o| o.0 == 1536 && o.1 == 1536)); // no particle lost or doubled
//! // The temperature is summed over ranks in rank order: every rank has the same bits.
//! assert!(out[0].2.is_finite() && out.iter().all(|o| o.2 == out[0].2));
//! ```

use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard};

use hemoscale_kernels::domain::{Decomposition, DomainComm};
use hemoscale_kernels::platelet_set::PlateletSet;
use hemoscale_kernels::{CpuEngine, DpdSystem, KernelError, ParticleState, Result};
use hemoscale_surrogates::comm::Communicator;
use hemoscale_surrogates::SurrogateError;

/// A surrogates communicator seen as the kernels' [`DomainComm`]. Clones share it: every engine
/// a run opens (the wall equilibration's, the run's own) talks through the same one.
#[derive(Clone)]
pub struct CommLink(Arc<Mutex<Box<dyn Communicator>>>);

impl CommLink {
    /// Wraps a communicator.
    pub fn new(comm: Box<dyn Communicator>) -> Self {
        Self(Arc::new(Mutex::new(comm)))
    }

    fn comm(&self) -> Result<MutexGuard<'_, Box<dyn Communicator>>> {
        self.0
            .lock()
            .map_err(|_| KernelError::InconsistentState(format!("{COMM_FAILED}: the communicator's lock was poisoned")))
    }
}

/// Tag of the all-gather (the halo tags of the kernels lie below it).
const GATHER_TAG: u32 = 0x3f00;

/// How every failure of the communication between ranks begins.
const COMM_FAILED: &str = "communication between ranks failed";

fn comm_error(e: SurrogateError) -> KernelError {
    let why = format!("{COMM_FAILED}: {e}");
    match e {
        SurrogateError::PeerLeft(_) => KernelError::PeerLeft(why),
        _ => KernelError::InconsistentState(why),
    }
}

impl DomainComm for CommLink {
    fn rank(&self) -> usize {
        self.comm().map_or(0, |c| c.rank())
    }
    fn size(&self) -> usize {
        self.comm().map_or(1, |c| c.size())
    }
    fn exchange(&mut self, dest: usize, source: usize, tag: u32, data: &[u8]) -> Result<Vec<u8>> {
        self.comm()?.exchange_bytes(dest, source, tag, data).map_err(comm_error)
    }
    fn sum(&mut self, values: &mut [f64]) -> Result<()> {
        let all = self.comm()?.all_gather(values).map_err(comm_error)?;
        for (k, v) in values.iter_mut().enumerate() {
            *v = all.iter().map(|r| r[k]).fold(0.0, |a, b| a + b);
        }
        Ok(())
    }
    fn all_gather(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut c = self.comm()?;
        // A ring of exchanges: at shift s each rank sends its part s ranks up and receives the
        // part of the rank s below, so no rank waits on a send nobody receives.
        let (rank, size) = (c.rank(), c.size());
        let mut all = vec![Vec::new(); size];
        all[rank] = data.to_vec();
        for s in 1..size {
            let (dest, source) = ((rank + s) % size, (rank + size - s) % size);
            all[source] = c.exchange_bytes(dest, source, GATHER_TAG, data).map_err(comm_error)?;
        }
        Ok(all)
    }
}

/// The ranks a run is spread over: MPI's world (`mpirun -n P hemoscale run ...`, built with
/// `--features mpi`) or P threads of one process (`hemoscale run --ranks P`, and the tests).
#[derive(Clone)]
pub struct Ranks {
    link: CommLink,
    /// The rank grid (None: chosen from the box shape, [`Decomposition::choose`]).
    pub grid: Option<[usize; 3]>,
}

impl Ranks {
    /// The ranks of `comm`, with an optional rank grid.
    pub fn new(comm: Box<dyn Communicator>, grid: Option<[usize; 3]>) -> Self {
        Self { link: CommLink::new(comm), grid }
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.link.rank()
    }

    /// Number of ranks.
    pub fn size(&self) -> usize {
        self.link.size()
    }

    /// The decomposition of `system`'s box over these ranks (halo: the largest cut-off). With
    /// walls, the cuts balance the fluid volume ([`Decomposition::weighted`], sampled every
    /// quarter cut-off): a stenosis's throat or a tube's wall-free corners hold less fluid.
    pub fn decomposition(&self, system: &DpdSystem) -> Result<Decomposition> {
        let (len, halo) = (system.sim_box.len, system.pairs.max_rc());
        let grid = match self.grid {
            Some(g) => g,
            None => Decomposition::choose(self.size(), len, halo)?.ranks,
        };
        let d = match &system.walls {
            Some(w) => {
                Decomposition::weighted(grid, len, halo, |p| f64::from(u8::from(w.sdf.value(p) < 0.0)), 0.25 * halo)?
            }
            None => Decomposition::new(grid, len, halo)?,
        };
        if d.size() != self.size() {
            return Err(KernelError::invalid(
                "--grid",
                format!("{:?}", d.ranks),
                format!("must hold as many ranks as run ({})", self.size()),
            ));
        }
        Ok(d)
    }

    /// This rank's engine for `state` at `step` (collective).
    pub fn engine(&self, system: &DpdSystem, state: &ParticleState, step: u64) -> Result<CpuEngine> {
        CpuEngine::decomposed(system, state, step, self.decomposition(system)?, Box::new(self.link.clone()))
    }

    /// This rank's engine for `state` at `step` with `platelets` (collective): every rank holds
    /// every platelet and advances those its brick owns ([`CpuEngine::decomposed_with_platelets`]).
    pub fn engine_with_platelets(
        &self,
        system: &DpdSystem,
        state: &ParticleState,
        step: u64,
        platelets: &PlateletSet,
    ) -> Result<CpuEngine> {
        let d = self.decomposition(system)?;
        CpuEngine::decomposed_with_platelets(system, state, step, d, Box::new(self.link.clone()), platelets)
    }

    /// The largest over ranks of each of `values` (collective): how the ranks agree on
    /// decisions that each could take alone, such as stopping on a signal or at a wall-clock
    /// limit.
    pub fn agree_max(&self, values: &[f64]) -> Result<Vec<f64>> {
        let all = self.link.comm()?.all_gather(values).map_err(comm_error)?;
        Ok((0..values.len()).map(|k| all.iter().map(|v| v[k]).fold(f64::NEG_INFINITY, f64::max)).collect())
    }
}

thread_local! {
    /// The ranks of the run on this thread (an MPI process has one; in-process ranks one per
    /// thread).
    static WORLD: RefCell<Option<Ranks>> = const { RefCell::new(None) };
}

/// Runs `f` with `ranks` as this thread's ranks: every engine [`crate::run`] opens inside is
/// decomposed over them, and only rank 0 writes files. MPI's world is likewise ambient to a
/// process; the ranks are restored when `f` returns or panics.
pub fn within<T>(ranks: Ranks, f: impl FnOnce() -> T) -> T {
    let _restore = Restore(WORLD.with(|w| w.borrow_mut().replace(ranks)));
    f()
}

/// Puts the thread's previous ranks back when dropped (also when `f` panics).
struct Restore(Option<Ranks>);

impl Drop for Restore {
    fn drop(&mut self) {
        let old = self.0.take();
        WORLD.with(|w| *w.borrow_mut() = old);
    }
}

/// Runs `f` as if on one rank (engines it opens are not decomposed); the ranks are restored
/// after. For work every rank does whole and alike.
pub fn alone<T>(f: impl FnOnce() -> T) -> T {
    let _restore = Restore(WORLD.with(|w| w.borrow_mut().take()));
    f()
}

/// The ranks of the run on this thread, if it is spread over more than one.
pub fn current() -> Option<Ranks> {
    WORLD.with(|w| w.borrow().clone()).filter(|r| r.size() > 1)
}

/// Which of a node's GPUs this rank takes: its rank on the node as the MPI launcher reports it
/// (`MPI_LOCALRANKID`, MPICH's Hydra; `OMPI_COMM_WORLD_LOCAL_RANK`, Open MPI), else its rank
/// (in-process ranks share one node), else 0 on one rank. One rank per GPU, as Mirheo and
/// LAMMPS's GPU package assign them, when a node runs as many ranks as it has GPUs.
pub fn local_rank() -> usize {
    let from_env = ["MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK"]
        .iter()
        .find_map(|v| std::env::var(v).ok().and_then(|s| s.trim().parse().ok()));
    current().map_or(0, |r| from_env.unwrap_or(r.rank()))
}

/// A rank's outcome.
type RunResult<T> = std::result::Result<T, crate::run::RunError>;

/// The outcome to report of a run whose ranks are threads (`results` in rank order): rank 0's,
/// unless it only failed because another rank left ([`KernelError::PeerLeft`]); then the first
/// rank's error that is its own, the root cause.
pub fn root_cause<T>(results: Vec<RunResult<T>>) -> RunResult<T> {
    let own = |r: &RunResult<T>| !matches!(r, Err(crate::run::RunError::Kernel(KernelError::PeerLeft(_))));
    let mut results = results;
    let pick = results.iter().position(|r| r.is_err() && own(r)).unwrap_or(0);
    results.swap_remove(pick)
}

/// True on the rank that writes files and prints: rank 0, or a run on one rank.
pub fn is_root() -> bool {
    current().is_none_or(|r| r.rank() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunError;

    fn left() -> std::result::Result<u32, RunError> {
        Err(RunError::Kernel(KernelError::PeerLeft(format!("{COMM_FAILED}: rank 1 left"))))
    }

    /// Rank 1 fails on its own and rank 0 only because rank 1 left: rank 1's error is reported,
    /// whatever the order of the ranks and whichever words the messages use.
    #[test]
    fn the_root_cause_is_the_first_error_that_is_not_a_departure() {
        let own = || Err::<u32, _>(RunError::Kernel(KernelError::Gpu("the device was lost".into())));
        let got = root_cause(vec![left(), own(), left()]);
        assert!(matches!(got, Err(RunError::Kernel(KernelError::Gpu(_)))), "{got:?}");
        // A departure whose text mentions nothing of leaving is still a departure, and an own
        // error that mentions a rank leaving is still the cause.
        let quiet = Err::<u32, _>(RunError::Kernel(KernelError::PeerLeft("x".into())));
        let loud = Err::<u32, _>(RunError::Kernel(KernelError::InconsistentState("rank 0 left the box".into())));
        assert!(matches!(root_cause(vec![quiet, loud]), Err(RunError::Kernel(KernelError::InconsistentState(_)))));
        // All fine, or all departures: rank 0's.
        assert_eq!(root_cause(vec![Ok(0), Ok(1)]).ok(), Some(0));
        assert!(matches!(root_cause(vec![left(), left()]), Err(RunError::Kernel(KernelError::PeerLeft(_)))));
    }
}
