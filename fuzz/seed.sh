#!/usr/bin/env bash
# Seeds the fuzz corpora from the shared vectors (../shared/vectors beside the repository).
# The corpora are not committed: the vectors stay where they are published.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vectors=${OCS_VECTORS:-$here/../../shared/vectors}
mkdir -p "$here/corpus/sip_message" "$here/corpus/sip_stream" "$here/corpus/sdp"
for f in "$vectors"/sip/rfc4475/*.dat "$vectors"/sip/rfc5118/* "$vectors"/sip/ms/*.sip "$here"/../samples/*.sip; do
  case "$f" in *.tsv|*.md|*.txt) continue ;; esac
  name=$(basename "$f")
  cp "$f" "$here/corpus/sip_message/$name"
  # Stream seeds: four chunk-size bytes, then the message twice with a keep-alive between.
  { printf '\x07\x13\x01\x3f'; cat "$f"; printf '\r\n\r\n'; cat "$f"; } > "$here/corpus/sip_stream/$name"
  # SDP seeds: the bodies after the empty line.
  python3 - "$f" "$here/corpus/sdp/$name" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
i = data.find(b'\r\n\r\n')
body = data[i + 4:] if i >= 0 else b''
if body.startswith(b'v=0'):
    open(sys.argv[2], 'wb').write(body)
PY
done
# SRTP seeds: the known-answer packets of the SRTP vectors (hex fields of 12 bytes or more),
# each behind a suite selector byte; SDES seeds: a=crypto lines.
mkdir -p "$here/corpus/srtp_unprotect" "$here/corpus/srtcp_unprotect" "$here/corpus/sdes_crypto"
python3 - "$vectors/srtp" "$here/corpus" <<'PY'
import os, re, sys
src, out = sys.argv[1], sys.argv[2]
n = 0
for name in sorted(os.listdir(src)):
    if not name.endswith('.txt'):
        continue
    for m in re.finditer(r'\b([0-9a-fA-F]{24,})\b', open(os.path.join(src, name)).read()):
        h = m.group(1)
        if len(h) % 2:
            continue
        b = bytes.fromhex(h)
        for sel in range(10):
            target = 'srtcp_unprotect' if len(b) > 1 and 192 <= b[1] <= 223 else 'srtp_unprotect'
            open(os.path.join(out, target, f'{name}-{n}-{sel}'), 'wb').write(bytes([sel]) + b)
        n += 1
lines = [
    '1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31',
    '1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32',
    '2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32 KDR=1 UNENCRYPTED_SRTCP WSH=100',
    'a=crypto:3 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==',
]
for i, l in enumerate(lines):
    open(os.path.join(out, 'sdes_crypto', f'crypto-{i}'), 'w').write(l)
PY
# RTP/RTCP seeds: the SRTP vectors' plaintext packets (RTP for rtp_packet, RTCP for rtcp_compound).
mkdir -p "$here/corpus/rtp_packet" "$here/corpus/rtcp_compound"
python3 - "$vectors/srtp" "$here/corpus" <<'PY'
import os, re, sys
src, out = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    if not name.endswith('.txt'):
        continue
    for n, m in enumerate(re.finditer(r'\b([0-9a-fA-F]{24,})\b', open(os.path.join(src, name)).read())):
        h = m.group(1)
        if len(h) % 2:
            continue
        b = bytes.fromhex(h)
        target = 'rtcp_compound' if 192 <= b[1] <= 223 else 'rtp_packet'
        open(os.path.join(out, target, f'{name}-{n}'), 'wb').write(b)
PY
# Session seeds: the RTCP seeds behind a control byte (RTCP, no time advance, length in words).
mkdir -p "$here/corpus/rtcp_session"
for f in "$here"/corpus/rtcp_compound/*; do
  [ -f "$f" ] || continue
  words=$(( ($(stat -c %s "$f") + 3) / 4 ))
  [ "$words" -gt 63 ] && words=63
  { printf "\\x$(printf %02x $(( 0x80 | words )))"; cat "$f"; } > "$here/corpus/rtcp_session/$(basename "$f")"
done
# Regression inputs found earlier are seeds too.
for t in sip_message sip_stream sdp srtp_unprotect srtcp_unprotect sdes_crypto rtp_packet rtcp_compound rtcp_session; do
  if [ -d "$here/regressions/$t" ]; then cp "$here/regressions/$t"/* "$here/corpus/$t/" 2>/dev/null || true; fi
done
for t in sip_message sip_stream sdp srtp_unprotect srtcp_unprotect sdes_crypto rtp_packet rtcp_compound rtcp_session; do
  echo "seeded $t: $(ls "$here/corpus/$t" | wc -l) inputs"
done
