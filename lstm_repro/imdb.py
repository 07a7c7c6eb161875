"""Reading Keras-format IMDB files (`imdb.npz`) safely: no pickle, every resource bounded.

A data file from a user is hostile until parsed. This reader never calls `np.load`, never
unpickles, and never hands bytes from the file to a numpy constructor through `__setstate__`:

- the zip container is read with `zipfile`, but only after every member's declared sizes,
  compression method and flags have been checked against the caps below;
- each member's `.npy` header is parsed by `numpy.lib.format`'s header readers, and only plain
  integer dtypes (read with `np.frombuffer` after the byte count is checked against the shape)
  or the object dtype are admitted;
- an object member's pickle stream is walked opcode by opcode by a small machine (its opcode
  table is pickletools'; pickletools.genops is the tests' oracle) that admits only the pattern
  `numpy.save` writes
  for a 1-D object array of lists of ints: `_reconstruct(ndarray, (0,), b'b')`, BUILD with
  `(1, (n,), dtype('O8') with its fixed state, False, [[int, ...], ...])`, in pickle protocols
  2 to 5, with either numpy spelling (`numpy.core` / `numpy._core`). Anything else is refused
  with a one-line reason.

Word ids follow Keras's `load_data` rules downstream (`data.keras_imdb_rules`): an id at or
above `num_words` becomes the OOV id. Ids too large for int32 are clamped here to
`RAW_ID_CLAMP`, which is at or above every admissible `num_words` after the index shift, so the
clamp never changes a result. Negative and non-integer ids are refused.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import socket
import stat
import struct
import zipfile
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstm_repro.errors import ReproError

log = logging.getLogger(__name__)

IMDB_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
# The hash keras.datasets.imdb.load_data checks the official file against.
IMDB_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
IMDB_ENV = "LSTM_REPRO_IMDB"
OFFLINE_ENV = "LSTM_REPRO_OFFLINE"  # set to 1 to never attempt a download
IMDB_KEYS = ("x_train", "y_train", "x_test", "y_test")
INDEX_FROM = 3  # Keras: raw word id r becomes r + 3 (0, 1, 2 are pad, start and OOV)

# Resource caps. The official file is 17.5 MB with 50,000 reviews and ~11.8 M tokens; each cap
# leaves at least 5x headroom over it and bounds memory before anything is allocated.
MAX_FILE_BYTES = 256 << 20  # the whole .npz
MAX_MEMBERS = 64  # entries in the zip directory
MAX_MEMBER_BYTES = 256 << 20  # one member, uncompressed
MAX_RATIO = 200  # uncompressed / compressed, for members over RATIO_FLOOR_BYTES
RATIO_FLOOR_BYTES = 1 << 20  # tiny members (labels of 0/1) may compress far better than this
MAX_REVIEWS = 1_000_000  # reviews in one file, both splits
MAX_TOKENS = 64_000_000  # word ids in one file, both splits (stored as int32: 256 MB)
MAX_PICKLE_STACK = 100_000  # numpy.save's pickler appends in batches of 1,000
MAX_STRING = 64  # longest string the admitted pattern holds ('numpy._core.multiarray')
# Raw ids at or above this are stored as this: after the +3 shift it is 2**31 - 1, which is at
# or above every num_words the config admits (vocab_size <= 2**31 - 1), so it is OOV exactly
# when Keras's arbitrary-precision rule would make it OOV.
RAW_ID_CLAMP = 2**31 - 1 - INDEX_FROM


@dataclass(frozen=True)
class RawImdb:
    """Raw reviews (word ids as in the file, no start char) and {0, 1} labels, validated."""

    x_train: list[np.ndarray]  # each (length,) int32
    y_train: np.ndarray  # (n_train,) int32
    x_test: list[np.ndarray]
    y_test: np.ndarray
    sha256: str | None = None  # of the file's bytes as parsed (read_imdb_file); None: built


class _Refused(Exception):
    """The file is not an IMDB file this reader admits; the message says why."""


# --------------------------------------------------------------------------- zip container


def _read_members(data: bytes) -> dict[str, bytes]:
    """The four IMDB members' raw .npy bytes, each checked before a byte is decompressed.

    zipfile is the parser at this boundary: whatever it raises on bytes from the file
    (BadZipFile, zlib.error, EOFError, NotImplementedError, struct.error, ...) means the
    container is malformed, so every exception from it becomes a refusal."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception as e:
        raise _Refused(f"not a readable zip/.npz file ({_one_line(e)})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise _Refused(f"the zip holds {len(infos)} entries (at most {MAX_MEMBERS})")
        by_name: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.filename in by_name:
                raise _Refused(f"the zip holds two members named {info.filename!r}")
            by_name[info.filename] = info
        missing = [k for k in IMDB_KEYS if f"{k}.npy" not in by_name]
        if missing:
            found = sorted(n.removesuffix(".npy") for n in by_name)[:8]
            raise _Refused(
                f"missing arrays {missing}; an IMDB file holds {list(IMDB_KEYS)} (found {found})"
            )
        members = {}
        for key in IMDB_KEYS:
            info = by_name[f"{key}.npy"]
            _check_member(info, key)
            try:
                with archive.open(info) as f:
                    raw = f.read(info.file_size)
                    extra = f.read(1)
            except Exception as e:
                raise _Refused(f"{key} cannot be decompressed ({_one_line(e)})") from None
            if extra:
                raise _Refused(f"{key} holds more bytes than its directory entry declares")
            if len(raw) != info.file_size:
                raise _Refused(f"{key} is truncated ({len(raw)} of {info.file_size} bytes)")
            members[key] = raw
        return members


def _check_member(info: zipfile.ZipInfo, key: str) -> None:
    if info.flag_bits & 0x1:
        raise _Refused(f"{key} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Refused(
            f"{key} uses zip compression method {info.compress_type}; "
            "numpy writes stored (0) or deflated (8) members"
        )
    if info.file_size > MAX_MEMBER_BYTES:
        raise _Refused(
            f"{key} declares {info.file_size:,} bytes uncompressed (at most {MAX_MEMBER_BYTES:,})"
        )
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_RATIO * max(
        info.compress_size, 1
    ):
        raise _Refused(
            f"{key} would inflate {info.compress_size:,} bytes to {info.file_size:,} "
            f"(ratio over {MAX_RATIO})"
        )


# --------------------------------------------------------------------------- .npy members


def _parse_npy(raw: bytes, key: str) -> np.ndarray | list[np.ndarray]:
    """A plain integer array, or (object dtype) the list of id arrays its pickle holds."""
    fp = io.BytesIO(raw)
    try:  # numpy's header parser is the boundary here: any exception is a malformed header
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            # 3.0 differs from 2.0 only in the header's text encoding, not its layout.
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise _Refused(f"{key} has .npy format version {version}, not 1.0, 2.0 or 3.0")
    except _Refused:
        raise
    except Exception as e:
        raise _Refused(f"{key} has a malformed .npy header ({_one_line(e)})") from None
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise _Refused(f"{key} declares an invalid shape {shape!r}")
    body = raw[fp.tell() :]
    if dtype == np.dtype(object):
        if len(shape) != 1:
            raise _Refused(f"{key} is an object array of shape {shape}, not one list per review")
        if shape[0] > MAX_REVIEWS:
            raise _Refused(f"{key} declares {shape[0]:,} reviews (at most {MAX_REVIEWS:,})")
        return _PickledIdLists(body, key=key, length=shape[0]).parse()
    if dtype.kind not in "iub" or dtype.fields is not None or dtype.subdtype is not None:
        raise _Refused(f"{key} has dtype {dtype}; only integer arrays or id lists are read")
    if len(shape) > 2:
        raise _Refused(f"{key} has {len(shape)} dimensions (at most 2)")
    count = 1
    for d in shape:
        count *= d
    if count * dtype.itemsize != len(body):
        raise _Refused(
            f"{key} declares shape {shape} of {dtype} ({count * dtype.itemsize:,} bytes) "
            f"but holds {len(body):,} bytes"
        )
    values = np.frombuffer(body, dtype=dtype, count=count)
    return values.reshape(shape, order="F" if fortran else "C")


# --------------------------------------------------------------------------- pickle walker

_RECONSTRUCT = ("numpy.core.multiarray", "numpy._core.multiarray")
_DTYPE_OBJECT_STATE = (3, "|", None, None, None, -1, -1, 63)  # dtype('O').__reduce__()[2]


class _Global:
    def __init__(self, role: str):
        self.role = role  # "reconstruct", "ndarray" or "dtype"


class _Bool:
    """NEWTRUE / NEWFALSE. Not a Python bool, so it can never pass for a word id."""

    def __init__(self, value: bool):
        self.value = value

    def __repr__(self) -> str:  # as a refusal quotes it
        return repr(self.value)


_TRUE, _FALSE = _Bool(True), _Bool(False)


class _ObjectDtype:
    built = False


class _Array:
    reviews: list[np.ndarray] | None = None


class _List:
    """A pickled list: word ids kept as int32 as they arrive, or nested lists (the reviews)."""

    def __init__(self):
        self.ids = array("i")
        self.lists: list[_List] = []


# Opcode bytes (pickle protocols 2-5, as documented in pickletools).
_K, _M, _J, _LONG1 = 0x4B, 0x4D, 0x4A, 0x8A  # BININT1, BININT2, BININT, LONG1
_MARK, _APPENDS, _APPEND, _EMPTY_LIST = 0x28, 0x65, 0x61, 0x5D
_BINPUT, _LONG_BINPUT, _MEMOIZE, _BINGET, _LONG_BINGET = 0x71, 0x72, 0x94, 0x68, 0x6A
_PROTO, _FRAME, _STOP = 0x80, 0x95, 0x2E
_EMPTY_TUPLE, _TUPLE1, _TUPLE2, _TUPLE3, _TUPLE = 0x29, 0x85, 0x86, 0x87, 0x74
_NONE, _NEWTRUE, _NEWFALSE, _BINFLOAT = 0x4E, 0x88, 0x89, 0x47
_GLOBAL, _STACK_GLOBAL, _REDUCE, _BUILD = 0x63, 0x93, 0x52, 0x62
# String opcodes: byte -> (length-prefix bytes, text encoding or None for bytes)
_STRINGS = {
    0x8C: (1, "utf-8"),  # SHORT_BINUNICODE
    0x58: (4, "utf-8"),  # BINUNICODE
    0x55: (1, "latin-1"),  # SHORT_BINSTRING (Python 2 str)
    0x54: (4, "latin-1"),  # BINSTRING (Python 2 str)
    0x43: (1, None),  # SHORT_BINBYTES
    0x42: (4, None),  # BINBYTES
}


class _PickledIdLists:
    """Walk one object member's pickle stream, admitting only what numpy.save writes for a
    1-D object array of lists of ints. Nothing from the stream is ever called or imported.

    A hand-written loop over the bytes rather than `pickletools.genops`: genops spends ~1 us
    per opcode (12 s for the official file's 12 M ids), this loop ~5x less. The tests use
    genops as the oracle: no stream this walker admits may be one genops cannot parse.
    """

    def __init__(self, body: bytes, *, key: str, length: int):
        self.body, self.key, self.length = body, key, length
        self.stack: list = []
        self.marks: list[int] = []
        self.memo: dict[int, object] = {}
        self.tokens = 0

    def refuse(self, reason: str) -> _Refused:
        return _Refused(f"{self.key}: {reason}")

    def parse(self) -> list[np.ndarray]:
        try:
            self.walk()
        except IndexError:  # an opcode's argument runs past the end of the member
            raise self.refuse("pickle is truncated inside an opcode") from None
        result = self.pop()
        if not isinstance(result, _Array) or result.reviews is None:
            raise self.refuse("the pickle does not hold a built object array")
        return result.reviews

    def walk(self) -> None:
        """One flat dispatch loop over the opcodes; int pushes first, as they dominate."""
        body, stack = self.body, self.stack
        n, pos = len(body), 0
        while True:
            if pos >= n:
                raise self.refuse("pickle ends before its STOP opcode")
            op = body[pos]
            pos += 1
            if op == _K:
                stack.append(body[pos])
                pos += 1
            elif op == _M:
                stack.append(body[pos] | body[pos + 1] << 8)
                pos += 2
            elif op == _J:
                stack.append(int.from_bytes(body[pos : pos + 4], "little", signed=True))
                pos += 4
            elif op == _APPENDS:
                self.append(self.pop_mark())
            elif op == _MARK:
                self.marks.append(len(stack))
            elif op == _EMPTY_LIST:
                stack.append(_List())
            elif op == _MEMOIZE:
                self.put(len(self.memo))
            elif op == _BINPUT:
                self.put(body[pos])
                pos += 1
            elif op == _LONG_BINPUT:
                self.put(int.from_bytes(body[pos : pos + 4], "little"))
                pos += 4
            elif op == _APPEND:
                self.append([self.pop()])
            elif op == _LONG1:
                size = body[pos] if pos < n else 0
                stack.append(int.from_bytes(body[pos + 1 : pos + 1 + size], "little", signed=True))
                pos += 1 + size
            elif op in (_BINGET, _LONG_BINGET):
                width = 1 if op == _BINGET else 4
                index = int.from_bytes(body[pos : pos + width], "little")
                pos += width
                if index not in self.memo:
                    raise self.refuse(f"pickle refers to an unknown memo entry {index}")
                stack.append(self.memo[index])
            elif op in _STRINGS:
                width, encoding = _STRINGS[op]
                size = int.from_bytes(body[pos : pos + width], "little")
                if size > MAX_STRING:
                    raise self.refuse(f"unexpected {size:,}-byte string in pickle")
                raw = body[pos + width : pos + width + size]
                pos += width + size
                try:
                    stack.append(raw.decode(encoding) if encoding else bytes(raw))
                except UnicodeDecodeError:
                    raise self.refuse("a pickled string is not valid UTF-8") from None
            elif op == _NONE:
                stack.append(None)
            elif op in (_NEWTRUE, _NEWFALSE):
                stack.append(_TRUE if op == _NEWTRUE else _FALSE)
            elif op == _BINFLOAT:
                stack.append(struct.unpack(">d", body[pos : pos + 8])[0] if pos + 8 <= n else 0.0)
                pos += 8
            elif op == _EMPTY_TUPLE:
                stack.append(())
            elif op in (_TUPLE1, _TUPLE2, _TUPLE3):
                items = [self.pop() for _ in range(op - _TUPLE1 + 1)]
                stack.append(tuple(items[::-1]))
            elif op == _TUPLE:
                stack.append(tuple(self.pop_mark()))
            elif op == _GLOBAL:
                end1 = body.find(b"\n", pos, pos + MAX_STRING + 1)
                end2 = body.find(b"\n", end1 + 1, end1 + MAX_STRING + 2) if end1 >= 0 else -1
                if end2 < 0:
                    raise self.refuse("malformed GLOBAL opcode in pickle")
                module = body[pos:end1].decode("latin-1")
                qualname = body[end1 + 1 : end2].decode("latin-1")
                pos = end2 + 1
                stack.append(self.global_(module, qualname))
            elif op == _STACK_GLOBAL:
                qualname, module = self.pop(), self.pop()
                if not (isinstance(module, str) and isinstance(qualname, str)):
                    raise self.refuse("malformed global in pickle")
                stack.append(self.global_(module, qualname))
            elif op == _REDUCE:
                args, func = self.pop(), self.pop()
                stack.append(self.reduce(func, args))
            elif op == _BUILD:
                state = self.pop()
                self.build(self.top(), state)
            elif op == _PROTO:
                if pos >= n or not 2 <= body[pos] <= 5:
                    raise self.refuse("pickle protocol outside 2..5")
                pos += 1
            elif op == _FRAME:
                pos += 8  # a length hint only; the opcodes inside are walked like any other
            elif op == _STOP:
                if pos != n:  # numpy.save writes nothing after the pickle
                    raise self.refuse(f"{n - pos:,} bytes follow the pickle's STOP opcode")
                break
            else:
                raise self.refuse(f"pickle opcode 0x{op:02x} is not admitted")
            if pos > n:
                raise self.refuse("pickle is truncated inside an opcode")
            if len(stack) > MAX_PICKLE_STACK:
                raise self.refuse(f"pickle stack deeper than {MAX_PICKLE_STACK:,}")

    def pop(self):
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            raise self.refuse("malformed pickle (stack underflow)")
        return self.stack.pop()

    def top(self):
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            raise self.refuse("malformed pickle (BUILD on an empty stack)")
        return self.stack[-1]

    def pop_mark(self) -> list:
        if not self.marks:
            raise self.refuse("malformed pickle (no MARK)")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def put(self, index: int) -> None:
        if not self.stack or len(self.memo) > MAX_REVIEWS + 100:
            raise self.refuse("malformed pickle (memo)")
        self.memo[index] = self.stack[-1]

    def global_(self, module: str, qualname: str) -> _Global:
        if qualname == "_reconstruct" and module in _RECONSTRUCT:
            return _Global("reconstruct")
        if module == "numpy" and qualname in ("ndarray", "dtype"):
            return _Global(qualname)
        raise self.refuse(f"refusing to load {module}.{qualname} from a pickle")

    def reduce(self, func, args):
        role = func.role if isinstance(func, _Global) else None
        if role == "reconstruct" and _is_reconstruct_args(args):
            return _Array()
        if role == "dtype" and _is_object_dtype_args(args):
            return _ObjectDtype()
        raise self.refuse(f"pickle calls {role or 'a non-global'} with unexpected arguments")

    def build(self, target, state) -> None:
        if isinstance(target, _ObjectDtype) and not target.built:
            if state != _DTYPE_OBJECT_STATE:
                raise self.refuse(f"unexpected dtype state in pickle: {_short(state)}")
            target.built = True
            return
        if isinstance(target, _Array) and target.reviews is None:
            target.reviews = self.reviews_from_state(state)
            return
        raise self.refuse("pickle BUILDs an object it may not")

    def append(self, items: list) -> None:
        target = self.top()
        if not isinstance(target, _List):
            raise self.refuse("malformed pickle (APPEND to a non-list)")
        try:  # fast path: a batch of plain ints (array() refuses floats, objects, _Bool)
            batch = array("i", items)
        except (TypeError, OverflowError):
            batch = None
        if batch is not None and (not batch or min(batch) >= 0):
            self.count_tokens(len(batch))
            target.ids.extend(batch)
            return
        for item in items:
            if isinstance(item, _List):
                if len(target.lists) >= MAX_REVIEWS:
                    raise self.refuse(f"more than {MAX_REVIEWS:,} reviews")
                target.lists.append(item)
            elif type(item) is int:
                if item < 0:
                    raise self.refuse(f"holds a negative word id ({item})")
                self.count_tokens(1)
                target.ids.append(min(item, RAW_ID_CLAMP))
            else:
                kind = "bool" if isinstance(item, _Bool) else type(item).__name__.lstrip("_")
                raise self.refuse(f"holds a non-integer word id ({kind})")

    def count_tokens(self, k: int) -> None:
        self.tokens += k
        if self.tokens > MAX_TOKENS:
            raise self.refuse(f"more than {MAX_TOKENS:,} word ids")

    def reviews_from_state(self, state) -> list[np.ndarray]:
        if not (isinstance(state, tuple) and len(state) == 5):
            raise self.refuse("unexpected array state in pickle")
        version, shape, dtype, fortran, data = state
        if not _is_int(version, 1) or not (isinstance(dtype, _ObjectDtype) and dtype.built):
            raise self.refuse("unexpected array state in pickle")
        if shape != (self.length,):
            raise self.refuse(
                f"pickled array of shape {_short(shape)} does not match its header ({self.length},)"
            )
        if not (fortran is _FALSE or _is_int(fortran, 0)) or not isinstance(data, _List):
            raise self.refuse("unexpected array state in pickle")
        if data.ids or len(data.lists) != self.length:
            raise self.refuse("pickled array does not hold one id list per review")
        total = sum(len(r.ids) for r in data.lists)  # shared (memo) lists count each time
        if total > MAX_TOKENS:
            raise self.refuse(f"more than {MAX_TOKENS:,} word ids")
        reviews = []
        for r in data.lists:
            if r.lists:
                raise self.refuse("a review holds a list, not word ids")
            reviews.append(np.frombuffer(r.ids, dtype=np.int32) if r.ids else _EMPTY)
        return reviews


_EMPTY = np.zeros(0, dtype=np.int32)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_reconstruct_args(args) -> bool:
    # numpy: ndarray.__reduce__ -> (_reconstruct, (ndarray, (0,), b'b'), state); Python 2
    # wrote 'b' as a str.
    return (
        isinstance(args, tuple)
        and len(args) == 3
        and isinstance(args[0], _Global)
        and args[0].role == "ndarray"
        and args[1] == (0,)
        and args[2] in (b"b", "b")
    )


def _is_int(value, n: int) -> bool:
    """value is the int n, not a float or a bool equal to it (numpy never pickles those)."""
    return type(value) is int and value == n


def _is_object_dtype_args(args) -> bool:
    # dtype('O').__reduce__() -> (dtype, ('O8', False, True), state); older numpy wrote 0, 1.
    return (
        isinstance(args, tuple)
        and len(args) == 3
        and args[0] in ("O8", b"O8")
        and (args[1] is _FALSE or _is_int(args[1], 0))
        and (args[2] is _TRUE or _is_int(args[2], 1))
    )


# --------------------------------------------------------------------------- validation


def _as_reviews(value, key: str) -> list[np.ndarray]:
    if isinstance(value, list):
        return value
    if value.ndim != 2:
        raise _Refused(
            f"{key} must hold one id list per review, got an array of shape {value.shape}"
        )
    if value.dtype.kind == "b":
        raise _Refused(f"{key} holds booleans, not word ids")
    if value.size > MAX_TOKENS:
        raise _Refused(f"{key} holds {value.size:,} word ids (at most {MAX_TOKENS:,})")
    if value.shape[0] > MAX_REVIEWS:
        raise _Refused(f"{key} holds {value.shape[0]:,} reviews (at most {MAX_REVIEWS:,})")
    if value.dtype.kind == "i" and value.size and value.min() < 0:
        raise _Refused(f"{key} holds a negative word id ({value.min()})")
    # Compare in the file's own dtype: a uint64 id near 2**64 must not wrap on conversion.
    clamped = (
        np.minimum(value, np.array(RAW_ID_CLAMP, dtype=value.dtype))
        if (np.iinfo(value.dtype).max > RAW_ID_CLAMP)
        else value
    )
    rows = clamped.astype(np.int32)
    return list(rows)


def _as_labels(value, key: str) -> np.ndarray:
    if isinstance(value, list) or value.ndim != 1:
        raise _Refused(f"{key} must be a 1-D integer array of labels")
    bad = np.setdiff1d(np.unique(value), [0, 1])
    if bad.size:
        raise _Refused(f"{key} holds labels outside {{0, 1}}: {bad[:5].tolist()}")
    return value.astype(np.int32)


def _read_bounded(path: Path) -> bytes:
    """The whole file, read once: a regular file of at most MAX_FILE_BYTES, checked on the
    opened descriptor (what is read is what was checked), and never more bytes than that."""
    _regular_file_size(path)  # the clear errors: no such file, a directory, not regular
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ReproError(f"{path}: not a regular file")
            if info.st_size > MAX_FILE_BYTES:
                raise ReproError(
                    f"{path}: {info.st_size:,} bytes; an IMDB file is at most {MAX_FILE_BYTES:,}"
                )
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ReproError(f"{path}: cannot read ({e.strerror or e})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ReproError(f"{path}: grew past {MAX_FILE_BYTES:,} bytes while being read")
    return data


def read_imdb_file(path: str | os.PathLike) -> RawImdb:
    """Parse and validate a file in Keras's imdb.npz layout; ReproError naming the file and
    the reason for anything this reader does not admit. The file is read once: the SHA-256
    it returns (RawImdb.sha256) is of the very bytes parsed."""
    path = Path(path)
    data = _read_bounded(path)
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        arrays = {key: _parse_npy(raw, key) for key, raw in _read_members(data).items()}
        splits = {}
        for split in ("train", "test"):
            xs = _as_reviews(arrays[f"x_{split}"], f"x_{split}")
            ys = _as_labels(arrays[f"y_{split}"], f"y_{split}")
            if len(xs) != len(ys):
                raise _Refused(f"x_{split} has {len(xs)} reviews but y_{split} {len(ys)} labels")
            if not xs:
                raise _Refused(f"the {split} split is empty")
            splits[split] = (xs, ys)
        if sum(len(r) for xs, _ in splits.values() for r in xs) > MAX_TOKENS:
            raise _Refused(f"more than {MAX_TOKENS:,} word ids in all")
    except _Refused as e:
        raise ReproError(f"{path}: not an IMDB file this reader admits: {e}") from None
    except MemoryError:
        raise ReproError(f"{path}: ran out of memory reading it") from None
    return RawImdb(*splits["train"], *splits["test"], sha256=sha256)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]


def _regular_file_size(path: Path) -> int:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ReproError(f"{path}: no such file") from None
    except OSError as e:
        raise ReproError(f"{path}: cannot read ({e.strerror or e})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ReproError(f"{path}: is a directory, not an IMDB file")
    if not stat.S_ISREG(info.st_mode):
        raise ReproError(f"{path}: not a regular file")
    return info.st_size


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as e:
        raise ReproError(f"{path}: cannot read ({e.strerror or e})") from None
    return digest.hexdigest()


def save_imdb_file(path: str | os.PathLike, *, x_train, y_train, x_test, y_test) -> Path:
    """Write raw reviews in Keras's imdb.npz layout (ragged object arrays), atomically."""
    from lstm_repro.records import write_atomic

    def ragged(rows):
        out = np.empty(len(rows), dtype=object)
        for i, row in enumerate(rows):
            out[i] = [int(w) for w in row]
        return out

    arrays = {
        "x_train": ragged(x_train),
        "y_train": np.asarray(y_train, dtype=np.int64),
        "x_test": ragged(x_test),
        "y_test": np.asarray(y_test, dtype=np.int64),
    }
    return write_atomic(path, lambda f: np.savez(f, **arrays))


# --------------------------------------------------------------------------- locating the file


def keras_cache_path() -> Path:
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(base) / "datasets" / "imdb.npz"


def named_imdb_path(explicit: str | None, *, flag: str = "--imdb-path") -> tuple[str, Path] | None:
    """The file the user named (`flag`, then $LSTM_REPRO_IMDB), or None if neither.

    A named path must be a readable regular file: a typo is an error, never a fallback.
    """
    if explicit is not None:
        if not explicit.strip():
            raise ReproError(f"{flag} is empty; give the path of an imdb.npz file")
        origin, value = flag, explicit
    elif os.environ.get(IMDB_ENV, "").strip():
        origin, value = f"${IMDB_ENV}", os.environ[IMDB_ENV]
    else:
        return None
    path = Path(value).expanduser()
    if not path.exists():
        raise ReproError(f"{origin} {value}: no such file")
    if path.is_dir():
        from lstm_repro.aclimdb import require_review_root

        require_review_root(path, where=f"{origin} {value}")
    return origin, path


def _online(host: str = "storage.googleapis.com", timeout: float = 2.0) -> bool:
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def locate_imdb(explicit: str | None = None, *, allow_download: bool = True) -> Path:
    """Find the IMDB file: explicit path, then $LSTM_REPRO_IMDB, Keras's cache, a download.

    Raises ReproError with a paragraph on how to fix it when nothing is found.
    """
    named = named_imdb_path(explicit)
    if named is not None:
        return named[1]
    return find_unnamed_imdb(allow_download=allow_download)


def find_unnamed_imdb(*, allow_download: bool = True) -> Path:
    """Where no file was named: Keras's cache, then a download; ReproError with the advice."""
    cache = keras_cache_path()
    if cache.is_file():
        return cache
    if allow_download and _online():
        import keras

        log.warning("downloading IMDB from %s into %s", IMDB_URL, cache.parent)
        try:
            return Path(keras.utils.get_file("imdb.npz", origin=IMDB_URL, file_hash=IMDB_SHA256))
        except Exception as e:  # any download failure ends in the same advice below
            log.warning("IMDB download failed: %s", e)
    raise ReproError(
        "the IMDB file was not found. Looked for: --imdb-path (not given), "
        f"${IMDB_ENV} (not set), Keras's cache {cache} (absent), and a download from "
        f"{IMDB_URL} (offline or failed). Fix: on a machine with internet run "
        '`python -c "import keras; keras.datasets.imdb.load_data()"`, copy '
        f"~/.keras/datasets/imdb.npz here and pass --imdb-path FILE (or set ${IMDB_ENV}); "
        "or use --data synthetic."
    )
