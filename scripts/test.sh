#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, idempotently, then runs the
# whole suite -- formatting, clippy, unit, physics, CPU/GPU parity and CLI tests. GPU tests run on
# Mesa's software Vulkan (lavapipe) when there is no GPU; with CI=true a missing adapter fails them.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: Vulkan loader + lavapipe (GPU tests without a GPU); MPICH and libclang for the
# `mpi` feature (bindgen) and the mpirun tests.
need=()
for pkg in mesa-vulkan-drivers libvulkan1 mpich libmpich-dev libclang-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
# Python with venv for the output reader tests (Debian's python3 needs python3-venv for ensurepip).
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
  command -v python3 >/dev/null 2>&1 || need+=(python3)
  need+=(python3-venv)
fi
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Rust components used below (no-ops when present).
if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

# Vulkan loaders complain without a runtime dir; give them a private one.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "${XDG_RUNTIME_DIR}" ]; then
  XDG_RUNTIME_DIR=$(mktemp -d)
  export XDG_RUNTIME_DIR
fi

# Third-party readers for tests/output_readers.rs (VTK, ASE, Pillow; pinned) in .venv-tests,
# skipped when the venv already imports them at these versions (a fresh install takes ~35 s).
venv=.venv-tests
py_pins=(vtk==9.7.2 ase==3.29.0 pillow==13.0.0 numpy==2.4.6)
venv_has_pins() {
  "$venv/bin/python" - "${py_pins[@]}" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
import ase.io, numpy, PIL.Image, vtkmodules.vtkIOXML  # noqa: F401 (the modules the checker uses)
sys.exit(any(version(name) != want for name, want in (p.split("==") for p in sys.argv[1:])))
PY
}
if ! venv_has_pins; then
  echo "setting up $venv: ${py_pins[*]}"
  if ! "$venv/bin/python" -c "" >/dev/null 2>&1; then
    python3 -m venv --clear "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${py_pins[@]}"
  venv_has_pins || { echo "error: $venv does not import ${py_pins[*]}" >&2; exit 1; }
fi
HEMOSCALE_PYTHON="$PWD/$venv/bin/python"
export HEMOSCALE_PYTHON

# Build the `mpi` feature against MPICH even where OpenMPI is installed too (its mpicc would win).
MPICC=mpicc.mpich
export MPICC

cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets --all-features -- -D warnings
# Test profile is optimised (Cargo.toml): the physics tests run thousands of steps. All features:
# the MPI tests start `mpirun.mpich -n 2` and `-n 4` on the built binary.
cargo test --locked --workspace --all-targets --all-features
cargo test --locked --workspace --doc --all-features
