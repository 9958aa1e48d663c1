"""Input files: line-numbered errors, and no evaluation query text in the training texts."""

import pytest

from s2r_edge.errors import S2RError
from s2r_edge.texts import bundled_training_texts, held_out_texts, normalise, read_docs, read_queries, read_texts


def test_no_evaluation_query_is_a_training_text():
    train = {normalise(t) for t in bundled_training_texts()}
    held = held_out_texts()
    assert len(held) >= 100
    assert not train & held


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "a", "text": "x"}\n{"id": "b", "text": "y"\n', ":2: not valid JSON"),
        ('{"id": "a", "text": "x"}\n\n{"id": "a", "text": "y"}\n', ":3: duplicate id 'a'"),
        ('{"text": "x"}\n', ':1: missing or non-string "id"'),
        ('{"id": "a", "text": "  "}\n', ':1: missing or empty "text"'),
        ("\n\n", "no lines"),
    ],
)
def test_bad_docs_lines_are_named(tmp_path, content, message):
    path = tmp_path / "docs.jsonl"
    path.write_text(content)
    with pytest.raises(S2RError, match=message):
        read_docs(path)


def test_queries_resolve_audio_against_their_folder(tmp_path):
    (tmp_path / "q1.wav").write_bytes(b"x")
    path = tmp_path / "q.jsonl"
    path.write_text('{"audio": "q1.wav", "text": "hi", "relevant": ["a"]}\n')
    assert read_queries(path)[0].audio == str(tmp_path / "q1.wav")
    path.write_text('{"audio": "q1.wav", "text": "hi", "relevant": ["a"]}\n{"audio": "q2.wav", "text": "x", "relevant": ["a"]}\n')
    with pytest.raises(S2RError, match=":2: audio file .*q2.wav does not exist"):
        read_queries(path)


def test_a_text_file_with_no_usable_lines_is_refused(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("\n   \n")
    with pytest.raises(S2RError, match="no usable lines"):
        read_texts(path)
