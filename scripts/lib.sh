# Shared by scripts/bench_register.sh and scripts/load_calls.sh (sourced, not run).

# ocs_config FILE DATA_DIR PORT AUTH RCVBUF [EXTRA]: a UDP-only `ocs serve` configuration with
# synthetic users user0, user1... (password "secret") for load runs; EXTRA is more settings
# (top-level keys, then tables).
ocs_config() {
  cat >"$1" <<EOF2
data_dir = "$2"
udp = "127.0.0.1:$3"
tcp = "off"
tls = "off"
web = "off"
psom = "off"
auth = $4
users = []
udp_recv_buffer = $5
# sipp writes the address it sends to as the Digest uri.
digest_uri_next_hop = true
# Load runs come from one address: no per-source limit on challenges.
unauthenticated_per_second = 0
# 20,000 REGISTER/s keep 640,000 UDP transactions for their 32 s.
max_transactions = 2000000
${6:-}
[load_users]
prefix = "user"
count = 100000000
password = "secret"
EOF2
}

# sipp_col STATFILE NAME: a cumulative counter from the last line of a sipp statistics file.
sipp_col() {
  local head last
  head=$(head -1 "$1")
  last=$(tail -1 "$1")
  awk -F';' -v h="$head" -v n="$2" 'BEGIN{split(h,a,";"); for(i in a) if(a[i]==n) c=i} {print $c}' <<<"$last"
}
