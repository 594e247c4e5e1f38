#!/usr/bin/env bash
# Rows of BENCHMARKS.md for the cost of walls: `hemoscale bench dpd|tube|stenosis` at the same
# particle count, back to back, with the wall overhead relative to the periodic box.
# Usage: scripts/bench-walls.sh [SIZES] [BACKENDS]   (defaults "24000 96000" and "cpu")
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${1:-"24000 96000"}
backends=${2:-"cpu"}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
cargo build --release --quiet
bin=target/release/hemoscale
work=$(mktemp -d)
echo "| setup | backend | device | particles (wall) | particle-steps/s | vs dpd | command |"
echo "|---|---|---|---|---|---|---|"
for n in $sizes; do
  for backend in $backends; do
    steps=100
    [ "$backend" = gpu ] && steps=20
    base=""
    for what in dpd tube stenosis; do
      cmd="hemoscale bench $what --particles $n --steps $steps --warmup 20 --backend $backend"
      $bin bench "$what" --particles "$n" --steps "$steps" --warmup 20 --backend "$backend" --summary-json "$work/b.json" >/dev/null
      read -r rate np nw adapter < <(python3 -c "import json;d=json.load(open('$work/b.json'));print(d['particle_steps_per_second'], d['particles'], d['wall_particles'], d['adapter'])")
      [ -z "$base" ] && base=$rate
      rel=$(python3 -c "print(f'{$rate/$base:.2f}')")
      printf '| %s | %s | %s | %s (%s) | %.3g | %s | `%s` |\n' "$what" "$backend" "$adapter" "$np" "$nw" "$rate" "$rel" "$cmd"
    done
  done
done
