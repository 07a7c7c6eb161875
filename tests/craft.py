"""Builders of imdb.npz files, valid and hostile, for the reader's tests. Not a test module.

The zip container is assembled by hand so that tests can forge what `zipfile` would never
write: declared sizes that lie, the encrypted flag, unknown compression methods, ZIP64 sizes.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np


def npy_header(shape: tuple, descr: str, *, fortran: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": fortran, "shape": shape}
    )
    return buf.getvalue()


def npy(array: np.ndarray, *, version: tuple[int, int] | None = None) -> bytes:
    """What numpy.save writes for `array` (object arrays pickled, as np.savez does), in .npy
    format `version` where given (None: the oldest that holds it, as numpy.save picks)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), version=version, allow_pickle=True)
    return buf.getvalue()


def ragged(rows) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = [int(w) for w in row]
    return out


def _int_op(v: int) -> bytes:
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + v.to_bytes(2, "little")
    if -(2**31) <= v < 2**31:
        return b"J" + v.to_bytes(4, "little", signed=True)
    size = (v.bit_length() + 8) // 8
    return b"\x8a" + bytes([size]) + v.to_bytes(size, "little", signed=True)


def py2_pickle(reviews, *, module: str = "numpy.core.multiarray") -> bytes:
    """The object-array pickle Python 2's numpy.save wrote (protocol 2, GLOBAL opcodes, str as
    SHORT_BINSTRING, dtype args as ints): the form Keras's original imdb.npz is in."""
    out = bytearray(b"\x80\x02")
    out += b"c" + module.encode() + b"\n_reconstruct\nq\x00"
    out += b"cnumpy\nndarray\nq\x01K\x00\x85q\x02U\x01bq\x03\x87q\x04Rq\x05"
    out += b"(K\x01" + _int_op(len(reviews)) + b"\x85q\x06"
    out += b"cnumpy\ndtype\nq\x07U\x02O8q\x08K\x00K\x01\x87q\x09Rq\x0a"
    out += b"(K\x03U\x01|q\x0bNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tq\x0cb"
    out += b"\x89]q\x0d"
    memo = 14
    for start in range(0, len(reviews), 1000):
        out += b"("
        for review in reviews[start : start + 1000]:
            out += b"]r" + memo.to_bytes(4, "little")
            memo += 1
            ids = [int(v) for v in review]
            for i in range(0, len(ids), 1000):
                batch = ids[i : i + 1000]
                if len(batch) == 1:
                    out += _int_op(batch[0]) + b"a"
                else:
                    out += b"(" + b"".join(_int_op(v) for v in batch) + b"e"
        out += b"e"
    out += b"tr" + memo.to_bytes(4, "little") + b"b."
    return bytes(out)


def npy_object(pickle_bytes: bytes, length: int) -> bytes:
    """An object-dtype .npy member of shape (length,) whose body is `pickle_bytes`."""
    return npy_header((length,), "|O") + pickle_bytes


def imdb_members(x_train, y_train, x_test, y_test) -> dict[str, bytes]:
    return {
        "x_train": npy(ragged(x_train)),
        "y_train": npy(np.asarray(y_train, dtype=np.int64)),
        "x_test": npy(ragged(x_test)),
        "y_test": npy(np.asarray(y_test, dtype=np.int64)),
    }


SMALL = {
    "x_train": [[1, 2, 3], [7, 70000], [], [9] * 5],
    "y_train": [0, 1, 1, 0],
    "x_test": [[4, 5], [6]],
    "y_test": [1, 0],
}


@functools.lru_cache(maxsize=4)
def _deflated_zeros(n: int) -> bytes:
    return zlib.compress(bytes(n))[2:-4]


def _deflate(data: bytes) -> bytes:
    """Raw deflate (zlib's stream less its 2-byte header and 4-byte checksum). The zip bombs'
    all-zero payloads (64-100 MB, ~0.6 s each to compress) are deflated once per process."""
    if len(data) > 1 << 20 and data.count(0) == len(data):
        return _deflated_zeros(len(data))
    return zlib.compress(data)[2:-4]


def zip_bytes(
    members: dict[str, bytes],
    *,
    method: int = 8,
    flags: int = 0,
    declared: dict[str, int] | None = None,
) -> bytes:
    """A zip of `members` (names get .npy). `declared` overrides a member's uncompressed size
    in both headers (ZIP64 fields when it does not fit 32 bits); `method` 0 stores, 8
    deflates, anything else is written as stored bytes under that method number."""
    declared = declared or {}
    local, central = bytearray(), bytearray()
    for key, data in members.items():
        name = f"{key}.npy".encode()
        payload = _deflate(data) if method == 8 else data
        size = declared.get(key, len(data))
        crc = zlib.crc32(data)
        zip64 = size >= 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, size, len(payload)) if zip64 else b""
        usize, csize = (0xFFFFFFFF, 0xFFFFFFFF) if zip64 else (size, len(payload))
        version = 45 if zip64 else 20
        offset = len(local)
        local += struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            version,
            flags,
            method,
            0,
            0x21,
            crc,
            csize,
            usize,
            len(name),
            len(extra),
        )
        local += name + extra + payload
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            version,
            version,
            flags,
            method,
            0,
            0x21,
            crc,
            csize,
            usize,
            len(name),
            len(extra),
            0,
            0,
            0,
            0,
            offset,
        )
        central += name + extra
    eocd = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(local), 0
    )
    return bytes(local + central + eocd)


def write(path, data: bytes):
    path.write_bytes(data)
    return path
