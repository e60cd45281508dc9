#!/usr/bin/env bash
# Calls through `ocs serve` at a fixed rate, twice, with the server's memory sampled:
#
#   scripts/load_calls.sh [RATE] [SECONDS]      (defaults: 300 calls/s for 60 s)
#
# A sipp `uas` registers (Digest) as user900001; sipp's `uac` then calls it through the proxy at
# RATE for SECONDS (each call: INVITE, 100/180/200, ACK, BYE, 200). After each round the script
# waits for the transactions to expire (Timer J/L: 32 s over UDP) and records the server's
# resident memory. Two rounds with the same memory afterwards mean no leak. Prints per round:
# successful and failed calls (sipp's counts), retransmissions, and the memory after it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/lib.sh
rate=${1:-300} secs=${2:-60}
calls=$((rate * secs))
work=$(mktemp -d /tmp/ocs-load.XXXXXX)
trap 'kill ${spid:-} ${uas:-} 2>/dev/null; wait ${spid:-} 2>/dev/null; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
ocs_config "$work/ocs.toml" "$work/data" "$port" '["Digest"]' 4194304
[ -x target/release/ocs ] || cargo build -q --release --bin ocs
target/release/ocs serve --config "$work/ocs.toml" >"$work/server.out" 2>"$work/server.err" &
spid=$!
sleep 1
rss() { awk '/VmRSS/ {print $2}' /proc/$spid/status; }
printf 'SEQUENTIAL\nuser900001;contoso.com;[authentication username=user900001 password=secret]\n' >"$work/uas.csv"
uport=$((port + 1))
sipp "127.0.0.1:$port" -sf "$root/tests/sipp/register.xml" -inf "$work/uas.csv" -i 127.0.0.1 -p $uport \
  -m 1 -nostdin >/dev/null 2>&1
echo "before: rss=$(rss)KiB"
for round in 1 2; do
  sipp -sn uas -i 127.0.0.1 -p $uport -m "$calls" -buff_size 4194304 -nostdin \
    -trace_stat -fd 1 -stf "$work/uas-$round.csv" >/dev/null 2>&1 &
  uas=$!
  sleep 0.5
  sipp -sn uac "127.0.0.1:$port" -s user900001 -i 127.0.0.1 -p $((port + 2)) -m "$calls" -r "$rate" \
    -l $((rate * 2)) -buff_size 4194304 -nostdin -trace_stat -fd 1 -stf "$work/uac-$round.csv" \
    -timeout $((secs * 3))s >/dev/null 2>&1 || true
  wait $uas || true
  peak=$(awk '/VmHWM/ {print $2}' /proc/$spid/status)
  sleep 40
  st="$work/uac-$round.csv"
  echo "round $round: rate=$rate/s calls=$calls successful=$(sipp_col "$st" 'SuccessfulCall(C)') failed=$(sipp_col "$st" 'FailedCall(C)') retransmissions=$(sipp_col "$st" 'Retransmissions(C)') peak_rss=${peak}KiB rss_after_idle=$(rss)KiB"
done
