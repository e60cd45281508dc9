#!/usr/bin/env bash
# Runs every test of the workspace. Where it can (root with apt, or the tools already present)
# it installs the system peers first, so that the conformance tests against them run too:
#   libsrtp2-dev (libsrtp interop, through bindgen: libclang-dev, pkg-config, libssl-dev)
#   tshark       (RTCP decoded by Wireshark)
#   curl         (a real HTTP client against the ocs-http-focus loopback server)
#   sip-tester   (sipp: a real SIP peer against the ocs-sip-codec user agent on loopback)
#   krb5-kdc krb5-admin-server krb5-user libkrb5-dev (a MIT KDC on loopback: [MS-SIPAE] Kerberos)
#   pidgin-sipe libpurple-dev libglib2.0-dev libxml2-dev (pidgin-sipe, the open Office
#                Communicator 2007 client, signing in to the server through a headless driver)
#   libnice-dev  (libnice's ICE in its Communicator 2007, 2007 R2 and RFC 5245 modes, with
#                libsrtp, against the A/V MCU)
#   postgresql   (the shared store: a cluster of its own per test, started by the test)
#   kamailio     (the dispatcher in front of a pool of two front ends)
# Without them it still runs everything else and says loudly what it left out. With
# OCS_REQUIRE_INTEROP=1 (CI) leaving anything out is an error.
set -euo pipefail
cd "$(dirname "$0")/.."

have_libsrtp() {
  pkg-config --exists libsrtp2 2>/dev/null && [ -n "$(ls /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/x86_64-linux-gnu/libclang*.so* 2>/dev/null | head -n1)" ]
}
have_tshark() { command -v tshark >/dev/null 2>&1; }
have_curl() { command -v curl >/dev/null 2>&1; }
have_sipp() { command -v sipp >/dev/null 2>&1; }
have_kdc() { command -v krb5kdc >/dev/null 2>&1 || [ -x /usr/sbin/krb5kdc ]; } && have_krb5dev() { pkg-config --exists krb5-gssapi 2>/dev/null; }
have_nice() { pkg-config --exists nice libsrtp2 2>/dev/null; }
have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
have_kamailio() { command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ]; }
have_sipe() { ls /usr/lib/purple-2/libsipe.so /usr/lib/*/purple-2/libsipe.so >/dev/null 2>&1 || dpkg -s pidgin-sipe >/dev/null 2>&1; } && have_purple() { pkg-config --exists purple glib-2.0 libxml-2.0 2>/dev/null; }
PEERS="libsrtp2-dev libclang-dev pkg-config libssl-dev tshark curl sip-tester krb5-kdc krb5-admin-server krb5-user libkrb5-dev pidgin-sipe libpurple-dev libglib2.0-dev libxml2-dev libnice-dev postgresql kamailio systemd"

if { ! have_libsrtp || ! have_tshark || ! have_curl || ! have_sipp || ! have_kdc || ! have_krb5dev || ! have_sipe || ! have_purple || ! have_nice || ! have_pg || ! have_kamailio; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing test peers: $PEERS"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PEERS >/dev/null
fi

features=()
if have_libsrtp; then
  features+=(ocs-libsrtp-harness/libsrtp)
else
  echo "WARNING: libsrtp2-dev or libclang not available: the libsrtp interop tests are NOT run" >&2
fi
if have_tshark; then
  features+=(ocs-rtcp/tshark-tests)
else
  echo "WARNING: tshark not available: the RTCP tshark conformance tests are NOT run" >&2
fi
if have_curl; then
  features+=(ocs-http-focus/curl-tests ocs-stack/curl-tests)
else
  echo "WARNING: curl not available: the HTTP curl conformance tests are NOT run" >&2
fi
if have_sipp; then
  features+=(ocs-sip-codec/sipp-tests ocs-stack/sipp-tests)
else
  echo "WARNING: sipp not available: the SIP sipp interop tests are NOT run" >&2
fi

if have_kdc && have_krb5dev && have_libsrtp; then
  features+=(ocs-stack/kerberos-tests)
else
  echo "WARNING: MIT Kerberos (krb5-kdc, libkrb5-dev) or libclang not available: the Kerberos tests are NOT run" >&2
fi
if have_sipe && have_purple; then
  features+=(ocs-stack/pidgin-tests)
else
  echo "WARNING: pidgin-sipe or libpurple-dev not available: the pidgin-sipe sign-in tests are NOT run" >&2
fi

if have_nice; then
  features+=(ocs-stack/ice-tests)
else
  echo "WARNING: libnice-dev or libsrtp2-dev not available: the libnice ICE + SRTP tests are NOT run" >&2
fi

if have_pg; then
  features+=(ocs-stack/postgres-tests)
  if have_sipp && have_kamailio; then
    features+=(ocs-stack/pool-tests)
  else
    echo "WARNING: sipp or Kamailio not available: the pool tests are NOT run" >&2
  fi
else
  echo "WARNING: PostgreSQL (Debian postgresql) not available: the PostgreSQL store and pool tests are NOT run" >&2
fi

if [ ${#features[@]} -gt 0 ]; then
  cargo test --workspace --features "$(IFS=,; echo "${features[*]}")"
else
  cargo test --workspace
fi
