#!/usr/bin/env bash
# Whole steps of dpd-box over ranks (domain decomposition) on this machine: one rank, in-process
# ranks (threads sharing one rayon pool), and MPI ranks with one thread each. Prints one table row
# per run: setup, particles, particle-steps/s, halo bytes per step (measured and model).
#
# usage: [BACKEND=gpu] scripts/bench-ranks.sh [BINARY] [PARTICLES...]
#   BINARY: a hemoscale built with --features mpi (MPICC=mpicc.mpich cargo build --release
#   --features mpi), default target/release/hemoscale; PARTICLES default 96000.
#   BACKEND=gpu: GPU ranks (pair forces on the device, kernels/src/gpu/rank_forces.rs) and one
#   GPU engine instead of the CPU rows; each MPI rank takes the GPU of its node rank.
set -euo pipefail
bin=${1:-target/release/hemoscale}
shift || true
sizes=("${@:-96000}")
steps=${STEPS:-300}
backend=${BACKEND:-cpu}
out=$(mktemp -d)
row() { # label, particles, json
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
label, n, path = sys.argv[1], sys.argv[2], sys.argv[3]
d = json.load(open(path))
dom = d.get("domain") or {}
halo = dom.get("halo_bytes_per_step")
model = dom.get("model_halo_bytes_per_step")
extra = f"{halo:.0f} | {model:.0f}" if halo is not None else "- | -"
print(f"| {label} | {n} | {d['particle_steps_per_second']:.3e} | {extra} |")
PY
}
echo "| setup | particles | particle-steps/s | halo bytes/step | model |"
echo "|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  common=(run dpd-box --backend "$backend" --set "particles=$n" --steps "$steps" --thermo "$steps" --out "$out/o")
  "$bin" "${common[@]}" --summary-json "$out/a.json" >/dev/null
  row "1 rank ($backend), 2 threads" "$n" "$out/a.json"
  if [ "$backend" = cpu ]; then
    RAYON_NUM_THREADS=1 "$bin" "${common[@]}" --summary-json "$out/b.json" >/dev/null
    row "1 rank, 1 thread" "$n" "$out/b.json"
  fi
  for p in 2 4; do
    "$bin" "${common[@]}" --ranks "$p" --summary-json "$out/t$p.json" >/dev/null
    row "$p in-process $backend ranks, 2 threads shared" "$n" "$out/t$p.json"
    RAYON_NUM_THREADS=1 mpirun.mpich -n "$p" "$bin" "${common[@]}" --summary-json "$out/m$p.json" >/dev/null
    row "mpirun.mpich -n $p ($backend), 1 thread each" "$n" "$out/m$p.json"
  done
done
rm -rf "$out"
