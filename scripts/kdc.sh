#!/usr/bin/env bash
# A throwaway MIT Kerberos KDC on loopback for the [MS-SIPAE] Kerberos tests.
#
#   scripts/kdc.sh [start] DIR [PORT]   create (once) and start the KDC, print its environment
#   scripts/kdc.sh stop DIR             stop it (the database stays; `start` again reuses it)
#   scripts/kdc.sh deps                 install the Debian packages it and the GSSAPI build need
#
# Everything lives in DIR (a path without whitespace; created if missing): krb5.conf,
# kdc.conf, the database, the stash, the service keytab, the log, the pid file. Nothing is
# read from or written to /etc, no systemd, no kadmind (principals come from kadmin.local), no
# DNS (the KDC is named by address; hostnames are not canonicalized), nothing beyond 127.0.0.1.
#
# Realm CONTOSO.COM; users alice, bob, carol with passwords alice-Passw0rd, bob-Passw0rd,
# carol-Passw0rd; service principals sip/ocs.contoso.com (the server's [MS-SIPAE] targetname
# `sip/ocs.contoso.com`) and sip/localhost, both in DIR/sip.keytab. pidgin-sipe imports the
# targetname as the host-based service `sip@ocs.contoso.com` (sip-sec-gssapi.c), which MIT maps
# to sip/ocs.contoso.com@CONTOSO.COM under this krb5.conf (dns_canonicalize_hostname = false,
# rdns = false); with MIT's defaults (canonicalize through DNS, then reverse-resolve) a client
# whose /etc/hosts maps the name to 127.0.0.1 could ask for sip/localhost instead, hence the
# second principal.
#
# On success it prints, one a line, `export NAME=VALUE` for KRB5_CONFIG, KRB5_KDC_PROFILE,
# KRB5_KTNAME, KRB5RCACHEDIR and KRB5CCNAME (a file ccache in DIR, empty until someone runs
# kinit), then `KDC_PORT=`, `KDC_PID_FILE=` and `KDC_STOP=` (the command that stops it). Running
# `start` again while the KDC is up prints the same lines and changes nothing. The port is
# PORT, else $KDC_PORT, else the one DIR already used, else the first free one from 20088 up.
set -euo pipefail

REALM=CONTOSO.COM
MASTER_PW=kdc-master-Passw0rd
USERS=(alice bob carol)
SERVICES=(sip/ocs.contoso.com sip/localhost)
SCRIPT=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

die() {
  echo "kdc.sh: $*" >&2
  exit 1
}

install_deps() {
  local pkgs=(krb5-kdc krb5-admin-server krb5-user libkrb5-dev pkg-config libclang-dev iproute2)
  local tool missing=
  for tool in krb5kdc kdb5_util kadmin.local kinit ss pkg-config; do
    command -v "$tool" >/dev/null 2>&1 || missing=1
  done
  pkg-config --exists mit-krb5-gssapi 2>/dev/null || missing=1
  # bindgen (in libgssapi-sys) loads libclang.
  compgen -G '/usr/lib/llvm-*/lib/libclang*.so*' >/dev/null ||
    compgen -G '/usr/lib/*-linux-gnu/libclang*.so*' >/dev/null || missing=1
  if [ -z "$missing" ]; then
    return 0
  fi
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 ||
    die "MIT Kerberos is missing and this is not root with apt-get: install ${pkgs[*]}"
  echo "kdc.sh: installing ${pkgs[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >&2
}

# The Debian packages put the daemons in /usr/sbin, which a non-login PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

port_free() {
  ! ss -Htuln 2>/dev/null | awk '{print $5}' | grep -Eq "(^|[:.])$1\$"
}

pick_port() {
  local p
  for p in $(seq 20088 20188); do
    if port_free "$p"; then
      echo "$p"
      return 0
    fi
  done
  die "no free port in 20088..20188"
}

kdc_running() {
  [ -s "$DIR/krb5kdc.pid" ] && kill -0 "$(cat "$DIR/krb5kdc.pid")" 2>/dev/null
}

print_env() {
  cat <<EOF
export KRB5_CONFIG=$DIR/krb5.conf
export KRB5_KDC_PROFILE=$DIR/kdc.conf
export KRB5_KTNAME=FILE:$DIR/sip.keytab
export KRB5RCACHEDIR=$DIR/rcache
export KRB5CCNAME=FILE:$DIR/ccache
KDC_PORT=$PORT
KDC_PID_FILE=$DIR/krb5kdc.pid
KDC_STOP=$SCRIPT stop $DIR
EOF
}

write_config() {
  cat >"$DIR/krb5.conf" <<EOF
# Written by scripts/kdc.sh: a client and library profile for the throwaway KDC only.
[libdefaults]
    default_realm = $REALM
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    noaddresses = true
    forwardable = false
    ticket_lifetime = 10h
    default_keytab_name = FILE:$DIR/sip.keytab
    default_ccache_name = FILE:$DIR/ccache

[realms]
    $REALM = {
        kdc = 127.0.0.1:$PORT
    }

[domain_realm]
    .contoso.com = $REALM
    contoso.com = $REALM
    localhost = $REALM

[logging]
    default = FILE:$DIR/krb5lib.log
EOF
  # The same profile with TCP forced (udp_preference_limit = 1), to prove the TCP listener.
  sed 's/^\[libdefaults\]$/&\n    udp_preference_limit = 1/' "$DIR/krb5.conf" >"$DIR/krb5-tcp.conf"
  cat >"$DIR/kdc.conf" <<EOF
# Written by scripts/kdc.sh.
[kdcdefaults]
    kdc_listen = 127.0.0.1:$PORT
    kdc_tcp_listen = 127.0.0.1:$PORT

[realms]
    $REALM = {
        database_name = $DIR/principal
        key_stash_file = $DIR/stash
        acl_file = $DIR/kadm5.acl
        max_life = 10h 0m 0s
        max_renewable_life = 1d 0h 0m 0s
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
        default_principal_flags = +preauth
    }

[logging]
    kdc = FILE:$DIR/kdc.log
    admin_server = FILE:$DIR/kadmin.log
    default = FILE:$DIR/krb5lib.log
EOF
  echo "*/admin@$REALM *" >"$DIR/kadm5.acl"
}

create_db() {
  rm -f "$DIR"/principal* "$DIR/stash" "$DIR/sip.keytab"
  kdb5_util -r "$REALM" create -s -P "$MASTER_PW" >"$DIR/kdb5_util.out" 2>&1 ||
    { cat "$DIR/kdb5_util.out" >&2; die "kdb5_util create failed"; }
  {
    for u in "${USERS[@]}"; do
      echo "addprinc -pw $u-Passw0rd $u"
    done
    for s in "${SERVICES[@]}"; do
      echo "addprinc -randkey $s"
    done
    echo "ktadd -k $DIR/sip.keytab ${SERVICES[*]}"
  } | kadmin.local -r "$REALM" >"$DIR/kadmin.out" 2>&1 ||
    { cat "$DIR/kadmin.out" >&2; die "kadmin.local failed"; }
  [ -s "$DIR/sip.keytab" ] || { cat "$DIR/kadmin.out" >&2; die "no keytab written"; }
  # Marks a complete database: an interrupted run is redone from scratch.
  echo "$PORT" >"$DIR/port"
}

# kinit as alice into a probe ccache, through the given profile; retried while the KDC starts.
probe() {
  local conf=$1 i
  for i in $(seq 1 40); do
    if echo alice-Passw0rd | KRB5_CONFIG="$conf" kinit -c "FILE:$DIR/probe.ccache" "alice@$REALM" \
      >"$DIR/probe.out" 2>&1; then
      KRB5_CONFIG="$conf" kdestroy -c "FILE:$DIR/probe.ccache" >/dev/null 2>&1 || true
      return 0
    fi
    kdc_running || break
    sleep 0.1
  done
  cat "$DIR/probe.out" >&2
  return 1
}

start() {
  install_deps
  mkdir -p "$DIR" "$DIR/rcache"
  DIR=$(cd "$DIR" && pwd)
  case "$DIR" in *[[:space:]]*) die "DIR must not contain whitespace: $DIR" ;; esac
  export KRB5_CONFIG="$DIR/krb5.conf" KRB5_KDC_PROFILE="$DIR/kdc.conf"

  if kdc_running && [ -s "$DIR/port" ]; then
    PORT=$(cat "$DIR/port")
    print_env
    return 0
  fi
  if [ -z "${PORT:-}" ]; then
    if [ -n "${KDC_PORT:-}" ]; then
      PORT=$KDC_PORT
    elif [ -s "$DIR/port" ] && port_free "$(cat "$DIR/port")"; then
      PORT=$(cat "$DIR/port")
    else
      PORT=$(pick_port)
    fi
  fi
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "bad port: $PORT"
  port_free "$PORT" || die "port $PORT is in use on loopback"

  write_config
  if [ -s "$DIR/port" ] && [ -s "$DIR/sip.keytab" ] && [ -s "$DIR/stash" ]; then
    echo "$PORT" >"$DIR/port"
  else
    create_db
  fi

  rm -f "$DIR/krb5kdc.pid"
  krb5kdc -r "$REALM" -P "$DIR/krb5kdc.pid" </dev/null >>"$DIR/krb5kdc.out" 2>&1 ||
    { cat "$DIR/krb5kdc.out" "$DIR/kdc.log" >&2 2>/dev/null; die "krb5kdc did not start"; }
  probe "$DIR/krb5.conf" || die "kinit over UDP to 127.0.0.1:$PORT failed (see $DIR/kdc.log)"
  probe "$DIR/krb5-tcp.conf" || die "kinit over TCP to 127.0.0.1:$PORT failed (see $DIR/kdc.log)"
  print_env
}

stop() {
  DIR=$(cd "$DIR" 2>/dev/null && pwd) || return 0
  if kdc_running; then
    local pid i
    pid=$(cat "$DIR/krb5kdc.pid")
    kill "$pid"
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$DIR/krb5kdc.pid"
}

cmd=${1:-}
case "$cmd" in
  start)
    [ $# -ge 2 ] || die "usage: $0 start DIR [PORT]"
    DIR=$2 PORT=${3:-}
    start
    ;;
  stop)
    [ $# -ge 2 ] || die "usage: $0 stop DIR"
    DIR=$2
    stop
    ;;
  deps)
    install_deps
    ;;
  "" | -h | --help)
    sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    DIR=$1 PORT=${2:-}
    start
    ;;
esac
