#!/bin/sh
# Stops or starts again a server pg-up.sh started, on the same port: a
# database that goes away and comes back, for tests.
set -eu
D=${1:?usage: pg-ctl.sh PG_DIR stop|start}
ACTION=${2:?usage: pg-ctl.sh PG_DIR stop|start}
BIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$ACTION" in
  stop) as_pg "$BIN/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null ;;
  start)
    PORT=$(cat "$D/port")
    as_pg "$BIN/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $D -c max_connections=300 -c client_connection_check_interval=200ms -c fsync=on" \
      start >/dev/null ;;
  *) echo "pg-ctl: stop or start" >&2; exit 2 ;;
esac
