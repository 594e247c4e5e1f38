//! Extended XYZ trajectory (libAtoms/QUIP convention), one file with the frames appended, as
//! OVITO and ASE (`ase.io.read(path, index=":", format="extxyz")`) read it. Each frame is
//!
//! ```text
//! N
//! Lattice="Lx 0 0 0 Ly 0 0 0 Lz" Properties=species:S:1:pos:R:3:velo:R:3:id:I:1:Z:I:1 Time=t Step=s pbc="T T T"
//! name x y z vx vy vz tag Z
//! ...
//! ```
//!
//! `species` is the type name (OVITO: particle type, any name), `velo` the velocity (OVITO:
//! Velocity; ASE: `atoms.arrays["velo"]`), `id` the tag (OVITO: Particle Identifier; ASE:
//! `atoms.arrays["id"]`). `Z` is the type id plus one: ASE turns `species` into chemical elements
//! and refuses names that are not element symbols, but takes the atomic numbers from a `Z` column
//! when there is one (the way it reads LAMMPS types), so any type names load; OVITO shows `Z` as
//! an integer property. `Time` and `Step` land in ASE's `atoms.info` and OVITO's global
//! attributes. The box origin is 0 (the kernel's convention), which both readers assume.
//! Numbers are the shortest text that reads back as the same `f32`/`f64`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::number::{f32_text, f64_text};
use super::{Frame, OutputError};

/// An extended XYZ file that frames are appended to.
#[derive(Debug)]
pub struct XyzWriter {
    path: PathBuf,
    file: File,
    frames: u64,
}

impl XyzWriter {
    /// Creates (truncates) `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, OutputError> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path).map_err(|e| OutputError::io(&path, e))?;
        Ok(Self { path, file, frames: 0 })
    }

    /// Opens `path` to append frames after those it holds (a restarted run), creating it if
    /// missing. The frame count starts at 0.
    pub fn append(path: impl AsRef<Path>) -> Result<Self, OutputError> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| OutputError::io(&path, e))?;
        Ok(Self { path, file, frames: 0 })
    }

    /// Reopens the trajectory `path` of a run resumed at `step`: keeps the complete frames up to
    /// `step` (their `Step=` key), drops later or torn ones, and appends from there. A missing
    /// file is created.
    pub fn resume(path: impl AsRef<Path>, step: u64) -> Result<Self, OutputError> {
        let path = path.as_ref().to_path_buf();
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Self::create(&path),
            Err(e) => return Err(OutputError::io(&path, e)),
        };
        let (mut keep, mut frames) = (0usize, 0u64);
        let mut lines = text.split_inclusive(|&b| b == b'\n').peekable();
        'frames: while lines.peek().is_some() {
            let mut len = 0;
            let mut line = || lines.next().filter(|l| l.ends_with(b"\n")).inspect(|l| len += l.len());
            let Some(n) = line().and_then(|l| std::str::from_utf8(l).ok()?.trim().parse::<usize>().ok()) else { break };
            let Some(comment) = line().and_then(|l| std::str::from_utf8(l).ok().map(str::to_owned)) else { break };
            let frame_step =
                comment.split_whitespace().find_map(|w| w.strip_prefix("Step=")).and_then(|v| v.parse::<u64>().ok());
            for _ in 0..n {
                if line().is_none() {
                    break 'frames;
                }
            }
            match frame_step {
                Some(s) if s <= step => {
                    keep += len;
                    frames += 1;
                }
                _ => break,
            }
        }
        let file = OpenOptions::new().write(true).open(&path).map_err(|e| OutputError::io(&path, e))?;
        file.set_len(keep as u64).map_err(|e| OutputError::io(&path, e))?;
        drop(file);
        let mut w = Self::append(&path)?;
        w.frames = frames;
        Ok(w)
    }

    /// Appends `frame`, checked first ([`Frame::check`]; type names must be non-empty and hold
    /// no whitespace or quotes, since readers split lines at whitespace). The frame is formatted
    /// in memory and written with one call, so a killed run leaves at most one torn frame at the
    /// end of the file.
    pub fn write_frame(&mut self, frame: &Frame<'_>) -> Result<(), OutputError> {
        frame.check().map_err(|what| OutputError::data(&self.path, what))?;
        if let Some(bad) =
            frame.type_names.iter().find(|n| n.is_empty() || n.contains(|c: char| c.is_whitespace() || c == '"'))
        {
            return Err(OutputError::data(
                &self.path,
                format!("type name {bad:?} cannot be written to XYZ: it must be non-empty, without spaces or quotes"),
            ));
        }
        let [lx, ly, lz] = frame.box_lengths.map(f64_text);
        let mut s = String::with_capacity(64 * (frame.len() + 2));
        s.push_str(&format!("{}\n", frame.len()));
        s.push_str(&format!(
            "Lattice=\"{lx} 0 0 0 {ly} 0 0 0 {lz}\" Properties=species:S:1:pos:R:3:velo:R:3:id:I:1:Z:I:1 \
             Time={} Step={} pbc=\"T T T\"\n",
            f64_text(frame.time),
            frame.step
        ));
        for i in 0..frame.len() {
            let t = frame.type_ids[i];
            let [x, y, z] = frame.positions[i].map(f32_text);
            let [vx, vy, vz] = frame.velocities[i].map(f32_text);
            let name = &frame.type_names[t as usize];
            s.push_str(&format!("{name} {x} {y} {z} {vx} {vy} {vz} {} {}\n", frame.tags[i], u64::from(t) + 1));
        }
        self.file.write_all(s.as_bytes()).map_err(|e| OutputError::io(&self.path, e))?;
        self.frames += 1;
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames written through this writer.
    pub fn frames_written(&self) -> u64 {
        self.frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_extxyz_layout() {
        let dir = std::env::temp_dir().join(format!("hemoscale-xyz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.xyz");
        let names = vec!["plasma".to_string(), "wall".to_string()];
        let pos = [[0.5f32, 1.0, 1.5], [2.0, 2.5, 3.0]];
        let vel = [[0.1f32, -0.2, 0.0], [1e-7, 0.0, 3.0]];
        let frame = Frame {
            step: 100,
            time: 1.0,
            box_lengths: [4.0, 5.0, 6.5],
            positions: &pos,
            velocities: &vel,
            type_ids: &[0, 1],
            tags: &[7, 3],
            type_names: &names,
        };
        let mut w = XyzWriter::create(&path).unwrap();
        w.write_frame(&frame).unwrap();
        w.write_frame(&Frame { step: 200, ..frame }).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8);
        assert_eq!(lines[0], "2");
        assert_eq!(
            lines[1],
            "Lattice=\"4 0 0 0 5 0 0 0 6.5\" Properties=species:S:1:pos:R:3:velo:R:3:id:I:1:Z:I:1 Time=1 Step=100 \
             pbc=\"T T T\""
        );
        assert_eq!(lines[2], "plasma 0.5 1 1.5 0.1 -0.2 0 7 1");
        assert_eq!(lines[3], "wall 2 2.5 3 1e-7 0 3 3 2");
        assert!(lines[5].contains("Step=200"));
        assert_eq!(w.frames_written(), 2);
        // A run resumed at step 150 keeps the first frame, drops the second and appends.
        let mut torn = std::fs::read(&path).unwrap();
        torn.extend_from_slice(b"2\nLattice=");
        std::fs::write(&path, &torn).unwrap();
        let mut r = XyzWriter::resume(&path, 150).unwrap();
        assert_eq!(r.frames_written(), 1);
        r.write_frame(&Frame { step: 160, ..frame }).unwrap();
        let resumed = std::fs::read_to_string(&path).unwrap();
        assert_eq!(resumed.lines().count(), 8);
        assert!(
            resumed.lines().nth(1).unwrap().contains("Step=100")
                && resumed.lines().nth(5).unwrap().contains("Step=160")
        );
        drop(r);
        w = XyzWriter::create(&path).unwrap();
        w.write_frame(&frame).unwrap();
        w.write_frame(&Frame { step: 200, ..frame }).unwrap();

        let bad_names = vec!["red cell".to_string(), "wall".to_string()];
        let e = w.write_frame(&Frame { type_names: &bad_names, ..frame }).unwrap_err().to_string();
        assert!(e.contains("\"red cell\""), "{e}");
        let e = w.write_frame(&Frame { tags: &[1], ..frame }).unwrap_err().to_string();
        assert!(e.contains("t.xyz") && e.contains("1 tags for 2 positions"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
