//! MPI communicator through the `mpi` crate (cargo feature `mpi`; build against MPICH with
//! `MPICC=mpicc.mpich`, run with `mpirun.mpich -n P`). Collectives gather every rank's buffer
//! (`MPI_Allgather`) and sum in rank order on each rank, exactly as the in-process communicator
//! does, so both give the same bits.
//!
//! Every rank runs the same program (not run here: it needs `mpirun.mpich -n 3`):
//!
//! ```no_run
//! use hemoscale_surrogates::comm::mpi_comm::MpiComm;
//! use hemoscale_surrogates::comm::Communicator;
//!
//! let universe = mpi::initialize().expect("MPI is initialised once per process");
//! let mut comm = MpiComm::new(universe.world());
//! let mut x = [comm.rank() as f64];
//! comm.all_reduce_mean(&mut x)?;
//! // The mean of 0, 1, ..., P - 1.
//! assert_eq!(x[0], (comm.size() - 1) as f64 / 2.0);
//! # Ok::<(), hemoscale_surrogates::SurrogateError>(())
//! ```

use mpi::topology::{Color, Communicator as _, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Destination, Source};

use super::{CommStats, Communicator};
use crate::error::{Result, SurrogateError};

/// One MPI rank.
pub struct MpiComm {
    comm: SimpleCommunicator,
    stats: CommStats,
}

impl MpiComm {
    /// Wraps a communicator (usually `universe.world()`).
    pub fn new(comm: SimpleCommunicator) -> Self {
        Self { comm, stats: CommStats::default() }
    }
}

impl Communicator for MpiComm {
    fn rank(&self) -> usize {
        self.comm.rank() as usize
    }
    fn size(&self) -> usize {
        self.comm.size() as usize
    }

    fn all_gather(&mut self, data: &[f64]) -> Result<Vec<Vec<f64>>> {
        let p = self.size();
        // Lengths first, so a mismatch is an error rather than undefined behaviour.
        let mut lens = vec![0u64; p];
        self.comm.all_gather_into(&(data.len() as u64), &mut lens[..]);
        if lens.iter().any(|&l| l != data.len() as u64) {
            return Err(SurrogateError::Comm(format!("all-gather of buffers of lengths {lens:?}")));
        }
        let mut all = vec![0.0f64; p * data.len()];
        if !data.is_empty() {
            self.comm.all_gather_into(data, &mut all[..]);
        }
        self.stats.bytes_sent += 8 * data.len() as u64 * (p as u64 - 1);
        Ok(if data.is_empty() {
            vec![Vec::new(); p]
        } else {
            all.chunks_exact(data.len()).map(<[f64]>::to_vec).collect()
        })
    }

    fn send(&mut self, dest: usize, tag: u32, data: &[f64]) -> Result<()> {
        if dest >= self.size() {
            return Err(SurrogateError::Comm(format!("send to rank {dest} of {}", self.size())));
        }
        self.comm.process_at_rank(dest as i32).send_with_tag(data, tag as i32 & 0x3fff);
        self.stats.bytes_sent += 8 * data.len() as u64;
        Ok(())
    }

    fn recv(&mut self, source: Option<usize>, tag: u32) -> Result<(usize, Vec<f64>)> {
        let tag = tag as i32 & 0x3fff;
        let (data, status) = match source {
            Some(s) => self.comm.process_at_rank(s as i32).receive_vec_with_tag::<f64>(tag),
            None => self.comm.any_process().receive_vec_with_tag::<f64>(tag),
        };
        Ok((status.source_rank() as usize, data))
    }

    fn send_bytes(&mut self, dest: usize, tag: u32, data: &[u8]) -> Result<()> {
        if dest >= self.size() {
            return Err(SurrogateError::Comm(format!("send to rank {dest} of {}", self.size())));
        }
        self.comm.process_at_rank(dest as i32).send_with_tag(data, bytes_tag(tag));
        self.stats.bytes_sent += data.len() as u64;
        Ok(())
    }

    fn recv_bytes(&mut self, source: usize, tag: u32) -> Result<Vec<u8>> {
        if source >= self.size() {
            return Err(SurrogateError::Comm(format!("receive from rank {source} of {}", self.size())));
        }
        let (data, _) = self.comm.process_at_rank(source as i32).receive_vec_with_tag::<u8>(bytes_tag(tag));
        Ok(data)
    }

    fn exchange_bytes(&mut self, dest: usize, source: usize, tag: u32, data: &[u8]) -> Result<Vec<u8>> {
        let p = self.size();
        if dest >= p || source >= p {
            return Err(SurrogateError::Comm(format!("exchange with ranks {dest} and {source} of {p}")));
        }
        let t = bytes_tag(tag);
        // The send is posted without waiting, then the receive: a blocking send of a message
        // beyond the eager limit would wait for its receive, and every rank sends at once.
        let comm = &self.comm;
        let received = mpi::request::scope(|scope| {
            let request = comm.process_at_rank(dest as i32).immediate_send_with_tag(scope, data, t);
            let (got, _) = comm.process_at_rank(source as i32).receive_vec_with_tag::<u8>(t);
            request.wait();
            got
        });
        self.stats.bytes_sent += data.len() as u64;
        Ok(received)
    }

    fn split(&mut self, color: Option<u32>) -> Result<Option<Box<dyn Communicator>>> {
        let c = color.map_or(Color::undefined(), |c| Color::with_value(c as i32));
        Ok(self.comm.split_by_color(c).map(|comm| Box::new(Self::new(comm)) as Box<dyn Communicator>))
    }

    fn stats(&self) -> CommStats {
        self.stats
    }
    fn book(&mut self, all_reduces: u64, bytes: u64) {
        self.stats.all_reduces += all_reduces;
        self.stats.bytes_sent += bytes;
    }
}

/// MPI tag of a byte message: the upper half of the tag space (f64 messages use the lower half,
/// `tag & 0x3fff`), so the two kinds never match each other, as over threads.
fn bytes_tag(tag: u32) -> i32 {
    0x4000 | (tag as i32 & 0x3fff)
}
