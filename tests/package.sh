#!/usr/bin/env bash
# The Debian package as an operator meets it: built with cargo-deb,
# installed with dpkg, its binary started exactly as its systemd unit
# starts it (the unit's user, folder and command line; there is no systemd
# to start it in CI), an agent added through the running gateway as the
# README says, a backup taken, then the package purged: the data stays.
#
# The package is built from the debug binary the tests use, to spare a
# ten-minute release build; operators run `cargo deb`, which builds the
# release one. `tests/package.sh build` makes the package (as the user who
# builds); `tests/package.sh install` installs and tries it (as root: it
# installs a package and makes a user).
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "package test: $*" >&2; exit 1; }
deb=target/debian/frontdesk.deb

if [ "${1:-}" = build ]; then
  command -v cargo-deb >/dev/null || cargo install --locked cargo-deb@3.8.0
  rm -rf target/debian
  cargo deb --no-build --profile dev --fast --output "$deb"
  exit 0
fi
[ "${1:-}" = install ] || fail "usage: tests/package.sh build|install"
[ "$(id -u)" = 0 ] || fail "install needs root (it installs a package)"
[ -f "$deb" ] || fail "no $deb: run tests/package.sh build first"
[ "$(dpkg-deb --field "$deb" Package)" = frontdesk ] || fail "not a frontdesk package"

dpkg -i "$deb"
cleanup() {
  if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null || true; fi
  dpkg --purge frontdesk >/dev/null 2>&1 || true
  rm -rf /var/lib/frontdesk
  getent passwd frontdesk >/dev/null && deluser --system frontdesk >/dev/null 2>&1 || true
}
trap cleanup EXIT

unit=$(dpkg -L frontdesk | grep '/systemd/system/frontdesk.service$') || fail "no systemd unit"
[ -x /usr/bin/frontdesk ] || fail "no /usr/bin/frontdesk"
[ -f /etc/frontdesk/frontdesk.toml ] || fail "no /etc/frontdesk/frontdesk.toml"
getent passwd frontdesk >/dev/null || fail "no user frontdesk"
[ "$(stat -c '%U %a' /var/lib/frontdesk)" = "frontdesk 750" ] || fail "/var/lib/frontdesk: $(stat -c '%U %a' /var/lib/frontdesk)"
for hardening in 'User=frontdesk' 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'StateDirectory=frontdesk'; do
  grep -qx "$hardening" "$unit" || fail "$unit lacks $hardening"
done
if command -v systemd-analyze >/dev/null; then
  # Only the unit's own problems count (a container has no running systemd).
  problems=$(systemd-analyze verify "$unit" 2>&1 | grep -i 'frontdesk.service' || true)
  [ -z "$problems" ] || fail "systemd-analyze verify: $problems"
fi
/usr/bin/frontdesk check-config --config /etc/frontdesk/frontdesk.toml

# Start it the way the unit does.
unit_value() { sed -n "s/^$1=//p" "$unit" | tail -1; }
user=$(unit_value User)
workdir=$(unit_value WorkingDirectory)
exec_start=$(unit_value ExecStart)
log=$(mktemp)
! curl -s http://127.0.0.1:8080/ >/dev/null 2>&1 || fail "something already listens on 127.0.0.1:8080"
runuser -u "$user" -- sh -c "cd '$workdir' && exec $exec_start" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS http://127.0.0.1:8080/readyz >/dev/null || { cat "$log"; fail "the packaged gateway is not ready"; }

# An agent, added while it runs, as the README says.
printf 'package-test-password\n' \
  | runuser -u frontdesk -- frontdesk agent add admin --admin --data /var/lib/frontdesk \
  | grep -qx 'added admin admin' || fail "agent add through the running gateway"
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
  -d '{"username":"admin","password":"package-test-password"}' http://127.0.0.1:8080/api/v1/agent/login)
[ "$status" = 200 ] || fail "the new admin cannot sign in ($status)"
session=$(curl -fsS -X POST -H 'content-type: application/json' -d '{}' http://127.0.0.1:8080/api/v1/chat/sessions \
  | sed -n 's/.*"session":"\([0-9a-f]*\)".*/\1/p')
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
  -d "{\"session\":\"$session\",\"client_id\":\"1\",\"text\":\"Where is my order?\"}" http://127.0.0.1:8080/api/v1/chat/messages)
[ "$status" = 202 ] || fail "a chat message got $status"
runuser -u frontdesk -- frontdesk backup --data /var/lib/frontdesk --out /var/lib/frontdesk/backup.jsonl >/dev/null
grep -q 'Where is my order?' /var/lib/frontdesk/backup.jsonl \
  || { head -c 3000 /var/lib/frontdesk/backup.jsonl; fail "the backup lacks the message"; }

# systemd signals the main process; runuser passes on its exit status.
kill -TERM "$(pgrep -P "$pid")"
wait "$pid" || fail "the gateway did not stop cleanly on SIGTERM"
pid=
grep -q 'Frontdesk stopped.' "$log" || { cat "$log"; fail "no clean stop in the log"; }

dpkg --purge frontdesk
[ ! -e /usr/bin/frontdesk ] || fail "purge left /usr/bin/frontdesk"
test -f /var/lib/frontdesk/backup.jsonl || fail "purging deleted the desk's data"
echo "package test: 1 passed, 0 failed"
