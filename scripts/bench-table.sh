#!/usr/bin/env bash
# Rows of BENCHMARKS.md: `hemoscale bench dpd` on both backends and LAMMPS (1 and 2 processes) on
# the same machine, back to back, for the standard DPD fluid (density 3, a 25, gamma 4.5, kT 1,
# dt 0.01). Prints one markdown row per measurement with the command that produced it.
# Usage: scripts/bench-table.sh [SIZES] [LAMMPS_DIR]    (SIZES default "24000 96000 375000")
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${1:-"24000 96000 375000"}
lammps_dir=${2:-$HOME/.cache/hemoscale-lammps}
shared=$(cd .. && pwd)/shared
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
cargo build --release --quiet
bin=target/release/hemoscale
lmp=$(bash "$shared/lammps/build.sh" "$lammps_dir" | tail -n 1)
work=$(mktemp -d)
row() { printf '| %s | %s | %s | %s | %s | `%s` |\n' "$@"; }
echo "| code | backend / processes | device | N | particle-steps/s | command |"
echo "|---|---|---|---|---|---|"
for n in $sizes; do
  steps=$(( n >= 375000 ? 40 : 100 ))
  for backend in cpu gpu; do
    gsteps=$steps
    [ "$backend" = gpu ] && gsteps=$(( steps / 4 ))
    cmd="hemoscale bench dpd --particles $n --steps $gsteps --warmup 10 --backend $backend"
    if $bin bench dpd --particles "$n" --steps "$gsteps" --warmup 10 --backend "$backend" --summary-json "$work/b.json" >/dev/null 2>&1; then
      read -r rate adapter < <(python3 -c "import json;d=json.load(open('$work/b.json'));print(f\"{d['particle_steps_per_second']:.3g}\", d['adapter'])")
      row hemoscale "$backend" "$adapter" "$n" "$rate" "$cmd"
    else
      row hemoscale "$backend" "(no adapter)" "$n" "-" "$cmd"
    fi
  done
  for np in 1 2; do
    lsteps=$(( n >= 375000 ? 200 : 500 ))
    cmd="mpirun -np $np lmp_dpd -sf omp -pk omp 1 -in shared/lammps/eos.in -var N $n -var neq 100 -var nprod $lsteps"
    (cd "$work" && mpirun --allow-run-as-root -np "$np" "$lmp" -sf omp -pk omp 1 -in "$shared/lammps/eos.in" \
      -var N "$n" -var neq 100 -var nprod "$lsteps" -var tag s -log speed.log -screen none)
    loop=$(grep "^Loop time" "$work/speed.log" | tail -n 1 | awk '{print $4}')
    rate=$(python3 -c "print(f'{$n*$lsteps/$loop:.3g}')")
    row "LAMMPS 20220106" "$np MPI x 1 OpenMP" "CPU" "$n" "$rate" "$cmd"
  done
done
