"""aclimdb.py: the Large Movie Review Dataset's archive and directory read into Keras's layout
by the versioned tokenizer, cached safely, and checked against keras.datasets.imdb.load_data.
The hostile archives are in tests/test_untrusted_input.py (CLI, subprocesses)."""

from __future__ import annotations

import hashlib
import random

import craft_acl
import numpy as np
import pytest

from lstm_repro import aclimdb
from lstm_repro.cli import main
from lstm_repro.data import load_dataset, load_imdb
from lstm_repro.errors import ReproError
from lstm_repro.imdb import read_imdb_file


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private $XDG_CACHE_HOME: conversions land here and nowhere else."""
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home / "lstm_repro"


@pytest.fixture
def small_archive(tmp_path):
    path = tmp_path / "reviews.bin"  # recognised by content, not by name
    path.write_bytes(craft_acl.archive())
    return path


def test_the_tokenizer_lowercases_breaks_lines_and_keeps_inner_apostrophes():
    """The stated pattern, on the cases that tell patterns apart. Kills: a missing lowercase,
    `<br />` left as the words 'br', apostrophes splitting "don't", underscores or
    punctuation kept inside words, non-ASCII letters dropped."""
    text = "Don't<br />STOP! Café's 2nd_act -- it's 'quoted' x'"
    assert aclimdb.words(text) == ["don't", "stop", "café's", "2nd", "act", "it's", "quoted", "x"]


def test_ids_are_overall_frequency_ranks_with_ties_by_code_point():
    """Counts over train and test together, rank 1 the most frequent, ties to the word that
    sorts first. Kills: ranks from the train split alone, ranks from 0 (Keras's 0 is padding),
    ties left to dictionary order (the archive's member order)."""
    reviews = aclimdb.Reviews(
        train=(["b a", "c"], np.array([0, 1], dtype=np.int32)),
        test=(["c c b", "a"], np.array([1, 0], dtype=np.int32)),
    )
    x_train, y_train, x_test, y_test = aclimdb.tokenize(reviews)
    # counts: c 3, a 2, b 2 -> c=1, a=2 (a < b), b=3
    assert [r.tolist() for r in x_train] == [[3, 2], [1]]
    assert [r.tolist() for r in x_test] == [[1, 1, 3], [2]]
    assert y_train.tolist() == [0, 1] and y_test.tolist() == [1, 0]


def test_the_member_order_of_the_archive_does_not_change_the_ids_or_the_order(tmp_path):
    """Kills: reviews stored in archive order (grouped by label: the chapter's shuffle(1000)
    then sees one class per batch and learns nothing) or ranks that depend on it."""
    members = craft_acl.entries()
    shuffled = members[:1] + random.Random(3).sample(members[1:], len(members) - 1)
    a, b = tmp_path / "a.tgz", tmp_path / "b.tgz"
    a.write_bytes(craft_acl.archive(members))
    b.write_bytes(craft_acl.archive(shuffled))
    ra, rb = aclimdb.read_reviews(a), aclimdb.read_reviews(b)
    assert _same(ra, rb)
    for x, y in zip(aclimdb.tokenize(ra), aclimdb.tokenize(rb), strict=True):
        assert [np.asarray(r).tolist() for r in x] == [np.asarray(r).tolist() for r in y]
    assert ra.train[1].tolist() == [0, 0, 1, 1]  # sorted by (label, id)
    assert ra.train[0][0] == "Bad. Awful film"


def test_the_authors_archive_extras_are_ignored_and_a_directory_reads_the_same(tmp_path):
    """train/unsup, .feat files, URL lists and imdb.vocab are skipped; an extracted aclImdb/
    (named directly or by its parent) gives the same reviews. Kills: unlabeled reviews read
    as labeled, or a directory reader that differs from the archive reader."""
    extras = [
        ("aclImdb/train/unsup/0_0.txt", b"an unlabeled review"),
        ("aclImdb/train/labeledBow.feat", b"0 0:1\n"),
        ("aclImdb/train/urls_pos.txt", b"http://example.invalid/\n"),
        ("aclImdb/imdb.vocab", b"the\n"),
        ("aclImdb/train/pos/notes.md", b"not a review"),
    ]
    full = tmp_path / "aclImdb_v1.tar.gz"
    full.write_bytes(craft_acl.archive(craft_acl.entries() + extras))
    labeled = tmp_path / "labeled.tar.gz"
    labeled.write_bytes(craft_acl.archive())
    tree = craft_acl.write_tree(tmp_path / "x")
    expected = aclimdb.read_reviews(labeled)
    assert _same(aclimdb.read_reviews(full), expected)
    for directory in (tree, tree.parent):
        assert _same(aclimdb.read_reviews(directory), expected)
        assert aclimdb.kind_of(directory) == "directory"
    assert aclimdb.kind_of(full) == "archive"


def _same(a: aclimdb.Reviews, b: aclimdb.Reviews) -> bool:
    return all(
        getattr(a, s)[0] == getattr(b, s)[0] and np.array_equal(getattr(a, s)[1], getattr(b, s)[1])
        for s in aclimdb.SPLITS
    )


def test_prepare_imdb_writes_a_file_keras_load_data_reads_like_our_reader(
    small_archive, tmp_path, capsys, monkeypatch
):
    """`lstm-repro prepare-imdb` output through keras.datasets.imdb.load_data itself and
    through load_imdb: the same padded arrays. Kills: a layout Keras cannot read (ids from 0,
    labels as bool, a 2-D member) or rules applied twice (start char stored in the file)."""
    import keras
    from keras.src.datasets import imdb as keras_imdb

    out = tmp_path / "prepared.npz"
    assert main(["prepare-imdb", str(small_archive), "--out", str(out)]) == 0
    assert "tokenizer lstm-repro-words-v1" in capsys.readouterr().out
    raw = read_imdb_file(out)
    assert min(int(r.min()) for r in raw.x_train) == 1, "ranks start at 1"
    monkeypatch.setattr(keras_imdb, "get_file", lambda **_: str(out))
    num_words, max_len = 8, 6  # small: OOV replacement and truncation both happen
    (kx, ky), (kxt, kyt) = keras.datasets.imdb.load_data(num_words=num_words)
    ours = load_imdb(out, num_words=num_words, max_len=max_len)
    np.testing.assert_array_equal(ours.x_train, keras.utils.pad_sequences(kx, maxlen=max_len))
    np.testing.assert_array_equal(ours.x_test, keras.utils.pad_sequences(kxt, maxlen=max_len))
    np.testing.assert_array_equal(ours.y_train, ky)
    np.testing.assert_array_equal(ours.y_test, kyt)
    assert main(["prepare-imdb", str(small_archive), "--out", str(out)]) == 2  # no overwrite
    assert "exists; pass --force" in capsys.readouterr().err
    # The positional ARCHIVE is named as such, not as --imdb-path, when it is wrong.
    missing = tmp_path / "missing.tar.gz"
    assert main(["prepare-imdb", str(missing), "--out", str(tmp_path / "o.npz")]) == 2
    assert capsys.readouterr().err == f"lstm-repro: error: ARCHIVE {missing}: no such file\n"


def test_an_archive_named_by_the_user_is_what_the_run_trains_on(small_archive, cache):
    """--imdb-path ARCHIVE (and auto, and the memory probe's imdb-early / imdb-late): the
    dataset is the archive's, by its SHA-256, not official, naming the tokenizer; the
    conversion is cached under $XDG_CACHE_HOME. Kills: a record that calls the conversion
    Keras's file, or the conversion's hash standing in for the archive's (verify would then
    ask for a file the user never had)."""
    for kind in ("imdb", "auto", "imdb-early", "imdb-late"):
        data = load_dataset(kind, num_words=50, max_len=12, seed=0, imdb_path=str(small_archive))
        identity = data.identity()
        assert identity["sha256"] == hashlib.sha256(small_archive.read_bytes()).hexdigest()
        assert identity["official"] is False
        assert identity["tokenizer"] == "lstm-repro-words-v1"
        assert (data.train_size, data.test_size) == (4, 4)
    assert [p.suffix for p in sorted(cache.iterdir())] == [".npz", ".sha256"]


def test_a_cached_conversion_is_reused_and_a_corrupt_or_stale_one_rebuilt(
    small_archive, cache, monkeypatch
):
    """Kills: a cache that is never read (converting every time), one trusted without its
    hash (a flipped byte then trains on other data), or one that raises instead of rebuilding."""
    sha = aclimdb.source_sha256(small_archive)
    fresh = aclimdb.load_converted(small_archive, sha)
    entry = aclimdb.cache_path(sha)
    good = entry.read_bytes()
    real_read = aclimdb.read_reviews
    calls = []
    monkeypatch.setattr(aclimdb, "read_reviews", lambda p: calls.append(1) or real_read(p))
    cached = aclimdb.load_converted(small_archive, sha)
    assert calls == [] and _raw_equal(cached, fresh)
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    entry.write_bytes(bytes(corrupt))
    assert _raw_equal(aclimdb.load_converted(small_archive, sha), fresh) and calls == [1]
    assert entry.read_bytes() == good
    entry.with_suffix(".sha256").write_text("0" * 64 + "\n")  # a stale record of the hash
    aclimdb.load_converted(small_archive, sha)
    assert calls == [1, 1] and entry.read_bytes() == good


def _raw_equal(a, b) -> bool:
    return all(
        [np.asarray(r).tolist() for r in getattr(a, k)]
        == [np.asarray(r).tolist() for r in getattr(b, k)]
        for k in ("x_train", "y_train", "x_test", "y_test")
    )


def test_an_unwritable_cache_still_gives_the_conversion(small_archive, tmp_path, monkeypatch):
    """Kills: a read-only home directory turning every run on the archive into an error."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    raw = aclimdb.load_converted(small_archive, aclimdb.source_sha256(small_archive))
    assert raw.y_train.tolist() == [0, 0, 1, 1]


def test_the_entry_cap_is_checked_before_the_next_member_is_read(tmp_path, monkeypatch):
    """The member-count cap (1,000,000: 10x the authors' archive) at a size a test can build.
    Kills: a cap compared after the loop, or never."""
    path = tmp_path / "a.tgz"
    path.write_bytes(craft_acl.archive())
    monkeypatch.setattr(aclimdb, "MAX_ENTRIES", 9)  # the small archive has 9 entries
    aclimdb.read_reviews(path)
    monkeypatch.setattr(aclimdb, "MAX_ENTRIES", 8)
    with pytest.raises(ReproError, match="more than 8 entries"):
        aclimdb.read_reviews(path)
