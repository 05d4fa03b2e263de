#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine: installs what the tests
# need (Chromium for the browser tests; Rust if it is missing), checks the
# shipped config and intents with the built binary, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v curl >/dev/null || missing+=(curl ca-certificates)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing test dependencies: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "Installing Rust 1.95 with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain 1.95.0
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

cargo build --locked --all-targets
./target/debug/frontdesk check-config
for file in config/*.toml; do
  FRONTDESK_LISTEN=127.0.0.1:8080 COMPANY_NAME=Example TELEGRAM_BOT_TOKEN=123456:example ./target/debug/frontdesk check-config --config "$file"
done
./target/debug/frontdesk intents test
# The benchmark harness still runs (a few iterations; figures in BENCHMARKS.md come from `cargo bench`).
cargo test --locked --bench gateway -- --quick
cargo test --locked
