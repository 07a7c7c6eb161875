"""imdb.py: the pickle-free reader on valid files of every admitted form, Keras's rules for
extreme ids (against keras.datasets.imdb.load_data itself), and finding the file.

Hostile files are in test_untrusted_input.py, run through the CLI in subprocesses."""

from __future__ import annotations

import pickle
import pickletools

import craft
import numpy as np
import pytest

from lstm_repro import imdb
from lstm_repro.data import OOV_CHAR, load_dataset, load_imdb, pad_pre
from lstm_repro.errors import ReproError
from lstm_repro.imdb import (
    IMDB_SHA256,
    RAW_ID_CLAMP,
    file_sha256,
    locate_imdb,
    read_imdb_file,
    save_imdb_file,
)


def _as_lists(reviews):
    return [[int(w) for w in r] for r in reviews]


@pytest.fixture
def imdb_file(tmp_path, rng):
    def reviews(n):
        return [list(rng.integers(1, 60, size=rng.integers(0, 30))) for _ in range(n)]

    corpus = {
        "x_train": reviews(37),
        "y_train": rng.integers(0, 2, size=37),
        "x_test": reviews(23),
        "y_test": rng.integers(0, 2, size=23),
    }
    path = tmp_path / "imdb.npz"
    save_imdb_file(path, **corpus)
    return path, corpus


# --------------------------------------------------------------------------- admitted forms


def test_file_round_trips_through_keras_layout(imdb_file):
    """Kills: a reader that drops, reorders or re-types reviews or labels."""
    path, corpus = imdb_file
    raw = read_imdb_file(path)
    assert _as_lists(raw.x_train) == _as_lists(corpus["x_train"])
    assert _as_lists(raw.x_test) == _as_lists(corpus["x_test"])
    np.testing.assert_array_equal(raw.y_train, corpus["y_train"])
    np.testing.assert_array_equal(raw.y_test, corpus["y_test"])


@pytest.mark.parametrize("module", ["numpy.core.multiarray", "numpy._core.multiarray"])
@pytest.mark.parametrize("method", [0, 8], ids=["stored", "deflated"])
@pytest.mark.parametrize("writer", ["python2-protocol2", "numpy.save"])
def test_every_admitted_form_reads_like_np_load(tmp_path, module, method, writer):
    """Both numpy spellings, stored and deflated members, Keras's original Python-2 pickle and
    today's numpy.save (protocol 4, frames, memoized strings). np.load on the same file is the
    reference. Kills: a walker that mishandles GLOBAL vs STACK_GLOBAL, BINSTRING vs
    BINUNICODE, BINPUT vs MEMOIZE, APPEND vs APPENDS, or refuses one spelling."""
    rows = [*craft.SMALL["x_train"], list(range(2500)), [65535, 65536, 2**31 - 1]]
    members = craft.imdb_members(rows, [0, 1] * 3, craft.SMALL["x_test"], craft.SMALL["y_test"])
    if writer == "python2-protocol2":
        members["x_train"] = craft.npy_object(craft.py2_pickle(rows, module=module), len(rows))
    elif module == "numpy.core.multiarray":
        # numpy 2 writes numpy._core; the old spelling, as numpy 1.x wrote it (GLOBAL opcode).
        body = pickle.dumps(craft.ragged(rows), protocol=3)
        body = body.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
        members["x_train"] = craft.npy_object(body, len(rows))
    path = craft.write(tmp_path / "f.npz", craft.zip_bytes(members, method=method))
    if module == "numpy._core.multiarray" and np.lib.NumpyVersion(np.__version__) < "2.0.0":
        # numpy 1.x has no numpy._core: its np.load cannot read numpy 2's spelling at all
        # (ModuleNotFoundError; tox -e oldest, numpy 1.26.0), so the rows written stand in.
        expected = [list(r) for r in rows]
    else:
        with np.load(path, allow_pickle=True, encoding="latin1") as z:
            expected = _as_lists(z["x_train"])
    assert _as_lists(read_imdb_file(path).x_train) == expected


def test_equal_length_reviews_saved_as_a_2d_int_array_are_read(tmp_path):
    """numpy.save of equal-length lists gives a 2-D int array, not an object array."""
    members = craft.imdb_members(**craft.SMALL)
    members["x_train"] = craft.npy(np.array([[1, 2], [3, 4], [5, 6], [7, 8]], dtype=np.int32))
    path = craft.write(tmp_path / "f.npz", craft.zip_bytes(members))
    assert _as_lists(read_imdb_file(path).x_train) == [[1, 2], [3, 4], [5, 6], [7, 8]]


def test_the_walker_never_admits_a_stream_pickletools_cannot_parse(tmp_path):
    """Differential check against pickletools.genops, the reference decoder: on the admitted
    pattern both agree on where the pickle stops; truncated copies that genops rejects are
    refused too. Kills: a walker that reads past an opcode's argument or accepts a stream
    that ends early."""
    rows = [[1, 300, 70000], [], [2**40]]
    body = pickle.dumps(craft.ragged(rows), protocol=4)
    ops = list(pickletools.genops(body))
    assert ops[-1][0].name == "STOP"
    for cut in range(1, len(body)):
        with pytest.raises(ValueError):
            list(pickletools.genops(body[:cut]))  # genops: malformed
        members = craft.imdb_members(**craft.SMALL)
        members["x_train"] = craft.npy_object(body[:cut], len(rows))
        path = craft.write(tmp_path / "t.npz", craft.zip_bytes(members))
        with pytest.raises(ReproError):
            read_imdb_file(path)


def test_reading_never_unpickles(monkeypatch, imdb_file):
    """No pickle machinery at all: loads, load and Unpickler are booby-trapped, and the read
    must still succeed and return the reviews. Kills: a regression to np.load or any
    restricted-unpickler design."""
    path, corpus = imdb_file

    def forbidden(*a, **k):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    raw = read_imdb_file(path)
    assert _as_lists(raw.x_train) == _as_lists(corpus["x_train"])


# --------------------------------------------------------------------------- Keras's rules

EXTREME_IDS = [2**31 - 4, 2**31, 2**63 - 2, 2**63, 2**64, 2**64 + 7, 10**30]


@pytest.fixture
def keras_load_data(monkeypatch):
    """keras.datasets.imdb.load_data, pointed at a file instead of the download."""
    import keras
    from keras.src.datasets import imdb as keras_imdb

    def load(path, **kwargs):
        monkeypatch.setattr(keras_imdb, "get_file", lambda **_: str(path))
        return keras.datasets.imdb.load_data(**kwargs)

    return load


def test_loader_matches_keras_load_data_on_a_written_file(imdb_file, keras_load_data):
    """Our preprocessing against keras.datasets.imdb.load_data itself, pointed at our file."""
    import keras

    path, _ = imdb_file
    num_words, max_len = 40, 12  # small enough that OOV replacement and truncation both happen
    (kx_train, ky_train), (kx_test, ky_test) = keras_load_data(path, num_words=num_words)
    ds = load_imdb(path, num_words=num_words, max_len=max_len)
    np.testing.assert_array_equal(ds.x_train, keras.utils.pad_sequences(kx_train, maxlen=max_len))
    np.testing.assert_array_equal(ds.x_test, keras.utils.pad_sequences(kx_test, maxlen=max_len))
    np.testing.assert_array_equal(ds.y_train, ky_train)
    np.testing.assert_array_equal(ds.y_test, ky_test)
    assert (ds.x_train == OOV_CHAR).any(), "the file should exercise OOV replacement"


@pytest.mark.parametrize("num_words", [10, 10000, 2**31 - 1])
def test_extreme_ids_follow_keras_load_data_exactly(tmp_path, keras_load_data, num_words):
    """Ids at and beyond 2**31, 2**63 and 2**64 (Python ints in the pickle, as Keras reads
    them): each becomes OOV exactly when Keras's arbitrary-precision rule says so, with
    num_words up to the int32 limit. Kills: wrap-around (2**64 + 7 -> 7), int64 overflow of
    the +3 shift (2**63 - 2 -> negative), and a clamp that lands below num_words."""
    import keras

    rows = [[5, *EXTREME_IDS], EXTREME_IDS[::-1], [1, 2]]
    path = tmp_path / "extreme.npz"
    save_imdb_file(path, x_train=rows, y_train=[0, 1, 0], x_test=rows[:1], y_test=[1])
    (kx, ky), _ = keras_load_data(path, num_words=num_words)
    ours = load_imdb(path, num_words=num_words, max_len=12)
    np.testing.assert_array_equal(ours.x_train, keras.utils.pad_sequences(kx, maxlen=12))
    np.testing.assert_array_equal(ours.y_train, ky)


def test_a_uint64_id_near_2_64_becomes_oov_instead_of_wrapping(tmp_path):
    """A 2-D uint64 array (no pickle): 2**64 - 1 must not wrap through int conversion to a
    small, valid-looking id. (Keras's own loader would add 3 in uint64 and wrap here; the rule
    it documents, id >= num_words -> OOV, is what is followed.)"""
    members = craft.imdb_members(**craft.SMALL)
    members["x_train"] = craft.npy(
        np.array([[2**64 - 1, 5], [2**63, 6], [7, 8], [9, 10]], np.uint64)
    )
    path = craft.write(tmp_path / "u.npz", craft.zip_bytes(members))
    ds = load_imdb(path, num_words=100, max_len=3)
    rows = {tuple(r) for r in ds.x_train}
    assert rows == {(1, OOV_CHAR, 8), (1, OOV_CHAR, 9), (1, 10, 11), (1, 12, 13)}
    assert int(read_imdb_file(path).x_train[0][0]) == RAW_ID_CLAMP


def test_padding_matches_keras_pad_sequences(rng):
    import keras

    seqs = [list(rng.integers(1, 99, size=n)) for n in (0, 1, 5, 8, 9, 30)]
    np.testing.assert_array_equal(pad_pre(seqs, max_len=8), keras.utils.pad_sequences(seqs, 8))


def test_loaded_dataset_records_the_files_sha256(imdb_file):
    path, _ = imdb_file
    ds = load_imdb(path, num_words=100, max_len=10)
    assert ds.identity()["sha256"] == file_sha256(path)
    assert ds.identity()["official"] is False


def test_the_file_is_read_once_and_hashed_in_that_read(imdb_file, monkeypatch):
    """load_imdb reads an imdb.npz once (beside aclimdb.kind_of's 2-byte sniff of its magic):
    the SHA-256 it records is of the bytes it parsed. Kills: hashing by a second read (a file
    swapped between the two reads would be recorded under a hash it was not trained on), and
    a hash of anything but the file's bytes."""
    import builtins
    import hashlib

    path, _ = imdb_file
    reads: list[list[int]] = []  # bytes read, per open of the file
    real_open = builtins.open

    class Counted:
        def __init__(self, f):
            self._f, self._n = f, []
            reads.append(self._n)

        def read(self, *args):
            data = self._f.read(*args)
            self._n.append(len(data))
            return data

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self._f.__exit__(*exc)

    def counting_open(file, *args, **kwargs):
        f = real_open(file, *args, **kwargs)
        return Counted(f) if str(file) == str(path) else f

    monkeypatch.setattr(builtins, "open", counting_open)
    ds = load_imdb(path, num_words=100, max_len=10)
    full = [sum(n) for n in reads if sum(n) > 2]
    assert full == [path.stat().st_size], reads
    assert ds.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_path_is_resolved_once_per_load(imdb_file, isolated_keras_home, monkeypatch):
    """load_dataset finds the file in one place (data.resolve_imdb): the named path is looked
    up once whether it comes from --imdb-path, $LSTM_REPRO_IMDB, or is absent and the Keras
    cache answers. Kills: a second resolution (the three issue 20 found in cli, data and imdb),
    under which an env var changed mid-run could make the hash and the reviews disagree."""
    from lstm_repro import data

    path, _ = imdb_file
    calls = []
    real = data.named_imdb_path

    def counting(explicit, **kwargs):
        calls.append(explicit)
        return real(explicit, **kwargs)

    monkeypatch.setattr(data, "named_imdb_path", counting)
    monkeypatch.setattr("lstm_repro.imdb.named_imdb_path", counting)
    (isolated_keras_home / "datasets" / "imdb.npz").write_bytes(path.read_bytes())
    for kind, explicit, env in (
        ("imdb", str(path), None),
        ("auto", None, str(path)),
        ("imdb-early", None, None),
        ("auto", None, None),
    ):
        if env is None:
            monkeypatch.delenv("LSTM_REPRO_IMDB", raising=False)
        else:
            monkeypatch.setenv("LSTM_REPRO_IMDB", env)
        calls.clear()
        ds = load_dataset(kind, num_words=100, max_len=12, seed=0, imdb_path=explicit)
        assert len(calls) == 1, (kind, calls)
        assert ds.name.startswith("imdb")


def test_the_official_hash_marks_a_file_official(imdb_file, monkeypatch):
    """`official: true` comes from comparing the file's SHA-256 with Keras's published one.
    Kills: an `official` flag that is always false, or true for any file."""
    path, _ = imdb_file
    monkeypatch.setattr("lstm_repro.corpus.IMDB_SHA256", file_sha256(path))
    assert load_imdb(path, num_words=100, max_len=10).identity()["official"] is True
    assert len(IMDB_SHA256) == 64 and file_sha256(path) != IMDB_SHA256


# --------------------------------------------------------------------------- finding the file


def test_explicit_path_wins_over_env_and_cache(
    imdb_file, isolated_keras_home, monkeypatch, tmp_path
):
    path, _ = imdb_file
    other = tmp_path / "other.npz"
    other.write_bytes(path.read_bytes())
    (isolated_keras_home / "datasets" / "imdb.npz").write_bytes(path.read_bytes())
    monkeypatch.setenv("LSTM_REPRO_IMDB", str(other))
    assert locate_imdb(str(path)) == path
    assert locate_imdb(None) == other
    monkeypatch.delenv("LSTM_REPRO_IMDB")
    assert locate_imdb(None) == isolated_keras_home / "datasets" / "imdb.npz"


def test_nothing_found_says_where_it_looked_and_how_to_fix_it(isolated_keras_home):
    with pytest.raises(ReproError) as err:
        locate_imdb(None)
    for expected in (
        "--imdb-path",
        "LSTM_REPRO_IMDB",
        str(isolated_keras_home),
        "--data synthetic",
    ):
        assert expected in str(err.value)


def test_the_download_step_is_skipped_offline(isolated_keras_home, monkeypatch):
    calls = []
    monkeypatch.setattr("keras.utils.get_file", lambda *a, **k: calls.append(a))
    with pytest.raises(ReproError):
        locate_imdb(None)
    assert calls == []  # LSTM_REPRO_OFFLINE=1 (tests/conftest.py): no attempt made


@pytest.mark.parametrize("how", ["flag", "env"])
@pytest.mark.parametrize("target", ["missing", "directory", "empty"])
def test_a_named_file_that_is_not_there_is_an_error_even_in_auto(
    isolated_keras_home, monkeypatch, tmp_path, how, target
):
    """No silent substitution: --data auto with a named file that is missing, a directory or
    an empty string must fail, not train on the synthetic corpus. Kills: the old fallback."""
    value = {"missing": str(tmp_path / "typo.npz"), "directory": str(tmp_path), "empty": ""}[target]
    if how == "env":
        if target == "empty":
            pytest.skip("an empty $LSTM_REPRO_IMDB means unset, like other variables")
        monkeypatch.setenv("LSTM_REPRO_IMDB", value)
    kwargs = {"imdb_path": value} if how == "flag" else {}
    with pytest.raises(ReproError, match=r"no such file|is a directory|is empty"):
        load_dataset("auto", num_words=100, max_len=10, seed=1, **kwargs)


def test_auto_falls_back_to_synthetic_only_when_nothing_was_named(isolated_keras_home, caplog):
    import logging

    with caplog.at_level(logging.WARNING):
        ds = load_dataset(
            "auto", num_words=100, max_len=10, seed=1, train_samples=8, test_samples=4
        )
    assert ds.name == "synthetic"
    assert "SYNTHETIC" in caplog.text


def test_auto_uses_imdb_from_the_keras_cache(imdb_file, isolated_keras_home):
    path, _ = imdb_file
    (isolated_keras_home / "datasets" / "imdb.npz").write_bytes(path.read_bytes())
    ds = load_dataset("auto", num_words=100, max_len=10, seed=1)
    assert ds.name == "imdb" and ds.sha256 == file_sha256(path)


def test_sample_flags_take_the_first_n_and_refuse_more_than_the_split_has(imdb_file):
    """Kills: a silent clamp (asking for 1,000 of 37 and getting 37 without a word)."""
    path, _ = imdb_file
    full = load_dataset("imdb", imdb_path=str(path), num_words=100, max_len=10, seed=1)
    head = load_dataset(
        "imdb",
        imdb_path=str(path),
        num_words=100,
        max_len=10,
        seed=1,
        train_samples=5,
        test_samples=3,
    )
    np.testing.assert_array_equal(head.x_train, full.x_train[:5])
    np.testing.assert_array_equal(head.y_test, full.y_test[:3])
    with pytest.raises(ReproError, match=r"--train-samples 1000: the imdb split has 37 reviews"):
        load_dataset(
            "imdb", imdb_path=str(path), num_words=100, max_len=10, seed=1, train_samples=1000
        )


def test_caps_are_at_least_five_times_the_official_file():
    """The caps must never refuse the real file: 17.5 MB, 50,000 reviews, ~11.8 M ids."""
    assert imdb.MAX_FILE_BYTES >= 5 * 17_500_000
    assert imdb.MAX_REVIEWS >= 5 * 50_000
    assert imdb.MAX_TOKENS >= 5 * 11_800_000


def test_keras_cache_is_keras_home_else_dot_keras_in_home(tmp_path, monkeypatch):
    """Where Keras's load_data() leaves the file: $KERAS_HOME/datasets/imdb.npz, else
    ~/.keras/datasets/imdb.npz (also when KERAS_HOME is empty). Kills: another file or folder
    name, ~ not expanded, an empty KERAS_HOME taken as the current directory."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert imdb.keras_cache_path() == tmp_path / "kh" / "datasets" / "imdb.npz"
    for unset in (monkeypatch.delenv, lambda name: monkeypatch.setenv(name, "")):
        unset("KERAS_HOME")
        assert imdb.keras_cache_path() == tmp_path / ".keras" / "datasets" / "imdb.npz"


class _Connection:
    closed = False

    def close(self):
        self.closed = True


@pytest.mark.parametrize(("offline", "attempted"), [("1", False), ("yes", False), ("0", True)])
def test_online_asks_one_connection_to_the_download_host_unless_offline(
    monkeypatch, offline, attempted
):
    """_online() opens (and closes) one TCP connection to the download host on 443 within 2 s;
    LSTM_REPRO_OFFLINE set to anything but "" or "0" means no attempt. Kills: another host,
    port or timeout, the connection left open, a failure read as online, the offline switch
    read the wrong way."""
    calls, connection = [], _Connection()

    def connect(address, timeout):
        calls.append((address, timeout))
        return connection

    monkeypatch.setattr(imdb.socket, "create_connection", connect)
    monkeypatch.setenv("LSTM_REPRO_OFFLINE", offline)
    assert imdb._online() is attempted
    expected = [(("storage.googleapis.com", 443), 2.0)] if attempted else []
    assert calls == expected and connection.closed is attempted
    monkeypatch.delenv("LSTM_REPRO_OFFLINE")
    assert imdb._online() is True

    def refuse(address, timeout):
        raise OSError("network is unreachable")

    monkeypatch.setattr(imdb.socket, "create_connection", refuse)
    assert imdb._online() is False


def test_the_download_is_keras_get_file_of_the_official_file_and_a_failure_advises(
    isolated_keras_home, monkeypatch, caplog
):
    """Online with nothing named or cached: keras.utils.get_file("imdb.npz") from IMDB_URL,
    checked against IMDB_SHA256, and its path returned. A failed download ends in the same
    advice as offline, whole; allow_download=False never tries. Kills: another origin, no
    hash check, the downloaded path dropped, a failure raised as a traceback, the advice
    changed, the download tried when it was not allowed."""
    import logging

    import keras

    calls = []

    def get_file(name, *, origin, file_hash):
        calls.append((name, origin, file_hash))
        return str(isolated_keras_home / "datasets" / name)

    monkeypatch.setattr(imdb, "_online", lambda: True)
    monkeypatch.setattr(keras.utils, "get_file", get_file)
    assert locate_imdb(None) == isolated_keras_home / "datasets" / "imdb.npz"
    assert calls == [("imdb.npz", imdb.IMDB_URL, imdb.IMDB_SHA256)]
    cache = isolated_keras_home / "datasets" / "imdb.npz"
    assert caplog.messages == [f"downloading IMDB from {imdb.IMDB_URL} into {cache.parent}"]
    caplog.clear()
    for refuse_download in (imdb.find_unnamed_imdb, locate_imdb):
        with pytest.raises(ReproError):
            refuse_download(allow_download=False)
    assert len(calls) == 1

    def broken(name, *, origin, file_hash):
        raise OSError("connection reset")

    monkeypatch.setattr(keras.utils, "get_file", broken)
    with caplog.at_level(logging.WARNING), pytest.raises(ReproError) as err:
        imdb.find_unnamed_imdb()
    assert str(err.value) == (
        "the IMDB file was not found. Looked for: --imdb-path (not given), "
        f"$LSTM_REPRO_IMDB (not set), Keras's cache {cache} (absent), and a download from "
        f"{imdb.IMDB_URL} (offline or failed). Fix: on a machine with internet run "
        '`python -c "import keras; keras.datasets.imdb.load_data()"`, copy '
        "~/.keras/datasets/imdb.npz here and pass --imdb-path FILE (or set $LSTM_REPRO_IMDB); "
        "or use --data synthetic."
    )
    assert caplog.messages == [
        f"downloading IMDB from {imdb.IMDB_URL} into {cache.parent}",
        "IMDB download failed: connection reset",
    ]


def test_a_value_quoted_in_a_refusal_is_cut_to_60_characters():
    """A crafted pickle's state is quoted in its refusal, at most 60 characters. Kills: another
    limit, or a cut that loses the "..." or keeps more than 57 characters of the value."""
    for n in (58, 59):  # repr adds two quotes: 60 and 61 characters
        text = "x" * n
        assert imdb._short(text) == (repr(text) if n == 58 else repr(text)[:57] + "...")
    assert len(imdb._short("y" * 500)) == 60 and imdb._short(5) == "5"


def test_an_exception_quoted_in_a_refusal_is_one_line_of_at_most_200_characters():
    """A zip or numpy error quoted in a refusal: whitespace folded, at most 200 characters, and
    the exception's type when it says nothing. Kills: another limit, the type of something
    else named."""
    assert imdb._one_line(ValueError("bad\n  header\tat 3")) == "bad header at 3"
    assert imdb._one_line(ValueError("z" * 300)) == "z" * 200
    assert imdb._one_line(EOFError()) == "EOFError"


def test_a_file_that_cannot_be_hashed_is_named_with_why(tmp_path):
    """file_sha256's refusal names the path and the system's reason. Kills: a message without
    either (None, or the error object in place of its reason)."""
    with pytest.raises(ReproError) as err:
        imdb.file_sha256(tmp_path)
    assert str(err.value) == f"{tmp_path}: cannot read (Is a directory)"


# --------------------------------------------------------------------------- the reader's edges
# In-process, so that mutation testing sees them (issue 20): each reads a crafted file just
# inside a bound and just outside it, the caps lowered by monkeypatch to the file's own sizes.


def _read(tmp_path, members: dict) -> imdb.RawImdb:
    return read_imdb_file(craft.write(tmp_path / "x.npz", craft.zip_bytes(members)))


def _refusal(tmp_path, members: dict) -> str:
    with pytest.raises(ReproError) as err:
        _read(tmp_path, members)
    head = f"{tmp_path / 'x.npz'}: not an IMDB file this reader admits: "
    assert str(err.value).startswith(head), err.value
    return str(err.value)[len(head) :]


def _members(**changes) -> dict:
    return {**craft.imdb_members(**craft.SMALL), **changes}


def _int_rows(rows, dtype=np.int64) -> bytes:
    return craft.npy(np.array(rows, dtype=dtype))


@pytest.mark.parametrize(
    "form", ["numpy.save", "python 2", "2-D int array"], ids=["npsave", "py2", "2d"]
)
def test_the_word_id_caps_hold_at_their_value_and_refuse_one_past(tmp_path, monkeypatch, form):
    """SMALL holds 10 ids in x_train and 13 in all (2-D: 12 and 18). At a cap equal to a
    member's ids the member reads, and the file is refused only for its total; one below,
    the member itself is refused. Kills: > for >= (or the reverse) in each count, ids
    counted twice or not added up, the total not checked."""
    members = _members()
    if form == "python 2":
        members["x_train"] = craft.npy_object(craft.py2_pickle(craft.SMALL["x_train"]), 4)
    if form == "2-D int array":
        members["x_train"] = _int_rows([[1, 2, 3]] * 4)
        members["x_test"] = _int_rows([[4, 5, 6]] * 2)
    n_train, n_all = (12, 18) if form == "2-D int array" else (10, 13)
    monkeypatch.setattr(imdb, "MAX_TOKENS", n_all)
    assert sum(map(len, _read(tmp_path, members).x_train)) == n_train
    monkeypatch.setattr(imdb, "MAX_TOKENS", n_all - 1)
    assert _refusal(tmp_path, members) == f"more than {n_all - 1} word ids in all"
    monkeypatch.setattr(imdb, "MAX_TOKENS", n_train)
    assert _refusal(tmp_path, members) == f"more than {n_train} word ids in all"
    monkeypatch.setattr(imdb, "MAX_TOKENS", n_train - 1)
    expected = {
        "2-D int array": f"x_train holds {n_train} word ids (at most {n_train - 1})",
    }.get(form, f"x_train: more than {n_train - 1} word ids")
    assert _refusal(tmp_path, members) == expected


def test_the_review_caps_hold_at_their_value_and_refuse_one_past(tmp_path, monkeypatch):
    """x_train holds 4 reviews. A cap of 4 reads it, 3 refuses it, in a pickle (its header)
    and in a 2-D array (its rows, not its columns); a pickle whose list holds more reviews than
    its header declares is refused as the list grows past the cap. Kills: > for >= in each,
    columns counted as reviews, a list allowed to grow past the cap."""
    wide = _members(x_train=_int_rows([[1, 2, 3, 4, 5]] * 4))
    monkeypatch.setattr(imdb, "MAX_REVIEWS", 4)
    assert len(_read(tmp_path, _members()).x_train) == 4
    assert len(_read(tmp_path, wide).x_train) == 4
    monkeypatch.setattr(imdb, "MAX_REVIEWS", 3)
    assert _refusal(tmp_path, _members()) == "x_train declares 4 reviews (at most 3)"
    assert _refusal(tmp_path, wide) == "x_train holds 4 reviews (at most 3)"
    six = craft.npy_object(craft.py2_pickle([[1]] * 6), 4)  # the header says 4
    monkeypatch.setattr(imdb, "MAX_REVIEWS", 5)
    assert _refusal(tmp_path, _members(x_train=six)) == "x_train: more than 5 reviews"
    monkeypatch.setattr(imdb, "MAX_REVIEWS", 6)
    assert _refusal(tmp_path, _members(x_train=six)) == (
        "x_train: pickled array of shape (6,) does not match its header (4,)"
    )


def test_word_id_zero_is_read_on_every_path_and_counted_once(tmp_path, monkeypatch):
    """Keras pads with 0, so 0 is a word id like any other: read from a pickle's fast path
    (plain ints), its slow path (a batch with an id over 2**31, which is clamped) and a 2-D
    array. Each id counts once against the cap. Kills: 0 refused as negative (<= 0, < 1), a
    slow-path id counted twice."""
    rows = [[0, 2**40], [0], [3], [0, 0]]
    members = _members(x_train=craft.npy(craft.ragged(rows)))
    raw = _read(tmp_path, members)
    assert [r.tolist() for r in raw.x_train] == [[0, RAW_ID_CLAMP], [0], [3], [0, 0]]
    assert all(r.dtype == np.int32 for r in raw.x_train)
    monkeypatch.setattr(imdb, "MAX_TOKENS", 6)  # x_train 6 ids: read; 9 in all: refused
    assert _refusal(tmp_path, members) == "more than 6 word ids in all"
    monkeypatch.undo()
    raw = _read(tmp_path, _members(x_train=_int_rows([[0, 1], [2, 0], [0, 0], [5, 6]])))
    assert raw.x_train[2].tolist() == [0, 0] and raw.x_train[0].dtype == np.int32


def test_a_small_integer_dtype_is_read_without_clamping(tmp_path):
    """An int16 or uint8 2-D array cannot hold an id past the clamp: it is read as it is,
    as int32 rows. Kills: the clamp applied to every dtype (RAW_ID_CLAMP overflows int16),
    rows left in the file's dtype or made float."""
    for dtype in (np.int16, np.uint8):
        raw = _read(tmp_path, _members(x_train=_int_rows([[1, 200]] * 4, dtype)))
        assert [r.tolist() for r in raw.x_train] == [[1, 200]] * 4
        assert all(r.dtype == np.int32 for r in raw.x_train)
        assert raw.y_train.dtype == np.int32


def test_member_shapes_and_kinds_the_reader_refuses_whole(tmp_path):
    """Each refusal of a member's shape or kind, to its whole words. Kills: a refusal's text
    lost or changed, booleans read as word ids, a label list cut at another length."""
    cases = {
        "x_train must hold one id list per review, got an array of shape (4,)": {
            "x_train": _int_rows([1, 2, 3, 4])
        },
        "x_train holds booleans, not word ids": {"x_train": _int_rows([[1, 0]] * 4, np.bool_)},
        "y_train holds labels outside {0, 1}: [2, 3, 4, 5, 6]": {
            "y_train": _int_rows([2, 3, 4, 5, 6, 7, 0]),
            "x_train": craft.npy(craft.ragged([[1]] * 7)),
        },
    }
    for reason, changes in cases.items():
        assert _refusal(tmp_path, _members(**changes)) == reason


def _py2(reviews=((1, 2), (3,), (), (4,)), **edits) -> bytes:
    """craft.py2_pickle with byte edits: what numpy's state tuple holds, changed."""
    body = craft.py2_pickle([list(r) for r in reviews])
    spots = {
        "version": (b"Rq\x05(K\x01", b"Rq\x05(K\x02"),
        "no fortran flag": (b"\x89]q\x0d", b"]q\x0d"),
        "fortran as int 1": (b"\x89]q\x0d", b"K\x01]q\x0d"),
        "fortran true": (b"\x89]q\x0d", b"\x88]q\x0d"),
        "dtype not built": (
            b"(K\x03U\x01|q\x0bNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tq\x0cb",
            b"",
        ),
        "an id beside the reviews": (b"]q\x0d(", b"]q\x0d(K\x05"),
        "a tuple for the list": (b"\x89]q\x0d", b"\x89)q\x0d"),
    }
    for name in edits:
        old, new = spots[name]
        assert body.count(old) == 1, name
        body = body.replace(old, new)
    return craft.npy_object(body, len(reviews))


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ("version", "x_train: unexpected array state in pickle"),
        ("no fortran flag", "x_train: unexpected array state in pickle"),
        ("dtype not built", "x_train: unexpected array state in pickle"),
        ("fortran as int 1", "x_train: unexpected array state in pickle"),
        ("fortran true", "x_train: unexpected array state in pickle"),
        ("a tuple for the list", "x_train: malformed pickle (APPEND to a non-list)"),
        ("an id beside the reviews", "x_train: pickled array does not hold one id list per review"),
    ],
)
def test_a_pickled_array_state_that_numpy_never_writes_is_refused(tmp_path, edit, reason):
    """The state numpy's BUILD gets: (1, (n,), dtype('O') built, False, [n lists]). Each field
    changed alone is refused, whole. Kills: any one field's check dropped (or `and` for
    `or` between them), fortran order read as 1, an id beside the reviews ignored."""
    assert [r.tolist() for r in _read(tmp_path, _members(x_train=_py2())).x_train] == [
        [1, 2],
        [3],
        [],
        [4],
    ]
    assert _refusal(tmp_path, _members(x_train=_py2(**{edit: True}))) == reason


def test_a_named_path_that_is_empty_or_a_plain_directory_says_which_name(tmp_path, monkeypatch):
    """The flag (or variable) the path came from opens the error. Kills: another default
    flag name, the origin left out of a directory's error."""
    from lstm_repro.imdb import named_imdb_path

    with pytest.raises(ReproError) as err:
        named_imdb_path("  ")
    assert str(err.value) == "--imdb-path is empty; give the path of an imdb.npz file"
    with pytest.raises(ReproError) as err:
        named_imdb_path(str(tmp_path))
    assert str(err.value).startswith(
        f"--imdb-path {tmp_path}: is a directory without the aclImdb layout"
    )
    monkeypatch.setenv("LSTM_REPRO_IMDB", str(tmp_path))
    with pytest.raises(ReproError) as err:
        named_imdb_path(None)
    assert str(err.value).startswith(f"$LSTM_REPRO_IMDB {tmp_path}: is a directory")


def test_a_review_list_shared_through_the_memo_counts_each_time_it_is_used(tmp_path, monkeypatch):
    """A pickle may name one list again by its memo entry (BINGET): 3 ids stored, 12 read.
    The cap counts what is read. Kills: the total over the reviews not checked (only the ids
    stored would count), > for >= in it."""
    body = craft.py2_pickle([[1, 2, 3], [7], [8], [9]])
    for memo, word in ((15, 7), (16, 8), (17, 9)):
        old = b"]r" + memo.to_bytes(4, "little") + b"K" + bytes([word]) + b"a"
        assert body.count(old) == 1
        body = body.replace(old, b"h\x0e")  # the first review's list, memo 14
    members = _members(x_train=craft.npy_object(body, 4))
    monkeypatch.setattr(imdb, "MAX_TOKENS", 15)  # 12 + x_test's 3
    assert [r.tolist() for r in _read(tmp_path, members).x_train] == [[1, 2, 3]] * 4
    monkeypatch.setattr(imdb, "MAX_TOKENS", 12)
    assert _refusal(tmp_path, members) == "more than 12 word ids in all"
    monkeypatch.setattr(imdb, "MAX_TOKENS", 11)
    assert _refusal(tmp_path, members) == "x_train: more than 11 word ids"


def test_ids_in_lists_nested_inside_reviews_count_against_the_cap(tmp_path, monkeypatch):
    """Ids go to the cap as they are read, wherever they land: two reviews each holding a
    nested list of 3 ids (a file this reader refuses in the end) pass 6 ids through the
    walker, which a cap of 5 stops before the end. Kills: the running count replaced by each
    batch's (3 at a time never passes 5), so the walk reaches the nested-list refusal."""
    body = craft.py2_pickle([[9], [8], [], []])
    for word, nested in ((9, b"K\x01K\x02K\x03"), (8, b"K\x04K\x05K\x06")):
        old = b"K" + bytes([word]) + b"a"
        assert body.count(old) == 1
        body = body.replace(old, b"](" + nested + b"ea")
    members = _members(x_train=craft.npy_object(body, 4))
    assert _refusal(tmp_path, members) == "x_train: a review holds a list, not word ids"
    monkeypatch.setattr(imdb, "MAX_TOKENS", 5)
    assert _refusal(tmp_path, members) == "x_train: more than 5 word ids"


def _bodies() -> dict[str, bytes]:
    """x_train's pickle as each writer wrote it: Python 2's numpy (LONG_BINPUT, GLOBAL,
    SHORT_BINSTRING, LONG1 for a large id), and Python 3's numpy under protocols 3 to 5
    (BINPUT, BINUNICODE, SHORT_BINBYTES, FRAME, MEMOIZE, STACK_GLOBAL, BINGET)."""
    rows = [[1, 2, 300], [70000], [], [2**40, 5]]
    bodies = {"python 2": craft.py2_pickle(rows)}
    for protocol in (3, 4, 5):
        bodies[f"protocol {protocol}"] = pickle.dumps(craft.ragged(rows), protocol)
    return bodies


@pytest.mark.parametrize("writer", ["python 2", "protocol 3", "protocol 4"])
def test_every_truncation_of_a_pickle_is_refused_as_a_truncation(tmp_path, writer):
    """Cut anywhere, a pickle is refused, never read and never an escaping exception: cut
    between opcodes, "pickle ends before its STOP opcode"; inside one (its argument short),
    "truncated inside an opcode", or what that opcode's partial bytes are (a GLOBAL without
    its newline, a PROTO without its number, a memo index that is not there). Kills: the
    end-of-stream check off by one (IndexError, or a byte past the end read), an argument's
    width or position miscounted (FRAME's 8, LONG_BINPUT's 4, LONG1's size byte)."""
    body = _bodies()[writer]
    starts = {pos for _, _, pos in pickletools.genops(body)}
    assert [
        r.tolist() for r in _read(tmp_path, _members(x_train=craft.npy_object(body, 4))).x_train
    ] == [
        [1, 2, 300],
        [70000],
        [],
        [RAW_ID_CLAMP, 5],
    ]
    inside = {
        "x_train: pickle is truncated inside an opcode",
        "x_train: malformed GLOBAL opcode in pickle",
        "x_train: pickle protocol outside 2..5",
    }
    for cut in range(len(body)):
        reason = _refusal(tmp_path, _members(x_train=craft.npy_object(body[:cut], 4)))
        if cut in starts:
            assert reason == "x_train: pickle ends before its STOP opcode", (cut, reason)
        else:
            assert reason in inside or reason.startswith(
                "x_train: pickle refers to an unknown memo"
            ), (
                cut,
                reason,
            )


def test_large_and_negative_ids_are_read_as_signed_little_endian(tmp_path):
    """LONG1 carries ids past 2**31 as signed little-endian bytes (and BININT those past
    2**16): a large one is clamped, a negative one refused with its value. Kills: LONG1 read
    unsigned (a negative id read as a huge one and clamped), from the wrong offset or width."""
    body = craft.py2_pickle([[2**40 + 7], [-(2**40)], [], [1]])
    assert _refusal(tmp_path, _members(x_train=craft.npy_object(body, 4))) == (
        f"x_train: holds a negative word id ({-(2**40)})"
    )
    body = craft.py2_pickle([[2**33 + 1, 2**20 + 3], [65536], [], [1]])
    raw = _read(tmp_path, _members(x_train=craft.npy_object(body, 4)))
    assert [r.tolist() for r in raw.x_train] == [[RAW_ID_CLAMP, 2**20 + 3], [65536], [], [1]]


@pytest.mark.parametrize("opcode", [b"h\x0e", b"j\x0e\x00\x00\x00"], ids=["BINGET", "LONG_BINGET"])
def test_a_memo_entry_is_fetched_by_its_little_endian_index(tmp_path, opcode):
    """BINGET (1-byte index) and LONG_BINGET (4-byte little-endian) fetch what LONG_BINPUT
    stored. Kills: LONG_BINGET read as 1 byte or 5, or big-endian (index 14 << 24)."""
    body = craft.py2_pickle([[1, 2, 3], [7], [], [9]])
    old = b"]r\x0f\x00\x00\x00K\x07a"
    assert body.count(old) == 1
    body = body.replace(old, opcode)
    raw = _read(tmp_path, _members(x_train=craft.npy_object(body, 4)))
    assert [r.tolist() for r in raw.x_train] == [[1, 2, 3], [1, 2, 3], [], [9]]


def test_strings_longer_than_the_admitted_pattern_or_not_utf8_are_refused(tmp_path):
    """A string of MAX_STRING bytes is walked (and refused for what it says), one byte more is
    refused before it is read; a BINUNICODE string that is not UTF-8 is refused as such.
    Kills: > for >= at the string cap, the UTF-8 refusal's words."""
    at_cap = b"\x80\x02U" + bytes([imdb.MAX_STRING]) + b"x" * imdb.MAX_STRING + b"."
    past = b"\x80\x02U" + bytes([imdb.MAX_STRING + 1]) + b"x" * (imdb.MAX_STRING + 1) + b"."
    not_utf8 = b"\x80\x04\x8c\x03\xff\xfe\xfd."
    reasons = [
        _refusal(tmp_path, _members(x_train=craft.npy_object(body, 4)))
        for body in (at_cap, past, not_utf8)
    ]
    assert reasons == [
        "x_train: the pickle does not hold a built object array",
        f"x_train: unexpected {imdb.MAX_STRING + 1}-byte string in pickle",
        "x_train: a pickled string is not valid UTF-8",
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x80\x02.", "malformed pickle (stack underflow)"),
        (b"\x80\x02K\x01(.", "malformed pickle (stack underflow)"),  # only a MARK above it
        (b"\x80\x02K\x01b.", "malformed pickle (BUILD on an empty stack)"),
        (b"\x80\x02K\x01(K\x02b.", "malformed pickle (BUILD on an empty stack)"),
        (b"\x80\x02e.", "malformed pickle (no MARK)"),
        (b"\x80\x02q\x00.", "malformed pickle (memo)"),
        (b"\x80\x02N.", "the pickle does not hold a built object array"),
        (
            b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R.",
            "the pickle does not hold a built object array",  # an array never BUILT
        ),
    ],
)
def test_a_malformed_pickle_is_refused_for_what_is_wrong_with_it(tmp_path, body, reason):
    """Stack discipline: a pop or BUILD may not reach below the last MARK or an empty stack,
    APPENDS needs a MARK, a memo entry needs something to name, and the pickle must end in a
    built object array. Kills: `and` for `or` in each guard (an IndexError instead, read as a
    truncation), < for <= against the MARK, a refusal's words."""
    members = _members(x_train=craft.npy_object(body, 4))
    assert _refusal(tmp_path, members) == f"x_train: {reason}"


def test_the_memo_is_capped_just_past_the_review_cap(tmp_path, monkeypatch):
    """numpy.save memoizes each review once: MAX_REVIEWS + 100 entries may be stored (and a
    102nd with MAX_REVIEWS = 1 still is), one more is refused. Kills: >= for >, the margin
    subtracted or grown."""
    monkeypatch.setattr(imdb, "MAX_REVIEWS", 1)

    def puts(k: int) -> bytes:
        return b"\x80\x02N" + b"".join(b"r" + i.to_bytes(4, "little") for i in range(k)) + b"."

    assert _refusal(tmp_path, _members(x_train=craft.npy_object(puts(102), 1))) == (
        "x_train: the pickle does not hold a built object array"
    )
    assert _refusal(tmp_path, _members(x_train=craft.npy_object(puts(103), 1))) == (
        "x_train: malformed pickle (memo)"
    )


def test_a_refused_dtype_state_is_quoted_readably(tmp_path):
    """NEWTRUE inside a quoted state reads True (not an object's address). Kills: the flag's
    value lost."""
    body = craft.py2_pickle([[1], [2], [], [3]])
    assert body.count(b"K?t") == 1
    body = body.replace(b"K?t", b"\x88t")
    assert _refusal(tmp_path, _members(x_train=craft.npy_object(body, 4))) == (
        "x_train: unexpected dtype state in pickle: (3, '|', None, None, None, -1, -1, True)"
    )


_RECONSTRUCT = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\n"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b"\x80\x02cnumpy.core.multiarray\nscalar\n.",
            "refusing to load numpy.core.multiarray.scalar from a pickle",
        ),
        (b"\x80\x02cos\n_reconstruct\n.", "refusing to load os._reconstruct from a pickle"),
        (b"\x80\x02cnumpy\nfromfile\n.", "refusing to load numpy.fromfile from a pickle"),
        (b"\x80\x02cos\nndarray\n.", "refusing to load os.ndarray from a pickle"),
        (b"\x80\x02K\x01)R.", "pickle calls a non-global with unexpected arguments"),
        (_RECONSTRUCT + b")R.", "pickle calls reconstruct with unexpected arguments"),
        (
            _RECONSTRUCT + b"cnumpy\nndarray\nK\x01\x85U\x01b\x87R.",
            "pickle calls reconstruct with unexpected arguments",
        ),
        (
            _RECONSTRUCT + b"cnumpy\ndtype\nK\x00\x85U\x01b\x87R.",
            "pickle calls reconstruct with unexpected arguments",
        ),
        (
            _RECONSTRUCT + b"cnumpy\ndtype\nK\x01\x85U\x01x\x87R.",
            "pickle calls reconstruct with unexpected arguments",
        ),
        (
            _RECONSTRUCT + b"K\x01K\x02K\x03\x87R.",
            "pickle calls reconstruct with unexpected arguments",
        ),
        (_RECONSTRUCT + b"K\x01\x85R.", "pickle calls reconstruct with unexpected arguments"),
        (b"\x80\x02]K\x01b.", "pickle BUILDs an object it may not"),
    ],
)
def test_only_numpys_own_globals_calls_and_builds_are_admitted(tmp_path, body, reason):
    """GLOBAL admits numpy's _reconstruct, ndarray and dtype and nothing else; REDUCE calls
    only _reconstruct(ndarray, (0,), b"b") and dtype("O8", False, True); BUILD only an object
    dtype or an array. Each argument of _reconstruct's call wrong alone is refused. Kills:
    `or` for `and` in any of these checks (a wrong call admitted, or an AttributeError
    escaping), a refusal's words."""
    assert _refusal(tmp_path, _members(x_train=craft.npy_object(body, 4))) == f"x_train: {reason}"


def test_the_object_dtype_may_be_named_by_bytes(tmp_path):
    """dtype's first argument is the str "O8" or, as some writers pickle it, the bytes b"O8".
    Kills: the bytes spelling refused."""
    body = craft.py2_pickle([[1], [2], [], [3]])
    assert body.count(b"U\x02O8") == 1
    body = body.replace(b"U\x02O8", b"C\x02O8")
    raw = _read(tmp_path, _members(x_train=craft.npy_object(body, 4)))
    assert [r.tolist() for r in raw.x_train] == [[1], [2], [], [3]]


def test_the_zip_caps_hold_at_their_value(tmp_path, monkeypatch):
    """A zip of 64 entries, a member of exactly MAX_MEMBER_BYTES, and a stored member (ratio
    1) at MAX_RATIO = 1 or just at RATIO_FLOOR_BYTES are all read; the refusals one past them
    are crafted cases in test_untrusted_input. Kills: >= for > at each cap, the ratio taken
    as a quotient the wrong way round."""
    import zipfile

    extras = {f"extra{i}": craft.npy(np.zeros(1, np.int64)) for i in range(60)}
    assert len(_read(tmp_path, {**_members(), **extras}).x_train) == 4
    path = craft.write(tmp_path / "stored.npz", craft.zip_bytes(_members(), method=0))
    with zipfile.ZipFile(path) as z:
        sizes = {i.filename: i.file_size for i in z.infolist()}
    largest = max(sizes.values())
    monkeypatch.setattr(imdb, "MAX_MEMBER_BYTES", largest)
    assert len(read_imdb_file(path).x_train) == 4
    monkeypatch.setattr(imdb, "MAX_MEMBER_BYTES", largest - 1)
    with pytest.raises(ReproError, match="bytes uncompressed"):
        read_imdb_file(path)
    monkeypatch.undo()
    smallest = min(sizes.values())
    for floor, ratio in ((smallest - 1, 1), (largest, 0)):
        monkeypatch.setattr(imdb, "RATIO_FLOOR_BYTES", floor)
        monkeypatch.setattr(imdb, "MAX_RATIO", ratio)
        assert len(read_imdb_file(path).x_train) == 4, (floor, ratio)


def test_a_zip_naming_a_member_twice_or_lacking_one_says_so_whole(tmp_path):
    """Two entries with one name are refused (which would numpy read?); a missing member's
    refusal lists what the zip holds, at most 8 names, without ".npy". Kills: the duplicate's
    words lost, the names listed with their suffix, more than 8 listed."""
    import io
    import warnings
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate it writes
        for key, data in _members().items():
            z.writestr(f"{key}.npy", data)
        z.writestr("y_test.npy", _members()["y_test"])
    path = craft.write(tmp_path / "dup.npz", buf.getvalue())
    with pytest.raises(ReproError) as err:
        read_imdb_file(path)
    assert str(err.value) == (
        f"{path}: not an IMDB file this reader admits: the zip holds two members named 'y_test.npy'"
    )
    members = {k: v for k, v in _members().items() if k != "y_test"}
    members |= {f"z{i}": craft.npy(np.zeros(1, np.int64)) for i in range(9)}
    assert _refusal(tmp_path, members) == (
        "missing arrays ['y_test']; an IMDB file holds ['x_train', 'y_train', 'x_test', "
        "'y_test'] (found ['x_test', 'x_train', 'y_train', 'z0', 'z1', 'z2', 'z3', 'z4'])"
    )


def test_npy_format_versions_1_2_and_3_are_read_and_others_refused(tmp_path):
    """numpy writes .npy 1.0, 2.0 (headers over 64 KiB) and 3.0 (utf-8 headers). Kills: a
    version refused or another admitted, the 2.0 header read wrongly."""
    labels = np.array([0, 1, 1, 0])
    for version in ((1, 0), (2, 0), (3, 0)):
        raw = _read(tmp_path, _members(y_train=craft.npy(labels, version=version)))
        assert raw.y_train.tolist() == [0, 1, 1, 0]
    for version in ((2, 1), (4, 0), (3, 1)):
        member = bytearray(craft.npy(labels, version=(2, 0)))
        member[6:8] = bytes(version)
        assert _refusal(tmp_path, _members(y_train=bytes(member))) == (
            f"y_train has .npy format version {version}, not 1.0, 2.0 or 3.0"
        )


def test_shapes_and_dtypes_a_header_may_declare(tmp_path):
    """A dimension of 0 is a shape (reviews with no ids); a negative one is not; an object
    array is one list per review; an integer array has at most 2 dimensions; floats are not
    word ids. Kills: 0 refused, a negative dimension or 3-D array admitted, a refusal's words
    lost, the float check joined to the structured-dtype check by `and`."""
    raw = _read(tmp_path, _members(x_train=_int_rows(np.zeros((4, 0)))))
    assert [r.tolist() for r in raw.x_train] == [[]] * 4
    refusals = {
        "x_train declares an invalid shape (-1,)": craft.npy_header((-1,), "<i8"),
        "x_train is an object array of shape (2, 2), not one list per review": (
            craft.npy_header((2, 2), "|O") + b"\x80\x02."
        ),
        "x_train has 3 dimensions (at most 2)": _int_rows(np.ones((4, 1, 1))),
        "x_train has dtype float64; only integer arrays or id lists are read": _int_rows(
            [[1.0]] * 4, np.float64
        ),
    }
    for reason, member in refusals.items():
        assert _refusal(tmp_path, _members(x_train=member)) == reason


def test_a_fortran_order_integer_array_is_read_in_its_rows(tmp_path):
    """An array saved in Fortran order holds its columns first; its rows are still the
    reviews. Kills: the header's fortran_order ignored (rows read as columns)."""
    rows = np.arange(1, 13).reshape(4, 3)
    member = craft.npy(np.asfortranarray(rows))
    assert b"'fortran_order': True" in member
    raw = _read(tmp_path, _members(x_train=member))
    assert [r.tolist() for r in raw.x_train] == rows.tolist()


def test_what_is_not_a_readable_regular_file_is_refused_whole(tmp_path):
    """Before a byte is parsed: a missing path, a directory, a FIFO (never opened: it could
    block) and a path through a file are each refused in their own words. Kills: a refusal
    without its words, the error object quoted in place of its reason."""
    import os

    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    (tmp_path / "file").write_bytes(b"")
    expected = {
        tmp_path / "none.npz": "no such file",
        tmp_path: "is a directory, not an IMDB file",
        fifo: "not a regular file",
        tmp_path / "file" / "x.npz": "cannot read (Not a directory)",
    }
    for path, reason in expected.items():
        with pytest.raises(ReproError) as err:
            read_imdb_file(path)
        assert str(err.value) == f"{path}: {reason}"


def test_the_file_size_cap_holds_at_its_value_and_what_the_descriptor_says_is_checked(
    tmp_path, monkeypatch
):
    """A file of exactly MAX_FILE_BYTES is read, one byte over is refused by its size; what
    is checked is the opened descriptor (a file swapped for a FIFO, or grown after the check,
    is refused, not read past the cap). Kills: >= for > in either size check, the
    descriptor's checks' words lost, a short read."""
    import os
    import stat as stat_module

    path = craft.write(tmp_path / "x.npz", craft.zip_bytes(_members()))
    size = path.stat().st_size
    monkeypatch.setattr(imdb, "MAX_FILE_BYTES", size)
    assert len(read_imdb_file(path).x_train) == 4
    monkeypatch.setattr(imdb, "MAX_FILE_BYTES", size - 1)
    with pytest.raises(ReproError) as err:
        read_imdb_file(path)
    assert str(err.value) == f"{path}: {size:,} bytes; an IMDB file is at most {size - 1:,}"
    real_fstat = os.fstat

    class Seen:  # what fstat reports: a FIFO, or the file before it grew
        def __init__(self, mode, st_size):
            self.st_mode, self.st_size = mode, st_size

    for seen, reason in (
        (Seen(stat_module.S_IFIFO | 0o644, size), "not a regular file"),
        (Seen(stat_module.S_IFREG | 0o644, 10), f"grew past {size - 1:,} bytes while being read"),
    ):
        monkeypatch.setattr(imdb.os, "fstat", lambda fd, seen=seen: seen)
        with pytest.raises(ReproError) as err:
            read_imdb_file(path)
        assert str(err.value) == f"{path}: {reason}"
        monkeypatch.setattr(imdb.os, "fstat", real_fstat)


def test_splits_must_pair_reviews_with_labels_and_not_be_empty(tmp_path, monkeypatch):
    """Kills: the count mismatch or the empty split refused without words, running out of
    memory as a traceback."""
    assert _refusal(tmp_path, _members(y_train=_int_rows([0, 1, 1]))) == (
        "x_train has 4 reviews but y_train 3 labels"
    )
    empty = _members(x_test=craft.npy(craft.ragged([])), y_test=_int_rows(np.zeros(0)))
    assert _refusal(tmp_path, empty) == "the test split is empty"

    def exhausted(data):
        raise MemoryError

    monkeypatch.setattr(imdb, "_read_members", exhausted)
    path = craft.write(tmp_path / "x.npz", craft.zip_bytes(_members()))
    with pytest.raises(ReproError) as err:
        read_imdb_file(path)
    assert str(err.value) == f"{path}: ran out of memory reading it"


def test_a_saved_file_keeps_keras_layout_whatever_the_label_dtype(tmp_path):
    """save_imdb_file writes labels as int64, as Keras's imdb.npz holds them, even from int32
    or bool arrays. Kills: labels written in the caller's dtype."""
    imdb.save_imdb_file(
        tmp_path / "s.npz",
        x_train=[[1, 2], [3]],
        y_train=np.array([0, 1], dtype=np.int32),
        x_test=[[4]],
        y_test=np.array([True]),
    )
    with np.load(tmp_path / "s.npz", allow_pickle=True) as z:
        assert z["y_train"].dtype == np.int64 and z["y_test"].dtype == np.int64


_LONGEST = "m" * imdb.MAX_STRING


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x80\x02G" + bytes(8) + b".", "the pickle does not hold a built object array"),
        (b"\x80\x02cnumpy\n\n.", "refusing to load numpy. from a pickle"),
        (
            b"\x80\x02c" + _LONGEST.encode() + b"\nx\n.",
            f"refusing to load {_LONGEST}.x from a pickle",
        ),
        (b"\x80\x02c" + _LONGEST.encode() + b"m\nx\n.", "malformed GLOBAL opcode in pickle"),
        (
            b"\x80\x02cnumpy\n" + _LONGEST.encode() + b"\n.",
            f"refusing to load numpy.{_LONGEST} from a pickle",
        ),
        (b"\x80\x02cnumpy\n" + _LONGEST.encode() + b"m\n.", "malformed GLOBAL opcode in pickle"),
        (b"\x80\x04\x8c\x05numpyK\x05\x93.", "malformed global in pickle"),
        (b"\x80\x04K\x05\x8c\x07ndarray\x93.", "malformed global in pickle"),
    ],
    ids=[
        "binfloat",
        "empty-qualname",
        "module-at-cap",
        "module-past-cap",
        "name-at-cap",
        "name-past-cap",
        "stack-global-int-name",
        "stack-global-int-module",
    ],
)
def test_opcode_arguments_are_read_to_their_exact_length(tmp_path, body, reason):
    """BINFLOAT takes 8 bytes; GLOBAL's module and name each end at a newline within
    MAX_STRING characters (an empty name included); STACK_GLOBAL takes two strings. Kills: 9
    bytes for BINFLOAT (STOP swallowed), the newline searched without a bound, one character
    short or long, the name searched from one byte too far, `or` for `and` between the
    strings' types, the refusal's words."""
    assert _refusal(tmp_path, _members(x_train=craft.npy_object(body, 4))) == f"x_train: {reason}"


def test_a_global_among_the_word_ids_is_named_by_its_kind(tmp_path):
    """A review list holding a GLOBAL (here numpy.ndarray) is refused naming what it holds,
    without the walker's private underscore. Kills: the kind's name mangled."""
    body = craft.py2_pickle([[1, 2], [3], [], [4]])
    assert body.count(b"K\x01K\x02e") == 1
    body = body.replace(b"K\x01K\x02e", b"K\x01cnumpy\nndarray\ne")
    assert _refusal(tmp_path, _members(x_train=craft.npy_object(body, 4))) == (
        "x_train: holds a non-integer word id (Global)"
    )


@pytest.mark.parametrize(
    ("spot", "value"),
    [
        (b"cnumpy\ndtype\nq\x07U\x02O8q\x08K\x00", b"cnumpy\ndtype\nq\x07U\x02O8q\x08G" + bytes(8)),
        (b"q\x08K\x00K\x01\x87", b"q\x08K\x00G?\xf0" + bytes(6) + b"\x87"),
        (b"Rq\x05(K\x01", b"Rq\x05(G?\xf0" + bytes(6)),
        (b"\x89]q\x0d", b"G" + bytes(8) + b"]q\x0d"),
    ],
    ids=["dtype-align-0.0", "dtype-copy-1.0", "version-1.0", "fortran-0.0"],
)
def test_a_float_where_numpy_writes_an_int_or_a_flag_is_refused(tmp_path, spot, value):
    """numpy pickles dtype's flags as NEWFALSE/NEWTRUE (Python 2: the ints 0 and 1), the
    state's version as 1 and its fortran flag as NEWFALSE; a float equal to them (0.0, 1.0)
    is not what numpy writes and is refused. Kills: the checks done by equality (a float
    admitted as the int it equals)."""
    body = craft.py2_pickle([[1], [2], [], [3]])
    assert body.count(spot) == 1, spot
    member = craft.npy_object(body.replace(spot, value), 4)
    assert _read(tmp_path, _members(x_train=craft.npy_object(body, 4))).x_train[0].tolist() == [1]
    assert _refusal(tmp_path, _members(x_train=member)) in (
        "x_train: pickle calls dtype with unexpected arguments",
        "x_train: unexpected array state in pickle",
    )


def test_a_file_that_cannot_be_opened_is_named_with_the_systems_reason(tmp_path, monkeypatch):
    """stat may succeed where open fails (permissions; the tests run as root, so open is
    made to fail). Kills: the refusal without its words, the error object quoted in place
    of its reason."""
    path = craft.write(tmp_path / "x.npz", craft.zip_bytes(_members()))

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(imdb, "open", denied, raising=False)
    with pytest.raises(ReproError) as err:
        read_imdb_file(path)
    assert str(err.value) == f"{path}: cannot read (Permission denied)"
