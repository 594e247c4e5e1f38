//! The output writers read back by readers no one here wrote: VTK (`.vtp`, `.vti`, the files a
//! `.pvd` lists), ASE (extended XYZ), Python's `csv` and Pillow (PNG), through
//! `scripts/check_outputs.py`. This test writes a small synthetic data set with known values into
//! `target/output_readers/`, describes what each file must hold in `expected.json`, and runs the
//! checker with the interpreter at `$HEMOSCALE_PYTHON`, else `.venv-tests/bin/python` (both set up
//! by `scripts/test.sh`). Without such an interpreter the test fails under `CI=true` and is
//! skipped with a notice otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use hemoscale::output::{
    plot_profile, Axis, FieldGrid, Frame, Masses, Profile1d, Series, ThermoCsv, VtiSeries, VtpSeries, XyzWriter,
    PLOT_SIZE,
};
use serde_json::{json, Value};

const N: usize = 50;
const BOX: [f64; 3] = [10.0, 8.0, 6.0];

/// Particle data of frame `f`: values of mixed magnitudes and signs (tiny, exact, thirds).
struct FrameData {
    step: u64,
    time: f64,
    positions: Vec<[f32; 3]>,
    velocities: Vec<[f32; 3]>,
    type_ids: Vec<u32>,
    tags: Vec<u32>,
}

fn frame_data(f: usize) -> FrameData {
    let positions = (0..N)
        .map(|i| {
            let s = (i * 7 + f * 3) as f32;
            [(s * 0.37) % 10.0, (s * 0.61 + 0.125) % 8.0, (s / 3.0) % 6.0]
        })
        .collect();
    let velocities = (0..N)
        .map(|i| {
            let s = i as f32 - 24.5 + f as f32;
            [s / 3.0, -1.25e-6 * s, if i % 5 == 0 { 0.0 } else { 1e3 / s }]
        })
        .collect();
    FrameData {
        step: 100 * f as u64,
        time: 0.0123 * (100 * f) as f64,
        positions,
        velocities,
        type_ids: (0..N).map(|i| u32::from(i % 3 == 0)).collect(),
        // Tags in another order than the particles, as after a reorder by cell.
        tags: (0..N).map(|i| 1000 + ((i * 17) % N) as u32).collect(),
    }
}

fn type_names() -> Vec<String> {
    // Not chemical symbols: ASE must still read them (through the Z column).
    vec!["plasma".to_string(), "platelet".to_string()]
}

fn as_frame<'a>(d: &'a FrameData, names: &'a [String]) -> Frame<'a> {
    Frame {
        step: d.step,
        time: d.time,
        box_lengths: BOX,
        positions: &d.positions,
        velocities: &d.velocities,
        type_ids: &d.type_ids,
        tags: &d.tags,
        type_names: names,
    }
}

fn frame_json(d: &FrameData) -> Value {
    let v3 = |v: &[[f32; 3]]| v.iter().map(|p| p.map(f64::from).to_vec()).collect::<Vec<_>>();
    json!({
        "step": d.step, "time": d.time, "box": BOX,
        "positions": v3(&d.positions), "velocities": v3(&d.velocities),
        "type_ids": d.type_ids, "tags": d.tags,
    })
}

/// Writes every output into `dir` and returns the description of what they hold.
fn write_outputs(dir: &Path) -> Value {
    let names = type_names();
    let frames: Vec<FrameData> = (0..3).map(frame_data).collect();

    // Trajectories: XYZ (one file) and VTP series (+ a copy of the .pvd after the first frame, as a
    // run killed then would leave it).
    let mut xyz = XyzWriter::create(dir.join("traj.xyz")).unwrap();
    let mut vtp = VtpSeries::create(dir, "traj").unwrap();
    for (k, d) in frames.iter().enumerate() {
        xyz.write_frame(&as_frame(d, &names)).unwrap();
        vtp.write_frame(&as_frame(d, &names)).unwrap();
        if k == 0 {
            std::fs::copy(vtp.pvd_path(), dir.join("traj_after_1.pvd")).unwrap();
        }
    }
    let frames_json: Vec<Value> = frames.iter().map(frame_json).collect();

    // Fields: a lattice of spacing 0.5 filling a 6 x 4 x 2 box (12 x 8 x 4 sites) in 3 x 2 x 1
    // bins of 2 x 2 x 2 (64 sites each), v = (y, 0.5, 0), unit mass, per-particle virial W. Per bin:
    // density 8; mean v_x = 1 (iy = 0) or 3 (iy = 1); kinetic xx = sum (y - mean)^2 = 16 * 1.25 = 20;
    // stress = -(K + 64 W) / 8.
    let fbox = [6.0, 4.0, 2.0];
    let mut pos = Vec::new();
    for i in 0..12 {
        for j in 0..8 {
            for k in 0..4 {
                pos.push([(i as f32 + 0.5) * 0.5, (j as f32 + 0.5) * 0.5, (k as f32 + 0.5) * 0.5]);
            }
        }
    }
    let vel: Vec<[f32; 3]> = pos.iter().map(|p| [p[1], 0.5, 0.0]).collect();
    let w = [1.0f32, 2.0, 3.0, 0.5, 0.25, 0.0];
    let virial = vec![w; pos.len()];
    let mut grid = FieldGrid::new(fbox, [3, 2, 1]).unwrap();
    let mut vti = VtiSeries::create(dir, "fields").unwrap();
    let mut vti_frames = Vec::new();
    for step in [50u64, 150] {
        grid.accumulate(&pos, &vel, Masses::Uniform(1.0), Some(&virial)).unwrap();
        let time = step as f64 * 0.01;
        vti.write_fields(step, time, &grid.finish().unwrap()).unwrap();
        let mut arrays: [Vec<Value>; 5] = Default::default();
        // Cells in VTK order: x fastest (nz = 1).
        for iy in 0..2 {
            for _ix in 0..3 {
                let ux = if iy == 0 { 1.0 } else { 3.0 };
                let kin = [20.0, 0.0, 0.0, 0.0, 0.0, 0.0];
                let stress: Vec<f64> = (0..6).map(|c| -(kin[c] + 64.0 * f64::from(w[c])) / 8.0).collect();
                arrays[0].push(json!([8.0]));
                arrays[1].push(json!([8.0]));
                arrays[2].push(json!([64.0]));
                arrays[3].push(json!([ux, 0.5, 0.0]));
                arrays[4].push(json!(stress));
            }
        }
        let [density, mass_density, count, velocity, stress] = arrays;
        vti_frames.push(json!({
            "step": step, "time": time, "cells": [3, 2, 1], "spacing": [2.0, 2.0, 2.0], "origin": [0.0, 0.0, 0.0],
            "arrays": {"density": density, "mass_density": mass_density, "count": count,
                       "velocity": velocity, "stress": stress},
            "component_names": {"velocity": ["x", "y", "z"], "stress": ["xx", "yy", "zz", "xy", "xz", "yz"]},
            "cell_probes": [{"ijk": [2, 1, 0], "density": 8.0}],
        }));
    }

    // Thermo table.
    let columns = ["step", "time", "temperature", "pressure"];
    let rows: Vec<[f64; 4]> =
        (0..5).map(|i| [i as f64 * 100.0, i as f64, 1.0 / 3.0 + i as f64, -2.5e-12 * (i as f64 + 1.0)]).collect();
    let mut csv = ThermoCsv::create(dir.join("thermo.csv"), &columns).unwrap();
    for r in &rows {
        csv.write_row(r).unwrap();
    }

    // A profile plot: density and velocity along y of the lattice above.
    let mut prof = Profile1d::along(Axis::Y, fbox, 8, Axis::X).unwrap();
    prof.accumulate(&pos, &vel).unwrap();
    let p = prof.finish().unwrap();
    plot_profile(
        dir.join("profile.png"),
        "Lattice profile along y",
        "y",
        "density, v_x",
        &[Series::line("density", p.density_points()), Series::points("v_x", p.velocity_points())],
    )
    .unwrap();

    json!({
        "csv": [{"file": "thermo.csv", "columns": columns, "rows": rows}],
        "xyz": [{"file": "traj.xyz", "frames": frames_json}],
        "vtp": [
            {"pvd": "traj.pvd", "frames": frames_json},
            {"pvd": "traj_after_1.pvd", "frames": [frames_json[0]]},
        ],
        "vti": [{"pvd": "fields.pvd", "frames": vti_frames}],
        "png": [{
            "file": "profile.png", "width": PLOT_SIZE.0, "height": PLOT_SIZE.1,
            // The first two series colours of plot.rs (Tableau 10 blue, orange).
            "colors_present": [[31, 119, 180], [255, 127, 14]],
            "min_colors": 20, "min_dark_pixels": 500,
        }],
    })
}

fn python() -> PathBuf {
    match std::env::var_os("HEMOSCALE_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-tests/bin/python"),
    }
}

#[test]
fn outputs_read_back_with_third_party_readers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/output_readers");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    let expected = write_outputs(&dir);
    std::fs::write(dir.join("expected.json"), serde_json::to_string_pretty(&expected).unwrap()).unwrap();

    let py = python();
    let script = root.join("scripts/check_outputs.py");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let unavailable = |why: String| {
        let msg = format!(
            "no Python with vtk, ase, pillow and numpy ({why}); run scripts/test.sh to create .venv-tests, or set \
             HEMOSCALE_PYTHON. The outputs are in {}",
            dir.display()
        );
        if ci {
            panic!("{msg}");
        }
        eprintln!("notice: skipping the third-party reader check: {msg}");
    };
    let out = match Command::new(&py).arg(&script).arg(&dir).output() {
        Ok(out) => out,
        Err(e) => return unavailable(format!("{}: {e}", py.display())),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        return unavailable(format!("{}: {}", py.display(), stderr.trim()));
    }
    assert!(
        out.status.success(),
        "{} {} {} failed ({}):\n{stdout}{stderr}",
        py.display(),
        script.display(),
        dir.display(),
        out.status
    );
    println!("{stdout}");
}
