//! Thermo table as CSV (RFC 4180): a header line of column names, then one row of numbers per
//! output step, like LAMMPS' `thermo` or HOOMD-blue's `Table` writer. Each row is handed to the
//! operating system as soon as it is written, so a killed run keeps every complete row.
//!
//! ```
//! use hemoscale::output::ThermoCsv;
//!
//! let dir = std::env::temp_dir().join(format!("hemoscale-doc-thermo-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("thermo.csv");
//! let mut csv = ThermoCsv::create(&path, &["step", "temperature"]).unwrap();
//! for step in [100.0, 200.0, 300.0] {
//!     csv.write_row(&[step, 1.0 + step * 1e-4]).unwrap();
//! }
//! drop(csv);
//! // A run resumed from its checkpoint at step 200 drops the later rows and appends.
//! let mut csv = ThermoCsv::resume(&path, &["step", "temperature"], 200).unwrap();
//! csv.write_row(&[300.0, 1.25]).unwrap();
//! drop(csv);
//! let text = std::fs::read_to_string(&path).unwrap();
//! assert_eq!(text.lines().collect::<Vec<_>>(), ["step,temperature", "100,1.01", "200,1.02", "300,1.25"]);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::number::f64_text;
use super::OutputError;

/// A CSV file of numeric rows under a fixed header.
#[derive(Debug)]
pub struct ThermoCsv {
    path: PathBuf,
    columns: Vec<String>,
    file: File,
    rows: u64,
}

/// A column name quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(name: &str) -> String {
    if name.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_string()
    }
}

impl ThermoCsv {
    /// Creates (truncates) `path` and writes the header line. Refuses an empty column list.
    pub fn create<S: AsRef<str>>(path: impl AsRef<Path>, columns: &[S]) -> Result<Self, OutputError> {
        let path = path.as_ref().to_path_buf();
        if columns.is_empty() {
            return Err(OutputError::data(&path, "a thermo table needs at least one column"));
        }
        let columns: Vec<String> = columns.iter().map(|c| c.as_ref().to_string()).collect();
        let mut file = File::create(&path).map_err(|e| OutputError::io(&path, e))?;
        let header = columns.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",") + "\n";
        file.write_all(header.as_bytes()).map_err(|e| OutputError::io(&path, e))?;
        Ok(Self { path, columns, file, rows: 0 })
    }

    /// Reopens the table `path` of a run resumed at `step`: keeps the header (which must name
    /// `columns`) and the complete rows up to `step` (first column), drops later or torn rows
    /// (written after the checkpoint, they will be written again), and appends from there. A
    /// missing file is created.
    pub fn resume<S: AsRef<str>>(path: impl AsRef<Path>, columns: &[S], step: u64) -> Result<Self, OutputError> {
        let path = path.as_ref().to_path_buf();
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Self::create(&path, columns),
            Err(e) => return Err(OutputError::io(&path, e)),
        };
        let header = columns.iter().map(|c| csv_field(c.as_ref())).collect::<Vec<_>>().join(",") + "\n";
        if !text.starts_with(header.as_bytes()) {
            return Err(OutputError::data(&path, format!("cannot resume: its header is not {:?}", header.trim_end())));
        }
        let (mut keep, mut rows) = (header.len(), 0);
        for line in text[header.len()..].split_inclusive(|&b| b == b'\n') {
            let first = line.split(|&b| b == b',').next().and_then(|f| std::str::from_utf8(f).ok());
            match first.and_then(|f| f.trim().parse::<f64>().ok()) {
                Some(s) if line.ends_with(b"\n") && s <= step as f64 => {
                    keep += line.len();
                    rows += 1;
                }
                _ => break,
            }
        }
        let mut file = OpenOptions::new().write(true).open(&path).map_err(|e| OutputError::io(&path, e))?;
        file.set_len(keep as u64).map_err(|e| OutputError::io(&path, e))?;
        let _ = file.seek(SeekFrom::End(0)).map_err(|e| OutputError::io(&path, e))?;
        let columns = columns.iter().map(|c| c.as_ref().to_string()).collect();
        Ok(Self { path, columns, file, rows })
    }

    /// Appends one row, one value per column, each in the shortest text that reads back as the
    /// same `f64` (`NaN`, `inf`, `-inf` for non-finite values). The row goes to the operating
    /// system in one write before this returns (no user-space buffer to lose).
    pub fn write_row(&mut self, values: &[f64]) -> Result<(), OutputError> {
        if values.len() != self.columns.len() {
            return Err(OutputError::data(
                &self.path,
                format!(
                    "row of {} values for {} columns ({})",
                    values.len(),
                    self.columns.len(),
                    self.columns.join(", ")
                ),
            ));
        }
        let line = values.iter().map(|&v| f64_text(v)).collect::<Vec<_>>().join(",") + "\n";
        self.file.write_all(line.as_bytes()).map_err(|e| OutputError::io(&self.path, e))?;
        self.rows += 1;
        Ok(())
    }

    /// Forces the rows written so far to the storage device (`fsync`); not needed for a killed
    /// process to keep them, only for a crashed machine.
    pub fn sync(&mut self) -> Result<(), OutputError> {
        self.file.sync_data().map_err(|e| OutputError::io(&self.path, e))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rows_and_full_precision() {
        let dir = std::env::temp_dir().join(format!("hemoscale-thermo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("thermo.csv");
        let mut t = ThermoCsv::create(&path, &["step", "temperature", "p,xx"]).unwrap();
        t.write_row(&[0.0, 1.0 / 3.0, -2.5e-12]).unwrap();
        // Visible to another reader before the writer is dropped or flushed.
        t.write_row(&[100.0, f64::NAN, 1e300]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "step,temperature,\"p,xx\"\n0,0.3333333333333333,-2.5e-12\n100,NaN,1e300\n");
        assert_eq!(t.rows_written(), 2);
        let e = t.write_row(&[1.0]).unwrap_err().to_string();
        assert!(e.contains("thermo.csv") && e.contains("row of 1 values for 3 columns"), "{e}");
        assert!(ThermoCsv::create(&path, &[] as &[&str]).is_err());
        let e = ThermoCsv::create(dir.join("no/such/dir.csv"), &["a"]).unwrap_err().to_string();
        assert!(e.contains("no/such/dir.csv"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resume_keeps_rows_up_to_the_step_and_drops_torn_ones() {
        let dir = std::env::temp_dir().join(format!("hemoscale-thermo-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("thermo.csv");
        std::fs::write(&path, "step,t\n0,1\n10,2\n20,3\n30,4\n40,").unwrap();
        let mut t = ThermoCsv::resume(&path, &["step", "t"], 20).unwrap();
        assert_eq!(t.rows_written(), 3);
        t.write_row(&[30.0, 5.0]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "step,t\n0,1\n10,2\n20,3\n30,5\n");
        // A torn last row before the step is dropped too.
        std::fs::write(&path, "step,t\n0,1\n10,2").unwrap();
        let _ = ThermoCsv::resume(&path, &["step", "t"], 20).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "step,t\n0,1\n");
        let e = ThermoCsv::resume(&path, &["step", "other"], 20).unwrap_err().to_string();
        assert!(e.contains("cannot resume"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
