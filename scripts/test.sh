#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, idempotently, then runs the
# whole suite -- formatting, clippy, unit, physics, CPU/GPU parity and CLI tests. GPU tests run on
# Mesa's software Vulkan (lavapipe) when there is no GPU; with CI=true a missing adapter fails them.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: Vulkan loader + lavapipe (GPU tests without a GPU).
need=()
for pkg in mesa-vulkan-drivers libvulkan1; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
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

cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
# Test profile is optimised (Cargo.toml): the physics tests run thousands of steps.
cargo test --locked --workspace --all-targets
cargo test --locked --workspace --doc
