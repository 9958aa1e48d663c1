"""The cascade baseline: PocketSphinx transcript -> text teacher -> the same index (what S2R replaces).

Audio is fed to the recogniser in 160 ms chunks as it arrives, so what is timed is only the work left
after the end of speech: closing the utterance, the teacher embedding and the search.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

from s2r_edge.errors import S2RError
from s2r_edge.index import DocIndex, Hit

CHUNK = 2560  # samples fed per call, as a live microphone would
# A real-time decoder setting, as an on-device cascade would run: no second (flat-lexicon) pass, at most 1000
# HMMs per frame, 2 Gaussians per mixture. Against PocketSphinx's defaults on 16 clean test queries per voice
# (`benchmarks/decoder_setting.py`): WER joe 0.28 vs 0.26, flite rms 0.27 vs 0.14, espeak gbclan 1.01 vs 0.96, at
# 0.25-0.33 s instead of 0.51-1.69 s per query. In babble at 10 dB (`--condition babble@10 --every 28`, 8 queries per
# voice) the default search explodes: 3.8-6.3 s per query at WER 0.90-1.12, against 0.26-0.42 s at WER 0.93-1.00.
# This is what lets `make eval` run the whole grid within 30 minutes on 2 cores.
DECODER = {"fwdflat": False, "maxhmmpf": 1000, "topn": 2}


@lru_cache(maxsize=1)
def _decoder():  # type: ignore[no-untyped-def]
    try:
        from pocketsphinx import Decoder
    except ImportError:
        raise S2RError("cascade-asr needs PocketSphinx: pip install -e '.[eval]'") from None
    return Decoder(samprate=16000, logfn="/dev/null", **DECODER)


def reset() -> None:
    """Forget the channel the decoder has adapted to: the next utterance is decoded as the first one after loading.
    PocketSphinx carries its running cepstral mean from one utterance into the next, which helps in a steady noise
    but makes a transcript depend on what was decoded before it (after 10 s of noise, a clean query comes out
    garbled)."""
    _decoder().reinit_feat()


def listen(samples: np.ndarray) -> None:
    """Start an utterance and feed it 16 kHz float32 speech in 160 ms chunks: the work done while the user speaks."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    decoder = _decoder()
    decoder.start_utt()
    for start in range(0, len(pcm), CHUNK):
        decoder.process_raw(pcm[start : start + CHUNK].tobytes(), full_utt=False)


def finish() -> str:
    """Close the utterance fed by `listen` and return its transcript: the work left after the end of speech."""
    decoder = _decoder()
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp else ""


def transcribe(samples: np.ndarray) -> tuple[str, float]:
    """16 kHz float32 speech -> (PocketSphinx transcript, ms spent after the last sample)."""
    listen(samples)
    t0 = time.perf_counter()
    text = finish()
    return text, (time.perf_counter() - t0) * 1000


def search_text(index: DocIndex, text: str, k: int = 10) -> tuple[list[Hit], float]:
    """Teacher embedding of `text`, then the index: (hits, ms). An empty transcript finds nothing."""
    from s2r_edge.teacher import embed_texts

    t0 = time.perf_counter()
    hits = index.search(embed_texts([text])[0], k) if text.strip() else []
    return hits, (time.perf_counter() - t0) * 1000


def search_speech(index: DocIndex, samples: np.ndarray, k: int = 10) -> tuple[list[Hit], float, str]:
    """The whole cascade: (hits, ms from the end of speech to the hits, transcript)."""
    text, asr_ms = transcribe(samples)
    hits, search_ms = search_text(index, text, k)
    return hits, asr_ms + search_ms, text
