#!/bin/sh
# Stops a server pg-up.sh started and removes its folder.
set -eu
D=${1:?usage: pg-down.sh PG_DIR}
BIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")
if [ "$(id -u)" = 0 ]; then
  runuser -u postgres -- "$BIN/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null 2>&1 || true
else
  "$BIN/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null 2>&1 || true
fi
rm -rf "$D"
