//! Communicators: what the distributed trainers need from MPI, behind one trait so the same
//! algorithms run over MPI (`mpi_comm`, cargo feature `mpi`) or over threads in one process
//! ([`threads`], used by the tests and by `hemoscale train --threads P`).
//!
//! Reductions are deterministic: every rank gathers all contributions and sums them in rank
//! order, so a run gives the same bits over MPI as over threads, whatever the MPI library's own
//! reduction order would be. Models are small (10^4 to 10^5 parameters), so gathering costs
//! little next to the compute.
//!
//! ```
//! use hemoscale_surrogates::comm::threads::ThreadComm;
//! use hemoscale_surrogates::comm::Communicator;
//!
//! // Rank r contributes [r, r^2]; every rank gets the mean over the three, with the same bits.
//! let out = ThreadComm::run(3, |mut c| {
//!     let r = c.rank() as f64;
//!     let mut buf = [r, r * r];
//!     c.all_reduce_mean(&mut buf).expect("all-reduce");
//!     (buf, c.stats().all_reduces)
//! });
//! assert_eq!(out, vec![([1.0, 5.0 / 3.0], 1); 3]);
//! ```

pub mod threads;

#[cfg(feature = "mpi")]
pub mod mpi_comm;

use crate::error::Result;

/// Counters of the algorithm's traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommStats {
    /// All-reduce operations.
    pub all_reduces: u64,
    /// Payload bytes this rank sent (all-reduces, broadcasts, point-to-point).
    pub bytes_sent: u64,
}

/// What a learner needs from its peers.
pub trait Communicator: Send {
    /// This rank, `0..size`.
    fn rank(&self) -> usize;
    /// Ranks in this communicator.
    fn size(&self) -> usize;
    /// Gathers every rank's `data` (all of equal length) on every rank, in rank order.
    fn all_gather(&mut self, data: &[f64]) -> Result<Vec<Vec<f64>>>;
    /// Sends `data` to `dest` with `tag`.
    fn send(&mut self, dest: usize, tag: u32, data: &[f64]) -> Result<()>;
    /// Receives a message with `tag` from `source`, or from any rank when `source` is `None`;
    /// returns the sender and the data.
    fn recv(&mut self, source: Option<usize>, tag: u32) -> Result<(usize, Vec<f64>)>;
    /// Sends raw bytes to `dest` with `tag`: particle records of a domain-decomposed run, whose
    /// f32 and u32 fields would double in size as f64 values. Byte and f64 messages are matched
    /// separately.
    fn send_bytes(&mut self, dest: usize, tag: u32, data: &[u8]) -> Result<()>;
    /// Receives a byte message with `tag` from `source`.
    fn recv_bytes(&mut self, source: usize, tag: u32) -> Result<Vec<u8>>;
    /// Sends `data` to `dest` and receives a byte message from `source`, both with `tag`, as
    /// `MPI_Sendrecv` does: every rank of a halo exchange calls it at once, so it must not wait
    /// for its own send to be received before receiving. The default sends first, which is safe
    /// where sends are buffered (threads); MPI overrides it.
    fn exchange_bytes(&mut self, dest: usize, source: usize, tag: u32, data: &[u8]) -> Result<Vec<u8>> {
        self.send_bytes(dest, tag, data)?;
        self.recv_bytes(source, tag)
    }
    /// Splits into sub-communicators by `color` (collective over all ranks); ranks passing `None`
    /// get `None`. Ranks keep their order.
    fn split(&mut self, color: Option<u32>) -> Result<Option<Box<dyn Communicator>>>;
    /// Traffic counters so far.
    fn stats(&self) -> CommStats;
    /// Adds to the counters (collectives built on the primitives book themselves here).
    fn book(&mut self, all_reduces: u64, bytes: u64);

    /// Mean over ranks, in place, summed in rank order (deterministic; see the module docs).
    fn all_reduce_mean(&mut self, buf: &mut [f64]) -> Result<()> {
        let all = self.all_gather(buf)?;
        self.book(1, 0);
        let p = all.len() as f64;
        for (k, v) in buf.iter_mut().enumerate() {
            let mut s = 0.0;
            for r in &all {
                s += r[k];
            }
            *v = s / p;
        }
        Ok(())
    }

    /// Copies `root`'s `buf` to every rank.
    fn broadcast(&mut self, buf: &mut [f64], root: usize) -> Result<()> {
        if self.rank() == root {
            for dest in (0..self.size()).filter(|&d| d != root) {
                self.send(dest, BCAST_TAG, buf)?;
            }
        } else {
            let (_, data) = self.recv(Some(root), BCAST_TAG)?;
            if data.len() != buf.len() {
                return Err(crate::SurrogateError::Comm(format!(
                    "broadcast of {} values into a buffer of {}",
                    data.len(),
                    buf.len()
                )));
            }
            buf.copy_from_slice(&data);
        }
        Ok(())
    }

    /// Waits for every rank.
    fn barrier(&mut self) -> Result<()> {
        let _ = self.all_gather(&[])?;
        Ok(())
    }
}

/// Tag reserved for [`Communicator::broadcast`].
pub const BCAST_TAG: u32 = u32::MAX;
