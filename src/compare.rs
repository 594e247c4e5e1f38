//! `hemoscale compare-platelets`: the platelets of two runs of the same scenario side by side
//! (typically `coupling=fine` against `coupling=surrogate`), as PNG plots of the orientation
//! angle and the stress accumulation over time, read from each run's `platelets.csv`.

use std::path::{Path, PathBuf};

use crate::output::{plot_profile, Series};

/// One sample: time (µs), phi (rad), stress accumulation (dyn s/cm^2).
type Point = (f64, f64, f64);

/// One run's platelet tracks, per platelet.
fn tracks(dir: &Path) -> Result<Vec<Vec<Point>>, String> {
    let path = dir.join("platelets.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or_else(|| format!("{}: empty", path.display()))?.split(',').collect();
    let col = |name: &str| {
        header.iter().position(|h| *h == name).ok_or_else(|| format!("{}: no column {name}", path.display()))
    };
    let (t, p, phi, sa) = (col("time_s")?, col("platelet")?, col("phi_rad")?, col("stress_accumulation_dyn_s_cm2")?);
    let mut out: Vec<Vec<Point>> = Vec::new();
    for (k, line) in lines.enumerate() {
        let v: Vec<f64> = line.split(',').map(|x| x.trim().parse::<f64>().unwrap_or(f64::NAN)).collect();
        let get = |i: usize| v.get(i).copied().filter(|x| x.is_finite());
        let (Some(time), Some(id), Some(angle), Some(acc)) = (get(t), get(p), get(phi), get(sa)) else {
            return Err(format!("{}: line {} is not a row of numbers", path.display(), k + 2));
        };
        let id = id as usize;
        if out.len() <= id {
            out.resize(id + 1, Vec::new());
        }
        out[id].push((time * 1e6, angle, acc));
    }
    Ok(out)
}

/// Writes `compare_orientation.png` and `compare_stress_accumulation.png` into `out`, comparing
/// the runs in the folders `a` and `b` (legend names `name_a`, `name_b`). Returns the files.
pub fn compare_platelets(a: &Path, b: &Path, name_a: &str, name_b: &str, out: &Path) -> Result<Vec<PathBuf>, String> {
    let (ta, tb) = (tracks(a)?, tracks(b)?);
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut files = Vec::new();
    for (file, title, label, pick) in [
        (
            "compare_orientation.png",
            "platelet orientation: angle of the normal from the gradient axis",
            "phi (rad)",
            (|x: &Point| x.1) as fn(&Point) -> f64,
        ),
        ("compare_stress_accumulation.png", "stress accumulation", "SA (dyn s/cm^2)", |x: &Point| x.2),
    ] {
        let mut series = Vec::new();
        for (name, t) in [(name_a, &ta), (name_b, &tb)] {
            for (p, track) in t.iter().enumerate() {
                let label = if t.len() > 1 { format!("{name}, platelet {p}") } else { name.to_string() };
                series.push(Series::line(label, track.iter().map(|x| (x.0, pick(x))).collect()));
            }
        }
        let path = out.join(file);
        plot_profile(&path, title, "time (us)", label, &series).map_err(|e| e.to_string())?;
        files.push(path);
    }
    Ok(files)
}
