//! A batch job that survives being killed: the scenario is built in code, checkpoints go to a
//! folder every 500 steps, and a job started again finds the newest intact checkpoint there and
//! continues from it, bit for bit (CPU backend). SIGINT or SIGTERM (a scheduler's time limit)
//! writes a checkpoint and stops cleanly. Run it, interrupt it with Ctrl-C, and run it again:
//!
//! ```sh
//! cargo run --release --example resumable_job -- [STEPS]
//! ```
//!
//! The same is on the command line for built-in scenarios:
//! `hemoscale run tube --checkpoint DIR --checkpoint-every 500` and `hemoscale run --resume DIR`.

use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use hemoscale::checkpoint;
use hemoscale::dsl::{Backend, Scenario};
use hemoscale::kernels::geometry::Shape;
use hemoscale::run::{run, RunError, RunOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: u64 = std::env::args().nth(1).map_or(Ok(5000), |s| s.parse())?;
    let checkpoints = PathBuf::from("out/resumable_job/checkpoints");
    // A tube of radius 4 driven by a body force: Poiseuille flow.
    let scenario = Scenario::builder("resumable_job")
        .box_lengths([12.0, 11.0, 11.0])
        .vessel(Shape::Tube { center: [5.5, 5.5], radius: 4.0 }, 1.0)
        .body_force([0.05, 0.0, 0.0])
        .near_wall_force(-1.0, 1.0)
        .wall_friction(16.0)
        .seed(2026)
        .steps(steps)
        .backend(Backend::Cpu)
        .output_dir("out/resumable_job")
        .checkpoints(&checkpoints, 500)
        .build()?;

    let mut opts = RunOptions::for_scenario(&scenario);
    // Continue where an earlier job stopped, if one did (a damaged newest file is skipped).
    if !checkpoint::list(&checkpoints)?.is_empty() {
        let (c, refused) = checkpoint::newest_good(&checkpoints)?;
        for r in refused {
            eprintln!("skipping a damaged checkpoint: {r}");
        }
        opts.resume = Some(c);
    }
    // Ask the run to checkpoint and stop on SIGINT or SIGTERM.
    let stop = Arc::new(AtomicUsize::new(0));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_usize(sig, stop.clone(), sig as usize)?;
    }
    opts.stop = Some(stop);
    match run(&scenario, &opts, None, &mut std::io::stdout()) {
        Ok(o) => {
            println!("done: {} steps, mean temperature {:.4}", o.steps, o.second_half_mean(|s| s.temperature()));
            Ok(())
        }
        Err(e @ RunError::Interrupted { .. }) => {
            eprintln!("{e}; run the job again to continue");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
