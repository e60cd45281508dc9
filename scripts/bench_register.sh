#!/usr/bin/env bash
# REGISTER throughput of `ocs serve` and of Kamailio, like for like, with sipp on loopback.
#
#   scripts/bench_register.sh SERVER MODE RATE [SECONDS]
#     SERVER  ocs | kamailio | pool
#             ocs: one `ocs serve`, on SQLite, or with STORE=postgres on a PostgreSQL cluster
#             of its own (scripts/pg.sh), and with WORKERS=N (PostgreSQL only) as N SIP
#             engines on the one port (SO_REUSEPORT); pool: two `ocs serve` front ends on one PostgreSQL
#             behind Kamailio's dispatcher (scripts/deploy/kamailio), sipp sending to Kamailio
#     MODE    noauth | digest
#     RATE    registrations per second offered by sipp (a new user for each)
#   scripts/bench_register.sh closed ntlm|digest CLIENTS [SECONDS] [REFRESHES]
#     `ocs serve` only, with examples/register_load.rs (sipp cannot do NTLM): CLIENTS UDP
#     clients in a closed loop each sign in new users ([MS-SIPAE] NTLM: three legs and a signed
#     200 checked; Digest: two legs), each followed by REFRESHES signed re-REGISTERs (default
#     4); prints sign-ins/s, refreshes/s and REGISTER transactions/s.
#   scripts/bench_register.sh search SERVER MODE [FROM] [STEP]
#     raises RATE from FROM by STEP until a run has a failed call or a retransmission, and
#     prints the last clean rate.
#
# A run is clean when sipp reports zero failed calls and zero retransmissions over SECONDS
# (20 by default). Both servers get the same UDP receive buffer (RCVBUF bytes, default 4 MiB,
# which net.core.rmem_max must allow). Kamailio keeps registrations in memory (usrloc db_mode 0); ocs serve runs as it
# normally does: bindings in memory, written through to SQLite, each 200 sent after its commit.
# Prints one line: server, mode, rate, successful, failed, retransmissions, CPU seconds of the
# server over the run, its peak resident memory. Needs sipp (sip-tester) and, for Kamailio, the
# Debian package kamailio; run as root to install them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/lib.sh

if [ "${1:-}" = search ]; then
  server=$2 mode=$3 rate=${4:-2000} step=${5:-2000}
  last=0
  while :; do
    line=$("$0" "$server" "$mode" "$rate")
    echo "$line" >&2
    read -r _ _ _ ok failed retrans _ <<<"$line"
    if [ "$failed" != 0 ] || [ "$retrans" != 0 ]; then break; fi
    last=$rate
    rate=$((rate + step))
  done
  echo "$server $mode sustained $last REGISTER/s"
  exit 0
fi

if [ "${1:-}" = closed ]; then
  mode=${2:?ntlm|digest} clients=${3:?clients} secs=${4:-20} refreshes=${5:-4}
  work=$(mktemp -d /tmp/ocs-bench.XXXXXX)
  trap 'kill ${spid:-} 2>/dev/null && wait ${spid:-} 2>/dev/null; rm -rf "$work"' EXIT
  port=$((20000 + RANDOM % 20000))
  auth='["NTLM"]'; [ "$mode" = digest ] && auth='["Digest"]'
  ocs_config "$work/ocs.toml" "$work/data" "$port" "$auth" "${RCVBUF:-4194304}"
  cargo build -q --release --bin ocs --example register_load
  target/release/ocs serve --config "$work/ocs.toml" >"$work/server.out" 2>"$work/server.err" &
  spid=$!
  sleep 1
  target/release/examples/register_load "127.0.0.1:$port" "$secs" "$clients" "$mode" "$refreshes"
  rss=$(awk '/VmHWM/ {print $2}' /proc/$spid/status 2>/dev/null || echo 0)
  echo "ocs peak rss=${rss}KiB"
  exit 0
fi

server=${1:?ocs|kamailio} mode=${2:?noauth|digest} rate=${3:?rate} secs=${4:-20}
calls=$((rate * secs))
work=$(mktemp -d /tmp/ocs-bench.XXXXXX)
trap 'kill ${pids:-} ${spid:-} 2>/dev/null; wait 2>/dev/null; [ -d "$pgdir" ] && scripts/pg.sh stop "$pgdir"; rm -rf "$work"' EXIT
# PostgreSQL's cluster, when one is used: outside $work, which only root may enter.
pgdir=/tmp/ocs-bench-pg.$$
port=$((20000 + RANDOM % 20000))
rcvbuf=${RCVBUF:-4194304}

# One user per registration.
{
  echo SEQUENTIAL
  for ((i = 0; i < calls; i++)); do
    echo "user$i;contoso.com;[authentication username=user$i password=secret]"
  done
} >"$work/users.csv"

case "$server" in
  ocs)
    auth='[]'; [ "$mode" = digest ] && auth='["Digest"]'
    extra=''
    if [ "${STORE:-sqlite}" = postgres ]; then
      db=$(scripts/pg.sh start "$pgdir")
      extra="database = \"$db\""
      # WORKERS=N: N SIP engines on the one port, each a front end of a pool.
      if [ "${WORKERS:-1}" -gt 1 ]; then
        printf 'bench-pool-secret-0123456789\n' >"$work/secret"; chmod 600 "$work/secret"
        extra="workers = $WORKERS
$extra
[pool]
node = \"fe1\"
listen = \"127.0.0.1:$((port + 100))\"
secret_file = \"$work/secret\""
      fi
    fi
    ocs_config "$work/ocs.toml" "$work/data" "$port" "$auth" "$rcvbuf" "$extra"
    [ -x target/release/ocs ] || cargo build -q --release --bin ocs
    target/release/ocs serve --config "$work/ocs.toml" >"$work/server.out" 2>"$work/server.err" &
    spid=$!
    pids=$spid
    # Workers meet as front ends of the pool (heartbeats every 2 s, then their links).
    [ "${WORKERS:-1}" -gt 1 ] && sleep 5
    ;;
  pool)
    command -v kamailio >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kamailio >/dev/null; }
    auth='[]'; [ "$mode" = digest ] && auth='["Digest"]'
    db=$(scripts/pg.sh start "$pgdir")
    printf 'bench-pool-secret-0123456789\n' >"$work/secret"; chmod 600 "$work/secret"
    [ -x target/release/ocs ] || cargo build -q --release --bin ocs
    pids=''
    for n in 1 2; do
      p=$((port + 10 * n))
      ocs_config "$work/fe$n.toml" "$work/data$n" "$p" "$auth" "$rcvbuf" \
        "aliases = [\"127.0.0.1:$port\"]
database = \"$db\"
[pool]
node = \"fe$n\"
listen = \"127.0.0.1:$((p + 1))\"
secret_file = \"$work/secret\""
      target/release/ocs serve --config "$work/fe$n.toml" >"$work/fe$n.out" 2>"$work/fe$n.err" &
      pids="$pids $!"
    done
    printf '1 sip:127.0.0.1:%s\n1 sip:127.0.0.1:%s\n' $((port + 10)) $((port + 20)) >"$work/dispatcher.list"
    mkdir -p "$work/kamailio"
    kamailio -f scripts/deploy/kamailio/kamailio.cfg -DD -E -m 512 -Y "$work/kamailio" \
      -A "LISTEN=udp:127.0.0.1:$port" -A "DISPATCHER_LIST=\"$work/dispatcher.list\"" >"$work/kamailio.log" 2>&1 &
    spid=$!
    # The nodes meet (heartbeats every 2 s) and the dispatcher's probes find them.
    sleep 5
    ;;
  kamailio)
    command -v kamailio >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kamailio >/dev/null; }
    authblock=''
    if [ "$mode" = digest ]; then
      authblock='if (!pv_www_authenticate("$td", "secret", "0")) { www_challenge("$td", "0"); exit; }'
    fi
    cat >"$work/kamailio.cfg" <<EOF
#!KAMAILIO
debug=0
log_stderror=no
children=2
maxbuffer=$rcvbuf
listen=udp:127.0.0.1:$port
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "textops.so"
modparam("usrloc", "db_mode", 0)
modparam("usrloc", "hash_size", 16)
request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (is_method("REGISTER")) {
    $authblock
    if (!save("location")) { sl_reply_error(); }
    exit;
  }
  sl_send_reply("404", "Not here");
}
EOF
    kamailio -f "$work/kamailio.cfg" -DD -E -m 512 >"$work/server.out" 2>&1 &
    spid=$!
    pids=$spid
    ;;
  *) echo "unknown server $server" >&2; exit 2 ;;
esac
sleep 1

scenario=register_noauth.xml; [ "$mode" = digest ] && scenario=register.xml
cpu() { # utime + stime of the servers and their children, in clock ticks
  local t=0
  for p in $pids $(for q in $pids; do pgrep -P "$q" || true; done); do
    [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat)))
  done
  echo $t
}
kcpu() { # the same for Kamailio in front of the pool
  local t=0
  [ "$server" = pool ] || { echo 0; return; }
  for p in $spid $(pgrep -P "$spid" || true); do
    [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat)))
  done
  echo $t
}
c0=$(cpu)
k0=$(kcpu)
# SIPP_TRANSPORT=un: a socket per call, so that SO_REUSEPORT spreads sipp over the workers.
sipp "127.0.0.1:$port" -sf "$root/tests/sipp/$scenario" -inf "$work/users.csv" \
  -t "${SIPP_TRANSPORT:-u1}" -max_socket 4096 \
  -i 127.0.0.1 -p $((port + 1)) -m "$calls" -r "$rate" -l $((rate * 2)) \
  -buff_size "$rcvbuf" -nostdin -trace_stat -fd 1 -stf "$work/stat.csv" -timeout $((secs * 3))s \
  >/dev/null 2>"$work/sipp.err" || true
c1=$(cpu)
k1=$(kcpu)
rss=0
for p in $pids $(for q in $pids; do pgrep -P "$q" || true; done); do
  r=$(awk '/VmHWM/ {print $2}' /proc/$p/status 2>/dev/null || echo 0)
  rss=$((rss + r))
done
hz=$(getconf CLK_TCK)
ok=$(sipp_col "$work/stat.csv" "SuccessfulCall(C)")
failed=$(sipp_col "$work/stat.csv" "FailedCall(C)")
retrans=$(sipp_col "$work/stat.csv" "Retransmissions(C)")
printf '%s%s %s %s %s %s %s cpu=%.1fs rss=%sKiB%s\n' "$server" "$([ "$server" = ocs ] && echo "/${STORE:-sqlite}")" "$mode" "$rate" "$ok" "$failed" "$retrans" \
  "$(echo "($c1 - $c0) / $hz" | bc -l)" "$rss" \
  "$([ "$server" = pool ] && printf ' kamailio-cpu=%.1fs' "$(echo "($k1 - $k0) / $hz" | bc -l)")"
