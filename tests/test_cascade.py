"""The PocketSphinx cascade baseline on real speech."""

from s2r_edge.cascade import reset, search_speech, search_text, transcribe
from s2r_edge.voices import DEMO_VOICE, Voice


def test_transcribes_a_training_voice_and_searches(demo_index):
    speech = Voice.parse("flite:slt").speak("where did i leave the car at the shopping centre")
    text, end_ms = transcribe(speech)
    assert "shopping" in text and end_ms > 0
    hits, ms, transcript = search_speech(demo_index, speech, k=5)
    assert "shopping" in transcript and len(hits) == 5 and ms > 0


def test_a_reset_forgets_the_channel_the_decoder_adapted_to(loud_noise):
    speech = Voice.parse(DEMO_VOICE).speak("connect my phone to the wireless internet")
    reset()
    first = transcribe(speech)[0]
    transcribe(loud_noise)
    assert transcribe(speech)[0] != first  # adapted to the noise, it mishears the same speech
    reset()
    assert transcribe(speech)[0] == first and "wireless" in first


def test_empty_transcript_finds_nothing(demo_index):
    assert search_text(demo_index, "  ")[0] == []
