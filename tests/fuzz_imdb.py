"""Hypothesis fuzzing of the imdb.npz reader, run as a script in its own process.

`python tests/fuzz_imdb.py --examples N` mutates valid small files and reads each with
`lstm_repro.imdb.read_imdb_file`. The property: the reader returns well-formed data (lists of
non-negative int32 ids, {0, 1} labels, matching lengths) or raises ReproError; never any other
exception, never a crash. tests/test_untrusted_input.py runs this script in a subprocess, so a
native crash (signal) fails that test. Derandomized: the same N examples every run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import craft

from lstm_repro.errors import ReproError
from lstm_repro.imdb import read_imdb_file

SEEDS = {
    "numpy.save": craft.imdb_members(**craft.SMALL),
    "python2": {
        **craft.imdb_members(**craft.SMALL),
        "x_train": craft.npy_object(craft.py2_pickle(craft.SMALL["x_train"]), 4),
    },
}
KEYS = ("x_train", "y_train", "x_test", "y_test")


@st.composite
def mutated_file(draw) -> bytes:
    members = dict(draw(st.sampled_from(sorted(SEEDS.items())))[1])
    how = draw(st.sampled_from(["member", "member", "file", "header"]))
    if how in ("member", "header"):
        key = draw(st.sampled_from(KEYS))
        data = bytearray(members[key])
        if how == "header":  # edit inside the .npy header's text, where shape and dtype live
            lo, hi = 10, min(len(data), 10 + data[8])
        else:
            lo, hi = 0, len(data)
        members[key] = bytes(_mutate(draw, data, lo, hi))
        method = draw(st.sampled_from([0, 8]))
        return craft.zip_bytes(members, method=method)
    return bytes(_mutate(draw, bytearray(craft.zip_bytes(members)), 0, None))


def _mutate(draw, data: bytearray, lo: int, hi: int | None) -> bytearray:
    hi = len(data) if hi is None else hi
    for _ in range(draw(st.integers(1, 4))):
        top = min(hi, len(data))
        if top <= lo:
            break
        kind = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "delete"]))
        i = draw(st.integers(lo, top - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[i] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, *b"(ehjqrKMJ.\x8a\x94]"]))
        elif kind == "truncate":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[i : i + draw(st.integers(1, 8))]
    return data


def check(path: Path) -> None:
    try:
        raw = read_imdb_file(path)
    except ReproError as e:
        message = str(e)
        assert message and "\n" not in message, repr(message)
        return
    for xs, ys in ((raw.x_train, raw.y_train), (raw.x_test, raw.y_test)):
        assert len(xs) == len(ys) > 0
        assert ys.dtype == np.int32 and set(np.unique(ys)) <= {0, 1}
        for r in xs:
            assert r.ndim == 1 and r.dtype == np.int32 and (r >= 0).all()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=300)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fuzz-imdb-"))
    count = 0

    @settings(
        max_examples=args.examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated_file())
    def property_holds(data: bytes) -> None:
        nonlocal count
        count += 1
        path = workdir / "f.npz"
        path.write_bytes(data)
        check(path)

    property_holds()
    print(f"ok: {count} examples, every file read well-formed or refused with ReproError")
    return 0


if __name__ == "__main__":
    sys.exit(main())
