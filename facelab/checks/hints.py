"""Hints on demand, from gentle to strong, per graded exercise: ``hint("verify", 2)``.

Data only (see :func:`facelab.checks.hint`). Each hint points at the next
step without giving the solution's code; the last one is the strongest.
No expected value and no test case appears here.
"""

from __future__ import annotations

from types import MappingProxyType

from ..expected import NO_MATCH_DISTANCE, THRESHOLD

HINTS = MappingProxyType({
    "pixel_distance": (
        "Both pictures are arrays of the same shape. Their distance is one number computed "
        "from the difference image_a - image_b.",
        "Square every value of the difference, add them all up, then take the square root: "
        "that is the Euclidean (L2) norm of the difference.",
        "np.linalg.norm(x) computes that norm over all the values of an array x when you give "
        "it no axis; return it as a Python float with float(...).",
    ),
    "triplet_loss": (
        "Follow the four numbered steps above the cell, one line each: pos_dist, neg_dist, "
        "basic_loss, loss. Use TensorFlow operations (tf.square, tf.reduce_sum, tf.maximum) "
        "only: this notebook does not import numpy.",
        "A distance per triplet: tf.square of the difference, then tf.reduce_sum over the "
        "last axis (axis=-1), which gives one number per row: shape (m,).",
        "basic_loss = pos_dist - neg_dist + alpha, one value per triplet. Clip each at 0 with "
        "tf.maximum(basic_loss, 0.0) first, then add them up over the batch with tf.reduce_sum.",
    ),
    "verify": (
        "Encode the camera picture first: img_to_encoding(image_path, model) gives a (1, 128) "
        "array, like database[identity].",
        "dist is np.linalg.norm of the difference between the two encodings: one number. "
        f"The door opens when dist < {THRESHOLD}, strictly below.",
        "In each branch print the lesson's exact message (\"It's \" + str(identity) + ...), "
        "set door_open to True or False, and keep the order of `return dist, door_open`.",
    ),
    "who_is_it": (
        f"Encode the picture once, before the loop. Start min_dist at {NO_MATCH_DISTANCE:g}, "
        "larger than any distance between two encodings (they are at most 2 apart).",
        "Loop over the (name, db_enc) pairs of database.items() and, for each, compute dist, "
        "the np.linalg.norm of the difference between the picture's encoding and db_enc.",
        "Inside the loop, when dist < min_dist, update both min_dist and identity (to name), "
        "in the same `if`. The code after the loop prints the verdict and returns them.",
    ),
})
