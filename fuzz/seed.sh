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
# C3P and conference-info seeds: the C3P bodies in the SIP vectors and samples, and the
# documents of the cccp conformance tests (raw strings in crates/cccp/tests/spec.rs).
mkdir -p "$here/corpus/c3p_message" "$here/corpus/conference_info" "$here/corpus/focus"
python3 - "$vectors" "$here/.." "$here/corpus" <<'PY'
import os, re, sys, glob, random
vectors, repo, out = sys.argv[1], sys.argv[2], sys.argv[3]
n = 0
for f in glob.glob(os.path.join(vectors, 'sip', 'ms', '*.sip')) + glob.glob(os.path.join(repo, 'samples', '*.sip')):
    data = open(f, 'rb').read()
    i = data.find(b'\r\n\r\n')
    body = data[i + 4:] if i >= 0 else b''
    if b'urn:ietf:params:xml:ns:cccp' in body:
        open(os.path.join(out, 'c3p_message', os.path.basename(f)), 'wb').write(body)
        n += 1
spec = open(os.path.join(repo, 'crates', 'cccp', 'tests', 'spec.rs')).read()
for m in re.finditer(r'r#"(.*?)"#', spec, re.S):
    doc = m.group(1)
    if '{' in doc and 'format!' in spec[max(0, m.start() - 20):m.start()]:
        continue
    target = 'conference_info' if '<conference-info' in doc[:200] else 'c3p_message'
    open(os.path.join(out, target, f'spec-{n}.xml'), 'w').write(doc)
    n += 1
# Focus seeds: operation scripts (join everyone, subscribe, lock, lobby, dial-in, answers).
rng = random.Random(5)
for k in range(16):
    ops = bytes([0, 0, 0, 5, 0, 1, 0, 1, 0, 0, 2, 0, 3, 1, 1, 0, 3, 2, 5, 2, 2, 7, 0, 0, 8, 0, 0, 4, 0, 3, 9, 0, 0, 1, 2, 2])
    ops += bytes(rng.randrange(256) for _ in range(rng.randrange(8, 120)))
    open(os.path.join(out, 'focus', f'script-{k}'), 'wb').write(ops)
PY
# HTTP seeds: four chunk-size bytes, then requests (or responses) of every framing, pipelined,
# and the smuggling attempts of crates/http-focus/tests/h1.rs.
mkdir -p "$here/corpus/http_request_stream" "$here/corpus/http_response_stream" "$here/corpus/abs_file"
python3 - "$here/corpus" <<'PY'
import os, sys
out = sys.argv[1]
reqs = [
    b"GET /abs/handler/F-0A11.lsabs HTTP/1.1\r\nHost: pool\r\nIf-None-Match: \"x\"\r\nRange: bytes=0-9\r\n\r\n",
    b"POST /LiveServer/MCUFactory/ HTTP/1.1\r\nHost: pool:444\r\nContent-Type: application/cccp+xml\r\nContent-Length: 10\r\n\r\n<request/>",
    b"PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5;ext=1\r\nhello\r\n0\r\nChecksum: 1\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length : 0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
]
resps = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: v\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
    b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-1/10\r\nContent-Length: 2\r\n\r\nab",
    b"HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\nuntil close",
]
for name, msgs in (("http_request_stream", reqs), ("http_response_stream", resps)):
    for i, m in enumerate(msgs):
        open(os.path.join(out, name, f"seed-{i}"), "wb").write(b"\x05\x11\x02\x3f" + m + m)
    open(os.path.join(out, name, "seed-all"), "wb").write(b"\x07\x13\x01\x3f" + b"".join(msgs))
PY
# ABS seeds: the files the example's directory publishes over a few days.
(cd "$here/.." && cargo run -q --example abs_directory -- "$here/corpus/abs_file" >/dev/null)
# PSOM seeds: a client's opening (RPCOpen + Authenticate) and a joined session's operations,
# behind the "authenticated" flag byte; written by the psom_session example.
mkdir -p "$here/corpus/psom_stream"
(cd "$here/.." && cargo run -q --example psom_session -- "$here/corpus/psom_stream" >/dev/null)
# Transaction seeds: step scripts (send, receive, answer, responses, time) and raw vectors.
mkdir -p "$here/corpus/sip_transactions"
python3 - "$here/corpus/sip_transactions" "$vectors" <<'PY'
import os, random, sys, glob
out, vectors = sys.argv[1], sys.argv[2]
rng = random.Random(8)
for k in range(24):
    steps = bytes([0, 0, 1, 1, 1, 0, 2, 0, 3, 3, 3, 1, 5, 8, 0, 1, 0, 4, 2, 0, 6, 6, 100, 0])
    steps += bytes(rng.randrange(256) for _ in range(rng.randrange(6, 90)))
    open(os.path.join(out, f'script-{k}'), 'wb').write(steps)
for f in sorted(glob.glob(os.path.join(vectors, 'sip', 'rfc4475', '*.dat')))[:20]:
    data = open(f, 'rb').read()[:255]
    open(os.path.join(out, 'raw-' + os.path.basename(f)), 'wb').write(bytes([7, len(data), 0]) + data + bytes([5, 200, 0]))
PY
# Authentication and dialog seeds: an NTLM registration's messages and tokens (the
# sip_ntlm_register example) and the Microsoft vectors.
(cd "$here/.." && cargo run -q --example sip_ntlm_register -- "$here/corpus" >/dev/null)
cp "$vectors"/sip/ms/*.sip "$here/corpus/sip_auth/"
# Dialog scripts: responses to the oracle's INVITE (forked 180s, 200), requests in its UAS
# dialog, NOTIFYs and refreshes of its subscription, with time steps between.
python3 - "$here/corpus/sip_dialogs" <<'PY'
import os, random, struct, sys
out = sys.argv[1]
def m(s): return s.replace('\n', '\r\n').encode()
def resp(code, tag, method='INVITE', extra=''):
    return m(f"SIP/2.0 {code} R\nVia: SIP/2.0/TCP a;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag={tag}\n"
             f"Call-ID: c\nCSeq: 1 {method}\nContact: <sip:b@{tag}>\nRecord-Route: <sip:p{tag};lr>\n{extra}Content-Length: 0\n\n")
def req(method, seq, ftag, ttag, extra=''):
    return m(f"{method} sip:a@a SIP/2.0\nVia: SIP/2.0/TCP b;branch=z9hG4bK{seq}\nFrom: <sip:b@h>;tag={ftag}\nTo: <sip:a@h>;tag={ttag}\n"
             f"Call-ID: c\nCSeq: {seq} {method}\nContact: <sip:b@b>\n{extra}Content-Length: 0\n\n")
steps = [
    (0, resp(180, 'A')), (0, resp(183, 'B')), (0, resp(200, 'B', extra='Session-Expires: 90;refresher=uas\n')),
    (1, req('INFO', 2, '1', '2')), (1, req('INVITE', 3, '1', '2')), (1, req('BYE', 4, '1', '2')),
    (2, resp(202, '3', 'SUBSCRIBE', 'Expires: 60\nSupported: ms-benotify\n')),
    (2, req('NOTIFY', 1, '3', '1', 'Event: conference\nSubscription-State: active;expires=60\n')),
    (2, req('BENOTIFY', 2, '3', '1', 'Event: conference\nSubscription-State: active;expires=30\n')),
    (3, req('SUBSCRIBE', 2, '1', '2', 'Event: conference\nExpires: 0\n')),
    (4, b''), (5, b''), (6, b''), (7, b''),
    (2, req('NOTIFY', 3, '3', '1', 'Event: conference\nSubscription-State: terminated;reason=timeout\n')),
]
rng = random.Random(5)
for k in range(16):
    picked = steps if k == 0 else rng.sample(steps, rng.randrange(3, len(steps)))
    data = b''.join(bytes([op + 8 * rng.randrange(4)]) + struct.pack('<H', len(b)) + b for op, b in picked)
    open(os.path.join(out, f'script-{k}'), 'wb').write(data)
PY
# A/V relay seeds: chunks of leg, flags, length, bytes (see ocs_stack::fuzzing::av_relay):
# protected PCMU from each leg in turn, some video, some SRTCP, clock steps, raw junk.
mkdir -p "$here/corpus/av_relay"
python3 - "$here/corpus/av_relay" <<'PY'
import os, random, struct, sys
out = sys.argv[1]
rng = random.Random(7)
def rtp(seq, ts, ssrc, payload, pt=0, marker=False):
    return struct.pack('>BBHII', 0x80, (0x80 if marker else 0) | pt, seq, ts, ssrc) + payload
for k in range(8):
    chunks = []
    for i in range(40):
        leg = (i // 10) % 3 + 1 if k % 2 == 0 else rng.randrange(4)
        loud = bytes((j * 7) % 64 for j in range(160)) if leg == (i // 10) % 3 + 1 else b'\xff' * 160
        video = k >= 4 and i % 3 == 0
        if video:
            body = rtp(i, i * 3000, 0x7000 + leg, bytes(rng.randrange(256) for _ in range(200)), 121, i % 2 == 0)
        else:
            body = rtp(i, i * 160, 0x1000 + leg, loud)
        flags = 2 | (4 if video else 0) | (8 if i % 12 == 11 else 0)
        body = body[:255]
        chunks.append(bytes([leg, flags, len(body)]) + body)
        if i % 9 == 8:
            rr = struct.pack('>BBHI', 0x81, 201, 7, 0x1000 + leg) + bytes(24)
            chunks.append(bytes([leg, 3, len(rr)]) + rr)
        if k == 7 and i % 5 == 0:
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60)))
            chunks.append(bytes([rng.randrange(4), rng.randrange(16), len(junk)]) + junk)
    open(os.path.join(out, f'meeting-{k}'), 'wb').write(b''.join(chunks))
PY
# Proxy seeds: the SIP vectors behind a flag byte (pop our Route entries, record-route).
mkdir -p "$here/corpus/sip_proxy"
i=0
for f in "$here/corpus/sip_message"/*; do
  printf "\\x0$((i % 4))" > "$here/corpus/sip_proxy/$(basename "$f")"
  cat "$f" >> "$here/corpus/sip_proxy/$(basename "$f")"
  i=$((i + 1))
done
# Presence seeds: a selector byte (crates/sip-codec/src/fuzzing.rs, `presence`), then a
# document of each kind in the shapes [MS-PRES] and pidgin-sipe use.
mkdir -p "$here/corpus/presence"
python3 - "$here/corpus/presence" <<'PY'
import os, sys
out = sys.argv[1]
docs = [
    '<contactList deltaNum="5" xmlns="http://schemas.microsoft.com/2006/09/sip/contactlist"><group id="1" name="~" externalURI=""/><group id="2" name="Friends &amp; co"/><contact uri="bob@contoso.com" name="Bob" groups="1 2" subscribed="true"/></contactList>',
    '<roamingList xmlns="http://schemas.microsoft.com/2006/09/sip/roaming-self"><roaming type="categories"/><roaming type="containers"/><roaming type="subscribers"/></roamingList>',
    '<roamingData xmlns="http://schemas.microsoft.com/2006/09/sip/roaming-self"><categories uri="sip:alice@contoso.com"><category name="state" instance="1" container="2" version="1" expireType="user"><state xmlns="http://schemas.microsoft.com/2006/09/sip/state" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="aggregateState"><availability>3500</availability></state></category></categories><containers><container id="32000" version="2"><member type="user" value="bob@contoso.com"/></container></containers><subscribers><subscriber user="carol@contoso.com" acknowledged="false"/></subscribers></roamingData>',
    '<publish xmlns="http://schemas.microsoft.com/2006/09/sip/rich-presence"><publications uri="sip:alice@contoso.com"><publication categoryName="state" instance="536870912" container="2" version="0" expireType="static"><state xmlns="http://schemas.microsoft.com/2006/09/sip/state" manual="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="userState"><availability>15500</availability></state></publication><publication categoryName="note" instance="0" container="200" version="1" expireType="static" expires="0"/></publications></publish>',
    '<batchSub xmlns="http://schemas.microsoft.com/2006/01/sip/batch-subscribe" uri="sip:bob@contoso.com" name=""><action name="subscribe" id="63792024"><adhocList><resource uri="sip:alice@contoso.com"/></adhocList><categoryList xmlns="http://schemas.microsoft.com/2006/09/sip/categorylist"><category name="state"/></categoryList></action></batchSub>',
    '<categories xmlns="http://schemas.microsoft.com/2006/09/sip/categories" uri="sip:alice@contoso.com"><category name="state" instance="1" container="200" version="3"><state xmlns="http://schemas.microsoft.com/2006/09/sip/state" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="aggregateState"><availability>6500</availability><activity token="in-a-meeting"/></state></category></categories>',
    '<setContainerMembers xmlns="http://schemas.microsoft.com/2006/09/sip/container-management"><container id="32000" version="0"><member action="add" type="user" value="bob@contoso.com"/></container></setContainerMembers>',
    '<setSubscribers xmlns="http://schemas.microsoft.com/2006/09/sip/presence-subscribers"><subscriber user="bob@contoso.com" acknowledged="true"/></setSubscribers>',
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/winrtc/2002/11/sip"><s:Body><m:setContact><m:displayName>Bob</m:displayName><m:groups>1 2</m:groups><m:subscribed>true</m:subscribed><m:URI>sip:bob@contoso.com</m:URI><m:deltaNum>3</m:deltaNum></m:setContact></s:Body></s:Envelope>',
    '<list xmlns="urn:ietf:params:xml:ns:rlmi" uri="sip:bob@contoso.com" version="1" fullState="true"><resource uri="sip:alice@contoso.com"><instance id="0" state="active" cid="alice@contoso.com"/></resource></list>',
    '<presentity uri="alice@contoso.com"><availability aggregate="300"/><activity aggregate="600"/><displayName displayName="Alice"/></presentity>',
    '--b0\r\nContent-ID: <r>\r\nContent-Type: application/rlmi+xml\r\n\r\n<list uri="x"/>\r\n\r\n--b0\r\nContent-Type: text/plain\r\n\r\nx\r\n\r\n--b0--\r\n',
]
for kind, d in enumerate(docs):
    open(os.path.join(out, f'presence-{kind}'), 'wb').write(bytes([kind]) + d.encode().decode('unicode_escape').encode())
PY
# ICE seeds: a dialect byte (src/fuzzing.rs, `ice`), a real check of the participant (flags 3)
# and one with a byte flipped (flags 1), then the RFC 5769 sample request and response.
mkdir -p "$here/corpus/ice"
python3 - "$here/corpus/ice" <<'PY'
import os, sys
out = sys.argv[1]
req = bytes.fromhex('000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74'
                    '002400046e0001ff80290008932ff9b151263b36000600096576746a3a6836765920202000080014'
                    '9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf')
resp = bytes.fromhex('0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220'
                     '002000080001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7'
                     '80280004c07d4c96')
for d in range(3):
    chunks = bytes([3, 12]) + bytes(range(12)) + bytes([1 | 4, 12]) + bytes(range(12, 24))
    chunks += bytes([0, len(req)]) + req + bytes([32 | 8, len(resp)]) + resp
    open(os.path.join(out, f'ice-{d}'), 'wb').write(bytes([d]) + chunks)
PY
# Regression inputs found earlier are seeds too.
for t in sip_message sip_stream sdp srtp_unprotect srtcp_unprotect sdes_crypto rtp_packet rtcp_compound rtcp_session c3p_message conference_info focus http_request_stream http_response_stream abs_file psom_stream sip_transactions sip_auth sip_dialogs sip_proxy av_relay presence ice; do
  if [ -d "$here/regressions/$t" ]; then cp "$here/regressions/$t"/* "$here/corpus/$t/" 2>/dev/null || true; fi
done
for t in sip_message sip_stream sdp srtp_unprotect srtcp_unprotect sdes_crypto rtp_packet rtcp_compound rtcp_session c3p_message conference_info focus http_request_stream http_response_stream abs_file psom_stream sip_transactions sip_auth sip_dialogs sip_proxy av_relay presence ice; do
  echo "seeded $t: $(ls "$here/corpus/$t" | wc -l) inputs"
done
