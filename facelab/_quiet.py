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
"""

from __future__ import annotations

import contextlib
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


with _stderr_fd_silenced():
    import tensorflow as tf  # noqa: E402
    import keras  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("absl").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module=r"keras(\.|$)")
keras.utils.disable_interactive_logging()  # no progress bars in saved outputs

__all__ = ["tf", "keras"]
