"""End of speech -> final hits of `s2r-edge listen` on a null-sink microphone; writes the listen section of RESULTS.md.

Run: .venv/bin/python benchmarks/listen_latency.py   (about a minute: the demo prompts played in real time)

Two measures per utterance: `end_to_hits_ms` as listen reports it (from the capture time of the last voiced
block to the final hits, hangover included), and from outside: from when paplay returns, less the file's trailing
quiet, to when the JSON line reaches this script. paplay returns once the server has taken the file's last buffer,
before the sink has played all of it, and its "speech end" is the last sample above 0.01 rather than the VAD's, so
the outside figure reads low; it is there to show that no hidden delay sits outside listen's own clock.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import soundfile as sf

from s2r_edge.cli import demo_index
from s2r_edge.endpoint import VadConfig
from s2r_edge.texts import DEMO_PROMPTS, read_texts
from s2r_edge.virtual_mic import NullSink
from s2r_edge.voices import DEMO_VOICE, Voice

from results import write_section

VOICED = 0.01  # |sample| above this counts as speech when finding where the TTS audio's speech ends


def main() -> None:
    texts = read_texts(DEMO_PROMPTS)
    voice = Voice.parse(DEMO_VOICE)
    index = demo_index()
    rows, inside, outside = [], [], []
    with tempfile.TemporaryDirectory() as tmp, NullSink(f"s2r_bench_{os.getpid()}") as sink:
        cmd = [sys.executable, "-m", "s2r_edge.cli", "listen", "--index", str(index), "--device", sink.monitor,
               "--json", "-k", "3"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        print(proc.stderr.readline().strip(), file=sys.stderr)
        for i, text in enumerate(texts):
            audio = voice.speak(text)
            wav = Path(tmp) / f"q{i}.wav"
            sf.write(wav, audio, 16000)
            tail_s = (len(audio) - 1 - np.flatnonzero(np.abs(audio) > VOICED)[-1]) / 16000
            sink.play(wav)
            speech_end = time.monotonic() - tail_s
            result = json.loads(proc.stdout.readline())
            outside.append((time.monotonic() - speech_end) * 1000)
            inside.append(result["end_to_hits_ms"])
            rows.append(f"| {text} | {result['hits'][0]['id']} | {result['end_to_hits_ms']:.0f} | "
                        f"{outside[-1]:.0f} | {result['finish_ms']:.1f} | {result['chunks']} | {result['overflows']} |")
            print(rows[-1], file=sys.stderr)
            time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    summary = json.loads(out.splitlines()[-1])["summary"]
    hang = VadConfig.hangover_ms
    write_section("listen", f"""## Live microphone: end of speech -> final hits ({date.today()})

Command: `.venv/bin/python benchmarks/listen_latency.py`: `s2r-edge listen --json` captures the monitor of a
PulseAudio null sink through PortAudio (ALSA pulse plugin, 16 kHz, 20 ms blocks) while the {len(texts)} demo prompts,
spoken by {DEMO_VOICE}, are played into the sink with paplay. Machine: {platform.machine()}, the shared 2-core box.
The VAD ends an utterance after {hang} ms of quiet (`--hangover-ms`), so that much of every figure is waiting.

| | median ms | max ms |
|---|---|---|
| end of speech -> final hits, as listen reports it | {statistics.median(inside):.0f} | {max(inside):.0f} |
| seen from outside (paplay returned -> JSON line read; reads low) | {statistics.median(outside):.0f} | {max(outside):.0f} |
| of which beyond the {hang} ms hangover (listen's figure) | {statistics.median(inside) - hang:.0f} | {max(inside) - hang:.0f} |

Session: {summary['utterances']} utterances, {summary['overflows']} input overflows, {summary['dropped']} dropped blocks.

| query | top hit | end_to_hits_ms | outside ms | finish_ms | chunks | overflows |
|---|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n")
    print("wrote the listen section of benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
