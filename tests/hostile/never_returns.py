# honest pixel_distance; the others sleep forever, spin ignoring SIGTERM/SIGINT, or wait on a pipe
# bound: pixel_distance
import numpy as np
import tensorflow as tf
from facelab.model import img_to_encoding

import os
import signal
import time


# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    return float(np.linalg.norm(np.asarray(image_a, dtype=np.float64) - np.asarray(image_b, dtype=np.float64)))

# GRADED FUNCTION: triplet_loss
def triplet_loss(y_true, y_pred, alpha=0.2):
    time.sleep(10**6)

# GRADED FUNCTION: verify
def verify(image_path, identity, database, model):
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        pass

# GRADED FUNCTION: who_is_it
def who_is_it(image_path, database, model):
    r, w = os.pipe()
    os.read(r, 1)
