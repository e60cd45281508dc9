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
# Regression inputs found earlier are seeds too.
for t in sip_message sip_stream sdp; do
  if [ -d "$here/regressions/$t" ]; then cp "$here/regressions/$t"/* "$here/corpus/$t/" 2>/dev/null || true; fi
done
echo "seeded: $(ls "$here/corpus/sip_message" | wc -l) sip_message, $(ls "$here/corpus/sip_stream" | wc -l) sip_stream, $(ls "$here/corpus/sdp" | wc -l) sdp"
