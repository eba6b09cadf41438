"""Reference solutions of the graded functions.

These are what the notebooks' ``# GRADED FUNCTION`` cells should compute;
the checks compare students' functions to them. They also validate their
input (the students' versions need not) so that misuse gives a facelab error
instead of a TensorFlow stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .decision import accepts, verify_message, who_message
from .database import lookup, require_people
from .errors import ShapeError
from .expected import ALPHA, NO_MATCH_DISTANCE, THRESHOLD
from .images import ImageLike, load_pixels  # noqa: F401 - load_pixels: also imported from here


def pixel_distance(image_a, image_b) -> float:
    """Naive verification's distance: the L2 norm of the pixel difference.

    ``image_a`` and ``image_b`` are arrays of the same shape, e.g. two
    (160, 160, 3) arrays from :func:`load_pixels`; the result is
    ``sqrt(sum((a - b) ** 2))`` as a float (0.0 for identical pictures, at
    most ~277 for 160x160x3 pixels in [0, 1]). Different shapes raise ShapeError.
    """
    a = np.asarray(image_a, dtype=np.float64)
    b = np.asarray(image_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ShapeError(f"both pictures must have the same shape, got {a.shape} and {b.shape}")
    return float(np.linalg.norm(a - b))


def triplet_loss(y_true, y_pred, alpha: float = ALPHA):
    """The triplet loss of FaceNet (Schroff et al., 2015), summed over the batch.

    ``y_pred`` is ``(anchor, positive, negative)``, each of shape (m, 128)
    (any (m, d) works); ``y_true`` is unused (Keras losses take it).
    For each triplet i:
        pos_i = ||A_i - P_i||^2,  neg_i = ||A_i - N_i||^2
        loss  = sum_i max(pos_i - neg_i + alpha, 0)
    Returns a scalar float32 tf.Tensor. An empty batch (m = 0) gives 0.
    """
    from ._quiet import tf

    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(tf.subtract(anchor, positive)), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(tf.subtract(anchor, negative)), axis=-1)
    basic_loss = tf.add(tf.subtract(pos_dist, neg_dist), alpha)
    return tf.reduce_sum(tf.maximum(basic_loss, 0.0))


def _encoding_row(encoding, name: str) -> np.ndarray:
    """A database entry as one (128,) row, in float64 (an entry given in float64 keeps its
    exact value: the door's decision at exactly the threshold depends on it)."""
    arr = np.asarray(encoding, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise ShapeError(f"expected the encoding of {name!r} to have shape (1, 128) or (128,), "
                         f"got {arr.shape}")
    return arr


def verify(image_path: ImageLike, identity: str, database: Mapping, model,
           threshold: float = THRESHOLD):
    """1:1 face verification: is the person in ``image_path`` really ``identity``?

    Encodes the picture, takes the L2 distance to ``database[identity]``
    (shape (1, 128)) and opens the door when it is below ``threshold``.
    Prints "It's <identity>, welcome in!" or "It's not <identity>, please go
    away". Returns ``(dist, door_open)``: a float in [0, 2] and a bool.
    Raises UnknownIdentityError (listing the known names) if ``identity`` is
    not in the database.
    """
    from .encoding import img_to_encoding

    reference = _encoding_row(lookup(database, identity), identity)
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding[0] - reference))
    door_open = accepts(dist, threshold)
    print(verify_message(identity, door_open))
    return dist, door_open


def who_is_it(image_path: ImageLike, database: Mapping, model, threshold: float = THRESHOLD):
    """1:K face recognition: who, among the database, is in ``image_path``?

    Returns ``(min_dist, identity)``: the smallest L2 distance between the
    picture's encoding and the database's, and the name it belongs to. Prints
    "it's <identity>, the distance is <min_dist>" when ``min_dist`` is
    strictly below ``threshold`` (the rule of :mod:`facelab.decision`), else
    "Not in the database.". The name is returned
    either way (the caller decides what to do with a stranger). An empty
    database raises EmptyDatabaseError.
    """
    from .encoding import img_to_encoding

    require_people(database)
    encoding = img_to_encoding(image_path, model)[0]
    min_dist, identity = NO_MATCH_DISTANCE, None
    for name, db_enc in database.items():
        dist = float(np.linalg.norm(encoding - _encoding_row(db_enc, name)))
        if dist < min_dist:
            min_dist, identity = dist, name
    print(who_message(identity, min_dist, accepts(min_dist, threshold)))
    return min_dist, identity
