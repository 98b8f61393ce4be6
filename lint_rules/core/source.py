"""Reading and writing source files without losing a byte: encoding, BOM and line endings."""

from __future__ import annotations

import bisect
import codecs
import hashlib
import io
import os
import re
import stat
import tempfile
import tokenize
from dataclasses import dataclass, field


class SourceDecodeError(Exception):
    """The bytes are not text in the declared (or default UTF-8) encoding."""


@dataclass(frozen=True)
class DecodedSource:
    text: str  # without the BOM; line endings as in the file
    encoding: str
    bom: bool
    # sha256 of the bytes read: a fix is written only while the file still has them.
    digest: str | None = field(default=None, compare=False)

    def encode(self, text: str) -> bytes:
        data = text.encode(self.encoding)
        return codecs.BOM_UTF8 + data if self.bom else data


def decode_source(data: bytes) -> DecodedSource:
    """Decode as Python does (PEP 263 cookie, BOM), keeping what is needed to write it back."""
    if b"\x00" in data:
        raise SourceDecodeError("source contains NUL bytes")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        # No cookie and the first lines are not UTF-8: say which byte, as for later lines.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as utf8_error:
            raise SourceDecodeError(_decode_message(utf8_error, data)) from None
        raise SourceDecodeError(str(exc)) from None
    digest = hashlib.sha256(data).hexdigest()
    bom = data.startswith(codecs.BOM_UTF8)
    if bom:
        data = data[len(codecs.BOM_UTF8):]
        encoding = "utf-8"
    elif encoding == "utf-8-sig":
        encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceDecodeError(_decode_message(exc, data)) from None
    return DecodedSource(text=text, encoding=encoding, bom=bom, digest=digest)


def _decode_message(exc: Exception, data: bytes) -> str:
    if isinstance(exc, UnicodeDecodeError):
        row = data.count(b"\n", 0, exc.start) + 1
        return f"invalid {exc.encoding} byte 0x{data[exc.start]:02x} on line {row}"
    return f"unknown encoding: {exc}"


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class LineIndex:
    """Offsets of line starts, to turn (row, column) into str offsets and back."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]

    def offset(self, row: int, column: int) -> int:
        """`row` 1-based, `column` 0-based (libcst's convention)."""
        if row - 1 >= len(self.starts):
            return len(self.text)
        return self.starts[row - 1] + column

    def line(self, row: int) -> str:
        if row - 1 >= len(self.starts):
            return ""
        start = self.starts[row - 1]
        end = self.starts[row] if row < len(self.starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def location(self, offset: int) -> tuple[int, int]:
        """(row 1-based, column 0-based) of an offset."""
        row = bisect.bisect_right(self.starts, offset)
        return row, offset - self.starts[row - 1]


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_digest(data: bytes) -> bytes:
    """What the result cache and the index key a text's derived facts on (16 bytes of blake2b)."""
    return hashlib.blake2b(data, digest_size=16).digest()


def write_atomically(path: str | os.PathLike[str], data: bytes, expected_digest: str) -> None:
    """Replace `path` with `data` via a temporary file in the same folder and a rename.

    Readers see the old file or the new one, never a mix. Keeps the file's permission bits
    (and owner, where allowed). Writes through a symlink to its target, never replacing the
    link. Raises `FileChangedError` (and writes nothing) when the file on disk no longer has
    the digest of the bytes the fix was computed from, or is read-only (no write permission
    bit: root is refused too, although it could write).

    The window in which a concurrent edit could be lost is kept to a stat and a rename: the
    new content is written and flushed to the temporary file first, then, just before the
    rename, the file's stat signature (inode, size, mtime, ctime) is compared with the one
    taken when its digest was verified; any difference re-verifies the digest, and a changed
    file is not written (the temporary file is removed).
    """
    path = os.path.realpath(path)
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise FileChangedError(f"{path}: no longer a regular file; not written")
    if not os.access(path, os.W_OK) or not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise FileChangedError(f"{path}: file is read-only; fixes not written")
    with open(path, "rb") as fh:
        verified = _signature(os.fstat(fh.fileno()))
        if file_digest(fh.read()) != expected_digest:
            raise FileChangedError(f"{path}: changed on disk while being fixed; not written")

    def unchanged() -> bool:
        try:
            now = os.stat(path)
        except OSError:
            return False
        if _signature(now) == verified:
            return True
        try:
            with open(path, "rb") as fh:
                return file_digest(fh.read()) == expected_digest and _signature(
                    os.fstat(fh.fileno())) == _signature(os.stat(path))
        except OSError:
            return False

    replace_file(path, data, like=st, verify=unchanged)


def _signature(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def replace_file(path: str | os.PathLike[str], data: bytes,
                 like: os.stat_result | None = None, verify=None, durable: bool = True) -> None:
    """Replace `path` with `data`: a temporary file in the same folder, flushed to disk, renamed
    over it, so readers see the old file or the new one, never a mix. `like`: the stat of the
    file replaced, whose permission bits (and owner, where allowed) the new one keeps.
    `durable=False` skips the flush to disk, for files that need not outlive the run."""
    fd, tmp = tempfile.mkstemp(prefix=".lla-", suffix=".tmp", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        if like is not None:
            os.chmod(tmp, stat.S_IMODE(like.st_mode))
            if hasattr(os, "chown"):
                try:
                    os.chown(tmp, like.st_uid, like.st_gid)
                except OSError:
                    pass  # only root may give a file away; the mode is what matters
        if verify is not None and not verify():
            raise FileChangedError(f"{path}: changed on disk while being fixed; not written")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class FileChangedError(Exception):
    pass
