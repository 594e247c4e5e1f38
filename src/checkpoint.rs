//! Checkpoints: everything a run needs to continue bit for bit, in one checksummed file.
//!
//! A checkpoint holds the particles in the engine's memory order (positions, velocities, the
//! forces velocity-Verlet's next half-kick needs, types, ids), the step, the bounce-back counters,
//! the observables sampled so far and the accumulators of the run's probe and field grid, the
//! platelets (their levels' state: particles, forces of every level, pair-list references, stress
//! sums, activation and adhesion bonds; and the run's measurements: tracks, stress accumulation,
//! the rest stress), the coupling state of a `coupling=surrogate` run (CBOR: models, harvest,
//! modes, reduced states, counters) or of a `coupling=adaptive` one (factor in force, windows,
//! hold, trial harvest, counters), plus a
//! fingerprint of the scenario and the caller's *recipe* (for the `hemoscale` binary: the `run`
//! command's arguments) so `hemoscale run --resume DIR` needs nothing else. The random numbers are
//! counter-based (keyed by seed, step and particle ids), so there is no generator state to keep.
//!
//! Files are `DIR/checkpoint_{step:012}.hsc` in the container format of
//! [`hemoscale_surrogates::container`] (a JSON header, f64 arrays, CRC-32): the header names the
//! run, the arrays hold the particles and accumulators, and the last one the platelets and the
//! coupling state as CBOR (bit for bit, infinities included, compact for large platelets). They
//! are written atomically (a temporary file, fsync, rename, fsync of the folder). After each write only the two newest are
//! kept, so a checkpoint damaged after it was written still leaves its predecessor.
//! [`newest_good`] loads the newest checkpoint that reads back intact and reports every one it
//! refused.
//!
//! ```
//! use hemoscale::checkpoint::{Checkpoint, Counters};
//! use hemoscale::kernels::ParticleState;
//!
//! let dir = std::env::temp_dir().join(format!("hemoscale-doc-ckpt-{}", std::process::id()));
//! let state = ParticleState {
//!     pos: vec![[1.0, 2.0, 3.0]],
//!     vel: vec![[0.5, -0.25, 0.0]],
//!     force: vec![[0.0; 3]],
//!     type_id: vec![0],
//!     tag: vec![7],
//!     n_local: 1,
//! };
//! let c = Checkpoint::new("my-box", 0xabcd, serde_json::json!({"seed": 1}), 100, state, Counters::default());
//! let path = c.write(&dir).unwrap();
//! let (back, refused) = hemoscale::checkpoint::newest_good(&dir).unwrap();
//! assert!(refused.is_empty());
//! assert_eq!((back.step, back.state.tag[0], back.path.as_ref()), (100, 7, Some(&path)));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::path::{Path, PathBuf};

use hemoscale_kernels::mts::PlateletSnapshot;
use hemoscale_kernels::walls::WallCounts;
use hemoscale_kernels::{Observables, ParticleState};
use hemoscale_surrogates::container;
use serde::{Deserialize, Serialize};

/// First bytes of a checkpoint file.
pub const MAGIC: &[u8; 8] = b"HSCKPT\0\0";
/// Format version this build writes and reads (2: platelets and the coupling state as CBOR in a
/// ninth array, platelet levels optional).
pub const VERSION: u32 = 2;
/// Checkpoints kept in a folder: the newest and its predecessor.
pub const KEEP: usize = 2;

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file is damaged, truncated, of another version, or not a checkpoint.
    #[error("{0}")]
    Corrupt(String),
    /// The file is intact but does not belong to this run.
    #[error("{path}: {why}")]
    Mismatch {
        /// The file.
        path: String,
        /// What differs.
        why: String,
    },
    /// No intact checkpoint in the folder.
    #[error("no usable checkpoint in {dir}{refused}")]
    None {
        /// The folder.
        dir: String,
        /// The files refused, with why (empty when there were none).
        refused: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Counters of the run that continue across a resume.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Bounce-back reflections so far.
    pub bounced: u64,
    /// Particles found inside a wall (0 in a healthy run).
    pub leaked: u64,
    /// Fixed-point wall impulses ([`WallCounts::impulse`]).
    pub impulse: [i64; 2],
    /// Fluid particles.
    pub fluid: usize,
    /// Frozen wall particles.
    pub wall: usize,
}

impl Counters {
    /// The bounce-back counters.
    pub fn wall_counts(&self) -> WallCounts {
        WallCounts { bounced: self.bounced, leaked: self.leaked, impulse: self.impulse }
    }
    /// Sets the bounce-back counters.
    pub fn set_wall_counts(&mut self, c: WallCounts) {
        (self.bounced, self.leaked, self.impulse) = (c.bounced, c.leaked, c.impulse);
    }
}

/// The platelets of a checkpoint: their levels' dynamic state, the run's measurements of them,
/// and the first platelet id (ids key the pair noise, so they must come back the same).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlateletCheckpoint {
    /// Id of the first platelet particle.
    pub first_tag: u32,
    /// The engine's platelet levels (None when a coupled run's engine holds no platelet: every
    /// one runs reduced).
    pub levels: Option<PlateletSnapshot>,
    /// The run's platelet measurements ([`crate::platelets::PlateletProbe::save`]).
    pub probe: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct Header {
    scenario: String,
    fingerprint: u32,
    step: u64,
    particles: usize,
    counters: Counters,
    samples: usize,
    recipe: serde_json::Value,
}

/// The structured part of a checkpoint (platelets, coupling), stored as CBOR in one array: it
/// carries f32 and f64 values bit for bit, infinities and NaN included, and stays compact for
/// platelets of many particles. The header holds only what a reader needs to check the file.
#[derive(Serialize, Deserialize)]
struct Structured {
    platelets: Option<PlateletCheckpoint>,
    coupling: Vec<u8>,
}

/// Numbers per sampled [`Observables`]: step, n, volume, momentum (3), kinetic (6), virial (6).
const SAMPLE_WORDS: usize = 18;

/// One checkpoint: the state of a run at `step`.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Scenario name.
    pub scenario: String,
    /// Fingerprint of the scenario's physics ([`crate::dsl::Scenario::fingerprint`]): a resume
    /// into another scenario is refused.
    pub fingerprint: u32,
    /// How the caller builds the scenario again (the binary stores its `run` arguments).
    pub recipe: serde_json::Value,
    /// Step of the state.
    pub step: u64,
    /// Particles, in the engine's memory order (the order forces are summed in).
    pub state: ParticleState,
    /// Counters that continue.
    pub counters: Counters,
    /// Observables sampled so far.
    pub samples: Vec<Observables>,
    /// Accumulators of the run's flow probe ([`crate::flow::FlowProbe::save`]).
    pub probe: Vec<f64>,
    /// Accumulators of the run's field grid ([`crate::output::FieldGrid::save`]).
    pub fields: Vec<f64>,
    /// The platelets (None without).
    pub platelets: Option<PlateletCheckpoint>,
    /// The coupling state of a `coupling=surrogate` run ([`crate::coupled::Coupled::save`]:
    /// models, harvest, which platelets run reduced and their states, counters) or of a
    /// `coupling=adaptive` one ([`crate::adaptive::Adaptive::save`]); empty without.
    pub coupling: Vec<u8>,
    /// The file it was read from (None for one built in memory).
    pub path: Option<PathBuf>,
}

impl Checkpoint {
    /// A checkpoint of `state` at `step` with no samples or accumulators (add them to the fields).
    pub fn new(
        scenario: &str,
        fingerprint: u32,
        recipe: serde_json::Value,
        step: u64,
        state: ParticleState,
        counters: Counters,
    ) -> Self {
        Self {
            scenario: scenario.to_string(),
            fingerprint,
            recipe,
            step,
            state,
            counters,
            samples: Vec::new(),
            probe: Vec::new(),
            fields: Vec::new(),
            platelets: None,
            coupling: Vec::new(),
            path: None,
        }
    }

    /// The file name of the checkpoint at `step`.
    pub fn file_name(step: u64) -> String {
        format!("checkpoint_{step:012}.hsc")
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let s = &self.state;
        let header = Header {
            scenario: self.scenario.clone(),
            fingerprint: self.fingerprint,
            step: self.step,
            particles: s.len(),
            counters: self.counters,
            samples: self.samples.len(),
            recipe: self.recipe.clone(),
        };
        let structured = to_cbor(&Structured { platelets: self.platelets.clone(), coupling: self.coupling.clone() });
        let flat = |v: &[[f32; 3]]| v.iter().flatten().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        let ints = |v: &[u32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        let samples: Vec<f64> = self
            .samples
            .iter()
            .flat_map(|o| {
                let mut w = vec![o.step as f64, o.n as f64, o.volume];
                w.extend(o.momentum.iter().chain(&o.kinetic).chain(&o.virial));
                w
            })
            .collect();
        let arrays = [
            flat(&s.pos),
            flat(&s.vel),
            flat(&s.force),
            ints(&s.type_id),
            ints(&s.tag),
            samples,
            self.probe.clone(),
            self.fields.clone(),
            pack_bytes(&structured),
        ];
        let refs: Vec<&[f64]> = arrays.iter().map(Vec::as_slice).collect();
        container::encode(MAGIC, VERSION, &header, &refs)
    }

    /// Reads `bytes` (the contents of `path`), refusing damage with a message naming the file.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let corrupt = |why: String| CheckpointError::Corrupt(format!("{}: {why}", path.display()));
        let (h, arrays): (Header, Vec<Vec<f64>>) =
            container::decode(bytes, MAGIC, VERSION, "checkpoint", path).map_err(|e| corrupt_msg(e, path))?;
        let [pos, vel, force, type_id, tag, samples, probe, fields, structured]: [Vec<f64>; 9] =
            arrays.try_into().map_err(|a: Vec<Vec<f64>>| corrupt(format!("{} arrays, expected 9", a.len())))?;
        let structured =
            unpack_bytes(&structured).ok_or_else(|| corrupt("the structured part's length is wrong".into()))?;
        let Structured { platelets, coupling } =
            from_cbor(&structured, "the platelet and coupling state").map_err(corrupt)?;
        let n = h.particles;
        let sizes = [(pos.len(), 3 * n), (vel.len(), 3 * n), (force.len(), 3 * n), (type_id.len(), n), (tag.len(), n)];
        if sizes.iter().any(|&(got, want)| got != want) || samples.len() != SAMPLE_WORDS * h.samples {
            return Err(corrupt(format!("array lengths do not match the header's {n} particles")));
        }
        let triples = |v: &[f64]| v.chunks_exact(3).map(|c| [c[0] as f32, c[1] as f32, c[2] as f32]).collect();
        let ints = |v: &[f64]| v.iter().map(|&x| x as u32).collect();
        let samples = samples
            .chunks_exact(SAMPLE_WORDS)
            .map(|w| Observables {
                step: w[0] as u64,
                n: w[1] as usize,
                volume: w[2],
                momentum: [w[3], w[4], w[5]],
                kinetic: std::array::from_fn(|k| w[6 + k]),
                virial: std::array::from_fn(|k| w[12 + k]),
            })
            .collect();
        Ok(Self {
            scenario: h.scenario,
            fingerprint: h.fingerprint,
            recipe: h.recipe,
            step: h.step,
            state: ParticleState {
                pos: triples(&pos),
                vel: triples(&vel),
                force: triples(&force),
                type_id: ints(&type_id),
                tag: ints(&tag),
                n_local: n,
            },
            counters: h.counters,
            samples,
            probe,
            fields,
            platelets,
            coupling,
            path: Some(path.to_path_buf()),
        })
    }

    /// Reads the checkpoint file `path`.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = container::read(path).map_err(|e| corrupt_msg(e, path))?;
        Self::decode(&bytes, path)
    }

    /// Writes the checkpoint into `dir` (created if missing) atomically, then removes all but the
    /// [`KEEP`] newest checkpoints there. Returns the file's path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, CheckpointError> {
        let path = dir.join(Self::file_name(self.step));
        container::write_atomic(&path, &self.encode()).map_err(|e| corrupt_msg(e, &path))?;
        for (_, old) in list(dir)?.into_iter().skip(KEEP) {
            std::fs::remove_file(&old)
                .map_err(|source| CheckpointError::Io { path: old.display().to_string(), source })?;
        }
        Ok(path)
    }
}

/// Reads back, in order, the numbers that accumulators' `save` methods appended to a checkpoint
/// array, refusing a length that does not fit (an accumulator shaped differently from the one
/// that was saved: another scenario, or a damaged file).
#[derive(Debug)]
pub struct Words<'a> {
    data: &'a [f64],
    at: usize,
}

impl<'a> Words<'a> {
    /// A reader of `data`.
    pub fn new(data: &'a [f64]) -> Self {
        Self { data, at: 0 }
    }
    /// The next `n` numbers.
    pub fn take(&mut self, n: usize) -> Result<&'a [f64], String> {
        let end = self.at + n;
        if end > self.data.len() {
            return Err(format!("accumulators end after {} numbers; {end} needed", self.data.len()));
        }
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }
    /// The next number.
    pub fn one(&mut self) -> Result<f64, String> {
        Ok(self.take(1)?[0])
    }
    /// The next whole number saved with [`bits`].
    pub fn int(&mut self) -> Result<u64, String> {
        Ok(self.one()?.to_bits())
    }
    /// Checks that every number was read.
    pub fn finish(self) -> Result<(), String> {
        match self.data.len() - self.at {
            0 => Ok(()),
            k => Err(format!("{k} accumulator numbers left over")),
        }
    }
}

/// A whole number stored exactly in an f64 array slot (its bits; read back with [`Words::int`]).
/// Below 2^63 the bits never form a NaN, which some platforms would not carry bit for bit.
pub fn bits(x: u64) -> f64 {
    f64::from_bits(x)
}

/// Encodes a structured state (platelets, coupling) as CBOR: it carries infinities and NaN bit
/// for bit, which the coupling's controller holds and JSON cannot, and stays compact.
pub fn to_cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).expect("CBOR into memory cannot fail");
    bytes
}

/// Decodes what [`to_cbor`] wrote; the error names `what` did not decode. A type with fewer
/// fields than the one written takes only those (serde skips the others), so a caller that needs
/// one field need not build the whole state.
pub fn from_cbor<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, String> {
    ciborium::from_reader(bytes).map_err(|e| format!("{what} does not decode: {e}"))
}

/// Bytes as f64 array slots: the byte count, then four bytes per slot (a u32, exact in an f64).
fn pack_bytes(bytes: &[u8]) -> Vec<f64> {
    let mut out = vec![bytes.len() as f64];
    out.extend(bytes.chunks(4).map(|c| {
        let mut w = [0u8; 4];
        w[..c.len()].copy_from_slice(c);
        f64::from(u32::from_le_bytes(w))
    }));
    out
}

/// What [`pack_bytes`] packed; None when the slots do not hold that many bytes (an empty array
/// holds none).
fn unpack_bytes(slots: &[f64]) -> Option<Vec<u8>> {
    let Some((&len, words)) = slots.split_first() else { return Some(Vec::new()) };
    let len = len as usize;
    if words.len() != len.div_ceil(4) {
        return None;
    }
    let mut out: Vec<u8> = words.iter().flat_map(|&w| (w as u32).to_le_bytes()).collect();
    out.truncate(len);
    Some(out)
}

fn corrupt_msg(e: hemoscale_surrogates::SurrogateError, path: &Path) -> CheckpointError {
    match e {
        hemoscale_surrogates::SurrogateError::Io { source, .. } => {
            CheckpointError::Io { path: path.display().to_string(), source }
        }
        other => CheckpointError::Corrupt(other.to_string()),
    }
}

/// The checkpoint files in `dir`, newest (highest step) first, with their steps. A missing
/// folder holds none.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, CheckpointError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CheckpointError::Io { path: dir.display().to_string(), source }),
    };
    let mut found: Vec<(u64, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name.strip_prefix("checkpoint_")?.strip_suffix(".hsc")?.parse().ok()?;
            Some((step, e.path()))
        })
        .collect();
    found.sort_by_key(|x| std::cmp::Reverse(x.0));
    Ok(found)
}

/// The newest checkpoint in `dir` that reads back intact, and the messages of the newer ones
/// refused on the way (damaged or truncated files are skipped, never deleted).
pub fn newest_good(dir: &Path) -> Result<(Checkpoint, Vec<String>), CheckpointError> {
    let mut refused = Vec::new();
    for (_, path) in list(dir)? {
        match Checkpoint::load(&path) {
            Ok(c) => return Ok((c, refused)),
            Err(e) => refused.push(e.to_string()),
        }
    }
    let refused = if refused.is_empty() { String::new() } else { format!(" (refused: {})", refused.join("; ")) };
    Err(CheckpointError::None { dir: dir.display().to_string(), refused })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_checkpoint(step: u64) -> Checkpoint {
        let state = ParticleState {
            pos: vec![[0.1, 0.2, 0.3], [1.0 / 3.0, 2.5, 9.999_999]],
            vel: vec![[f32::MIN_POSITIVE, -1.0, 1e-30], [3.0, 4.0, 5.0]],
            force: vec![[1e30, -0.0, 7.0], [0.0; 3]],
            type_id: vec![0, 1],
            tag: vec![u32::MAX, 0],
            n_local: 2,
        };
        let counters = Counters { bounced: 5, leaked: 0, impulse: [-(1 << 60), 1 << 62], fluid: 1, wall: 1 };
        let mut c = Checkpoint::new("box", 42, serde_json::json!({"set": ["a=1"]}), step, state, counters);
        c.samples = vec![Observables {
            step: 10,
            n: 2,
            volume: 1000.0,
            momentum: [0.1, 0.2, 0.3],
            kinetic: [1.0; 6],
            virial: [-0.5; 6],
        }];
        c.probe = vec![1.0, 2.0];
        c.fields = vec![0.25];
        c.coupling = vec![0xa1, 0x61, 0x78, 0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0]; // {"x": inf} in CBOR
        c
    }

    #[test]
    fn round_trips_exactly_and_keeps_two() {
        let dir = std::env::temp_dir().join(format!("hemoscale-ckpt-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for step in [100, 200, 300] {
            let _ = sample_checkpoint(step).write(&dir).unwrap();
        }
        let steps: Vec<u64> = list(&dir).unwrap().iter().map(|x| x.0).collect();
        assert_eq!(steps, vec![300, 200], "only the two newest are kept");
        let (back, refused) = newest_good(&dir).unwrap();
        assert!(refused.is_empty());
        let mut want = sample_checkpoint(300);
        want.path = Some(dir.join(Checkpoint::file_name(300)));
        // Bit for bit: f32 values, u32 ids and i64 counters all survive.
        assert_eq!(back, want);
        assert_eq!(back.state.force[0][1].to_bits(), (-0.0f32).to_bits());

        // A damaged newest file is refused with a message, and its predecessor loads.
        let newest = dir.join(Checkpoint::file_name(300));
        let mut bytes = std::fs::read(&newest).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x10;
        std::fs::write(&newest, &bytes).unwrap();
        let (back, refused) = newest_good(&dir).unwrap();
        assert_eq!(back.step, 200);
        assert!(refused.len() == 1 && refused[0].contains("checksum mismatch"), "{refused:?}");
        // Truncated as well: nothing usable, and the message says why for each.
        let older = dir.join(Checkpoint::file_name(200));
        let bytes = std::fs::read(&older).unwrap();
        std::fs::write(&older, &bytes[..bytes.len() - 9]).unwrap();
        let e = newest_good(&dir).unwrap_err().to_string();
        assert!(e.contains("no usable checkpoint") && e.matches("checkpoint_0000000").count() == 2, "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
