#!/bin/sh
# Starts a throwaway PostgreSQL server on a free loopback port for the
# tests, and prints the shell lines that point the tests at it:
#
#   eval "$(sh tests/servers/postgres/pg-up.sh)"   # exports PG_DIR, DATABASE_URL
#   sh tests/servers/postgres/pg-ctl.sh "$PG_DIR" stop|start   # a restart, for tests
#   sh tests/servers/postgres/pg-down.sh "$PG_DIR"
#
# Needs Debian's postgresql package (tests/run.sh installs it). initdb and
# pg_ctl refuse to run as root, so as root they run as the 'postgres' user.
# The server listens on 127.0.0.1 only, trusts local connections (test data
# only) and keeps its socket in its own folder. client_connection_check_interval
# frees a killed client's advisory locks at once.
set -eu
BIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)")
if [ ! -x "$BIN/initdb" ]; then
  echo "pg-up: PostgreSQL is not installed (apt-get install postgresql, or run tests/run.sh)" >&2
  exit 1
fi
D=$(mktemp -d "${TMPDIR:-/tmp}/frontdesk-pg.XXXXXX")
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$D"; fi
chmod 700 "$D"
as_pg "$BIN/initdb" -D "$D/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >"$D/initdb.log" 2>&1
for _ in 1 2 3 4 5; do
  PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  if as_pg "$BIN/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $D -c max_connections=300 -c client_connection_check_interval=200ms -c fsync=on" \
      start >/dev/null 2>&1; then
    echo "$PORT" >"$D/port"
    echo "export PG_DIR=$D DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
    exit 0
  fi
done
echo "pg-up: PostgreSQL did not start; see $D/server.log" >&2
exit 1
