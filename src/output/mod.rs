//! Simulation output: when to write ([`Trigger`]) and writers for files that standard programs
//! open, following HOOMD-blue and LAMMPS conventions. The writers take plain data (slices, a
//! [`Frame`]), not an engine. `tests/output_readers.rs` reads every format back with third-party
//! readers (VTK, ASE, Python's `csv`, Pillow) through `scripts/check_outputs.py`.
//!
//! | file | writer | format | opens in |
//! |---|---|---|---|
//! | `trigger.rs` | [`Trigger`] | HOOMD-style triggers; text form `every:100@50&after:1000` | - |
//! | `frame.rs` | [`Frame`] | one particle snapshot, what the trajectory writers take | - |
//! | `thermo.rs` | [`ThermoCsv`] | CSV (RFC 4180): header line, one row per output step, each row flushed, shortest round-trip numbers | any spreadsheet, pandas, Python's `csv` |
//! | `xyz.rs` | [`XyzWriter`] | extended XYZ, all frames in one file: `Lattice`, `Properties=species:S:1:pos:R:3:velo:R:3:id:I:1:Z:I:1`, `Time`, `Step`, `pbc` | OVITO, ASE (`format="extxyz"`) |
//! | `vtk.rs` | [`VtpSeries`], [`VtiSeries`] | VTK XML PolyData `.vtp` (particles: points, vertex cells, `velocity`, `type_id`, `tag`) and ImageData `.vti` (binned fields as cell data), one file per frame, plus a `.pvd` collection with the frame times, rewritten after every frame | ParaView (open the `.pvd`), VisIt, any VTK reader |
//! | `vtk.rs` | [`MeshSeries`] | VTK XML PolyData `.vtp` with triangles (platelet membranes, point arrays `platelet`, `stress`) plus a `.pvd` | ParaView (open the `.pvd`, colour by `stress`) |
//! | `fields.rs` | [`FieldGrid`], [`Profile1d`] | 3-D binned density, velocity, stress (LAMMPS `stress/atom` sign: pressure = -trace/3); 1-D slab or radial profiles | written by [`VtiSeries::write_fields`], [`ProfileData::write_csv`], [`plot_profile`] |
//! | `plot.rs` | [`plot_profile`] | PNG line/point plots with a legend, font embedded (no system fonts) | any image viewer |
//! | `error.rs` | [`OutputError`] | every error names its file | - |
//!
//! Durability: rows and frames are written with one system call each, the `.pvd` and every frame
//! file go through a temporary file and a rename, so a run killed at any moment leaves files the
//! readers above open (at worst the last XYZ frame is torn).

mod error;
mod fields;
mod frame;
mod number;
mod plot;
mod thermo;
mod trigger;
mod vtk;
mod xyz;

pub use error::OutputError;
pub use fields::{Axis, FieldData, FieldGrid, Masses, Profile1d, ProfileData, ProfileGeometry};
pub use frame::Frame;
pub use plot::{plot_profile, Series, SeriesStyle, PLOT_SIZE};
pub use thermo::ThermoCsv;
pub use trigger::{ParseTriggerError, Trigger};
pub use vtk::{CellArray, ImageGrid, MeshFrame, MeshSeries, VtiSeries, VtpSeries};
pub use xyz::XyzWriter;
