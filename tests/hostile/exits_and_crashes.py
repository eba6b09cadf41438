# leaves the interpreter every way it can: os._exit, sys.exit, KeyboardInterrupt, a segfault, deep recursion
# bound: 0
import numpy as np
import tensorflow as tf
from facelab.model import img_to_encoding

import ctypes
import os
import sys


# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    os._exit(0)

# GRADED FUNCTION: triplet_loss
def triplet_loss(y_true, y_pred, alpha=0.2):
    sys.exit(0)

# GRADED FUNCTION: verify
def verify(image_path, identity, database, model):
    ctypes.string_at(0)

# GRADED FUNCTION: who_is_it
def who_is_it(image_path, database, model):
    sys.setrecursionlimit(10**6)
    def down(n):
        return down(n + 1) + 1
    raise KeyboardInterrupt(down(0))
