//! In-process communicator: P threads, shared slots for collectives and mailboxes for messages.
//! Semantics match MPI's for what the trainers use (collectives in the same order on every rank,
//! messages between a pair delivered in order).
//!
//! ```
//! use hemoscale_surrogates::comm::threads::ThreadComm;
//!
//! let out = ThreadComm::run(4, |mut c| {
//!     let (r, p) = (c.rank(), c.size());
//!     // A ring: each rank sends its number to the next and hears from the one before.
//!     c.send((r + 1) % p, 1, &[r as f64]).expect("send");
//!     let (from, data) = c.recv(None, 1).expect("recv");
//!     // Rank 2's value to everyone.
//!     let mut b = [if r == 2 { 7.0 } else { 0.0 }];
//!     c.broadcast(&mut b, 2).expect("broadcast");
//!     // Even and odd ranks form two communicators of two.
//!     let half = c.split(Some(r as u32 % 2)).expect("split").expect("every rank has a color");
//!     (from, data[0], b[0], half.rank(), half.size())
//! });
//! assert_eq!(out[0], (3, 3.0, 7.0, 0, 2));
//! assert_eq!(out[3], (2, 2.0, 7.0, 1, 2));
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};

use super::{CommStats, Communicator};
use crate::error::{Result, SurrogateError};

/// Sender, tag and payload.
type Message = (usize, u32, Payload);

/// A message's payload: trainer messages carry f64 values, particle records carry bytes; a
/// receive matches only its own kind.
enum Payload {
    F64(Vec<f64>),
    Bytes(Vec<u8>),
}

/// State shared by the ranks of one communicator.
struct Group {
    size: usize,
    shared: Mutex<Shared>,
    /// Woken on every message, completed all-gather and departure.
    wake: Condvar,
    /// Sub-groups being created by a split, keyed by (split number, color).
    children: Mutex<HashMap<(u64, u32), Arc<Group>>>,
}

/// What the ranks of a group share, under one lock.
struct Shared {
    mailboxes: Vec<VecDeque<Message>>,
    /// Contributions to the all-gather in progress.
    slots: Vec<Option<Vec<f64>>>,
    arrived: usize,
    /// All-gathers completed; the last one's result.
    generation: u64,
    last: Arc<Vec<Vec<f64>>>,
    /// Ranks whose communicator was dropped (finished, failed or panicked): whoever waits for
    /// them gets an error instead of waiting for ever, as MPI would abort the job.
    departed: Vec<bool>,
}

impl Group {
    fn new(size: usize) -> Arc<Self> {
        Arc::new(Self {
            size,
            shared: Mutex::new(Shared {
                mailboxes: (0..size).map(|_| VecDeque::new()).collect(),
                slots: vec![None; size],
                arrived: 0,
                generation: 0,
                last: Arc::new(Vec::new()),
                departed: vec![false; size],
            }),
            wake: Condvar::new(),
            children: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Shared>> {
        self.shared.lock().map_err(|_| poisoned())
    }
}

/// One rank of an in-process communicator.
pub struct ThreadComm {
    group: Arc<Group>,
    rank: usize,
    splits: u64,
    stats: CommStats,
}

fn poisoned() -> SurrogateError {
    SurrogateError::Comm("a peer thread panicked".into())
}

fn departed(rank: usize) -> SurrogateError {
    SurrogateError::PeerLeft(format!(
        "rank {rank} left the communicator (it finished or failed) while this rank waited for it"
    ))
}

impl Drop for ThreadComm {
    fn drop(&mut self) {
        if let Ok(mut s) = self.group.shared.lock() {
            s.departed[self.rank] = true;
        }
        self.group.wake.notify_all();
    }
}

impl ThreadComm {
    /// The ranks of a new world of `size` threads (hand one to each thread).
    pub fn world(size: usize) -> Vec<Self> {
        let g = Group::new(size.max(1));
        (0..size.max(1))
            .map(|rank| Self { group: Arc::clone(&g), rank, splits: 0, stats: CommStats::default() })
            .collect()
    }

    /// Runs `f` on `size` threads, one rank each, and returns their results in rank order.
    pub fn run<T: Send>(size: usize, f: impl Fn(Box<dyn Communicator>) -> T + Sync) -> Vec<T> {
        let comms = Self::world(size);
        std::thread::scope(|s| {
            let handles: Vec<_> = comms.into_iter().map(|c| s.spawn(|| f(Box::new(c)))).collect();
            handles.into_iter().map(|h| h.join().expect("learner thread panicked")).collect()
        })
    }

    /// Puts a message in `dest`'s mailbox (sends never wait, as buffered MPI sends).
    fn post(&self, dest: usize, tag: u32, payload: Payload) -> Result<()> {
        if dest >= self.group.size {
            return Err(SurrogateError::Comm(format!("send to rank {dest} of {}", self.group.size)));
        }
        self.group.lock()?.mailboxes[dest].push_back((self.rank, tag, payload));
        self.group.wake.notify_all();
        Ok(())
    }

    /// Waits for the first message with `tag` (from `source`, or anyone) of the wanted kind; an
    /// error once no rank that could still send it is left.
    fn take(&self, source: Option<usize>, tag: u32, bytes: bool) -> Result<(usize, Payload)> {
        let mut s = self.group.lock()?;
        loop {
            let q = &mut s.mailboxes[self.rank];
            let hit = q.iter().position(|(from, t, p)| {
                *t == tag && source.is_none_or(|src| src == *from) && matches!(p, Payload::Bytes(_)) == bytes
            });
            if let Some(i) = hit {
                let (from, _, p) = q.remove(i).expect("found");
                return Ok((from, p));
            }
            match source {
                Some(src) if s.departed[src] => return Err(departed(src)),
                None if (0..self.group.size).all(|r| r == self.rank || s.departed[r]) => {
                    return Err(departed((self.rank + 1) % self.group.size))
                }
                _ => {}
            }
            s = self.group.wake.wait(s).map_err(|_| poisoned())?;
        }
    }
}

impl Communicator for ThreadComm {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.group.size
    }

    fn all_gather(&mut self, data: &[f64]) -> Result<Vec<Vec<f64>>> {
        let g = &self.group;
        let mut s = g.lock()?;
        s.slots[self.rank] = Some(data.to_vec());
        s.arrived += 1;
        let generation = s.generation;
        if s.arrived == g.size {
            // The last to arrive completes it; nobody can start the next one before every rank
            // has taken this result, since the next one needs every rank.
            s.last = Arc::new(s.slots.iter_mut().map(|x| x.take().unwrap_or_default()).collect());
            (s.arrived, s.generation) = (0, generation + 1);
            g.wake.notify_all();
        }
        while s.generation == generation {
            if let Some(r) = (0..g.size).find(|&r| s.departed[r]) {
                return Err(departed(r));
            }
            s = g.wake.wait(s).map_err(|_| poisoned())?;
        }
        let all = Arc::clone(&s.last);
        drop(s);
        if all.iter().any(|a| a.len() != data.len()) {
            return Err(SurrogateError::Comm("all-gather of buffers of different lengths".into()));
        }
        self.stats.bytes_sent += 8 * data.len() as u64 * (g.size as u64 - 1);
        Ok(all.to_vec())
    }

    fn send(&mut self, dest: usize, tag: u32, data: &[f64]) -> Result<()> {
        self.post(dest, tag, Payload::F64(data.to_vec()))?;
        self.stats.bytes_sent += 8 * data.len() as u64;
        Ok(())
    }

    fn recv(&mut self, source: Option<usize>, tag: u32) -> Result<(usize, Vec<f64>)> {
        match self.take(source, tag, false)? {
            (s, Payload::F64(d)) => Ok((s, d)),
            (_, Payload::Bytes(_)) => unreachable!("take matches the payload kind"),
        }
    }

    fn send_bytes(&mut self, dest: usize, tag: u32, data: &[u8]) -> Result<()> {
        self.post(dest, tag, Payload::Bytes(data.to_vec()))?;
        self.stats.bytes_sent += data.len() as u64;
        Ok(())
    }

    fn recv_bytes(&mut self, source: usize, tag: u32) -> Result<Vec<u8>> {
        match self.take(Some(source), tag, true)? {
            (_, Payload::Bytes(d)) => Ok(d),
            (_, Payload::F64(_)) => unreachable!("take matches the payload kind"),
        }
    }

    fn split(&mut self, color: Option<u32>) -> Result<Option<Box<dyn Communicator>>> {
        self.splits += 1;
        let key = self.splits;
        let code = color.map_or(-1.0, f64::from);
        let colors = self.all_gather(&[code])?;
        let mine = color.map(|c| {
            let members: Vec<usize> = (0..colors.len()).filter(|&r| colors[r][0] == code).collect();
            let rank = members.iter().position(|&r| r == self.rank).expect("a member of its own color");
            (c, rank, members.len())
        });
        let group = match mine {
            Some((c, _, n)) => {
                let mut children = self.group.children.lock().map_err(|_| poisoned())?;
                Some(Arc::clone(children.entry((key, c)).or_insert_with(|| Group::new(n))))
            }
            None => None,
        };
        // Everyone (those sitting out too) waits until all members hold their child group; then
        // the registry entries can go.
        let _ = self.all_gather(&[])?;
        match (mine, group) {
            (Some((c, rank, _)), Some(group)) => {
                if rank == 0 {
                    let _ = self.group.children.lock().map_err(|_| poisoned())?.remove(&(key, c));
                }
                Ok(Some(Box::new(Self { group, rank, splits: 0, stats: CommStats::default() })))
            }
            _ => Ok(None),
        }
    }

    fn stats(&self) -> CommStats {
        self.stats
    }
    fn book(&mut self, all_reduces: u64, bytes: u64) {
        self.stats.all_reduces += all_reduces;
        self.stats.bytes_sent += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte messages travel apart from f64 ones; a rank that leaves makes its peers' waits fail
    /// instead of hang (what lets a failing rank of a decomposed run end the run).
    #[test]
    fn byte_messages_and_departed_ranks() {
        let out = ThreadComm::run(3, |mut c| {
            let (r, p) = (c.rank(), c.size());
            let got = c.exchange_bytes((r + 1) % p, (r + p - 1) % p, 9, &[r as u8; 3]).expect("exchange");
            c.send(0, 9, &[1.5]).expect("an f64 message with the same tag");
            if r == 0 {
                let f = c.recv(Some(1), 9).expect("the f64 message").1;
                let _ = c.recv(Some(2), 9).expect("the f64 message");
                assert_eq!(f, [1.5]);
            }
            if r == 2 {
                return (got, None); // leaves: its communicator is dropped
            }
            // A departure is its own error kind, so a caller can tell it from its own failure.
            let left = |e: SurrogateError| {
                assert!(matches!(e, SurrogateError::PeerLeft(_)), "{e}");
                e.to_string()
            };
            let waited = c.recv_bytes(2, 11).map(|_| ()).map_err(left);
            let gathered = c.all_gather(&[0.0]).map(|_| ()).map_err(left);
            (got, Some((waited, gathered)))
        });
        for (r, (got, rest)) in out.into_iter().enumerate() {
            assert_eq!(got, vec![((r + 2) % 3) as u8; 3]);
            if let Some((waited, gathered)) = rest {
                assert!(waited.unwrap_err().contains("rank 2 left"));
                assert!(gathered.unwrap_err().contains("left"));
            }
        }
    }

    #[test]
    fn collectives_messages_and_splits() {
        let out = ThreadComm::run(4, |mut c| {
            let r = c.rank() as f64;
            let mut v = [r, 10.0 * r];
            c.all_reduce_mean(&mut v).expect("all-reduce");
            let mut b = [if c.rank() == 2 { 7.0 } else { 0.0 }];
            c.broadcast(&mut b, 2).expect("broadcast");
            // A ring of messages.
            let next = (c.rank() + 1) % 4;
            c.send(next, 5, &[r]).expect("send");
            let (from, got) = c.recv(None, 5).expect("recv");
            // Even and odd ranks form two groups; rank 3 sits out.
            let color = if c.rank() == 3 { None } else { Some((c.rank() % 2) as u32) };
            let sub = c.split(color).expect("split");
            let sub_sum = sub.map(|mut s| {
                let mut x = [r];
                s.all_reduce_mean(&mut x).expect("sub all-reduce");
                (s.rank(), s.size(), x[0])
            });
            (v, b[0], from, got[0], sub_sum, c.stats().all_reduces)
        });
        for (rank, (v, b, from, got, sub, reductions)) in out.into_iter().enumerate() {
            assert_eq!(v, [1.5, 15.0]);
            assert_eq!(b, 7.0);
            assert_eq!((from, got), ((rank + 3) % 4, ((rank + 3) % 4) as f64));
            match rank {
                0 => assert_eq!(sub, Some((0, 2, 1.0))),
                1 => assert_eq!(sub, Some((0, 1, 1.0))),
                2 => assert_eq!(sub, Some((1, 2, 1.0))),
                _ => assert_eq!(sub, None),
            }
            assert_eq!(reductions, 1);
        }
    }
}
