"""The wire between the grader and the processes it starts: frames of JSON, never pickle.

A frame is an 8-byte big-endian length then that many bytes of UTF-8 JSON.
Values travel as tagged lists (:func:`encode` / :func:`decode`): plain Python
scalars, tuples, lists, str-keyed dicts, numeric numpy arrays and scalars,
TensorFlow tensors (decoded as numpy arrays; the student side turns them
back into tensors) and the ``["model"]`` marker (the student side puts its
graded model there). Anything else is sent as a short ``repr``. Decoding
never evaluates anything: an unknown tag or a bad dtype raises ValueError.
"""

from __future__ import annotations

import base64
import json
import os
import struct

import numpy as np

#: a frame larger than this is refused (a student's process cannot make the grader swallow GBs)
MAX_FRAME = 8 * 2**20
#: what a student's child accepts from the grader (a case's pictures make MBs of JSON)
GRADER_FRAME = 256 * 2**20
MAX_DEPTH = 12
MAX_ITEMS = 100_000
MAX_ARRAY = 8_000_000  # elements


class WireError(Exception):
    """A frame or a value that does not follow the format (the sender is at fault)."""


# ------------------------------------------------------------------ framing

def frame(message) -> bytes:
    """``message`` (JSON-able) as the bytes of one frame."""
    payload = json.dumps(message, separators=(",", ":")).encode()
    return struct.pack(">Q", len(payload)) + payload


def send(fd: int, message) -> None:
    """Write ``message`` (JSON-able) as one frame on ``fd``."""
    view = memoryview(frame(message))
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_exact(fd: int, n: int) -> bytes:
    """``n`` bytes from ``fd``; EOFError if the writer closed first."""
    chunks = []
    while n:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            raise EOFError("the other process closed the pipe")
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def recv(fd: int, limit: int | None = None):
    """One frame from ``fd``, parsed; WireError for a frame over ``limit`` bytes
    (default :data:`MAX_FRAME`) or one that is not JSON."""
    limit = MAX_FRAME if limit is None else limit
    (n,) = struct.unpack(">Q", read_exact(fd, 8))
    if n > limit:
        raise WireError(f"frame of {n} bytes refused (at most {limit})")
    try:
        return json.loads(read_exact(fd, n))
    except (ValueError, RecursionError) as exc:
        raise WireError(f"unreadable frame ({type(exc).__name__})") from None


# ------------------------------------------------------------------ values

def _tensor_like(v) -> bool:
    return type(v).__module__.startswith("tensorflow") and hasattr(v, "numpy") and hasattr(v, "dtype")


def _array(tag: str, arr: np.ndarray) -> list:
    return [tag, arr.dtype.str, list(arr.shape), base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode()]


def encode(v, depth: int = 0, model=None):
    """A value as JSON-able tagged lists; ``model`` (if given) becomes ``["model"]``."""
    if depth > MAX_DEPTH:
        return ["r", _short(v)]
    if model is not None and v is model:
        return ["model"]
    if v is None or isinstance(v, (bool, str)):
        return ["v", v]
    if isinstance(v, int) and not isinstance(v, np.generic):
        return ["v", int(v)] if abs(v) < 2**63 else ["r", _short(v)]
    if isinstance(v, (tuple, list)):
        return ["t" if isinstance(v, tuple) else "l", [encode(x, depth + 1, model) for x in v[:MAX_ITEMS]]]
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return ["d", [[k, encode(x, depth + 1, model)] for k, x in list(v.items())[:MAX_ITEMS]]]
    if isinstance(v, (np.ndarray, np.generic)):
        arr = np.asarray(v)
        if arr.dtype.kind in "biufc" and arr.size <= MAX_ARRAY:
            return _array("a" if isinstance(v, np.ndarray) else "g", arr)
    if isinstance(v, float):
        return ["f", repr(float(v))]
    if _tensor_like(v):
        try:
            arr = np.asarray(v.numpy())
        except Exception:  # noqa: BLE001 - a symbolic tensor
            return ["r", _short(v)]
        if arr.dtype.kind in "biufc" and arr.size <= MAX_ARRAY:
            return _array("T", arr)
    return ["r", _short(v)]


def _short(v) -> str:
    try:
        return repr(v)[:200]
    except Exception as exc:  # noqa: BLE001 - a hostile __repr__
        return f"<unprintable {type(v).__name__}: {type(exc).__name__}>"


def decode(x, tensor=None, model=None):
    """The inverse of :func:`encode`. ``tensor(array)`` rebuilds tensors (default:
    leave them numpy arrays); ``model`` replaces the model marker."""
    try:
        return _decode(x, tensor, model, 0)
    except WireError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, RecursionError) as exc:
        raise WireError(f"malformed value ({type(exc).__name__}: {str(exc)[:80]})") from None


def _decode(x, tensor, model, depth):
    if depth > MAX_DEPTH + 2 or not isinstance(x, list) or not x:
        raise WireError("malformed value")
    tag = x[0]
    if tag == "v":
        if x[1] is not None and not isinstance(x[1], (bool, int, str)):
            raise WireError("bad plain value")
        return x[1]
    if tag == "f":
        return float(x[1])
    if tag == "r":
        return str(x[1])
    if tag == "model":
        return model
    if tag in ("t", "l"):
        items = [_decode(i, tensor, model, depth + 1) for i in x[1]]
        return tuple(items) if tag == "t" else items
    if tag == "d":
        return {str(k): _decode(v, tensor, model, depth + 1) for k, v in x[1]}
    if tag in ("a", "g", "T"):
        dtype = np.dtype(x[1])
        if dtype.kind not in "biufc" or dtype.hasobject:
            raise WireError("bad dtype")
        shape = [int(s) for s in x[2]]
        arr = np.frombuffer(base64.b64decode(x[3]), dtype=dtype).reshape(shape).copy()
        if tag == "g":
            return arr.reshape(())[()]
        return tensor(arr) if tag == "T" and tensor is not None else arr
    raise WireError(f"unknown tag {str(tag)[:20]!r}")


class FrameReader:
    """Frames from a pipe, each awaited until a deadline (a half-written frame never
    blocks the reader): ``next(deadline)`` returns the parsed frame, raises
    TimeoutError when ``deadline`` (time.monotonic()) passes, EOFError when the
    writer is gone and WireError for an oversized or unreadable frame."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buf = bytearray()

    def _frame(self):
        if len(self.buf) < 8:
            return None
        (n,) = struct.unpack(">Q", self.buf[:8])
        if n > MAX_FRAME:
            raise WireError(f"frame of {n} bytes refused (at most {MAX_FRAME})")
        if len(self.buf) < 8 + n:
            return None
        payload = bytes(self.buf[8:8 + n])
        del self.buf[:8 + n]
        try:
            return json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise WireError(f"unreadable frame ({type(exc).__name__})") from None

    def next(self, deadline: float, poll=None):
        """The next frame; ``poll()`` (if given) runs every 50 ms while waiting."""
        import select
        import time

        while (frame := self._frame()) is None:
            left = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.05))
            if ready:
                try:
                    chunk = os.read(self.fd, 1 << 20)
                except ConnectionResetError:  # a socket whose other end died with data unread
                    chunk = b""
                if not chunk:
                    raise EOFError("the other process closed the pipe")
                self.buf += chunk
            elif time.monotonic() >= deadline:
                raise TimeoutError
            elif poll is not None:
                poll()
        return frame
