#!/usr/bin/env bash
# BENCHMARKS.md rows for a machine with a hardware GPU, run from prebuilt binaries (GPU machines
# lent to this project have no Rust toolchain): whole steps of `dpd`, `tube` and `stenosis` on the
# GPU and the CPU backend, and LAMMPS with OpenMP on all cores of the same machine.
# Usage: scripts/bench-gpu.sh HEMOSCALE_BIN [LMP_SERIAL_BIN EOS_IN] [SIZES]
#   SIZES default "375000 1000000 4000000". LMP_SERIAL_BIN: LAMMPS built with -DBUILD_MPI=OFF
#   -DBUILD_OMP=ON (no mpirun needed), run with `-sf omp -pk omp $(nproc)`.
# Prints one markdown row per measurement, each with the command that produced it.
set -uo pipefail
bin=$1
lmp=${2:-}
eos=${3:-}
sizes=${4:-"375000 1000000 4000000"}
work=$(mktemp -d)
threads=$(nproc)
row() { printf '| %s | %s | %s | %s | %s | `%s` |\n' "$@"; }
rate_of() { python3 -c "import json;d=json.load(open('$1'));print(f\"{d['particle_steps_per_second']:.3g}\", d['adapter'])"; }
echo "| code | what / backend | device | N | particle-steps/s | command |"
echo "|---|---|---|---|---|---|"
for n in $sizes; do
  for what in dpd tube stenosis; do
    cmd="hemoscale bench $what --particles $n --steps 200 --warmup 20 --backend gpu"
    if timeout 120 "$bin" bench "$what" --particles "$n" --steps 200 --warmup 20 --backend gpu \
      --summary-json "$work/b.json" >"$work/out" 2>&1; then
      read -r rate adapter < <(rate_of "$work/b.json")
      row hemoscale "$what / gpu" "$adapter" "$n" "$rate" "$cmd"
    else
      row hemoscale "$what / gpu" "failed: $(tail -n 1 "$work/out")" "$n" "-" "$cmd"
    fi
  done
  cmd="hemoscale bench dpd --particles $n --steps 20 --warmup 5 --backend cpu"
  if timeout 120 "$bin" bench dpd --particles "$n" --steps 20 --warmup 5 --backend cpu \
    --summary-json "$work/b.json" >"$work/out" 2>&1; then
    read -r rate adapter < <(rate_of "$work/b.json")
    row hemoscale "dpd / cpu" "$adapter" "$n" "$rate" "$cmd"
  fi
  if [ -n "$lmp" ]; then
    steps=$(( n >= 1000000 ? 50 : 200 ))
    cmd="lmp_serial -sf omp -pk omp $threads -in shared/lammps/eos.in -var N $n -var neq 20 -var nprod $steps"
    (cd "$work" && OMP_NUM_THREADS=$threads timeout 200 "$lmp" -sf omp -pk omp "$threads" -in "$eos" \
      -var N "$n" -var neq 20 -var nprod "$steps" -var tag s -log speed.log -screen none)
    loop=$(grep "^Loop time" "$work/speed.log" 2>/dev/null | tail -n 1 | awk '{print $4}')
    if [ -n "$loop" ]; then
      rate=$(python3 -c "print(f'{$n*$steps/$loop:.3g}')")
      row "LAMMPS 20220106" "dpd / 1 process x $threads OpenMP" "CPU" "$n" "$rate" "$cmd"
    fi
  fi
done
