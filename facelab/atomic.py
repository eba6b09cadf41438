"""Files on disk: written whole (readers see the old file or the new one, never a
part) and checksummed.

The one way facelab writes a file it must not leave half-written (weights,
photos, face crops, notebooks, the encodings store): a temporary file in the
same folder, flushed and fsync'ed, then renamed over the target. If anything
fails before the rename, the temporary file is removed and the target is
untouched. The new file gets the permissions the target had, or, for a new
file, those a plain ``open()`` would give (0666 less the umask): readers
other than the writer (the grader's sandbox users reading the pictures) see
it as they would any other file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, text: bool = False):
    """Open a temporary file next to ``path``; on a clean exit it replaces ``path``.

    The file is binary, or UTF-8 text with ``text=True``. The folder is
    created if needed. An exception inside the block (or a failed fsync or
    rename) removes the temporary file and propagates; ``path`` keeps its old
    content, or stays absent.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _mode_for(path))  # mkstemp's is 0600
        with os.fdopen(fd, "w" if text else "wb", encoding="utf-8" if text else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    """The target's permission bits, or 0666 less the umask for a new file."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path) as handle:
        handle.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, text=True) as handle:
        handle.write(text)


def sha256_file(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, as 64 hex digits (read in 1 MB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
