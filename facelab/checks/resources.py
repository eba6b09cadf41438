"""The values case arguments name, built by whichever process calls the function.

A case does not carry the model or a database (they cannot be sent to a
sandboxed worker, and every process loads them once): it carries
:class:`facelab.checks.Resource` markers naming a builder below and its
parameters, and :func:`facelab.checks.resolve` builds them where the call
happens. This module holds no expected value and no hidden case (those are
in :mod:`facelab.checks.suite`): a worker running student code may import it.

Every builder is a plain module-level function, so a marker pickles by name.
"""

from __future__ import annotations

import numpy as np

from .calling import Resource, resolve
from ..errors import FacelabError
from ..expected import THRESHOLD


def model():
    """The pretrained FaceNet (loaded once per process)."""
    from ..model import load_pretrained

    return load_pretrained()


def office_database():
    """The office's employee database ``{name: (1, 128) float32}``."""
    from ..database import office_database as build

    return build(resolve(MODEL))


def office_database_only(*names: str) -> dict:
    """The office database restricted to ``names``."""
    return {k: v for k, v in resolve(OFFICE_DB).items() if k in names}


def office_database_without(*names: str) -> dict:
    """The office database without ``names`` (strangers at the door)."""
    return {k: v for k, v in resolve(OFFICE_DB).items() if k not in names}


def camera(person: str, index: int) -> str:
    """The path of ``<person>_<index>.png`` among the camera pictures (index from 1)."""
    from ..database import camera_pictures

    return str(camera_pictures(person)[index - 1])


def badge(person: str) -> str:
    """The path of ``person``'s badge photo."""
    from ..database import employee_pictures

    return str(employee_pictures()[person])


def pixels(picture: str) -> np.ndarray:
    """A picture as the naive method sees it: (160, 160, 3) float64 in [0, 1]."""
    from ..images import load_pixels

    return load_pixels(picture)


def tensor(values) -> object:
    """A float32 TensorFlow constant from nested tuples of numbers."""
    from .._quiet import tf

    return tf.constant(np.asarray(values, dtype=np.float32))


def seeded_triplet() -> tuple:
    """The lesson's three seeded random (3, 128) draws: anchor, positive, negative."""
    from .._quiet import tf

    from ..expected import EMBEDDING_SIZE, TRIPLET_SEED, TRIPLET_SEEDED_DRAWS

    tf.random.set_seed(TRIPLET_SEED)
    return tuple(tf.random.normal([3, EMBEDDING_SIZE], mean=m, stddev=s, seed=TRIPLET_SEED)
                 for m, s in TRIPLET_SEEDED_DRAWS)


def random_triplet(seed: int, m: int, d: int) -> tuple:
    """Three (m, d) float32 tensors of standard normal numbers from numpy's ``seed``."""
    from .._quiet import tf

    rng = np.random.default_rng(seed)
    return tuple(tf.constant(rng.normal(size=(m, d)).astype(np.float32)) for _ in range(3))


def database_at_threshold(picture: str, person: str) -> dict:
    """The office database where ``person``'s entry is exactly THRESHOLD from ``picture``.

    The entry is the picture's own encoding, in float64, moved by THRESHOLD
    along one coordinate, so that ``np.linalg.norm(encoding - entry)`` is
    exactly THRESHOLD (float64 arithmetic, the lesson's formula) and a door
    that opens strictly below the threshold stays shut. Raises FacelabError
    if no coordinate gives an exact distance (never seen).
    """
    from ..encoding import img_to_encoding

    encoding = img_to_encoding(picture, resolve(MODEL))
    base = encoding.astype(np.float64)
    for k in np.argsort(np.abs(base[0])):
        entry = base.copy()
        entry[0, k] += THRESHOLD
        if (float(np.linalg.norm(encoding - entry)) == THRESHOLD
                and float(np.linalg.norm(entry - encoding)) == THRESHOLD):
            return {**resolve(OFFICE_DB), person: entry}
    raise FacelabError(f"expected a coordinate giving a distance of exactly {THRESHOLD} "
                       f"from {picture}, found none")  # pragma: no cover


MODEL = Resource(model)
OFFICE_DB = Resource(office_database)
