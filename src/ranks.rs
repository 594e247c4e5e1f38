//! Runs over many ranks: the kernels' domain decomposition ([`hemoscale_kernels::domain`]) talks
//! through the communicators of `hemoscale-surrogates` (MPI with the `mpi` feature, threads in one
//! process otherwise), so there is one communicator mechanism in the project. The kernels crate
//! cannot depend on the surrogates crate (both are leaves); this adapter joins them.
//!
//! Four ranks as threads run 20 steps of the standard fluid and gather the particles on rank 0:
//!
//! ```
//! use hemoscale::kernels::domain::Decomposition;
//! use hemoscale::kernels::{init, CpuEngine, DpdSystem, Engine, SimBox};
//! use hemoscale::ranks::CommLink;
//! use hemoscale::surrogates::comm::threads::ThreadComm;
//!
//! let system = DpdSystem::standard(SimBox::cubic(8.0), 3);
//! let state = init::random_fluid(&system, 1536);
//! let out = ThreadComm::run(4, |comm| {
//!     let d = Decomposition::choose(4, system.sim_box.len, 1.0).expect("a 2 x 2 grid");
//!     let mut e = CpuEngine::decomposed(&system, &state, 0, d, Box::new(CommLink(comm))).expect("engine");
//!     e.compute_forces().expect("forces");
//!     e.run(20, 0).expect("run");
//!     let t = e.observables().expect("collective").temperature();
//!     (e.gather_state().expect("gather").map(|s| s.len()), t)
//! });
//! assert_eq!(out[0].0, Some(1536)); // no particle lost or doubled
//! assert!(out[1].0.is_none()); // only rank 0 gathers
//! // The temperature is summed over ranks in rank order: every rank has the same bits.
//! assert!(out[0].1.is_finite() && out.iter().all(|o| o.1 == out[0].1));
//! ```

use hemoscale_kernels::domain::DomainComm;
use hemoscale_kernels::{KernelError, Result};
use hemoscale_surrogates::comm::Communicator;

/// A surrogates communicator seen as the kernels' [`DomainComm`].
pub struct CommLink(pub Box<dyn Communicator>);

/// Tag of the gather to rank 0 (the halo tags of the kernels lie below it).
const GATHER_TAG: u32 = 0x3f00;

fn comm_error(e: impl std::fmt::Display) -> KernelError {
    KernelError::InconsistentState(format!("communication between ranks failed: {e}"))
}

impl DomainComm for CommLink {
    fn rank(&self) -> usize {
        self.0.rank()
    }
    fn size(&self) -> usize {
        self.0.size()
    }
    fn exchange(&mut self, dest: usize, source: usize, tag: u32, data: &[u8]) -> Result<Vec<u8>> {
        self.0.exchange_bytes(dest, source, tag, data).map_err(comm_error)
    }
    fn sum(&mut self, values: &mut [f64]) -> Result<()> {
        let all = self.0.all_gather(values).map_err(comm_error)?;
        for (k, v) in values.iter_mut().enumerate() {
            *v = all.iter().map(|r| r[k]).fold(0.0, |a, b| a + b);
        }
        Ok(())
    }
    fn gather(&mut self, data: &[u8]) -> Result<Option<Vec<Vec<u8>>>> {
        if self.0.rank() != 0 {
            self.0.send_bytes(0, GATHER_TAG, data).map_err(comm_error)?;
            return Ok(None);
        }
        let mut all = vec![data.to_vec()];
        for r in 1..self.0.size() {
            all.push(self.0.recv_bytes(r, GATHER_TAG).map_err(comm_error)?);
        }
        Ok(Some(all))
    }
}
