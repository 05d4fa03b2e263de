#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for FUZZ_SECONDS (default 60) with
# cargo fuzz (libFuzzer). cargo fuzz needs unstable compiler flags; on the
# stable toolchain RUSTC_BOOTSTRAP=1 allows them. Seeds: the email
# fixtures and the labelled intent data. A crash fails the run, and the
# input is copied to fuzz/regressions/<target>/, which the normal test run
# replays (tests/hostile_input.rs): fix the bug, commit both.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
cargo fuzz build --sanitizer none --release
for target in $(cargo fuzz list); do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  seeds=()
  max_len=65536
  case "$target" in
    email_parse) seeds=(tests/fixtures/email) ;;
    intent_text)
      # Customer messages are short: one seed per labelled utterance.
      max_len=4096
      if [ -z "$(ls -A "$corpus")" ]; then
        cut -d, -f1 tests/data/intents/*-dev.csv | sed -n '2,400p' | split -l 1 - "$corpus/seed-"
      fi
      ;;
  esac
  echo "fuzzing $target for ${seconds}s"
  if ! cargo fuzz run --sanitizer none --release "$target" "$corpus" "${seeds[@]}" -- \
      -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -print_final_stats=1; then
    mkdir -p "fuzz/regressions/$target"
    cp fuzz/artifacts/"$target"/* "fuzz/regressions/$target/" 2>/dev/null || true
    echo "fuzz target $target crashed; its input is in fuzz/regressions/$target/" >&2
    exit 1
  fi
done
