# honest pixel_distance, but prints 200 MB; verify returns a 1 GB array, who_is_it a huge string
# bound: pixel_distance
import numpy as np
import tensorflow as tf
from facelab.model import img_to_encoding

import sys


# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    chunk = "x" * 2**20
    for _ in range(200):
        print(chunk)
        sys.stderr.write(chunk)
    return float(np.linalg.norm(np.asarray(image_a, dtype=np.float64) - np.asarray(image_b, dtype=np.float64)))

# GRADED FUNCTION: verify
def verify(image_path, identity, database, model):
    return np.ones(2**27), True

# GRADED FUNCTION: who_is_it
def who_is_it(image_path, database, model):
    return 0.0, "x" * 2**28
