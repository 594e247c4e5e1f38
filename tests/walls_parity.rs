//! CPU and GPU agree on the wall kernels: the sampled distance field and its gradient, bounce-back
//! (outcome, position, velocity) and the near-wall force on a batch of random drifts, to f32
//! rounding; and a 100-step trajectory of fluid in a stenosed tube with moving walls and the
//! near-wall force agrees to 1e-3 in position (the tolerance of the periodic-box trajectory test)
//! for at least 99 % of the particles. The rest may differ by up to one reflected drift: as the two
//! trajectories drift apart by rounding, a particle that reaches the surface within that distance
//! is reflected on one backend and not (yet) on the other.

mod common;

use hemoscale::dsl::{Backend, Scenario};
use hemoscale::kernels::geometry::Shape;
use hemoscale::kernels::gpu::walls_batch::walls_batch;
use hemoscale::kernels::walls::Bounce;
use hemoscale::kernels::{CpuEngine, DpdSystem, Engine, GpuEngine, ParticleState};
use hemoscale::run::initial_conditions;

/// A stenosed tube with the near-wall force and strong wall friction: curved still walls.
fn scenario() -> Scenario {
    Scenario::builder("parity")
        .box_lengths([12.0, 10.0, 10.0])
        .body_force([0.2, 0.0, 0.0])
        .vessel(Shape::Stenosis { center: [5.0, 5.0], radius: 4.0, x0: 6.0, length: 6.0, area_reduction: 0.6 }, 1.0)
        .near_wall_force(-1.5, 1.0)
        .wall_friction(4.0)
        .backend(Backend::Cpu)
        .seed(21)
        .build()
        .expect("valid scenario")
}

/// A channel whose walls move at +-0.8: moving frozen particles and moving-wall reflections.
fn couette() -> Scenario {
    Scenario::builder("parity-couette")
        .box_lengths([8.0, 8.0, 10.0])
        .vessel(Shape::Channel { center: 5.0, half_height: 4.0 }, 1.0)
        .wall_speed(1.6, 5.0)
        .backend(Backend::Cpu)
        .seed(22)
        .build()
        .expect("valid scenario")
}

/// Deterministic pseudo-random numbers in [0, 1) (a 64-bit LCG; the test needs no statistics).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[test]
fn wall_functions_agree() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let system: DpdSystem = scenario().walled_system().expect("walls");
    let walls = system.walls.clone().expect("walls");
    let l = system.sim_box.len;
    let mut rng = Lcg(7);
    let mut inputs = Vec::new();
    while inputs.len() < 8000 {
        let x0 = [rng.next() * l[0], rng.next() * l[1], rng.next() * l[2]];
        if walls.sdf.value(x0) >= 0.0 {
            continue;
        }
        // Drifts up to 0.6 rc: many cross the surface, some twice.
        let v: [f32; 3] = std::array::from_fn(|_| 60.0 * (rng.next() - 0.5));
        let x1 = std::array::from_fn(|k| x0[k] + 0.01 * v[k]);
        inputs.push([x0, x1, v]);
    }
    let gpu = walls_batch(&ctx, &system, &inputs).expect("gpu batch");
    let (mut reflected, mut mismatched) = (0, 0);
    for (inp, g) in inputs.iter().zip(&gpu) {
        let (value, grad) = walls.sdf.eval(inp[1]);
        assert!((value - g.value).abs() <= 1e-5 * (1.0 + value.abs()), "field {value} vs {}", g.value);
        for k in 0..3 {
            assert!(
                (grad[k] - g.gradient[k]).abs() <= 1e-4 * (1.0 + grad[k].abs()),
                "gradient {grad:?} vs {:?}",
                g.gradient
            );
        }
        let f = walls.near_wall_force(inp[1]);
        for k in 0..3 {
            assert!((f[k] - g.force[k]).abs() <= 1e-4 * (1.0 + f[k].abs()), "force {f:?} vs {:?}", g.force);
        }
        let mut v = inp[2];
        let (x, outcome) = walls.bounce(inp[0], inp[1], &mut v);
        if outcome != g.outcome {
            // Only a point within rounding of the surface may be judged differently.
            assert!(value.abs() < 1e-4, "outcome {outcome:?} vs {:?} at distance {value}", g.outcome);
            mismatched += 1;
            continue;
        }
        reflected += usize::from(outcome == Bounce::Reflected);
        for k in 0..3 {
            assert!((x[k] - g.x[k]).abs() <= 1e-4, "position {x:?} vs {:?}", g.x);
            assert!((v[k] - g.v[k]).abs() <= 1e-5 * (1.0 + v[k].abs()), "velocity {v:?} vs {:?}", g.v);
        }
        assert_ne!(outcome, Bounce::Leaked, "a drift from the fluid must never leak");
    }
    assert!(reflected > 200, "only {reflected} reflections: the test does not exercise bounce-back");
    assert!(mismatched < 5, "{mismatched} outcomes differ");
}

fn by_tag(s: &ParticleState) -> ParticleState {
    s.sorted_by_tag()
}

#[test]
fn walled_trajectories_agree() {
    for sc in [scenario(), couette()] {
        let Some(ctx) = common::gpu_context() else {
            return;
        };
        trajectories_agree(ctx, &sc);
    }
}

fn trajectories_agree(ctx: hemoscale::kernels::GpuContext, sc: &Scenario) {
    let initial = initial_conditions(sc, Backend::Cpu).expect("initial conditions");
    assert!(initial.wall > 300 && initial.fluid > 1000, "{} fluid, {} wall", initial.fluid, initial.wall);
    let mut cpu = CpuEngine::new(&initial.system, &initial.state, 0).expect("cpu");
    let mut gpu = GpuEngine::with_context(ctx, &initial.system, &initial.state, 0).expect("gpu");
    cpu.compute_forces().expect("cpu forces");
    gpu.compute_forces().expect("gpu forces");
    let _ = cpu.run(100, 0).expect("cpu run");
    let _ = gpu.run(100, 0).expect("gpu run");
    let (a, b) = (by_tag(&cpu.state().expect("state")), by_tag(&gpu.state().expect("state")));
    let l = initial.system.sim_box.len;
    let (mut worst, mut off) = (0.0f64, 0usize);
    for (p, q) in a.pos.iter().zip(&b.pos) {
        let mut dmax = 0.0f64;
        for k in 0..3 {
            let mut d = f64::from(p[k]) - f64::from(q[k]);
            d -= f64::from(l[k]) * (d / f64::from(l[k])).round();
            dmax = dmax.max(d.abs());
        }
        worst = worst.max(dmax);
        off += usize::from(dmax > 1e-3);
    }
    // Frozen particles move rigidly with their wall: still walls not at all, on either backend.
    let start = initial.state.sorted_by_tag();
    let still = initial.system.walls.as_ref().is_some_and(|w| w.motion.speed == 0.0);
    for (i, t) in a.type_id.iter().enumerate() {
        if *t == 1 {
            if still {
                assert_eq!(a.pos[i], start.pos[i], "a still wall particle moved on the CPU");
                assert_eq!(b.pos[i], start.pos[i], "a still wall particle moved on the GPU");
            } else {
                let dx = f64::from(a.pos[i][0] - b.pos[i][0]);
                let dx = dx - f64::from(l[0]) * (dx / f64::from(l[0])).round();
                assert!(dx.abs() < 1e-4 && a.pos[i][1..] == b.pos[i][1..], "wall particle {i} differs");
            }
        }
    }
    let (cc, gc) = (cpu.wall_counts().expect("counts"), gpu.wall_counts().expect("counts"));
    eprintln!(
        "max position difference {worst:.3e}, {off} particles beyond 1e-3; bounced cpu {} gpu {}",
        cc.bounced, gc.bounced
    );
    assert!(off * 100 <= a.len(), "{off} of {} particles differ by more than 1e-3", a.len());
    // One reflected drift: at most 2 |v| dt, |v| < 5 here.
    assert!(worst < 0.1, "positions differ by {worst}");
    assert_eq!((cc.leaked, gc.leaked), (0, 0));
    assert!(cc.bounced > 0 && cc.bounced.abs_diff(gc.bounced) <= cc.bounced / 20, "{cc:?} vs {gc:?}");
    // The momentum reflections hand each wall: the same sums up to the few reflections decided
    // differently (each at most a few units of momentum).
    for side in 0..2 {
        let (x, y) = (cc.impulse(side), gc.impulse(side));
        assert!((x - y).abs() <= 0.05 * x.abs() + 10.0, "impulse on wall {side}: cpu {x} gpu {y}");
    }
    let (oc, og) = (cpu.observables().expect("obs"), gpu.observables().expect("obs"));
    assert_eq!(oc.n, initial.fluid);
    assert_eq!(og.n, initial.fluid);
    assert!((oc.temperature() - og.temperature()).abs() < 1e-3 * oc.temperature());
}
