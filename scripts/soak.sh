#!/usr/bin/env bash
# The attacks of issue #19 against `ocs serve`, one after the other, while sipp keeps
# registering legitimate users with Digest: loopback only, bounded (SECONDS per attack,
# default 20; N connections per connection attack, default 800; the `flood` row opens 10,000).
# The server runs with an open-files limit of 1,024, as on the machine of the issue.
#
#   scripts/soak.sh [SECONDS] [N]
#
# Prints one line per attack: the server's resident memory before, during and after it, what
# the attack tool saw (connections the server closed, answers), the CPU seconds the server
# spent during it, how long a TCP OPTIONS took half-way through, and sipp's registrations
# that succeeded and failed during it. Needs sipp (sip-tester); builds the release `ocs` and
# `examples/attack.rs`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/lib.sh
secs=${1:-20} n=${2:-800}
work=$(mktemp -d /tmp/ocs-soak.XXXXXX)
trap 'kill ${spid:-} ${sipp_pid:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
profile=${SOAK_PROFILE:-release}
if [ "$profile" = release ]; then
  cargo build -q --release --bin ocs --example attack
else
  cargo build -q --bin ocs --example attack
fi
bin=target/$profile
cat >"$work/ocs.toml" <<EOF2
data_dir = "$work/data"
udp = "127.0.0.1:$port"
tcp = "127.0.0.1:$port"
tls = "off"
web = "off"
psom = "127.0.0.1:$((port + 2))"
media = "off"
auth = ["Digest"]
users = []
digest_uri_next_hop = true
[load_users]
prefix = "user"
count = 100000000
password = "secret"
EOF2
(ulimit -Sn 1024 && exec "$bin/ocs" serve --config "$work/ocs.toml" >"$work/server.out" 2>"$work/server.err") &
spid=$!
sleep 1
rss() { awk '/VmRSS/ {print $2}' /proc/$spid/status; }
# The server's user + system CPU time, in clock ticks.
cpu() { awk '{print $14 + $15}' /proc/$spid/stat; }
ticks=$(getconf CLK_TCK)
ulimit -n "$(ulimit -Hn)"

# Legitimate load: 100 new registrations a second for the whole run, from sipp.
total=$(( (secs + 6) * 8 * 100 ))
{
  echo SEQUENTIAL
  for ((i = 0; i < total; i++)); do
    echo "user$i;contoso.com;[authentication username=user$i password=secret]"
  done
} >"$work/users.csv"
sipp "127.0.0.1:$port" -sf "$root/tests/sipp/register.xml" -inf "$work/users.csv" \
  -i 127.0.0.1 -p $((port + 1)) -m "$total" -r 100 -nostdin -trace_stat -fd 1 \
  -stf "$work/stat.csv" >/dev/null 2>"$work/sipp.err" &
sipp_pid=$!
sleep 3

printf '%-10s %9s %9s %9s  %-44s %6s %-12s %6s %6s\n' attack "rss0 KiB" "rss1 KiB" "rss2 KiB" "attack tool" "cpu s" "tcp probe" "ok" "failed"
bad=0
for row in pipeline idle partial slowloris dribble invite psom flood; do
  attack=$row conns=$n
  [ "$row" = flood ] && attack=idle conns=10000
  target="127.0.0.1:$port"
  [ "$attack" = psom ] && target="127.0.0.1:$((port + 2))"
  ok0=$(sipp_col "$work/stat.csv" "SuccessfulCall(C)"); f0=$(sipp_col "$work/stat.csv" "FailedCall(C)")
  r0=$(rss) c0=$(cpu)
  "$bin/examples/attack" "$attack" "$target" "$secs" "$conns" >"$work/attack.out" 2>&1 &
  apid=$!
  sleep $((secs / 2))
  r1=$(rss)
  probe=$("$bin/examples/attack" probe "127.0.0.1:$port" 5 | cut -d' ' -f2-3)
  wait $apid || true
  c1=$(cpu)
  sleep 3
  r2=$(rss)
  ok1=$(sipp_col "$work/stat.csv" "SuccessfulCall(C)"); f1=$(sipp_col "$work/stat.csv" "FailedCall(C)")
  printf '%-10s %9s %9s %9s  %-44s %6s %-12s %6s %6s\n' "$row" "$r0" "$r1" "$r2" \
    "$(cut -d' ' -f2- "$work/attack.out" | head -c 44)" \
    "$(awk -v c=$((c1 - c0)) -v t="$ticks" 'BEGIN {printf "%.1f", c / t}')" "$probe" \
    $((ok1 - ok0)) $((f1 - f0))
  if [ $((f1 - f0)) -gt 0 ] || [ "${probe%% *}" != answered-ms ]; then
    bad=1
  fi
done
if [ "$bad" = 1 ]; then
  echo "soak: a legitimate registration failed or the TCP probe went unanswered during an attack" >&2
  exit 1
fi
echo "soak: every legitimate registration succeeded and the TCP probe was answered during every attack"
