#!/usr/bin/env bash
# Reference values from LAMMPS on this machine (the peer the physics tests cite).
# Builds LAMMPS from Debian's source package (shared/lammps/build.sh, ~7 min, needs root), then runs
#   eos   -- pressure and temperature of the periodic DPD fluid for the parameter sets of tests/dpd_physics.rs
#   speed -- particle-steps per second at N = 24k, 96k, 375k on 1 and 2 processes (BENCHMARKS.md)
#   poiseuille -- shear viscosity by reverse (periodic) Poiseuille flow, box 10x10x20, g 0.02, for the standard set
#                 and the rho 4 set; profiles fitted by lammps/fit_poiseuille.py (one process, a few minutes per set)
# Usage: scripts/lammps-reference.sh eos|speed|poiseuille [LAMMPS_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=$(cd "$here/../.." && pwd)/shared
dest=${2:-$HOME/.cache/hemoscale-lammps}
lmp=$(bash "$shared/lammps/build.sh" "$dest" | tail -n 1)
work=$(mktemp -d)
cd "$work"
mpirun_() { mpirun --allow-run-as-root "$@"; }
case "${1:-eos}" in
  eos)
    # tag, extra -var arguments (defaults: rho 3, a 25, gamma 4.5, kT 1, dt 0.01)
    mpirun_ -np 2 "$lmp" -sf omp -pk omp 1 -in "$shared/lammps/eos.in" -var N 24000 -var dt 0.01 -var tag std -log std.log -screen none
    mpirun_ -np 2 "$lmp" -sf omp -pk omp 1 -in "$shared/lammps/eos.in" -var N 24000 -var dt 0.04 -var tag dt04 -log dt04.log -screen none
    mpirun_ -np 2 "$lmp" -in "$here/lammps/eos_ext.in" -var N 24000 -var dt 0.01 -var ws 0.25 -var tag s05 -log s05.log -screen none
    mpirun_ -np 2 "$lmp" -sf omp -pk omp 1 -in "$shared/lammps/eos.in" -var N 24000 -var dt 0.01 -var rho 4 -var a 18.75 -var gamma 3 -var kT 0.8 -var tag rho4 -log rho4.log -screen none
    grep -h PHYS ./*.log
    ;;
  speed)
    for n in 24000 96000 375000; do
      steps=$(( n >= 375000 ? 500 : 1000 ))
      for np in 1 2; do
        mpirun_ -np "$np" "$lmp" -sf omp -pk omp 1 -in "$shared/lammps/eos.in" -var N "$n" -var neq 100 -var nprod "$steps" -var tag s -log speed.log -screen none
        loop=$(grep "^Loop time" speed.log | tail -n 1 | awk '{print $4}')
        echo "LAMMPS np=$np N=$n steps=$steps loop_seconds=$loop particle_steps_per_second=$(python3 -c "print(f'{$n*$steps/$loop:.4g}')")"
      done
    done
    ;;
  poiseuille)
    # tag, rho, extra -var arguments (defaults: a 25, gamma 4.5, kT 1); eta0 only seeds the initial parabola
    common=(-var Lx 10 -var Ly 10 -var Lz 20 -var g 0.02 -var dt 0.01 -var neq 10000 -var nprod 30000)
    pois() {
      local tag=$1 rho=$2; shift 2
      local t0=$SECONDS
      mpirun_ -np 1 "$lmp" -in "$shared/lammps/poiseuille.in" "${common[@]}" -var rho "$rho" "$@" \
        -var out "pois_$tag.dat" -log "pois_$tag.log" -screen none
      echo "POIS_WALL tag=$tag wall_seconds=$(( SECONDS - t0 ))"
      python3 "$here/lammps/fit_poiseuille.py" "pois_$tag.dat" --tag "$tag" --rho "$rho" --g 0.02 --Lz 20
    }
    pois std 3 -var eta0 0.85
    pois rho4 4 -var a 18.75 -var gamma 3 -var kT 0.8 -var eta0 1.0
    grep -h "^POIS" ./*.log
    echo "work dir: $work"
    ;;
  *) echo "usage: $0 eos|speed|poiseuille [LAMMPS_DIR]" >&2; exit 2 ;;
esac
