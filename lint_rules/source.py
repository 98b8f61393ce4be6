"""Reading and writing source files without losing a byte: encoding, BOM and line endings."""

from __future__ import annotations

import codecs
import io
import re
import tokenize
from dataclasses import dataclass


class SourceDecodeError(Exception):
    """The bytes are not text in the declared (or default UTF-8) encoding."""


@dataclass(frozen=True)
class DecodedSource:
    text: str  # without the BOM
    encoding: str
    bom: bool

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
        raise SourceDecodeError(str(exc)) from None
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
    return DecodedSource(text=text, encoding=encoding, bom=bom)


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
        import bisect

        row = bisect.bisect_right(self.starts, offset)
        return row, offset - self.starts[row - 1]


def write_atomically(path, data: bytes, expected_original: bytes) -> None:
    """Replace `path` with `data` via a temporary file in the same folder and a rename.

    Keeps the file's mode. Raises `FileChangedError` when the file on disk is no longer
    `expected_original` (it was edited while we worked): it is then left alone.
    """
    import os
    import stat
    import tempfile

    path = os.path.realpath(path)  # write through a symlink, never replace the link itself
    st = os.stat(path)
    with open(path, "rb") as fh:
        if fh.read() != expected_original:
            raise FileChangedError(f"{path}: changed on disk while being fixed; not written")
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".lla-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class FileChangedError(Exception):
    pass
