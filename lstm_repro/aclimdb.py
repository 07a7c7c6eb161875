"""The Large Movie Review Dataset (Maas et al., ACL 2011; `aclImdb`) as raw text: read safely
from its archive or an extracted directory, tokenized into word ids in Keras's imdb.npz layout,
and cached.

The archive is untrusted input. It is never extracted: the gzip stream is read through a guard
that counts every decompressed byte (total and ratio to the compressed bytes read), and tar
members are taken one at a time from it (`tarfile` in stream mode). Links, devices, FIFOs,
absolute names and `..` anywhere are refused; regular files outside
`aclImdb/{train,test}/{pos,neg}/` are skipped unread (the authors' archive also holds
`train/unsup`, bag-of-words `.feat` files, URL lists); each review is bounded before it is
read and decoded as strict UTF-8. Every refusal is one ReproError line naming the file, the
member and the reason.

The tokenizer (TOKENIZER, version TOKENIZER_VERSION), stated once here and in the README:

1. decode UTF-8 (strict), lowercase (`str.lower`), replace every `<br />` by a space;
2. words are the matches of WORD_PATTERN: runs of Unicode letters and digits, with single
   apostrophes inside (`don't`, `it's`); everything else separates words;
3. ids are frequency ranks from 1 over train and test together ("indexed by overall
   frequency", as Keras documents its file); ties go to the word that sorts first by code
   point. The ranks do not depend on the order of the members in the archive;
4. each split is stored sorted by (label, review id, file name): neg (0) before pos (1).
   Keras's own rules then apply on loading, exactly as for imdb.npz (data.keras_imdb_rules:
   the seed-113 shuffle, start 1, OOV 2, index_from 3, num_words).

This is not Keras's file: Keras's word index is not available here, so the ids differ from
imdb.npz's and a record says `official: false` and names the tokenizer.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import stat
import tarfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstm_repro.errors import ReproError

TOKENIZER = "lstm-repro-words"
TOKENIZER_VERSION = 1
WORD_PATTERN = r"[^\W_]+(?:'[^\W_]+)*"
_WORD = re.compile(WORD_PATTERN)
LINE_BREAK = "<br />"
LABELS = {"neg": 0, "pos": 1}
SPLITS = ("train", "test")

# Caps. The labeled copy: 28.2 MB compressed, 50,009 entries, 66.3 MB of member data, the
# longest review 13,704 bytes, compression ratio ~4.7. The authors' archive: 84 MB compressed,
# ~100,000 entries, ~300 MB of tar stream. Each cap is at least 5x the larger of the two.
MAX_ARCHIVE_BYTES = 1 << 30  # compressed file
MAX_ENTRIES = 1_000_000  # tar entries of every kind
MAX_STREAM_BYTES = 4 << 30  # decompressed tar stream, read or skipped
MAX_RATIO = 100  # decompressed / compressed bytes so far, checked past RATIO_FLOOR_BYTES
RATIO_FLOOR_BYTES = 16 << 20
MAX_REVIEW_BYTES = 1 << 20  # one review file
MAX_REVIEWS = 1_000_000  # both splits
MAX_TEXT_BYTES = 1 << 30  # all reviews kept in memory

GZIP_MAGIC = b"\x1f\x8b"
_REVIEW = re.compile(r"^aclImdb/(train|test)/(pos|neg)/([^/]+\.txt)$")
_ID_RATING = re.compile(r"^(\d+)_(\d+)\.txt$")


class _Refused(Exception):
    """The archive or directory is not one this reader admits; the message says why."""


@dataclass(frozen=True)
class Reviews:
    """Raw review texts per split, each split sorted by (label, id, name): (texts, labels)."""

    train: tuple[list[str], np.ndarray]
    test: tuple[list[str], np.ndarray]


# --------------------------------------------------------------------------- recognising


def kind_of(path: Path) -> str:
    """'npz' (Keras's layout), 'archive' (gzip: the authors' .tar.gz or our labeled copy) or
    'directory' (an extracted aclImdb/), by content, never by name; ReproError otherwise."""
    if not path.exists():
        raise ReproError(f"{path}: no such file")
    if path.is_dir():
        require_review_root(path, where=str(path))
        return "directory"
    if not stat.S_ISREG(path.stat().st_mode):
        return "npz"  # a FIFO would block an open(); the npz reader refuses it in one line
    try:
        with open(path, "rb") as f:
            magic = f.read(2)
    except OSError as e:
        raise ReproError(f"{path}: cannot read ({e.strerror or e})") from None
    if magic == GZIP_MAGIC:
        return "archive"
    return "npz"  # the npz reader refuses anything that is not a zip, in one line


def review_root(path: Path) -> Path | None:
    """The aclImdb/ directory at or directly under `path`, if it has the four label folders."""
    for root in (path, path / "aclImdb"):
        if all((root / s / label).is_dir() for s in SPLITS for label in LABELS):
            return root
    return None


def require_review_root(path: Path, *, where: str) -> Path:
    """review_root(path), or the one-line error for a directory without the layout (`where`
    names it as the user gave it)."""
    root = review_root(path)
    if root is None:
        raise ReproError(
            f"{where}: is a directory without the aclImdb layout (train/pos, train/neg, "
            "test/pos, test/neg); name an imdb.npz file, the aclImdb_v1.tar.gz archive or its "
            "extracted aclImdb/ directory"
        )
    return root


# --------------------------------------------------------------------------- the archive


class _GuardedGzip(io.RawIOBase):
    """The decompressed stream of a gzip file, refusing once it exceeds MAX_STREAM_BYTES or
    MAX_RATIO times the compressed bytes consumed (a bomb is stopped while being skipped)."""

    def __init__(self, raw):
        self._raw = raw
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self.out = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._gzip.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.out += n
        consumed = max(1, self._raw.tell())
        if self.out > MAX_STREAM_BYTES:
            raise _Refused(f"decompresses to over {MAX_STREAM_BYTES:,} bytes")
        if self.out > RATIO_FLOOR_BYTES and self.out > MAX_RATIO * consumed:
            raise _Refused(
                f"compression ratio over {MAX_RATIO} ({self.out:,} bytes from {consumed:,})"
            )
        return n


def _safe_name(name: str) -> str:
    """The member name without a leading './'; refuses absolute names and '..' anywhere."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", name):
        raise _Refused(f"member {name!r} has an absolute name")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise _Refused(f"member {name!r} has '..' in its name")
    while parts and parts[0] == ".":
        parts = parts[1:]
    return "/".join(p for p in parts if p)


def _read_archive(path: Path) -> dict[tuple[str, str], list[tuple[str, bytes]]]:
    """(split, label) -> [(file name, raw bytes)] from the archive's review members."""
    found: dict[tuple[str, str], list[tuple[str, bytes]]] = {}
    seen: set[str] = set()
    entries = kept = 0
    member = "(the first member)"
    try:
        with open(path, "rb") as raw:
            stream = io.BufferedReader(_GuardedGzip(raw), buffer_size=1 << 16)
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for info in tar:
                    entries += 1
                    if entries > MAX_ENTRIES:
                        raise _Refused(f"more than {MAX_ENTRIES:,} entries")
                    name = _safe_name(info.name)
                    member = name or info.name
                    if info.issym() or info.islnk():
                        raise _Refused(f"member {member!r} is a link")
                    if info.isdir():
                        continue
                    if not info.isreg():
                        raise _Refused(f"member {member!r} is a device, FIFO or other special file")
                    match = _REVIEW.match(name)
                    if match is None:
                        continue  # README, imdb.vocab, train/unsup, .feat files, URL lists
                    if name in seen:
                        raise _Refused(f"member {member!r} appears twice")
                    seen.add(name)
                    if info.size > MAX_REVIEW_BYTES:
                        raise _Refused(
                            f"member {member!r} declares {info.size:,} bytes "
                            f"(a review is at most {MAX_REVIEW_BYTES:,})"
                        )
                    kept += info.size
                    if kept > MAX_TEXT_BYTES or len(seen) > MAX_REVIEWS:
                        raise _Refused(
                            f"more than {MAX_REVIEWS:,} reviews or {MAX_TEXT_BYTES:,} bytes of text"
                        )
                    handle = tar.extractfile(info)
                    data = handle.read(info.size + 1) if handle is not None else b""
                    if len(data) != info.size:
                        raise _Refused(f"member {member!r} is truncated")
                    split, label, file = match.groups()
                    found.setdefault((split, label), []).append((file, data))
            # Past the tar's end marker to the gzip trailer: its CRC and length are checked
            # only when the stream is read to the end (a flipped byte inside a member can
            # inflate to valid-looking data, and tar stops reading at its end marker).
            member = "(after the last member)"
            while stream.read(1 << 20):
                pass
    except _Refused:
        raise
    except OSError as e:
        if isinstance(e, gzip.BadGzipFile):
            raise _Refused(f"corrupt gzip stream near member {member!r} ({e})") from None
        raise ReproError(f"{path}: cannot read ({e.strerror or e})") from None
    except (EOFError, zlib.error) as e:
        raise _Refused(f"truncated or corrupt gzip stream near member {member!r} ({e})") from None
    except tarfile.TarError as e:
        raise _Refused(f"corrupt tar stream near member {member!r} ({e})") from None
    return found


def _read_directory(root: Path) -> dict[tuple[str, str], list[tuple[str, bytes]]]:
    """The same from an extracted aclImdb/: only regular files, no links followed."""
    found: dict[tuple[str, str], list[tuple[str, bytes]]] = {}
    count = kept = 0
    for split in SPLITS:
        for label in LABELS:
            folder = root / split / label
            rows = found.setdefault((split, label), [])
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as e:
                raise ReproError(f"{folder}: cannot read ({e.strerror or e})") from None
            for entry in entries:
                if not entry.name.endswith(".txt"):
                    continue
                member = f"{split}/{label}/{entry.name}"
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    raise _Refused(f"{member} is a link")
                if not stat.S_ISREG(info.st_mode):
                    raise _Refused(f"{member} is not a regular file")
                if info.st_size > MAX_REVIEW_BYTES:
                    raise _Refused(
                        f"{member} has {info.st_size:,} bytes "
                        f"(a review is at most {MAX_REVIEW_BYTES:,})"
                    )
                count += 1
                kept += info.st_size
                if kept > MAX_TEXT_BYTES or count > MAX_REVIEWS:
                    raise _Refused(
                        f"more than {MAX_REVIEWS:,} reviews or {MAX_TEXT_BYTES:,} bytes of text"
                    )
                fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                with os.fdopen(fd, "rb") as f:
                    data = f.read(MAX_REVIEW_BYTES + 1)
                rows.append((entry.name, data))
    return found


def _sort_key(label: str, name: str) -> tuple:
    match = _ID_RATING.match(name)
    return (LABELS[label], int(match.group(1)) if match else -1, name)


def _as_reviews(found: dict) -> Reviews:
    """Decoded, checked and sorted splits; the label layout is checked against the ratings
    that the file names carry (ID_RATING.txt: 1-4 negative, 7-10 positive)."""
    splits = {}
    for split in SPLITS:
        rows = []
        for label in LABELS:
            members = found.get((split, label), [])
            if not members:
                raise _Refused(
                    f"aclImdb/{split}/{label}: no reviews (each split needs pos and neg reviews)"
                )
            for name, data in members:
                rating = _ID_RATING.match(name)
                if rating and not _rating_fits(int(rating.group(2)), label):
                    raise _Refused(
                        f"aclImdb/{split}/{label}/{name}: rating {rating.group(2)} does not "
                        f"belong under {label} (1-4 are neg, 7-10 pos): wrong label layout"
                    )
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise _Refused(
                        f"aclImdb/{split}/{label}/{name}: not UTF-8 (byte {e.start})"
                    ) from None
                rows.append((_sort_key(label, name), text, LABELS[label]))
        rows.sort(key=lambda r: r[0])
        splits[split] = ([r[1] for r in rows], np.array([r[2] for r in rows], dtype=np.int32))
    return Reviews(train=splits["train"], test=splits["test"])


def _rating_fits(rating: int, label: str) -> bool:
    return 1 <= rating <= 4 if label == "neg" else 7 <= rating <= 10


def read_reviews(path: str | os.PathLike) -> Reviews:
    """The labeled reviews of an aclImdb archive or directory; ReproError naming the file and
    the reason for anything refused."""
    path = Path(path)
    try:
        if path.is_dir():
            found = _read_directory(require_review_root(path, where=str(path)))
        else:
            size = path.stat().st_size
            if size > MAX_ARCHIVE_BYTES:
                raise _Refused(f"{size:,} bytes; an archive is at most {MAX_ARCHIVE_BYTES:,}")
            found = _read_archive(path)
        return _as_reviews(found)
    except _Refused as e:
        raise ReproError(f"{path}: not an aclImdb archive this reader admits: {e}") from None
    except MemoryError:
        raise ReproError(f"{path}: ran out of memory reading it") from None


# --------------------------------------------------------------------------- the tokenizer


def words(text: str) -> list[str]:
    """Step 1 and 2 of the tokenizer (module docstring)."""
    return _WORD.findall(text.lower().replace(LINE_BREAK, " "))


def tokenize(reviews: Reviews):
    """Word ids by overall frequency rank (from 1; ties by code point): the raw arrays of
    Keras's layout, (x_train, y_train, x_test, y_test), x as lists of int32 arrays."""
    tokens = {split: [words(t) for t in getattr(reviews, split)[0]] for split in SPLITS}
    counts = Counter(w for split in SPLITS for review in tokens[split] for w in review)
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    rank = {w: i for i, w in enumerate(ranked, start=1)}
    out = []
    for split in SPLITS:
        out.append(
            [np.array([rank[w] for w in review], dtype=np.int32) for review in tokens[split]]
        )
        out.append(getattr(reviews, split)[1])
    return tuple(out)


def tokenizer_name() -> str:
    return f"{TOKENIZER}-v{TOKENIZER_VERSION}"


# --------------------------------------------------------------------------- identity, cache


def source_sha256(path: Path) -> str:
    """The archive's SHA-256; for a directory, SHA-256 over each review file's relative path
    and bytes in sorted order (what the conversion reads)."""
    if not path.is_dir():
        from lstm_repro.imdb import file_sha256

        return file_sha256(path)
    root = review_root(path)
    digest = hashlib.sha256()
    try:
        for split in SPLITS:
            for label in LABELS:
                for entry in sorted(os.scandir(root / split / label), key=lambda e: e.name):
                    if entry.name.endswith(".txt") and entry.is_file(follow_symlinks=False):
                        digest.update(f"{split}/{label}/{entry.name}\0".encode())
                        with open(entry.path, "rb") as f:
                            digest.update(hashlib.sha256(f.read(MAX_REVIEW_BYTES + 1)).digest())
    except OSError as e:
        raise ReproError(f"{path}: cannot read ({e.strerror or e})") from None
    return digest.hexdigest()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return Path(base) / "lstm_repro"


def cache_path(source_sha: str) -> Path:
    return cache_dir() / f"aclimdb-{source_sha[:32]}-{tokenizer_name()}.npz"


def _save(out: Path, arrays) -> None:
    from lstm_repro.imdb import save_imdb_file

    x_train, y_train, x_test, y_test = arrays
    save_imdb_file(out, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def convert(path: Path, out: Path):
    """Read, tokenize and write `path` as a Keras-layout imdb.npz at `out`, atomically; the
    raw arrays (x_train, y_train, x_test, y_test) that were written."""
    arrays = tokenize(read_reviews(path))
    _save(out, arrays)
    return arrays


def load_converted(path: Path, source_sha: str):
    """The raw arrays of `path` (an archive or directory whose SHA-256 is `source_sha`) under
    this tokenizer version: from the cache when the entry's recorded SHA-256 still matches and
    it parses with the pickle-free reader (parsed once), otherwise converted and cached again.

    A stale, corrupt or foreign entry is rebuilt, never trusted; a cache that cannot be
    written (read-only home) still gives the conversion."""
    import logging

    from lstm_repro.imdb import RawImdb, file_sha256, read_imdb_file
    from lstm_repro.records import write_atomic

    log = logging.getLogger(__name__)
    target = cache_path(source_sha)
    sidecar = target.with_suffix(".sha256")
    if target.is_file() and sidecar.is_file():
        try:
            cached = read_imdb_file(target)  # one read: parsed and hashed
            if sidecar.read_text().strip() == cached.sha256:
                return cached
            log.warning("cached %s does not match its recorded hash: converting again", target)
        except (ReproError, OSError, UnicodeDecodeError) as e:
            log.warning("cached %s is unreadable (%s): converting again", target, e)
    arrays = tokenize(read_reviews(path))  # a refused archive stops here, nothing cached
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _save(target, arrays)
        digest = file_sha256(target)
        write_atomic(sidecar, lambda f: f.write(f"{digest}\n".encode()))
    except (ReproError, OSError) as e:
        log.warning("cannot cache the conversion in %s (%s)", target.parent, e)
    return RawImdb(*arrays)
