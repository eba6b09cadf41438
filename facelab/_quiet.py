"""Import TensorFlow without its start-up chatter.

TensorFlow 2.21 writes absl/oneDNN/CUDA notices ("oneDNN custom operations
are on", "Could not find cuda drivers", "All log messages before
absl::InitializeLog()...") straight to file descriptor 2 while it is being
imported, before ``TF_CPP_MIN_LOG_LEVEL`` can take effect; Jupyter kernels
capture that descriptor into cell outputs. So this module, which every
facelab module uses to get TensorFlow, points descriptor 2 at /dev/null for
the duration of that one import and restores it right after. An import
*error* is still raised as a Python exception. Later warnings are not
hidden; the environment variables below keep TensorFlow's own log quiet.
A variable the user set already is left alone.

Importing TensorFlow also reads about 380 MB of its 1.1 GB library into
memory (static initialisers registering every op and kernel) that the
workbook's model never runs again. Right after the import, those read-only
pages of ``libtensorflow*.so`` are handed back to the kernel with
``madvise(MADV_PAGEOUT)`` (Linux 5.4+; elsewhere nothing happens); pages
that are needed later are read in again on their own. This keeps a model
notebook's kernel under 800 MB on a course hub (see benchmarks/notebooks.py).
``FACELAB_KEEP_TF_PAGES=1`` turns it off.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@contextlib.contextmanager
def _stderr_fd_silenced():
    """Send C-level writes to fd 2 to /dev/null inside the block."""
    if os.environ.get("FACELAB_TF_VERBOSE") or "tensorflow" in sys.modules:
        yield
        return
    try:
        sys.stderr.flush()
    except Exception:  # pragma: no cover - a closed stderr
        pass
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def release_library_pages(name: str = "libtensorflow") -> int:
    """Page out the read-only file mappings of the shared libraries named ``name*``.

    Returns how many mappings the kernel accepted (0 where MADV_PAGEOUT is
    unknown). Clean pages only: nothing is lost, a page used again is re-read.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()
    except (OSError, AttributeError):
        return 0
    done = 0
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and os.path.basename(fields[5]).startswith(name) and "w" not in fields[1]:
            low, high = (int(x, 16) for x in fields[0].split("-"))
            done += madvise(low, high - low, _MADV_PAGEOUT) == 0
    return done


_MADV_PAGEOUT = 21

with _stderr_fd_silenced():
    import tensorflow as tf  # noqa: E402
    import keras  # noqa: E402

if not os.environ.get("FACELAB_KEEP_TF_PAGES"):
    release_library_pages()

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("absl").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module=r"keras(\.|$)")
keras.utils.disable_interactive_logging()  # no progress bars in saved outputs

__all__ = ["tf", "keras"]
