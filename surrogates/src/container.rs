//! The one binary container behind model, dataset and checkpoint files:
//!
//! ```text
//! magic (8 bytes) | version (u32) | header length (u32) | header (JSON) |
//! array count (u32) | for each array: length (u64), values (f64) | CRC-32 of all of the above (u32)
//! ```
//!
//! All integers and floats little-endian. The checksum is verified before anything is parsed, so
//! a truncated or corrupted file is refused with a message, never half-read. The bytes are a
//! function of the contents alone (no timestamps, fields in declaration order), so equal runs
//! write equal files. Files are written atomically: a temporary file in the same directory,
//! flushed to disk, then renamed over the target.
//!
//! ```
//! use std::path::Path;
//!
//! use hemoscale_surrogates::container::{decode, encode};
//!
//! const MAGIC: &[u8; 8] = b"EXAMPLE\0";
//! let bytes = encode(MAGIC, 1, &"a header", &[&[1.5, -2.0], &[]]);
//! let (h, arrays): (String, _) = decode(&bytes, MAGIC, 1, "example file", Path::new("x.bin"))?;
//! assert_eq!((h.as_str(), arrays), ("a header", vec![vec![1.5, -2.0], vec![]]));
//! // A flipped bit in the header: the checksum refuses the file, naming it.
//! let mut bad = bytes.clone();
//! bad[20] ^= 0x10;
//! let e = decode::<String>(&bad, MAGIC, 1, "example file", Path::new("x.bin")).unwrap_err();
//! assert!(e.to_string().starts_with("x.bin: checksum mismatch"), "{e}");
//! # Ok::<(), hemoscale_surrogates::SurrogateError>(())
//! ```

use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Result, SurrogateError};

fn corrupt(path: &Path, why: impl Into<String>) -> SurrogateError {
    SurrogateError::Corrupt { path: path.display().to_string(), why: why.into() }
}

/// Encodes a header and arrays.
pub fn encode<H: Serialize>(magic: &[u8; 8], version: u32, header: &H, arrays: &[&[f64]]) -> Vec<u8> {
    let head = serde_json::to_vec(header).expect("headers are plain data");
    let mut out = Vec::with_capacity(24 + head.len() + arrays.iter().map(|a| 8 + 8 * a.len()).sum::<usize>());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(head.len() as u32).to_le_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&(arrays.len() as u32).to_le_bytes());
    for a in arrays {
        out.extend_from_slice(&(a.len() as u64).to_le_bytes());
        for v in *a {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8]> {
        let end =
            self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
                corrupt(self.path, format!("truncated: {what} needs {n} bytes at offset {}", self.at))
            })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }
}

/// Decodes what [`encode`] wrote, checking magic, version and checksum; `kind` names the file
/// type in messages ("model file", ...).
pub fn decode<H: DeserializeOwned>(
    bytes: &[u8],
    magic: &[u8; 8],
    version: u32,
    kind: &str,
    path: &Path,
) -> Result<(H, Vec<Vec<f64>>)> {
    if bytes.len() < 24 {
        return Err(corrupt(path, format!("{} bytes is too short for a {kind}", bytes.len())));
    }
    if &bytes[..8] != magic {
        return Err(corrupt(path, format!("not a {kind} (wrong magic number)")));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes(tail.try_into().expect("4 bytes"));
    let actual = crc32fast::hash(body);
    if stored != actual {
        return Err(corrupt(
            path,
            format!(
                "checksum mismatch (stored {stored:08x}, computed {actual:08x}): the {kind} is truncated or corrupted"
            ),
        ));
    }
    let mut r = Reader { bytes: body, at: 8, path };
    let v = r.u32("version")?;
    if v != version {
        return Err(corrupt(path, format!("{kind} version {v}; this build reads version {version}")));
    }
    let hl = r.u32("header length")? as usize;
    let header =
        serde_json::from_slice(r.take(hl, "header")?).map_err(|e| corrupt(path, format!("{kind} header: {e}")))?;
    let count = r.u32("array count")?;
    let mut arrays = Vec::new();
    for i in 0..count {
        let n = r.u64("array length")?;
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= body.len() / 8)
            .ok_or_else(|| corrupt(path, format!("array {i} claims {n} values, more than the file holds")))?;
        let raw = r.take(8 * n, "array values")?;
        arrays.push(raw.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect());
    }
    if r.at != body.len() {
        return Err(corrupt(path, format!("{} unexpected bytes after the last array", body.len() - r.at)));
    }
    Ok((header, arrays))
}

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| SurrogateError::Io { path: path.display().to_string(), source })
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync of the folder).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| SurrogateError::Io { path: path.display().to_string(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)?;
    // The rename itself lives in the folder: sync it too, so a crash right after cannot bring
    // back the old file (or none) under the name.
    #[cfg(unix)]
    if let Some(dir) = path.parent().map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d }) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: &[u8; 8] = b"HSTEST\0\0";

    #[test]
    fn round_trips_and_refuses_every_damage() {
        let a = [1.5, -2.25, 3.0];
        let bytes = encode(MAGIC, 1, &"header", &[&a, &[]]);
        let p = Path::new("x.bin");
        let (h, arrays): (String, _) = decode(&bytes, MAGIC, 1, "test file", p).expect("decode");
        assert_eq!((h.as_str(), arrays), ("header", vec![a.to_vec(), vec![]]));
        // Every truncation and every single flipped bit is refused.
        for n in 0..bytes.len() {
            assert!(decode::<String>(&bytes[..n], MAGIC, 1, "test file", p).is_err(), "truncated to {n}");
        }
        for i in 0..bytes.len() {
            for bit in [0, 3, 7] {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let e = decode::<String>(&b, MAGIC, 1, "test file", p).unwrap_err().to_string();
                assert!(e.starts_with("x.bin: "), "{e}");
            }
        }
        let e = decode::<String>(&bytes, MAGIC, 2, "test file", p).unwrap_err().to_string();
        assert!(e.contains("version 1"), "{e}");
    }
}
