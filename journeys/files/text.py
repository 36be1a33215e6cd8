"""Reading a marketer's file (scenario, template, ``loyalty.yaml``) as text, or saying why not.

Every such file is UTF-8 (a UTF-8 byte-order mark is allowed and dropped). Anything else
gets one sentence naming the line, instead of a ``UnicodeDecodeError`` traceback: a file
saved as UTF-16 by an editor, Latin-1 text, a NUL byte from a bad copy, a binary dropped
into the folder. Files are read up to a size limit and only when they are regular files,
so a FIFO, a device or a 2 GB log named ``*.yaml`` cannot stall or exhaust ``validate``
or the worker.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

from journeys.files.problems import Problem

MAX_SOURCE_BYTES = 1024 * 1024
"""The largest file read (1 MiB): the biggest real scenario or template is a few KB."""


class SourceError(ValueError):
    """A file that is not usable text, with the 1-based line of the first problem."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message

    def problem(self, file: str) -> Problem:
        """This error as a ``file:line: message`` problem of the file it was found in."""
        return Problem(file, self.line, self.message)


def read_source(path: Path) -> str:
    """The text of ``path``, or a ``SourceError`` when it cannot be read (missing, no
    permission, a folder), is not a regular file, is too large or is not UTF-8 text.

    An ``OSError`` becomes a ``SourceError`` on line 1 here, so every caller reports an
    unreadable file the same way as a badly encoded one.
    """
    try:
        with open(path, "rb", opener=_no_blocking) as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode):
                kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
                raise SourceError(1, f"cannot read this file: it is {kind}")
            data = file.read(MAX_SOURCE_BYTES + 1)
    except OSError as err:
        raise SourceError(1, f"cannot read this file: {err.strerror or err}") from None
    return decode_source(data)


def _no_blocking(path: str, flags: int) -> int:
    """Opening a FIFO for reading waits for a writer; non-blocking, it returns at once
    (and ``read_source`` then refuses it for not being a regular file)."""
    return os.open(path, flags | os.O_NONBLOCK)


def decode_source(data: bytes) -> str:
    """UTF-8 text from ``data``, or a ``SourceError`` saying what the bytes are instead."""
    if len(data) > MAX_SOURCE_BYTES:
        raise SourceError(1, f"the file is larger than {MAX_SOURCE_BYTES // 1024} KiB")
    for bom, name in (
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ):
        if data.startswith(bom):
            raise SourceError(1, f"the file is {name} (it starts with a {name} byte-order "
                              "mark): save it as UTF-8")
    if b"\x00" in data:
        if _looks_like_utf16(data):
            raise SourceError(1, "the file looks like UTF-16 without a byte-order mark "
                              "(every other byte is NUL): save it as UTF-8")
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise SourceError(line, "the file contains a NUL byte (is it a binary file?)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        start = data.rfind(b"\n", 0, err.start) + 1
        line = data[: err.start].count(b"\n") + 1
        column = len(data[start : err.start].decode("utf-8", errors="replace")) + 1
        raise SourceError(
            line,
            f"the file is not UTF-8: byte 0x{data[err.start]:02x} at column {column} "
            "cannot be read (save the file as UTF-8)",
        ) from None


def _looks_like_utf16(data: bytes) -> bool:
    """ASCII-range text in UTF-16 has a NUL in every other byte, at even or odd offsets."""
    sample = data[:4096]
    halves = sample[0::2], sample[1::2]
    return any(half.count(0) >= len(half) * 0.4 for half in halves if half)
