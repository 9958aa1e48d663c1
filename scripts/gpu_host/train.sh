#!/usr/bin/env bash
# Synthesize the training set and train students on a bare GPU host (DESIGN.md § GPU host):
# no registry there, so espeak-ng/flite come as .deb files unpacked into /tmp, the teacher's targets come
# precomputed, and only the trained checkpoints come back. Prepare the bundle here with `make gpu-bundle` (48 MB).
# Usage (on the host, in the repo root): OUT=dir scripts/gpu_host/train.sh [train options] [:: NAME [options]]...
# With no `::` group it trains one student, $OUT/encoder.pt. Each `:: NAME options` group trains $OUT/NAME.pt with
# the shared options and its own, all side by side: one width-256 student keeps an H200 about 19% busy.
# Measured on an H200 host with 16 cores (RESULTS.md, "A GPU lease spent on the host's setup"): synthesis 180-400
# utterances/s, training about 640 utterances/s per student at width 256 and batch 128, two side by side as fast as one.
set -euo pipefail
bundle=${BUNDLE:-.gpu}
tts=/tmp/tts
shared=() names=() extras=()
for arg in "$@"; do
    if [ "$arg" = "::" ]; then names+=("") extras+=(""); continue; fi
    last=$((${#names[@]} - 1))
    if [ "$last" -lt 0 ]; then shared+=("$arg")
    elif [ -z "${names[last]}" ]; then names[last]=$arg
    else extras[last]+=" $arg"; fi
done
if [ ${#names[@]} -eq 0 ]; then names=(encoder) extras=(""); fi
mkdir -p "$tts" "$OUT"
for deb in "$bundle"/debs/*.deb; do dpkg -x "$deb" "$tts"; done
cp "$bundle/libpcaudio.so.0" "$tts/usr/lib/x86_64-linux-gnu/"  # no-op stand-in: --stdout never plays audio
export PATH="$tts/usr/bin:$PATH" LD_LIBRARY_PATH="$tts/usr/lib/x86_64-linux-gnu" \
       ESPEAK_DATA_PATH="$tts/usr/lib/x86_64-linux-gnu"
python3 -c "import soundfile" 2>/dev/null ||
    python3 -m pip install -q --no-index --no-deps --target /tmp/site "$bundle"/whl/*.whl
export PYTHONPATH="/tmp/site:$PWD"
python3 -m s2r_edge.cli synth --from-targets "$bundle/texts.npz" --out /tmp/train.npz \
    --voices-per-text "${VOICES_PER_TEXT:-1}" --workers "$(nproc)" 2> "$OUT/synth.log"
workers=$(( $(nproc) / ${#names[@]} - 1 ))
pids=()
for i in "${!names[@]}"; do
    # shellcheck disable=SC2086  # a group's own options are split into words on purpose
    python3 -m s2r_edge.cli train --data /tmp/train.npz --out "$OUT/${names[i]}.pt" --workers "$((workers > 0 ? workers : 1))" \
        "${shared[@]}" ${extras[i]} > "$OUT/${names[i]}.out" 2> "$OUT/${names[i]}.log" &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
