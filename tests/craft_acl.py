"""Builders of Large Movie Review Dataset archives (aclImdb .tar.gz), valid and hostile, for
the archive reader's tests. Not a test module. Archives are built in memory with tarfile, so a
test can forge what an honest tar never holds: links, devices, absolute names, `..`."""

from __future__ import annotations

import gzip
import io
import tarfile

# (split, label) -> [(file name, text)]: two reviews per folder, ratings that fit the label,
# words shared across splits so that frequency ranks span train and test.
SMALL = {
    ("train", "pos"): [("0_9.txt", "A great film.<br />Great acting!"), ("1_8.txt", "good good")],
    ("train", "neg"): [("2_1.txt", "Bad. Awful film"), ("3_4.txt", "not good, bad")],
    ("test", "pos"): [("0_10.txt", "Great, great fun"), ("1_7.txt", "a fine film")],
    ("test", "neg"): [("2_2.txt", "boring film"), ("3_3.txt", "bad bad bad")],
}


def entries(reviews=None) -> list[tuple[str, bytes]]:
    """(member name, bytes) of an archive with `reviews` under aclImdb/, with its README."""
    reviews = SMALL if reviews is None else reviews
    out = [("aclImdb/README", b"Large Movie Review Dataset v1.0\n")]
    for (split, label), files in reviews.items():
        for name, text in files:
            data = text if isinstance(text, bytes) else text.encode()
            out.append((f"aclImdb/{split}/{label}/{name}", data))
    return out


def tar_bytes(members, *, extra: list[tarfile.TarInfo] | None = None) -> bytes:
    """A tar of regular files `members` [(name, bytes)], then the forged infos in `extra`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info, io.BytesIO(b"\0" * info.size) if info.size else None)
    return buf.getvalue()


def archive(members=None, *, extra=None) -> bytes:
    """The gzip-compressed tar (mtime 0, so equal inputs give equal bytes)."""
    raw = tar_bytes(entries() if members is None else members, extra=extra)
    return gzip.compress(raw, mtime=0)


def special(name: str, kind: bytes, *, linkname: str = "", size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = size
    return info


def write_tree(root, reviews=None):
    """An extracted aclImdb/ under `root` holding `reviews`; returns its path."""
    base = root / "aclImdb"
    for name, data in entries(reviews):
        path = base / name.removeprefix("aclImdb/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return base
