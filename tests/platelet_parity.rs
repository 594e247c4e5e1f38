//! The GPU twins of the platelet force kernels (`shaders/bonded.wgsl`, `nonbonded.wgsl`,
//! `interface.wgsl`) compute the CPU's forces: per particle, on both sides of the interface, with
//! the same pair noise.
//!
//! Two platelets of about 400 particles, perturbed by thermal-size noise so every term is loaded,
//! lie in a periodic box of plasma: the first straddles the x boundary (its unwrapped positions go
//! negative), the second sits exactly one box length further along x and just above the first, so
//! Lennard-Jones pairs between them exist only through the minimum image, with separations along x
//! of both signs (which exercises the rounding of `min_image_any`).
//!
//! Tolerance: `max_i |F_gpu(i) - F_cpu(i)| <= 1e-4 max_i |F_cpu(i)| + 1e-5`. Both backends add
//! the same terms in the same order in f32, but the GPU may contract multiply-adds, its division,
//! `sqrt`, `exp` and `pow` are not correctly rounded, and the volume is reduced as a tree instead
//! of a running sum; each force is a sum of terms of the size of the largest force, so the
//! difference is a few f32 ulps of that scale (1e-4 leaves a factor of about 100), and the
//! absolute floor covers forces that cancel to nearly zero.

mod common;

use glam::{Quat, Vec3};
use hemoscale_kernels::bonded::{bonded_forces, volume_pressures};
use hemoscale_kernels::dpd::PairCoeffs;
use hemoscale_kernels::gpu::bonded::Bonded;
use hemoscale_kernels::gpu::interface::Interface;
use hemoscale_kernels::gpu::nonbonded::Nonbonded;
use hemoscale_kernels::interface::{interface_forces, InterfaceInput, InterfaceList};
use hemoscale_kernels::nonbonded::{lj_forces, NeighborList};
use hemoscale_kernels::platelet::{PlateletSpec, PlateletTemplate, Stiffness};
use hemoscale_kernels::platelet_set::{Placement, PlateletParams, PlateletSet};
use hemoscale_kernels::rng::{philox4x32_10, seed_key, uniform_pm1};
use hemoscale_kernels::{init, DpdSystem, SimBox};

const EDGE: f32 = 14.0;

/// Platelet positions (perturbed), velocities and tags, with plasma positions, velocities, tags.
struct Scene {
    set: PlateletSet,
    pos: Vec<[f32; 4]>,
    vel: Vec<[f32; 4]>,
    plasma_pos: Vec<[f32; 4]>,
    plasma_vel: Vec<[f32; 4]>,
    plasma_tag: Vec<u32>,
}

/// Deterministic noise in [-amp, amp) for particle `i`, component `k`.
fn noise(i: usize, k: u32, stream: u32, amp: f32) -> f32 {
    let w = philox4x32_10([i as u32, k, stream, 0xABCD], seed_key(99));
    amp * uniform_pm1(w[0])
}

fn scene() -> Scene {
    let spec = PlateletSpec {
        diameter: 6.0,
        aspect_ratio: 0.25,
        resolution: 400,
        mass: 3.0 * 28.27,
        stiffness: Stiffness::DEFAULT,
    };
    let t = PlateletTemplate::build(&spec).expect("template");
    let place =
        |c: [f32; 3], angle: f32| Placement { center: c, rotation: Quat::from_rotation_x(angle), velocity: [0.0; 3] };
    // The second disc just above the first, the gap between their membranes 0.85 of the
    // Lennard-Jones cut-off: with the perturbation, some pairs across it are inside the cut-off.
    let (lo, hi) = t.pos.iter().fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p[2]), b.max(p[2])));
    let gap = 0.85 * 2f32.powf(1.0 / 6.0) * t.lj_sigma;
    let at = [place([1.5, 7.0, 6.0], 0.0), place([1.5 + EDGE, 7.0, 6.0 + (hi - lo) + gap], 0.0)];
    let set = PlateletSet::place(t, PlateletParams::DEFAULT, &at, 1_000_000).expect("placed");
    let pos: Vec<[f32; 4]> = set
        .pos
        .iter()
        .enumerate()
        .map(|(i, p)| [p[0] + noise(i, 0, 0, 0.04), p[1] + noise(i, 1, 0, 0.04), p[2] + noise(i, 2, 0, 0.04), 0.0])
        .collect();
    let vel: Vec<[f32; 4]> =
        (0..pos.len()).map(|i| [noise(i, 0, 1, 0.5), noise(i, 1, 1, 0.5), noise(i, 2, 1, 0.5), 0.0]).collect();
    let sys = DpdSystem::standard(SimBox::cubic(EDGE), 7);
    let plasma = init::random_fluid(&sys, (3.0 * EDGE * EDGE * EDGE) as usize);
    let (plasma, removed) = set.carve(&plasma, &sys, 0.2);
    assert!(removed > 0, "the platelets displace plasma");
    let four = |v: &[[f32; 3]]| v.iter().map(|a| [a[0], a[1], a[2], 0.0]).collect::<Vec<_>>();
    Scene {
        pos,
        vel,
        plasma_pos: four(&plasma.pos),
        plasma_vel: four(&plasma.vel),
        plasma_tag: plasma.tag.clone(),
        set,
    }
}

fn norm(a: &[f32; 4]) -> f32 {
    Vec3::new(a[0], a[1], a[2]).length()
}

/// Checks the tolerance of the module docs and returns (worst difference, force scale).
fn assert_close(what: &str, gpu: &[[f32; 4]], cpu: &[[f32; 4]]) -> (f32, f32) {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths");
    let scale = cpu.iter().map(norm).fold(0.0, f32::max);
    let (worst, at) = gpu
        .iter()
        .zip(cpu)
        .map(|(g, c)| norm(&[g[0] - c[0], g[1] - c[1], g[2] - c[2], 0.0]))
        .enumerate()
        .fold((0.0f32, 0usize), |(w, a), (i, d)| if d > w { (d, i) } else { (w, a) });
    assert!(
        worst <= 1e-4 * scale + 1e-5,
        "{what}: |F_gpu - F_cpu| = {worst} at {at} (gpu {:?}, cpu {:?}), force scale {scale}",
        gpu.get(at),
        cpu.get(at)
    );
    (worst, scale)
}

fn v4(v: &[Vec3]) -> Vec<[f32; 4]> {
    v.iter().map(|a| [a.x, a.y, a.z, 0.0]).collect()
}

#[test]
fn bonded_forces_agree() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let s = scene();
    let topo = s.set.topology();
    let mut cpu = vec![[0.0f32; 4]; s.pos.len()];
    bonded_forces(&topo, &s.pos, &mut cpu);
    let k = Bonded::new(&ctx.device);
    let b = k.upload(&ctx, &topo, &s.pos);
    k.run(&ctx, &b);
    let gpu = b.read_forces(&ctx).expect("read back");
    ctx.take_errors().expect("no device errors");
    let (_, scale) = assert_close("bonded", &gpu, &cpu);
    assert!(scale > 10.0, "the perturbation should load the bonded terms: {scale}");
    // The pressures of the first pass, and that the volume term is loaded at all.
    let want = volume_pressures(&topo, &s.pos);
    let got = b.read_pressures(&ctx).expect("pressures");
    assert_eq!(got.len(), 2);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-3 * w.abs() + 1e-3, "pressure gpu {g} cpu {w}");
    }
    assert!(want.iter().any(|p| p.abs() > 1e-2), "the perturbation should change the volumes: {want:?}");
}

/// A topology of springs alone (no angles, dihedrals or volume terms) runs on the GPU too: the
/// empty lists are bound with one padding entry of the shader's struct size. Before, the 16-byte
/// placeholder did not fit the 32-byte angle struct, wgpu rejected the dispatch and the forces
/// read back as zeros. Reference: the CPU's springs, within this file's tolerance (1e-4 of the
/// largest force).
#[test]
fn a_topology_of_springs_alone_runs_on_the_gpu() {
    use hemoscale_kernels::bonded::Topology;
    use hemoscale_kernels::platelet::{Bond, BondKind};
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    // Three particles on a line, springs of rest length 1 stretched to 1.2 and compressed to 0.9.
    let pos = vec![[1.0f32, 1.0, 1.0, 0.0], [2.2, 1.0, 1.0, 0.0], [3.1, 1.0, 1.0, 0.0]];
    let spring = |i, j| Bond { i, j, r0: 1.0, k: 50.0, kind: BondKind::Filament };
    let topo = Topology::new(3, vec![spring(0, 1), spring(1, 2)], Vec::new(), Vec::new());
    let mut cpu = vec![[0.0f32; 4]; 3];
    bonded_forces(&topo, &pos, &mut cpu);
    let k = Bonded::new(&ctx.device);
    let b = k.upload(&ctx, &topo, &pos);
    k.run(&ctx, &b);
    let gpu = b.read_forces(&ctx).expect("read back");
    ctx.take_errors().expect("no device errors");
    assert!((cpu[0][0] - 10.0).abs() < 1e-4, "the stretched spring pulls particle 0: {:?}", cpu[0]);
    let _ = assert_close("springs alone", &gpu, &cpu);
}

#[test]
fn lennard_jones_forces_agree() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let s = scene();
    let lj = s.set.lj();
    let len = [EDGE; 3];
    let nl = NeighborList::build(&s.pos, len, lj.rcut + s.set.params.skin, &s.set.exclusions());
    let mut cpu = vec![[0.0f32; 4]; s.pos.len()];
    lj_forces(&nl, &s.pos, &lj, len, &mut cpu);
    let k = Nonbonded::new(&ctx.device);
    let b = k.upload(&ctx, &nl, &s.pos, &lj, len);
    k.run(&ctx, &b);
    let gpu = b.read_forces(&ctx).expect("read back");
    ctx.take_errors().expect("no device errors");
    let (_, scale) = assert_close("lennard-jones", &gpu, &cpu);
    assert!(scale > 0.1, "some pairs should be inside the cut-off: {scale}");
    // Pairs between the two platelets exist only through the minimum image (they are a box apart),
    // inside the cut-off and with x separations of both signs.
    let n = s.set.per_platelet();
    let l = Vec3::splat(EDGE);
    let x = |i: usize| Vec3::new(s.pos[i][0], s.pos[i][1], s.pos[i][2]);
    let across: Vec<Vec3> = (0..n)
        .flat_map(|i| nl.list[nl.offsets[i] as usize..nl.offsets[i + 1] as usize].iter().map(move |&j| (i, j as usize)))
        .filter(|&(_, j)| j >= n)
        .map(|(i, j)| hemoscale_kernels::nonbonded::min_image_any(x(i) - x(j), l))
        .filter(|d| d.length() < lj.rcut)
        .collect();
    assert!(
        across.iter().any(|d| d.x > 0.0) && across.iter().any(|d| d.x < 0.0),
        "the platelets should touch across the periodic boundary from both sides: {} pairs",
        across.len()
    );
}

#[test]
fn interface_forces_agree_on_both_sides_with_the_same_noise() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let s = scene();
    let len = [EDGE; 3];
    let membrane = s.set.outer_membrane();
    let p = s.set.params.interface;
    let list = InterfaceList::build(&membrane, &s.pos, &s.plasma_pos, len, p.rc + s.set.params.skin);
    assert!(list.pairs() > 1000 && !list.touched.is_empty(), "pairs {}", list.pairs());
    let k = Interface::new(&ctx.device);
    // kT 1 and a sub-step of 0.0025: the noise is of the size of the conservative force. A counter
    // above 2^32 checks the high word. Then the noise alone (a = gamma = Morse = 0): its bits match.
    let full = PairCoeffs::new(&p, 1.0, 0.0025);
    let noise_only = PairCoeffs { a: 0.0, gamma: 0.0, morse_k: 0.0, ..full };
    let cold = PairCoeffs::new(&p, 0.0, 0.0025);
    let mut cpu_full = (Vec::new(), Vec::new());
    for (what, coeffs) in [("full", full), ("noise only", noise_only), ("kT 0", cold)] {
        let inp = InterfaceInput {
            plat_pos: &s.pos,
            plat_vel: &s.vel,
            plat_tag: &s.set.tag,
            plasma_pos: &s.plasma_pos,
            plasma_vel: &s.plasma_vel,
            plasma_tag: &s.plasma_tag,
            coeffs: &coeffs,
            len,
            key: seed_key(0x5EED_0000_0001),
            counter: (1u64 << 32) + 12_345,
        };
        let (mut pf, mut mf, mut qf) = (Vec::new(), Vec::new(), Vec::new());
        interface_forces(&list, &inp, &mut pf, &mut mf, &mut qf);
        let (mf, qf) = (v4(&mf), v4(&qf));
        let b = k.upload(&ctx, &list, &inp);
        k.run(&ctx, &b);
        let gm = b.read_membrane_forces(&ctx).expect("membrane");
        let gq = b.read_plasma_forces(&ctx).expect("plasma");
        ctx.take_errors().expect("no device errors");
        let (_, scale) = assert_close(&format!("{what}: membrane side"), &gm, &mf);
        assert!(scale > 1.0, "{what}: forces should be non-trivial: {scale}");
        assert_close(&format!("{what}: plasma side"), &gq, &qf);
        // Action and reaction: the GPU's two sides cancel (each pair is evaluated twice with the
        // same inputs; only the order of the sums differs between the sides).
        let total = gm.iter().chain(&gq).fold([0.0f64; 3], |t, f| std::array::from_fn(|c| t[c] + f64::from(f[c])));
        let net = total.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(net < 1e-4 * f64::from(scale) * (list.pairs() as f64).sqrt(), "{what}: net force {net}");
        if what == "full" {
            cpu_full = (mf, qf);
        } else if what == "kT 0" {
            // The noise changes the forces by far more than the tolerance, so the full comparison
            // above could not have passed with different random numbers.
            let (w, sc) = (
                cpu_full
                    .0
                    .iter()
                    .zip(&mf)
                    .map(|(a, b)| norm(&[a[0] - b[0], a[1] - b[1], a[2] - b[2], 0.0]))
                    .fold(0.0, f32::max),
                cpu_full.0.iter().map(norm).fold(0.0, f32::max),
            );
            assert!(w > 100.0 * (1e-4 * sc + 1e-5), "the noise should matter: {w} vs scale {sc}");
        }
    }
}

/// Adhesion (`shaders/adhesion.wgsl` against `AdhesionState::add_forces`): two activated
/// platelets in a channel, the lower one 0.5 rc above an adhesive patch on the lower wall and the
/// upper one resting 0.4 rc above it, perturbed; one bond update forms wall bonds and platelet
/// bonds, and every kind of term (Morse to sites and to the wall, Hooke to sites and to anchors)
/// acts somewhere. The GPU adds to a non-zero starting force, as it adds to the Lennard-Jones
/// force in a step. Same tolerance as the other kernels.
#[test]
fn adhesion_forces_agree() {
    use hemoscale_kernels::adhesion::{Adhesion, AdhesionLists, AdhesionParams, AdhesionState, Patch};
    use hemoscale_kernels::cell_list::CellGrid;
    use hemoscale_kernels::geometry::{SdfGrid, Shape};
    use hemoscale_kernels::gpu::adhesion::Adhesion as GpuAdhesion;
    use hemoscale_kernels::gpu::buffers::Params;
    use hemoscale_kernels::{NearWallForce, WallMotion, Walls};
    let Some(ctx) = common::gpu_context() else {
        eprintln!("skipped: no GPU adapter");
        return;
    };
    let spec = PlateletSpec {
        diameter: 6.0,
        aspect_ratio: 0.25,
        resolution: 400,
        mass: 3.0 * 28.27,
        stiffness: Stiffness::DEFAULT,
    };
    let t = PlateletTemplate::build(&spec).expect("template");
    let half = 0.75;
    let z0 = 1.0 + 0.5 + half;
    let place = |c: [f32; 3]| Placement { center: c, rotation: Quat::IDENTITY, velocity: [0.0; 3] };
    let at = [place([7.0, 7.0, z0]), place([8.0, 7.0, z0 + 2.0 * half + 0.4])];
    let set = PlateletSet::place(t, PlateletParams::DEFAULT, &at, 1_000_000).expect("placed");
    let pos: Vec<[f32; 4]> = set
        .pos
        .iter()
        .enumerate()
        .map(|(i, p)| [p[0] + noise(i, 0, 5, 0.04), p[1] + noise(i, 1, 5, 0.04), p[2] + noise(i, 2, 5, 0.04), 0.0])
        .collect();
    let len = [EDGE; 3];
    let mut sys = DpdSystem::standard(SimBox::cubic(EDGE), 7);
    sys.walls = Some(Walls {
        sdf: SdfGrid::sample(&Shape::Channel { center: 7.0, half_height: 6.0 }, len, 200_000).expect("sdf"),
        motion: WallMotion { speed: 0.5, center: 7.0 },
        force: NearWallForce::default(),
    });
    let walls = sys.walls.as_ref();
    let patch = Patch { min: [0.0; 3], max: [EDGE, EDGE, 3.0] };
    let adhesion = Adhesion { params: AdhesionParams::DEFAULT, patches: vec![patch] };
    let mut st = AdhesionState::new(adhesion, set.outer_membrane(), set.per_platelet(), set.len(), 0.3).expect("adh");
    let activated = [true, true];
    assert!(st.update(&pos, &activated, len, walls, 0.01), "bonds form");
    let lists = st.gpu_lists(&pos, &activated, len, walls);
    for kind in [AdhesionLists::MORSE, AdhesionLists::HOOKE, AdhesionLists::WALL_MORSE, AdhesionLists::WALL_HOOKE] {
        assert!(lists.entries.iter().any(|e| e[0] == kind), "term kind {kind} missing: {:?}", st.counts());
    }
    let start: Vec<[f32; 4]> =
        (0..pos.len()).map(|i| [noise(i, 0, 6, 1.0), noise(i, 1, 6, 1.0), noise(i, 2, 6, 1.0), 0.0]).collect();
    let mut cpu = start.clone();
    st.add_forces(&pos, &activated, len, walls, &mut cpu);
    let params = Params::new(&sys, &CellGrid::new(&sys), 0);
    let sdf = walls.map(|w| w.sdf.gpu_words()).expect("walls");
    let k = GpuAdhesion::new(&ctx.device);
    let b = k.upload(&ctx, &lists, &pos, &start, st.params(), len, &params, &sdf);
    k.run(&ctx, &b);
    let gpu = b.read_forces(&ctx).expect("read");
    let (worst, scale) = assert_close("adhesion", &gpu, &cpu);
    eprintln!("adhesion: worst {worst:.3e} of force scale {scale:.3e}; {:?}", st.counts());
    // The terms matter: without them the forces would differ by far more than the tolerance.
    let moved =
        cpu.iter().zip(&start).map(|(a, b)| norm(&[a[0] - b[0], a[1] - b[1], a[2] - b[2], 0.0])).fold(0.0, f32::max);
    assert!(moved > 100.0 * (1e-4 * scale + 1e-5), "adhesion forces too small to test: {moved}");
}
