"""Input files: line-numbered errors; the benchmark's size, labels and splits (no test text in training)."""

import re

import pytest

from s2r_edge.errors import S2RError
from s2r_edge.texts import (
    DEMO_DOCS,
    DEMO_QUERIES,
    DEV_QUERIES,
    TRAIN_QUERIES,
    bundled_training_texts,
    content_words,
    ding_sentences,
    fortune_sentences,
    held_out_texts,
    near_copies,
    normalise,
    read_docs,
    read_queries,
    read_texts,
    wordnet_sentences,
)


def test_no_test_or_dev_query_nor_a_near_copy_is_a_training_text():
    train = bundled_training_texts() + wordnet_sentences() + fortune_sentences() + ding_sentences()
    assert len({normalise(t) for t in train}) >= 75_000  # distinct real training texts (the floor is 50,000)
    held = held_out_texts()
    assert len(held) >= 300
    assert not {normalise(t) for t in train} & held
    assert near_copies(held, train) == []


def test_near_copies_are_one_word_apart():
    texts = ["turn off the wifi please", "turn the wifi off now please", "wifi"]
    assert near_copies(["Turn ON the wifi, please!"], texts) == [("Turn ON the wifi, please!", texts[0])]
    assert near_copies(["turn off the wifi"], texts) == [("turn off the wifi", texts[0])]


def test_the_benchmark_is_large_labelled_and_paraphrased():
    docs = {d.id: d for d in read_docs(DEMO_DOCS)}
    splits = {p: read_queries(p, need_audio=False) for p in (DEMO_QUERIES, DEV_QUERIES, TRAIN_QUERIES)}
    queries = [q for qs in splits.values() for q in qs]
    assert len(docs) >= 400 and len({d.meta["domain"] for d in docs.values()}) >= 5
    assert len(queries) >= 600 and len(splits[DEMO_QUERIES]) >= 200
    assert all(r in docs for q in queries for r in q.relevant)
    shares_title = [q for q in queries if content_words(q.text) & content_words(docs[q.relevant[0]].meta["title"])]
    assert len(shares_title) <= len(queries) / 3


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


def test_missing_fortune_files_name_the_package_to_install(tmp_path):
    with pytest.raises(S2RError, match="install the Debian package fortunes"):
        fortune_sentences(tmp_path)


def test_ding_sentences_are_whole_everyday_sentences(tmp_path):
    sentences = ding_sentences()
    assert len(sentences) >= 15_000 and "You better go home." in sentences
    assert all(s[0].isupper() and s[-1] in ".?!" and not re.search(r"\b(sb|sth)\b|[\[{<|;]", s) for s in sentences)
    with pytest.raises(S2RError, match="install the Debian package trans-de-en"):
        ding_sentences(tmp_path / "de-en")
