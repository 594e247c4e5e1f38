#!/usr/bin/env bash
# The checks for a lent GPU machine, which has no Rust toolchain: run from binaries built here and
# carried (`cargo build --release`, `cargo test --release --no-run --test ...`, `cargo bench
# --no-run --bench ...`, each stripped into BIN_DIR under the names below). In order of worth, each
# under its own time limit, stopping before BUDGET seconds have passed:
#   1. GPU parity on the card: GPU ranks against one rank (tests/domain.rs), then the kernel,
#      walls, platelet and inference parity tests, all with CI=true (a missing adapter fails);
#   2. GPU ranks against one GPU engine: `dpd-box` on 1, 2 and 4 ranks (threads sharing the card);
#   3. coupled `shear-flip` on the GPU backend: fine against the shipped surrogate;
#   4. criterion: batched inference, GPU ranks' passes, kernels.
# Usage: [SIZES="1000000 4000000"] [SF_STEPS=8000] [SKIP_CPU=1] scripts/gpu-checks.sh BIN_DIR OUT_DIR [BUDGET_SECONDS]
#
# The Vulkan loader on the lent NVIDIA machines (2026-11-27, H100): the image has the driver's
# ICD (/usr/share/vulkan/icd.d/nvidia_icd.json -> libGLX_nvidia.so.0) but no loader. With
# Debian's libvulkan1 alone the ICD refused ("Could not get 'vkCreateInstance'"); with the glvnd
# libraries as well it worked. Download them here once (`apt-get download libvulkan1 libegl1
# libglvnd0 libopengl0 libgl1 libglx0 libgles2` into an ignored folder), carry that folder, and
# there unpack them before this script: `for f in DIR/*.deb; do dpkg -x $f /; done; ldconfig`.
# The script stops at once when no GPU adapter is found.
# Writes OUT_DIR/log.txt (everything printed) and OUT_DIR/runs.tgz (one summary JSON per run),
# brought up to date after every check so that a run cut short still leaves what it measured.
set -uo pipefail
bin=$1
out=$2
budget=${3:-420}
runs=$(mktemp -d)
mkdir -p "$out" "$runs/runs"
start=$(date +%s)
log=$out/log.txt
left() { echo $(( budget - ($(date +%s) - start) )); }
step() { # label, limit seconds, command...
  local label=$1 limit=$2
  shift 2
  if [ "$(left)" -lt 15 ]; then
    echo "### $label: skipped (budget spent)" | tee -a "$log"
    return
  fi
  [ "$limit" -gt "$(left)" ] && limit=$(left)
  echo "### $label (limit ${limit}s): $*" | tee -a "$log"
  local t0=$(date +%s.%N)
  timeout "$limit" "$@" >>"$log" 2>&1
  local rc=$?
  echo "### $label: rc=$rc in $(python3 -c "print(round($(date +%s.%N)-$t0,1))") s" | tee -a "$log"
  tar czf "$out/runs.tgz" -C "$runs" runs
}
export CI=true
nvidia-smi -L >>"$log" 2>&1
nproc >>"$log"
if ! "$bin/hemoscale" bench dpd --particles 24000 --steps 5 --warmup 1 --backend gpu >>"$log" 2>&1; then
  echo "### no GPU adapter: stopping" | tee -a "$log"
  exit 1
fi
step "domain GPU ranks" 150 "$bin/test_domain" gpu --test-threads 1
for n in ${SIZES:-1000000 4000000}; do
  steps=$(( n > 1000000 ? 100 : 200 ))
  rsteps=$(( n > 1000000 ? 40 : 100 ))
  common=(run dpd-box --set "particles=$n" --thermo 1000000 --out "$runs/o")
  step "gpu engine $n" 90 "$bin/hemoscale" "${common[@]}" --backend gpu --steps "$steps" --summary-json "$runs/runs/gpu1_$n.json"
  for p in 2 4; do
    step "gpu ranks $p $n" 120 "$bin/hemoscale" "${common[@]}" --backend gpu --ranks "$p" --steps "$rsteps" --summary-json "$runs/runs/gpu${p}_$n.json"
  done
  [ -n "${SKIP_CPU:-}" ] && continue
  step "cpu one rank $n" 90 "$bin/hemoscale" "${common[@]}" --backend cpu --steps 20 --summary-json "$runs/runs/cpu1_$n.json"
  step "cpu ranks 4 $n" 90 "$bin/hemoscale" "${common[@]}" --backend cpu --ranks 4 --steps 20 --summary-json "$runs/runs/cpu4_$n.json"
done
rm -rf "$runs/o"
for c in fine surrogate; do
  step "shear-flip $c" 120 "$bin/hemoscale" run shear-flip --backend gpu --steps "${SF_STEPS:-8000}" --thermo 1000 \
    --set "coupling=$c" --out "$runs/sf_$c" --summary-json "$runs/runs/shear_flip_$c.json"
  rm -rf "$runs/sf_$c"
done
for t in rng_parity parity walls_parity inference_parity platelet_gpu_engine; do
  step "test $t" 150 "$bin/test_$t" --test-threads 1
done
step "criterion batched inference" 60 "$bin/bench_coupling" --bench batched_inference --warm-up-time 0.5 --measurement-time 2
HEMOSCALE_BENCH_SIZES=1000000 step "criterion domain gpu" 90 "$bin/bench_domain" --bench gpu --warm-up-time 0.5 --measurement-time 2
HEMOSCALE_BENCH_SIZES=1000000,4000000 HEMOSCALE_BENCH_BACKENDS=gpu step "criterion kernels" 90 "$bin/bench_kernels" --bench --warm-up-time 0.5 --measurement-time 2
echo "### done in $(( $(date +%s) - start )) s" | tee -a "$log"
