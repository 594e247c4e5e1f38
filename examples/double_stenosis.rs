//! A user's own vessel: a tube with two constrictions in series, built from the DSL's shapes
//! (the intersection of two stenosed tubes is fluid only where both are open), driven by a body
//! force. Run it with
//!
//! ```sh
//! cargo run --release --example double_stenosis -- [STEPS]
//! ```
//!
//! It writes `out/double_stenosis/`: thermo.csv, and binned fields every 500 steps
//! (`fields/fields.pvd`: density, velocity and stress; open it in ParaView and colour by
//! `velocity` to see the jets through the two throats). It prints the mean axial speed in the
//! throats and in the open tube, whose ratio follows mass conservation (the inverse of the area
//! ratio, about 2 here).

use hemoscale::checkpoint;
use hemoscale::dsl::{Backend, Scenario};
use hemoscale::kernels::geometry::Shape;
use hemoscale::output::Trigger;
use hemoscale::run::{run, RunOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: u64 = std::env::args().nth(1).map_or(Ok(2000), |s| s.parse())?;
    let checkpoints = std::path::PathBuf::from("out/double_stenosis/checkpoints");
    let (length, radius, wall) = (40.0f64, 5.0f64, 1.0f64);
    let side = 2.0 * (radius + wall) + 1.0;
    let axis = [side / 2.0, side / 2.0];
    let narrowing = |x0: f64| Shape::Stenosis { center: axis, radius, x0, length: 8.0, area_reduction: 0.5 };
    let vessel = Shape::Intersection(Box::new(narrowing(10.0)), Box::new(narrowing(30.0)));
    let scenario = Scenario::builder("double_stenosis")
        .box_lengths([length as f32, side as f32, side as f32])
        .vessel(vessel, wall as f32)
        .body_force([0.05, 0.0, 0.0])
        .near_wall_force(-1.0, 1.0)
        .wall_friction(16.0)
        .seed(3)
        .steps(steps)
        .backend(Backend::Auto)
        .output_dir("out/double_stenosis")
        .fields(Trigger::every(500))
        // A checkpoint at the end only: it holds the final particles, read back below.
        .checkpoints(&checkpoints, 0)
        .build()?;

    let opts = RunOptions::for_scenario(&scenario);
    let outcome = run(&scenario, &opts, None, &mut std::io::stdout())?;

    // Mean axial velocity of the fluid in slabs 2 rc thick at the first throat and in the open
    // tube between the constrictions, in the final state.
    let (last, _) = checkpoint::newest_good(&checkpoints)?;
    let state = &last.state;
    let mean_vx = |x0: f64| {
        let v: Vec<f64> = (0..state.len())
            .filter(|&i| !outcome.system.types[state.type_id[i] as usize].frozen)
            .filter(|&i| (f64::from(state.pos[i][0]) - x0).abs() < 1.0)
            .map(|i| f64::from(state.vel[i][0]))
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let (throat, open) = (mean_vx(10.0), mean_vx(20.0));
    println!("mean axial speed: throat {throat:.4}, open tube {open:.4}, ratio {:.2} (area ratio 2)", throat / open);
    Ok(())
}
