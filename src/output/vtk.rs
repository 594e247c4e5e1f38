//! VTK XML files for ParaView (and anything built on VTK): particle frames as PolyData (`.vtp`)
//! and binned fields as ImageData (`.vti`), one file per frame, each series listed with its
//! times in a ParaView Data collection (`.pvd`).
//!
//! - The `.pvd` is rewritten in full after every frame, through a temporary file and a rename,
//!   and each frame file is likewise complete before it is listed: a run killed at any point
//!   leaves a `.pvd` that opens and lists only complete frames.
//! - Data arrays are `format="binary"`: base64 of a little-endian `UInt64` byte count followed by
//!   the raw little-endian values (VTK's inline binary layout, `header_type="UInt64"`), so values
//!   read back bit for bit, NaN included.
//! - Frame files are named `{stem}_{step:010}.vtp` / `.vti` beside `{stem}.pvd`, which refers to
//!   them by relative name (the directory can be moved).
//! - Every frame file carries field data `TimeValue` (Float64, what ParaView shows as time when a
//!   file is opened alone) and `Step` (UInt64); `.vtp` files also `BoxLengths` (Float64, 3).
//!
//! `.vtp` point data: `velocity` (Float32, 3), `type_id` (UInt32), `tag` (UInt32); points are the
//! positions (Float32), one vertex cell per particle so ParaView renders them without a filter.
//! `.vti` cell data (one cell per bin, x fastest, then y, then z; origin 0, spacing = bin size):
//! whatever arrays are given; [`VtiSeries::write_fields`] writes a [`FieldData`]'s `density`,
//! `mass_density`, `count`, `velocity` (3: x, y, z) and `stress` (6, component names xx, yy, zz,
//! xy, xz, yz: the LAMMPS order, which is not VTK's tensor order, hence no `Tensors` attribute).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::error::write_atomic;
use super::fields::FieldData;
use super::{Frame, OutputError};

/// Standard base64 (RFC 4648, with padding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Values VTK can store: their XML type name and little-endian bytes.
trait VtkScalar: Copy {
    const NAME: &'static str;
    fn put(self, out: &mut Vec<u8>);
}

macro_rules! vtk_scalar {
    ($t:ty, $name:literal) => {
        impl VtkScalar for $t {
            const NAME: &'static str = $name;
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
vtk_scalar!(f32, "Float32");
vtk_scalar!(f64, "Float64");
vtk_scalar!(u32, "UInt32");
vtk_scalar!(u64, "UInt64");
vtk_scalar!(i64, "Int64");

/// Escapes `&`, `<`, `>`, `"`, `'` for an XML attribute.
fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// One `<DataArray>` element with inline binary data. `extra` holds additional attributes
/// (already formatted, starting with a space).
fn data_array<T: VtkScalar>(
    xml: &mut String,
    indent: &str,
    name: &str,
    components: usize,
    component_names: &[&str],
    values: impl IntoIterator<Item = T>,
    extra: &str,
) {
    let mut bytes = vec![0u8; 8];
    for v in values {
        v.put(&mut bytes);
    }
    let n = (bytes.len() - 8) as u64;
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    let mut names = String::new();
    for (i, c) in component_names.iter().enumerate() {
        let _ = write!(names, " ComponentName{i}=\"{}\"", xml_attr(c));
    }
    let _ = writeln!(
        xml,
        "{indent}<DataArray type=\"{}\" Name=\"{}\" NumberOfComponents=\"{components}\"{names}{extra} format=\"binary\">",
        T::NAME,
        xml_attr(name)
    );
    let _ = writeln!(xml, "{indent}  {}", base64(&bytes));
    let _ = writeln!(xml, "{indent}</DataArray>");
}

/// `<FieldData>` with the frame's time and step (and more Float64 arrays).
fn field_data(xml: &mut String, indent: &str, step: u64, time: f64, more: &[(&str, &[f64])]) {
    let _ = writeln!(xml, "{indent}<FieldData>");
    let inner = format!("{indent}  ");
    data_array(xml, &inner, "TimeValue", 1, &[], [time], " NumberOfTuples=\"1\"");
    data_array(xml, &inner, "Step", 1, &[], [step], " NumberOfTuples=\"1\"");
    for (name, values) in more {
        data_array(xml, &inner, name, values.len(), &[], values.iter().copied(), " NumberOfTuples=\"1\"");
    }
    let _ = writeln!(xml, "{indent}</FieldData>");
}

/// A `.pvd` collection: the frames so far, rewritten in full on every [`push`](Self::push).
#[derive(Debug)]
struct PvdCollection {
    path: PathBuf,
    entries: Vec<(f64, String)>,
}

impl PvdCollection {
    fn push(&mut self, time: f64, file: String) -> Result<(), OutputError> {
        self.entries.push((time, file));
        self.write()
    }

    fn write(&self) -> Result<(), OutputError> {
        let mut xml = String::from(
            "<?xml version=\"1.0\"?>\n<VTKFile type=\"Collection\" version=\"0.1\" byte_order=\"LittleEndian\">\n  \
             <Collection>\n",
        );
        for (t, f) in &self.entries {
            let _ = writeln!(
                xml,
                "    <DataSet timestep=\"{}\" group=\"\" part=\"0\" file=\"{}\"/>",
                super::number::f64_text(*t),
                xml_attr(f)
            );
        }
        xml.push_str("  </Collection>\n</VTKFile>\n");
        write_atomic(&self.path, xml.as_bytes())
    }
}

/// Shared bookkeeping of a series of frame files with a `.pvd`.
#[derive(Debug)]
struct Series {
    dir: PathBuf,
    stem: String,
    ext: &'static str,
    pvd: PvdCollection,
    last_step: Option<u64>,
}

impl Series {
    fn create(dir: &Path, stem: &str, ext: &'static str) -> Result<Self, OutputError> {
        if stem.is_empty() || stem.contains(['/', '\\']) {
            return Err(OutputError::data(dir, format!("series name {stem:?} must be a plain, non-empty file stem")));
        }
        std::fs::create_dir_all(dir).map_err(|e| OutputError::io(dir, e))?;
        let pvd = PvdCollection { path: dir.join(format!("{stem}.pvd")), entries: Vec::new() };
        Ok(Self { dir: dir.to_path_buf(), stem: stem.to_string(), ext, pvd, last_step: None })
    }

    /// Reopens the series of a run resumed at `step`: frames after `step` (written after the
    /// checkpoint; they will be written again) are deleted and dropped from the `.pvd`, the rest
    /// are kept.
    fn resume(dir: &Path, stem: &str, ext: &'static str, step: u64) -> Result<Self, OutputError> {
        let mut s = Self::create(dir, stem, ext)?;
        let prefix = format!("{stem}_");
        let suffix = format!(".{ext}");
        let step_of = |name: &str| name.strip_prefix(&prefix)?.strip_suffix(&suffix)?.parse::<u64>().ok();
        if let Ok(text) = std::fs::read_to_string(&s.pvd.path) {
            for line in text.lines().filter(|l| l.trim_start().starts_with("<DataSet")) {
                let attr = |key: &str| line.split(&format!("{key}=\"")).nth(1)?.split('"').next().map(str::to_owned);
                let (Some(t), Some(file)) = (attr("timestep").and_then(|t| t.parse::<f64>().ok()), attr("file")) else {
                    continue;
                };
                if step_of(&file).is_some_and(|k| k <= step) {
                    s.last_step = step_of(&file);
                    s.pvd.entries.push((t, file));
                }
            }
        }
        for e in std::fs::read_dir(dir).map_err(|e| OutputError::io(dir, e))?.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            if step_of(&name).is_some_and(|k| k > step) {
                std::fs::remove_file(e.path()).map_err(|err| OutputError::io(&e.path(), err))?;
            }
        }
        s.pvd.write()?;
        Ok(s)
    }

    /// Checks the step and time, returns the frame file's name and path.
    fn next_file(&self, step: u64, time: f64) -> Result<(String, PathBuf), OutputError> {
        let name = format!("{}_{step:010}.{}", self.stem, self.ext);
        let path = self.dir.join(&name);
        if let Some(last) = self.last_step.filter(|&last| step <= last) {
            return Err(OutputError::data(&path, format!("frame at step {step} after a frame at step {last}")));
        }
        if !time.is_finite() {
            return Err(OutputError::data(&path, format!("time {time} is not finite")));
        }
        Ok((name, path))
    }

    /// Writes the frame file, then lists it in the `.pvd`.
    fn commit(&mut self, step: u64, time: f64, name: String, path: &Path, xml: &str) -> Result<(), OutputError> {
        write_atomic(path, xml.as_bytes())?;
        self.pvd.push(time, name)?;
        self.last_step = Some(step);
        Ok(())
    }
}

/// A series of particle frames as `.vtp` files listed in `{stem}.pvd`.
#[derive(Debug)]
pub struct VtpSeries {
    series: Series,
}

impl VtpSeries {
    /// Starts a series in `dir` (created if missing): `{dir}/{stem}.pvd` and one
    /// `{dir}/{stem}_{step:010}.vtp` per frame. Nothing is written until the first frame.
    pub fn create(dir: impl AsRef<Path>, stem: &str) -> Result<Self, OutputError> {
        Ok(Self { series: Series::create(dir.as_ref(), stem, "vtp")? })
    }

    /// Reopens the series of a run resumed at `step`, keeping the frames up to `step` and
    /// deleting later ones.
    pub fn resume(dir: impl AsRef<Path>, stem: &str, step: u64) -> Result<Self, OutputError> {
        Ok(Self { series: Series::resume(dir.as_ref(), stem, "vtp", step)? })
    }

    /// Writes `frame` (checked first, [`Frame::check`]) to its own `.vtp` and rewrites the
    /// `.pvd`. Steps must increase from frame to frame. Returns the frame file's path.
    pub fn write_frame(&mut self, frame: &Frame<'_>) -> Result<PathBuf, OutputError> {
        let (name, path) = self.series.next_file(frame.step, frame.time)?;
        frame.check().map_err(|what| OutputError::data(&path, what))?;
        let n = frame.len();
        let mut xml = String::with_capacity(64 * n + 2048);
        xml.push_str(
            "<?xml version=\"1.0\"?>\n<VTKFile type=\"PolyData\" version=\"1.0\" byte_order=\"LittleEndian\" \
             header_type=\"UInt64\">\n  <PolyData>\n",
        );
        field_data(&mut xml, "    ", frame.step, frame.time, &[("BoxLengths", &frame.box_lengths)]);
        let _ = writeln!(
            xml,
            "    <Piece NumberOfPoints=\"{n}\" NumberOfVerts=\"{n}\" NumberOfLines=\"0\" NumberOfStrips=\"0\" \
             NumberOfPolys=\"0\">"
        );
        xml.push_str("      <PointData Scalars=\"type_id\" Vectors=\"velocity\">\n");
        let ind = "        ";
        data_array(&mut xml, ind, "velocity", 3, &["x", "y", "z"], frame.velocities.iter().flatten().copied(), "");
        data_array(&mut xml, ind, "type_id", 1, &[], frame.type_ids.iter().copied(), "");
        data_array(&mut xml, ind, "tag", 1, &[], frame.tags.iter().copied(), "");
        xml.push_str("      </PointData>\n      <Points>\n");
        data_array(&mut xml, ind, "Points", 3, &[], frame.positions.iter().flatten().copied(), "");
        xml.push_str("      </Points>\n      <Verts>\n");
        data_array(&mut xml, ind, "connectivity", 1, &[], 0..n as i64, "");
        data_array(&mut xml, ind, "offsets", 1, &[], 1..=n as i64, "");
        xml.push_str("      </Verts>\n    </Piece>\n  </PolyData>\n</VTKFile>\n");
        self.series.commit(frame.step, frame.time, name, &path, &xml)?;
        Ok(path)
    }

    /// The `.pvd` file's path.
    pub fn pvd_path(&self) -> &Path {
        &self.series.pvd.path
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> usize {
        self.series.pvd.entries.len()
    }
}

/// One frame of triangle meshes (platelet membranes) for [`MeshSeries`].
#[derive(Clone, Copy, Debug)]
pub struct MeshFrame<'a> {
    /// Step.
    pub step: u64,
    /// Time (the unit the caller chose; written as `TimeValue`).
    pub time: f64,
    /// Vertex positions.
    pub points: &'a [[f32; 3]],
    /// Triangles (vertex indices, counter-clockwise seen from outside).
    pub triangles: &'a [[u32; 3]],
    /// Integer point arrays (name, one value per point).
    pub point_ids: &'a [(&'a str, &'a [u32])],
    /// Real point arrays (name, one value per point).
    pub point_values: &'a [(&'a str, &'a [f64])],
}

/// A series of triangle-mesh frames (VTK PolyData with polygons) listed in `{stem}.pvd`: the
/// platelet surfaces ParaView shows as surfaces, coloured by any point array.
#[derive(Debug)]
pub struct MeshSeries {
    series: Series,
}

impl MeshSeries {
    /// Starts a series in `dir`: `{dir}/{stem}.pvd` and one `{dir}/{stem}_{step:010}.vtp` per frame.
    pub fn create(dir: impl AsRef<Path>, stem: &str) -> Result<Self, OutputError> {
        Ok(Self { series: Series::create(dir.as_ref(), stem, "vtp")? })
    }

    /// Reopens the series of a run resumed at `step`, keeping the frames up to `step` and
    /// deleting later ones.
    pub fn resume(dir: impl AsRef<Path>, stem: &str, step: u64) -> Result<Self, OutputError> {
        Ok(Self { series: Series::resume(dir.as_ref(), stem, "vtp", step)? })
    }

    /// Writes one frame; refuses triangles that name missing points and arrays of the wrong length.
    pub fn write_frame(&mut self, f: &MeshFrame<'_>) -> Result<PathBuf, OutputError> {
        let (name, path) = self.series.next_file(f.step, f.time)?;
        let n = f.points.len();
        if let Some(t) = f.triangles.iter().find(|t| t.iter().any(|&k| k as usize >= n)) {
            return Err(OutputError::data(&path, format!("triangle {t:?} names a point beyond the {n} given")));
        }
        for (a, len) in
            f.point_ids.iter().map(|(a, v)| (a, v.len())).chain(f.point_values.iter().map(|(a, v)| (a, v.len())))
        {
            if len != n {
                return Err(OutputError::data(&path, format!("point array {a:?} has {len} values for {n} points")));
            }
        }
        if f.points.iter().flatten().any(|x| !x.is_finite()) {
            return Err(OutputError::data(&path, "a point is not finite"));
        }
        let nt = f.triangles.len();
        let mut xml = String::with_capacity(48 * n + 24 * nt + 2048);
        xml.push_str(
            "<?xml version=\"1.0\"?>\n<VTKFile type=\"PolyData\" version=\"1.0\" byte_order=\"LittleEndian\" \
             header_type=\"UInt64\">\n  <PolyData>\n",
        );
        field_data(&mut xml, "    ", f.step, f.time, &[]);
        let _ = writeln!(
            xml,
            "    <Piece NumberOfPoints=\"{n}\" NumberOfVerts=\"0\" NumberOfLines=\"0\" NumberOfStrips=\"0\" \
             NumberOfPolys=\"{nt}\">"
        );
        xml.push_str("      <PointData>\n");
        let ind = "        ";
        for (a, v) in f.point_ids {
            data_array(&mut xml, ind, a, 1, &[], v.iter().copied(), "");
        }
        for (a, v) in f.point_values {
            data_array(&mut xml, ind, a, 1, &[], v.iter().copied(), "");
        }
        xml.push_str("      </PointData>\n      <Points>\n");
        data_array(&mut xml, ind, "Points", 3, &[], f.points.iter().flatten().copied(), "");
        xml.push_str("      </Points>\n      <Polys>\n");
        data_array(&mut xml, ind, "connectivity", 1, &[], f.triangles.iter().flatten().map(|&k| i64::from(k)), "");
        data_array(&mut xml, ind, "offsets", 1, &[], (1..=nt as i64).map(|k| 3 * k), "");
        xml.push_str("      </Polys>\n    </Piece>\n  </PolyData>\n</VTKFile>\n");
        self.series.commit(f.step, f.time, name, &path, &xml)?;
        Ok(path)
    }

    /// The `.pvd` file's path.
    pub fn pvd_path(&self) -> &Path {
        &self.series.pvd.path
    }
}

/// The geometry of a `.vti` grid: `cells` bins per axis, starting at `origin`, each `spacing` wide.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageGrid {
    /// Number of cells (bins) along x, y, z.
    pub cells: [usize; 3],
    /// Corner of the grid.
    pub origin: [f64; 3],
    /// Cell edge lengths.
    pub spacing: [f64; 3],
}

/// One named cell-data array of a `.vti` frame.
#[derive(Clone, Copy, Debug)]
pub struct CellArray<'a> {
    /// Array name.
    pub name: &'a str,
    /// Components per cell (1 for a scalar).
    pub components: usize,
    /// Component names, empty or one per component.
    pub component_names: &'a [&'a str],
    /// `cells[0] * cells[1] * cells[2] * components` values: cell index `ix + nx (iy + ny iz)`,
    /// components of one cell adjacent.
    pub values: &'a [f64],
}

/// A series of binned fields as `.vti` files listed in `{stem}.pvd`.
#[derive(Debug)]
pub struct VtiSeries {
    series: Series,
}

impl VtiSeries {
    /// Starts a series in `dir` (created if missing): `{dir}/{stem}.pvd` and one
    /// `{dir}/{stem}_{step:010}.vti` per frame. Nothing is written until the first frame.
    pub fn create(dir: impl AsRef<Path>, stem: &str) -> Result<Self, OutputError> {
        Ok(Self { series: Series::create(dir.as_ref(), stem, "vti")? })
    }

    /// Reopens the series of a run resumed at `step`, keeping the frames up to `step` and
    /// deleting later ones.
    pub fn resume(dir: impl AsRef<Path>, stem: &str, step: u64) -> Result<Self, OutputError> {
        Ok(Self { series: Series::resume(dir.as_ref(), stem, "vti", step)? })
    }

    /// Writes one frame of cell data on `grid` and rewrites the `.pvd`; steps must increase.
    /// Returns the frame file's path.
    pub fn write_frame(
        &mut self,
        step: u64,
        time: f64,
        grid: &ImageGrid,
        arrays: &[CellArray<'_>],
    ) -> Result<PathBuf, OutputError> {
        let (name, path) = self.series.next_file(step, time)?;
        let n_cells: usize = grid.cells.iter().product();
        if n_cells == 0 {
            return Err(OutputError::data(&path, format!("grid of {:?} cells is empty", grid.cells)));
        }
        if grid.spacing.iter().chain(&grid.origin).any(|x| !x.is_finite()) || grid.spacing.iter().any(|&d| d <= 0.0) {
            return Err(OutputError::data(
                &path,
                format!(
                    "grid origin {:?} and spacing {:?} must be finite, spacing positive",
                    grid.origin, grid.spacing
                ),
            ));
        }
        for a in arrays {
            if a.components == 0 || a.values.len() != n_cells * a.components {
                return Err(OutputError::data(
                    &path,
                    format!(
                        "cell array {:?}: {} values for {n_cells} cells of {} components",
                        a.name,
                        a.values.len(),
                        a.components
                    ),
                ));
            }
            if !a.component_names.is_empty() && a.component_names.len() != a.components {
                return Err(OutputError::data(
                    &path,
                    format!(
                        "cell array {:?}: {} component names for {} components",
                        a.name,
                        a.component_names.len(),
                        a.components
                    ),
                ));
            }
        }
        let [nx, ny, nz] = grid.cells;
        let g = |v: [f64; 3]| v.map(super::number::f64_text).join(" ");
        let mut xml = String::with_capacity(32 * n_cells * 10 + 2048);
        xml.push_str(
            "<?xml version=\"1.0\"?>\n<VTKFile type=\"ImageData\" version=\"1.0\" byte_order=\"LittleEndian\" \
             header_type=\"UInt64\">\n",
        );
        let extent = format!("0 {nx} 0 {ny} 0 {nz}");
        let _ = writeln!(
            xml,
            "  <ImageData WholeExtent=\"{extent}\" Origin=\"{}\" Spacing=\"{}\">",
            g(grid.origin),
            g(grid.spacing)
        );
        field_data(&mut xml, "    ", step, time, &[]);
        let _ = writeln!(xml, "    <Piece Extent=\"{extent}\">");
        xml.push_str("      <PointData>\n      </PointData>\n");
        let scalars = arrays.iter().find(|a| a.components == 1).map(|a| format!(" Scalars=\"{}\"", xml_attr(a.name)));
        let vectors = arrays.iter().find(|a| a.components == 3).map(|a| format!(" Vectors=\"{}\"", xml_attr(a.name)));
        let _ = writeln!(xml, "      <CellData{}{}>", scalars.unwrap_or_default(), vectors.unwrap_or_default());
        for a in arrays {
            data_array(&mut xml, "        ", a.name, a.components, a.component_names, a.values.iter().copied(), "");
        }
        xml.push_str("      </CellData>\n    </Piece>\n  </ImageData>\n</VTKFile>\n");
        self.series.commit(step, time, name, &path, &xml)?;
        Ok(path)
    }

    /// Writes a finished [`FieldData`] as cell data `density` (number density), `mass_density`,
    /// `count` (particles per bin per sample), `velocity` (3: x, y, z) and `stress` (6: xx, yy,
    /// zz, xy, xz, yz) on the grid of its bins (origin 0).
    pub fn write_fields(&mut self, step: u64, time: f64, fields: &FieldData) -> Result<PathBuf, OutputError> {
        let grid = ImageGrid { cells: fields.bins, origin: [0.0; 3], spacing: fields.bin_size() };
        let velocity: Vec<f64> = fields.velocity.iter().flatten().copied().collect();
        let stress: Vec<f64> = fields.stress.iter().flatten().copied().collect();
        let arrays = [
            CellArray { name: "density", components: 1, component_names: &[], values: &fields.density },
            CellArray { name: "mass_density", components: 1, component_names: &[], values: &fields.mass_density },
            CellArray { name: "count", components: 1, component_names: &[], values: &fields.count },
            CellArray { name: "velocity", components: 3, component_names: &["x", "y", "z"], values: &velocity },
            CellArray {
                name: "stress",
                components: 6,
                component_names: &["xx", "yy", "zz", "xy", "xz", "yz"],
                values: &stress,
            },
        ];
        self.write_frame(step, time, &grid, &arrays)
    }

    /// The `.pvd` file's path.
    pub fn pvd_path(&self) -> &Path {
        &self.series.pvd.path
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> usize {
        self.series.pvd.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_known_answers() {
        // RFC 4648 section 10.
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn pvd_lists_frames_and_refuses_going_back() {
        let dir = std::env::temp_dir().join(format!("hemoscale-vtk-{}", std::process::id()));
        let names = vec!["A&B".to_string()];
        let pos = [[0.5f32, 1.0, 1.5]];
        let frame = Frame {
            step: 5,
            time: 0.05,
            box_lengths: [2.0; 3],
            positions: &pos,
            velocities: &pos,
            type_ids: &[0],
            tags: &[0],
            type_names: &names,
        };
        let mut s = VtpSeries::create(&dir, "traj").unwrap();
        let p = s.write_frame(&frame).unwrap();
        assert_eq!(p, dir.join("traj_0000000005.vtp"));
        s.write_frame(&Frame { step: 10, time: 0.1, ..frame }).unwrap();
        let pvd = std::fs::read_to_string(s.pvd_path()).unwrap();
        assert!(pvd.contains("<DataSet timestep=\"0.05\" group=\"\" part=\"0\" file=\"traj_0000000005.vtp\"/>"));
        assert!(pvd.contains("timestep=\"0.1\""));
        assert!(!dir.join("traj.pvd.tmp").exists());
        let e = s.write_frame(&Frame { step: 10, ..frame }).unwrap_err().to_string();
        assert!(e.contains("frame at step 10 after a frame at step 10"), "{e}");
        assert_eq!(s.frames_written(), 2);
        // Resumed at step 7: the frame at 10 goes (file and entry); writing continues after 5.
        let mut r = VtpSeries::resume(&dir, "traj", 7).unwrap();
        assert_eq!(r.frames_written(), 1);
        assert!(!dir.join("traj_0000000010.vtp").exists() && dir.join("traj_0000000005.vtp").exists());
        assert!(r.write_frame(&Frame { step: 5, ..frame }).is_err(), "steps still increase");
        r.write_frame(&Frame { step: 8, time: 0.08, ..frame }).unwrap();
        let pvd = std::fs::read_to_string(r.pvd_path()).unwrap();
        assert!(
            pvd.contains("traj_0000000005.vtp") && pvd.contains("traj_0000000008.vtp") && !pvd.contains("_0000000010")
        );

        let mut v = VtiSeries::create(&dir, "fields").unwrap();
        let grid = ImageGrid { cells: [2, 1, 1], origin: [0.0; 3], spacing: [1.0; 3] };
        let bad = [CellArray { name: "d", components: 1, component_names: &[], values: &[1.0] }];
        let e = v.write_frame(0, 0.0, &grid, &bad).unwrap_err().to_string();
        assert!(e.contains("fields_0000000000.vti") && e.contains("1 values for 2 cells"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
