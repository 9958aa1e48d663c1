#!/usr/bin/env bash
# Synthesize the training set and train the student on a bare GPU host (DESIGN.md § GPU host):
# no registry there, so espeak-ng/flite come as .deb files unpacked into /tmp, the teacher's targets come
# precomputed, and only the trained checkpoint comes back. Prepare the bundle here with `make gpu-bundle` (48 MB).
# Usage (on the host, in the repo root): OUT=dir scripts/gpu_host/train.sh [s2r-edge train options]
set -euo pipefail
bundle=${BUNDLE:-.gpu}
tts=/tmp/tts
mkdir -p "$tts" "$OUT"
for deb in "$bundle"/debs/*.deb; do dpkg -x "$deb" "$tts"; done
cp "$bundle/libpcaudio.so.0" "$tts/usr/lib/x86_64-linux-gnu/"  # no-op stand-in: --stdout never plays audio
export PATH="$tts/usr/bin:$PATH" LD_LIBRARY_PATH="$tts/usr/lib/x86_64-linux-gnu" \
       ESPEAK_DATA_PATH="$tts/usr/lib/x86_64-linux-gnu"
python3 -c "import soundfile" 2>/dev/null ||
    python3 -m pip install -q --no-index --no-deps --target /tmp/site "$bundle"/whl/*.whl
export PYTHONPATH="/tmp/site:$PWD"
python3 -m s2r_edge.cli synth --from-targets "$bundle/texts.npz" --out /tmp/train.npz \
    --voices-per-text "${VOICES_PER_TEXT:-2}" --workers "$(nproc)" 2> "$OUT/synth.log"
python3 -m s2r_edge.cli train --data /tmp/train.npz --out "$OUT/encoder.pt" --workers 8 "$@" 2> "$OUT/train.log"
