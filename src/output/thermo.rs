//! Thermo table as CSV (RFC 4180): a header line of column names, then one row of numbers per
//! output step, like LAMMPS' `thermo` or HOOMD-blue's `Table` writer. Each row is handed to the
//! operating system as soon as it is written, so a killed run keeps every complete row.

use std::fs::File;
use std::io::Write;
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
}
