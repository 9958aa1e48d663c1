"""The PocketSphinx cascade baseline on real speech."""

from s2r_edge.cascade import search_speech, search_text, transcribe
from s2r_edge.voices import Voice


def test_transcribes_a_training_voice_and_searches(demo_index):
    speech = Voice.parse("flite:slt").speak("where did i leave the car at the shopping centre")
    text, end_ms = transcribe(speech)
    assert "shopping" in text and end_ms > 0
    hits, ms, transcript = search_speech(demo_index, speech, k=5)
    assert "shopping" in transcript and len(hits) == 5 and ms > 0  # the decoder adapts between utterances


def test_empty_transcript_finds_nothing(demo_index):
    assert search_text(demo_index, "  ")[0] == []
