#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine: installs what the tests
# need (Chromium for the browser tests, dovecot and aiosmtpd for the email
# tests, PostgreSQL for the database backend; Rust if it is missing), checks the
# shipped config and intents with the built binary, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v curl >/dev/null || missing+=(curl ca-certificates)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
# The email tests run a real IMAP server (dovecot) and SMTP server (aiosmtpd):
# tests/servers/mail/ starts a private instance per test on free ports.
[ -x /usr/lib/dovecot/imap ] || missing+=(dovecot-core dovecot-imapd)
[ -x /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
python3 -c 'import aiosmtpd' 2>/dev/null || missing+=(python3 python3-aiosmtpd)
command -v openssl >/dev/null || missing+=(openssl)
# The PostgreSQL store backend's tests run against a real server
# (tests/servers/postgres/ starts a private one on a free port).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing test dependencies: ${missing[*]}"
  # Keep apt from starting the system's own dovecot (ports 143/993) and
  # PostgreSQL (5432).
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ "$made_policy" = 1 ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
fi

# The API document's test validates it with openapi-spec-validator (PyPI,
# else Debian's package).
if ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
  python3 -m pip install -q openapi-spec-validator 2>/dev/null || {
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends python3-openapi-spec-validator
  }
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
  FRONTDESK_LISTEN=127.0.0.1:8080 COMPANY_NAME=Example TELEGRAM_BOT_TOKEN=123456:example SUPPORT_MAIL_PASSWORD=example DATABASE_URL=postgres://frontdesk@127.0.0.1/frontdesk ./target/debug/frontdesk check-config --config "$file"
done
./target/debug/frontdesk intents test
# The Debian package: built, installed, started as its systemd unit does,
# purged (tests/package.sh; installs cargo-deb if missing).
bash tests/package.sh build
as_root bash tests/package.sh install
# Answer quality on the held-out data (tests/data/intents/README.md): bars
# just below the measured figures, so a rule change that answers wrongly or
# less often fails here. Every `none` row must be handed to a person.
./target/debug/frontdesk intents eval tests/data/intents/bitext-test.csv --min-precision 0.98 --min-coverage 0.91 --confusions 3
./target/debug/frontdesk intents eval tests/data/intents/zh-test.csv --min-precision 0.99 --min-coverage 0.95 --confusions 3
./target/debug/frontdesk intents eval tests/data/intents/none.csv --min-precision 1.0 --confusions 3
# Reading mail (tests/fixtures/email-reading/): no customer text lost, and
# exact readings at the level reached.
./target/debug/frontdesk email eval tests/fixtures/email-reading --max-lost 0 --min-exact 95
# One PostgreSQL server for the whole run; each test (and the bench's
# PostgreSQL part) makes its own database.
eval "$(sh tests/servers/postgres/pg-up.sh)"
trap 'sh tests/servers/postgres/pg-down.sh "$PG_DIR"' EXIT
export DATABASE_URL
# The benchmark harness still runs (a few iterations; figures in BENCHMARKS.md come from `cargo bench`).
cargo test --locked --bench gateway -- --quick
cargo test --locked
# Fuzzing, bounded in time (tests/fuzz.sh; FUZZ_SECONDS per target).
bash tests/fuzz.sh
