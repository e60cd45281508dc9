#!/usr/bin/env bash
# A PostgreSQL cluster of its own for benchmarks (Debian `postgresql`), on loopback:
#   scripts/pg.sh start DIR   initdb in DIR, start it, create database `ocs`; prints the
#                             connection string on stdout
#   scripts/pg.sh stop DIR    stop it (immediate) and remove DIR
# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` account.
set -euo pipefail
cmd=${1:?start|stop} dir=${2:?directory}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U ocs -A trust -E UTF8 --no-instructions >/dev/null
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_owner "$bin/pg_ctl" -D "$dir/data" -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -w -l "$dir/log" start >/dev/null
    psql -h 127.0.0.1 -p "$port" -U ocs -d postgres -qc "CREATE DATABASE ocs" >/dev/null
    echo "host=127.0.0.1 port=$port user=ocs dbname=ocs"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
