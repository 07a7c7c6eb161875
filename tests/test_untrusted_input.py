"""Hostile and broken imdb.npz files, one per attack class, each fed to the CLI in a subprocess
so that a native crash, a hang or a memory blow-up is seen as a failure.

Every case must end in exit 2 with one `lstm-repro: error:` line naming the file and the
reason, no traceback, and (where the attack would run code) no marker file. Each child's peak
memory and CPU time are read with os.wait4, so a reader that inflates a bomb or allocates a
declared 10^12-element array before refusing it fails here even if it refuses in the end.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import tempfile
import threading
import zlib
from pathlib import Path

import craft
import craft_acl
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# Peak RSS (VmHWM) of a refusing child. Measured over every case here: 34.1-35.3 MB (python,
# numpy and lstm_repro imported). 300 MB is far below what any bomb here would cost if inflated
# or allocated (100 MB to 8 TB) and far above a correct refusal.
MAX_RSS_BYTES = 300 << 20
# CPU seconds of a refusing child. Measured 0.41-0.51 s (interpreter start-up included).
# Not a speed assertion: inflating the 100 MB stream alone takes over 0.5 s, the declared
# 8 GB over a minute; 20 s catches a reader that decompresses or loops before refusing.
MAX_CPU_SECONDS = 20.0


# Runs the CLI in-process and, at exit, writes the process's own peak RSS (VmHWM, which starts
# afresh at exec) to $LSTM_REPRO_RSS_REPORT. ru_maxrss from wait4 cannot be used: Linux carries
# the parent's RSS into the child's figure across fork and exec (measured: a child of a 500 MB
# parent reported 514 MB against a VmHWM of 14 MB), and the pytest process holds TensorFlow.
_WRAPPER = """
import atexit, os, runpy, sys
def _report():
    with open("/proc/self/status") as f:
        kb = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    with open(os.environ["LSTM_REPRO_RSS_REPORT"], "w") as out:
        out.write(kb)
atexit.register(_report)
sys.argv = ["lstm-repro", *sys.argv[1:]]
runpy.run_module("lstm_repro", run_name="__main__", alter_sys=True)
"""


def run_measured(*args: str, env: dict | None = None, timeout: float = 120.0):
    """Run the CLI with ARGS in a child process; return (returncode, stdout, stderr, peak RSS
    bytes, CPU seconds) of that child. A child killed by a signal has a negative returncode
    and reports no RSS (0)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rss"
        full_env = {
            **os.environ,
            "LSTM_REPRO_OFFLINE": "1",
            "LSTM_REPRO_RSS_REPORT": str(report),
            **(env or {}),
        }
        with open(Path(tmp) / "out", "w+b") as out, open(Path(tmp) / "err", "w+b") as err:
            proc = subprocess.Popen(
                [sys.executable, "-c", _WRAPPER, *args],
                stdout=out,
                stderr=err,
                env=full_env,
                cwd=ROOT,
            )
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            rss = int(report.read_text()) * 1024 if report.exists() else 0
            return (
                proc.returncode,
                out.read().decode(errors="replace"),
                err.read().decode(errors="replace"),
                rss,
                usage.ru_utime + usage.ru_stime,
            )


def assert_refused(path: Path, reason: str, *, env: dict | None = None, args=None):
    args = args if args is not None else ["reproduce", "--imdb-path", str(path), "--epochs", "1"]
    code, _, err, rss, cpu = run_measured(*args, env=env)
    assert code == 2, f"exit {code} (negative: killed by signal), stderr:\n{err[-3000:]}"
    assert err.startswith("lstm-repro: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert str(path) in err, err
    if isinstance(reason, re.Pattern):
        assert reason.search(err), err
    else:
        assert reason in err, err
    assert rss < MAX_RSS_BYTES, f"peak memory {rss / 2**20:.0f} MB"
    assert cpu < MAX_CPU_SECONDS, f"{cpu:.1f} CPU seconds"
    return err


def _valid_members():
    return craft.imdb_members(**craft.SMALL)


def _with(member: str, data: bytes, **zip_options) -> bytes:
    members = _valid_members()
    members[member] = data
    return craft.zip_bytes(members, **zip_options)


def _object_member(body: bytes, length: int = 4) -> bytes:
    return craft.npy_object(body, length)


class _CreatesAFile:
    """Unpickling this calls open(marker, 'w'): a stand-in for any code a file could run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _py2_body(**changes) -> bytes:
    body = craft.py2_pickle(craft.SMALL["x_train"])
    for old, new in changes.items():
        old_bytes, new_bytes = {
            "dtype_state": (b"(K\x03U\x01|q\x0bNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?t", new),
        }[old]
        assert old_bytes in body
        body = body.replace(old_bytes, new_bytes)
    return body


def _nested_ndarray_member() -> bytes:
    rows = np.empty(4, dtype=object)
    for i in range(4):
        rows[i] = np.arange(3, dtype=np.int64)  # arrays inside: raw bytes under BUILD
    return craft.npy(rows)


# Each case: (id, builder(tmp_path, marker) -> file bytes, reason expected in the message).
CASES = [
    (
        "pickle-that-runs-code",
        lambda tmp, marker: _with(
            "x_train",
            _object_member(pickle.dumps(np.array([_CreatesAFile(marker)], dtype=object), 4), 1),
        ),
        "x_train: refusing to load io.open from a pickle",
    ),
    (
        "pickle-calls-os-system",
        lambda tmp, marker: _with(
            "x_train", _object_member(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
        ),
        "x_train: refusing to load os.system from a pickle",
    ),
    (
        # The memory-safety hole: BUILD handing dtype.__setstate__ forged flags and fields.
        "dtype-setstate-forgery",
        lambda tmp, marker: _with(
            "x_train",
            _object_member(
                _py2_body(
                    dtype_state=b"(K\x03U\x01|q\x0bN(U\x01aq\x10tq\x11N]J\x00\x01\x00\x00K\x08K\x00t"
                )
            ),
        ),
        (
            "x_train: unexpected dtype state in pickle: "
            "(3, '|', None, ('a',), None, <lstm_repro.imdb._List objec..."
        ),
    ),
    (
        "nested-ndarray-raw-bytes",
        lambda tmp, marker: _with("x_train", _nested_ndarray_member()),
        "x_train: pickle calls dtype with unexpected arguments",
    ),
    (
        "int-array-declaring-10e12-elements",
        lambda tmp, marker: _with("y_train", craft.npy_header((10**12,), "<i8") + bytes(96 * 1024)),
        (
            "y_train declares shape (1000000000000,) of int64 (8,000,000,000,000 bytes) "
            "but holds 98,304 bytes"
        ),
    ),
    (
        "object-array-declaring-10e12-reviews",
        lambda tmp, marker: _with("x_train", craft.npy_header((10**12,), "|O") + b"\x80\x02."),
        "x_train declares 1,000,000,000,000 reviews (at most 1,000,000)",
    ),
    (
        "zip-bomb-declaring-8-GB",
        lambda tmp, marker: _with("x_train", bytes(64 << 20), declared={"x_train": 8 << 30}),
        "x_train declares 8,589,934,592 bytes uncompressed (at most 268,435,456)",
    ),
    (
        "zip-bomb-100-MB-from-100-KB",
        lambda tmp, marker: _with("x_train", bytes(100 << 20)),
        # the compressed size is zlib's (zlib-ng differs)
        re.compile(r"x_train would inflate [\d,]+ bytes to 104,857,600 \(ratio over 200\)"),
    ),
    (
        "zip-bomb-declaring-1-KB",
        lambda tmp, marker: _with("x_train", bytes(100 << 20), declared={"x_train": 1024}),
        re.compile(r"x_train cannot be decompressed \(Bad CRC-32 for file .x_train\.npy.\)"),
    ),
    (
        "encrypted-flag",
        lambda tmp, marker: craft.zip_bytes(_valid_members(), flags=1),
        "x_train is encrypted",
    ),
    (
        "unknown-compression-method",
        lambda tmp, marker: craft.zip_bytes(_valid_members(), method=99),
        "x_train uses zip compression method 99; numpy writes stored (0) or deflated (8) members",
    ),
    (
        "corrupt-deflate-stream",
        lambda tmp, marker: _corrupt_deflate(),
        re.compile(r"x_train cannot be decompressed \(Bad CRC-32 for file .x_train\.npy.\)"),
    ),
    (
        "truncated-file",
        lambda tmp, marker: craft.zip_bytes(_valid_members())[:300],
        "not a readable zip/.npz file (File is not a zip file)",  # zipfile's words
    ),
    (
        "missing-member",
        lambda tmp, marker: craft.zip_bytes(
            {k: v for k, v in _valid_members().items() if k != "y_test"}
        ),
        (
            "missing arrays ['y_test']; an IMDB file holds ['x_train', 'y_train', 'x_test', "
            "'y_test'] (found ['x_test', 'x_train', 'y_train'])"
        ),
    ),
    (
        "not-a-zip",
        lambda tmp, marker: b"hello, I am not a zip file" * 10,
        "not a readable zip/.npz file (File is not a zip file)",  # zipfile's words
    ),
    (
        "pickle-stack-bomb",
        lambda tmp, marker: _with("x_train", _object_member(b"\x80\x02(" + b"K\x01" * 200_000)),
        "x_train: pickle stack deeper than 100,000",
    ),
    (
        "pickle-unknown-memo",
        lambda tmp, marker: _with("x_train", _object_member(b"\x80\x02h\x63.")),
        "x_train: pickle refers to an unknown memo entry 99",
    ),
    (
        "pickle-list-containing-itself",
        lambda tmp, marker: _with(
            "x_train",
            _object_member(
                craft.py2_pickle([[1]]).replace(b"]r\x0e\x00\x00\x00K\x01a", b"h\x0d"), 1
            ),
        ),
        "x_train: a review holds a list, not word ids",
    ),
    (
        "negative-word-id",
        lambda tmp, marker: _with(
            "x_train", _object_member(craft.py2_pickle([[1, -5], [2], [3], [4]]))
        ),
        "x_train: holds a negative word id (-5)",
    ),
    (
        "float-word-id",
        lambda tmp, marker: _with(
            "x_train",
            _object_member(
                craft.py2_pickle([[1, 2], [2], [3], [4]]).replace(
                    b"K\x01K\x02e", b"K\x01G@\x00\x00\x00\x00\x00\x00\x00e"
                )
            ),
        ),
        "x_train: holds a non-integer word id (float)",
    ),
    (
        "bool-word-id",
        lambda tmp, marker: _with(
            "x_train",
            _object_member(
                craft.py2_pickle([[1, 2], [2], [3], [4]]).replace(b"K\x01K\x02e", b"K\x01\x88e")
            ),
        ),
        "x_train: holds a non-integer word id (bool)",
    ),
    (
        "pickle-string-claiming-2-GB",
        lambda tmp, marker: _with("x_train", _object_member(b"\x80\x02X\x00\x00\x00\x80abc.")),
        "x_train: unexpected 2,147,483,648-byte string in pickle",
    ),
    (
        "pickle-long4-opcode",
        lambda tmp, marker: _with(
            "x_train", _object_member(b"\x80\x02\x8b\xff\xff\xff\x7f" + bytes(64) + b".")
        ),
        "x_train: pickle opcode 0x8b is not admitted",
    ),
    (
        "npy-header-not-a-dict",
        lambda tmp, marker: _with("y_train", b"\x93NUMPY\x01\x00\x10\x00" + b"[1, 2, 3]      \n"),
        re.compile(r"y_train has a malformed \.npy header \(Header is not a dictionary.*\)"),
    ),
    (
        "structured-dtype",
        lambda tmp, marker: _with("y_train", craft.npy(np.zeros(2, dtype=[("a", "<i8")]))),
        "y_train has dtype [('a', '<i8')]; only integer arrays or id lists are read",
    ),
    (
        "labels-outside-0-1",
        lambda tmp, marker: _with("y_train", craft.npy(np.array([0, 1, 2, 1]))),
        "y_train holds labels outside {0, 1}: [2]",
    ),
    # Issue 20: the classes no crafted file reached before.
    (
        "zip-with-65-entries",
        lambda tmp, marker: craft.zip_bytes(
            {
                **_valid_members(),
                **{f"extra{i}": craft.npy(np.zeros(1, np.int64)) for i in range(61)},
            }
        ),
        "the zip holds 65 entries (at most 64)",
    ),
    (
        "negative-id-in-a-2d-integer-member",
        lambda tmp, marker: _with(
            "x_train", craft.npy(np.array([[1, 2], [3, -4], [5, 6], [7, 8]], dtype=np.int64))
        ),
        "x_train holds a negative word id (-4)",
    ),
    (
        "opcode-numpy-save-never-writes",
        lambda tmp, marker: _with("x_train", _object_member(b"\x80\x02\x82\x01.")),  # EXT1
        "x_train: pickle opcode 0x82 is not admitted",
    ),
    (
        "trailing-bytes-after-an-integer-member",
        lambda tmp, marker: _with("y_train", craft.npy(np.array([0, 1, 1, 0])) + bytes(8)),
        "y_train declares shape (4,) of int64 (32 bytes) but holds 40 bytes",
    ),
    (
        "trailing-bytes-after-the-pickle",
        lambda tmp, marker: _with(
            "x_train", craft.npy(craft.ragged(craft.SMALL["x_train"])) + b"\x80\x02K\x01."
        ),
        "x_train: 5 bytes follow the pickle's STOP opcode",
    ),
    (
        "pickle-protocol-0",
        lambda tmp, marker: _with(
            "x_train", _object_member(pickle.dumps(craft.ragged(craft.SMALL["x_train"]), 0))
        ),
        "x_train: pickle opcode 0x70 is not admitted",
    ),
    (
        "pickle-protocol-1",
        lambda tmp, marker: _with(
            "x_train", _object_member(pickle.dumps(craft.ragged(craft.SMALL["x_train"]), 1))
        ),
        "x_train: refusing to load _codecs.encode from a pickle",
    ),
    (
        "builtins-eval-global",
        lambda tmp, marker: _with(
            "x_train", _object_member(b"\x80\x02cbuiltins\neval\nX\x03\x00\x00\x001+1\x85R.")
        ),
        "x_train: refusing to load builtins.eval from a pickle",
    ),
    (
        "labels-as-object-array",
        lambda tmp, marker: _with("y_train", craft.npy(craft.ragged([[0], [1], [1], [0]]))),
        "y_train must be a 1-D integer array of labels",
    ),
]


def _corrupt_deflate() -> bytes:
    rng = np.random.default_rng(0)
    big = {**_valid_members(), "x_train": craft.npy(craft.ragged([list(range(5000))] * 4))}
    data = bytearray(craft.zip_bytes(big))
    start = data.index(b"x_train.npy") + len("x_train.npy") + 200
    data[start : start + 64] = rng.integers(0, 256, size=64, dtype=np.uint8).tobytes()
    return bytes(data)


@pytest.mark.parametrize(("case", "build", "reason"), CASES, ids=[c[0] for c in CASES])
def test_a_crafted_file_is_refused_in_one_line_with_bounded_resources(
    tmp_path, case, build, reason
):
    """Kills, per case: a reader that runs pickled code, trusts a dtype state, allocates or
    inflates what a header declares, lets a zip/numpy/pickle exception escape as a traceback,
    or turns ids that are negative, floats or bools into tokens."""
    marker = tmp_path / "pwned"
    path = craft.write(tmp_path / f"{case}.npz", build(tmp_path, marker))
    assert_refused(path, reason)
    assert not marker.exists()


@pytest.mark.parametrize(("case", "build", "reason"), CASES, ids=[c[0] for c in CASES])
def test_a_crafted_file_is_refused_by_the_reader_in_process(tmp_path, case, build, reason):
    """The same files through read_imdb_file in this process, so that a mutation tool (which
    sees only in-process calls) attributes each refusal to the reader's code: the subprocess
    test above proves the bounds on memory and time, this one that each refusal is the
    reader's, whole and on one line. Kills, per case: a check removed or loosened (the file is
    read, or refused later for another reason), a refusal's wording or numbers changed."""
    from lstm_repro.errors import ReproError
    from lstm_repro.imdb import read_imdb_file

    marker = tmp_path / "pwned"
    path = craft.write(tmp_path / f"{case}.npz", build(tmp_path, marker))
    with pytest.raises(ReproError) as refused:
        read_imdb_file(path)
    message = str(refused.value)
    head = f"{path}: not an IMDB file this reader admits: "
    assert message.startswith(head) and "\n" not in message, message
    if isinstance(reason, re.Pattern):  # a library's words or zlib's sizes inside
        assert reason.fullmatch(message[len(head) :]), message
    else:
        assert message[len(head) :] == reason
    assert not marker.exists()


def test_the_old_unpickler_would_have_run_the_code_here(tmp_path):
    """Control for the first case: np.load(allow_pickle=True) on the same bytes does create
    the marker, so the case above tests a real attack."""
    marker = tmp_path / "pwned"
    path = craft.write(tmp_path / "evil.npz", CASES[0][1](tmp_path, marker))
    with np.load(path, allow_pickle=True) as z:
        z["x_train"]
    assert marker.exists()


def test_the_zip_bomb_really_inflates_to_100_MB():
    """Control for the ratio case: the member is honest, 100 MB from about 100 KB."""
    compressed = zlib.compress(bytes(100 << 20))
    assert len(compressed) < 200 << 10


@pytest.mark.parametrize("where", ["env", "keras-cache"])
def test_a_hostile_file_in_the_default_lookup_is_refused_by_the_plain_command(tmp_path, where):
    """The plain `lstm-repro reproduce` (--data auto) reaches a file through $LSTM_REPRO_IMDB
    or Keras's cache; it must be parsed as safely there."""
    home = tmp_path / "keras"
    (home / "datasets").mkdir(parents=True)
    if where == "env":
        path = craft.write(tmp_path / "evil.npz", CASES[2][1](tmp_path, None))
        env = {"LSTM_REPRO_IMDB": str(path), "KERAS_HOME": str(home)}
    else:
        path = craft.write(home / "datasets" / "imdb.npz", CASES[2][1](tmp_path, None))
        env = {"KERAS_HOME": str(home), "LSTM_REPRO_IMDB": ""}
    assert_refused(path, "unexpected dtype state", env=env, args=["reproduce"])


@pytest.mark.parametrize("target", ["directory", "dev-zero", "fifo", "empty-file"])
def test_what_is_not_a_regular_file_is_refused(tmp_path, target):
    path = {"directory": tmp_path, "dev-zero": Path("/dev/zero")}.get(target)
    if target == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    elif target == "empty-file":
        path = craft.write(tmp_path / "empty.npz", b"")
    reason = {
        "directory": "is a directory",
        "dev-zero": "not a regular file",
        "fifo": "not a regular file",
        "empty-file": "not a readable zip",
    }[target]
    assert_refused(path, reason)


def test_mutated_files_are_read_or_refused_never_anything_else():
    """Hypothesis mutates the bytes of valid small files (flips, truncation, header edits,
    re-zipped member edits) in a subprocess; every outcome must be well-formed data or
    ReproError. Kills: any exception type or crash the caps and checks above did not foresee.
    300 derandomized examples here; `pytest -m slow` runs 10,000 (80 s here)."""
    _run_fuzz(300)


@pytest.mark.slow
def test_mutated_files_long_fuzz_run():
    _run_fuzz(10_000)


def _run_fuzz(examples: int) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "fuzz_imdb.py"), "--examples", str(examples)],
        capture_output=True,
        text=True,
        timeout=3600,
        cwd=ROOT,
    )
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    assert proc.stdout.startswith("ok: "), proc.stdout


# --------------------------------------------------------------------------- aclImdb archives


class _Zeros:
    """A file-like of n zero bytes, so a bomb is compressed without holding it in memory."""

    def __init__(self, n: int):
        self.left = n

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return bytes(size)


def _bomb_archive(size: int) -> bytes:
    """The small archive plus a skipped member (train/unsup) of `size` zero bytes."""
    import gzip
    import io
    import tarfile

    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w|") as tar,
    ):
        for name, data in craft_acl.entries():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("aclImdb/train/unsup/0_0.txt")
        info.size = size
        tar.addfile(info, _Zeros(size))
    return buf.getvalue()


def _with_review(split: str, label: str, name: str, data: bytes) -> bytes:
    return craft_acl.archive([*craft_acl.entries(), (f"aclImdb/{split}/{label}/{name}", data)])


def _without(split: str, label: str) -> bytes:
    reviews = {k: v for k, v in craft_acl.SMALL.items() if k != (split, label)}
    return craft_acl.archive(craft_acl.entries(reviews))


def _flipped(data: bytes, at: float) -> bytes:
    out = bytearray(data)
    i = int(len(out) * at)
    out[i : i + 16] = bytes(b ^ 0x5A for b in out[i : i + 16])
    return bytes(out)


_LARGE_VALID = craft_acl.archive(
    [
        *craft_acl.entries(),
        *((f"aclImdb/train/pos/{i}_9.txt", b"words " * 400) for i in range(9, 60)),
    ]
)
ARCHIVE_CASES = [
    # (case, archive bytes, reason in the one-line error)
    (
        "symlink",
        lambda: craft_acl.archive(
            extra=[craft_acl.special("aclImdb/train/pos/9_9.txt", b"2", linkname="/etc/passwd")]
        ),
        "is a link",
    ),
    (
        "hardlink",
        lambda: craft_acl.archive(
            extra=[craft_acl.special("aclImdb/train/pos/9_9.txt", b"1", linkname="aclImdb/README")]
        ),
        "is a link",
    ),
    (
        "device",
        lambda: craft_acl.archive(extra=[craft_acl.special("aclImdb/train/pos/9_9.txt", b"3")]),
        "device",
    ),
    (
        "fifo",
        lambda: craft_acl.archive(extra=[craft_acl.special("aclImdb/x", b"6")]),
        "FIFO",
    ),
    (
        "absolute-name",
        lambda: craft_acl.archive([*craft_acl.entries(), ("/tmp/lstm-repro-evil.txt", b"x")]),
        "absolute name",
    ),
    (
        "dot-dot-name",
        lambda: craft_acl.archive([*craft_acl.entries(), ("aclImdb/../../evil.txt", b"x")]),
        "'..'",
    ),
    ("truncated-gzip", lambda: _LARGE_VALID[: len(_LARGE_VALID) // 2], "truncated or corrupt gzip"),
    ("corrupt-gzip", lambda: _flipped(_LARGE_VALID, 0.5), "corrupt"),
    ("gzip-of-no-tar", lambda: __import__("gzip").compress(b"plain text\n" * 100), "corrupt tar"),
    (
        "non-utf8-review",
        lambda: _with_review("train", "pos", "9_9.txt", b"caf\xe9 latin-1"),
        "not UTF-8",
    ),
    ("empty-split", lambda: _without("test", "pos"), "aclImdb/test/pos: no reviews"),
    (
        "wrong-label-layout",
        lambda: _with_review("train", "pos", "9_2.txt", b"rated 2 but filed as positive"),
        "wrong label layout",
    ),
    (
        "oversized-review",
        lambda: _with_review("train", "neg", "9_1.txt", b"a" * (2 << 20)),
        "a review is at most",
    ),
    (
        "duplicate-member",
        lambda: craft_acl.archive([*craft_acl.entries(), craft_acl.entries()[1]]),
        "appears twice",
    ),
    ("bomb-in-a-skipped-member", lambda: _bomb_archive(400 << 20), "compression ratio over 100"),
]


@pytest.mark.parametrize(
    ("case", "build", "reason"), ARCHIVE_CASES, ids=[c[0] for c in ARCHIVE_CASES]
)
def test_a_crafted_archive_is_refused_in_one_line_with_bounded_resources(
    tmp_path, case, build, reason
):
    """Kills, per case: an archive reader that extracts or follows links, writes outside its
    folder, inflates a bomb while skipping it, lets a gzip/tar/UTF-8 exception escape as a
    traceback, or trains on a split with one label or on mislabeled reviews. Nothing is
    written outside the child's cache (an empty $XDG_CACHE_HOME)."""
    path = craft.write(tmp_path / f"{case}.tar.gz", build())
    cache = tmp_path / "cache"
    assert_refused(path, reason, env={"XDG_CACHE_HOME": str(cache)})
    assert not Path("/tmp/lstm-repro-evil.txt").exists()
    assert not (tmp_path.parent / "evil.txt").exists()
    assert not list(cache.rglob("*.npz")), "a refused archive left a conversion in the cache"


def test_the_archive_bomb_really_decompresses_to_400_MB():
    """Control for the bomb case: the archive is honest, 400 MB of tar from well under 1 MB,
    so the ratio cap, not a parse error, is what refuses it."""
    import gzip

    data = _bomb_archive(400 << 20)
    assert len(data) < 1 << 20
    with gzip.GzipFile(fileobj=__import__("io").BytesIO(data)) as gz:
        total = sum(len(chunk) for chunk in iter(lambda: gz.read(1 << 24), b""))
    assert total > 400 << 20


def test_a_valid_small_archive_passes_the_same_child_process(tmp_path):
    """Control for the cases above: the honest archive they were cut from converts in the
    same kind of child process, so each refusal above is the reader's, not a broken build."""
    path = craft.write(tmp_path / "ok.tar.gz", _LARGE_VALID)
    code, out, err, _, _ = run_measured(
        "prepare-imdb",
        str(path),
        "--out",
        str(tmp_path / "ok.npz"),
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert code == 0, err
    assert "tokenizer lstm-repro-words-v1" in out
