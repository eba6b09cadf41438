"""The graded exercises' cases, as data: names, arguments, points, tolerances, visibility.

Each :class:`~facelab.checks.Exercise` names its reference solution, what the
function returns (fields judged in order) and prints, its catalogue of
mistakes (:mod:`facelab.checks.mistakes`) and its cases. Hidden cases
(``hidden=True``) run only when the grader grades; a notebook's check runs
the visible ones and says how many more there are. Expected values come from
the reference solutions, or from :mod:`facelab.expected` where the lesson
states them. Arguments the calling process must build (the model, a
database, a picture's path) are :class:`~facelab.checks.Resource` markers of
:mod:`facelab.checks.resources`.

What each function receives, returns and prints is its contract
(:mod:`.contracts`): the judged fields come from there, and every argument
below fits what the contract (and so the exercise's text) states.

This module is secret (listed in ``facelab.checks.SECRET_MODULES``): the
grader hides it from student code.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import numpy as np

from .. import exercises as ref
from ..decision import NOT_IN_DATABASE, accepts, verify_message
from ..expected import (EMBEDDING_SIZE, IMAGE_SIZE, THRESHOLD, TRIPLET_SEEDED_LOSS,
                        TRIPLET_SMALL_CASES)
from . import contracts as C
from . import mistakes as M
from . import resources as R
from .calling import PROBE
from .engine import Check, Exercise, Resource

# tolerances of the judged numbers (DISTANCE_TOL: the contracts')
EXACT_TOL = 1e-6      # a distance that is exactly 0 or a whole number
SMALL_LOSS_TOL = 1e-5
SEEDED_LOSS_TOL = 1e-2  # the lesson prints it with 4 decimals, across TensorFlow builds


def camera(person: str, index: int) -> Resource:
    return Resource(R.camera, (person, index))


def badge(person: str) -> Resource:
    return Resource(R.badge, (person,))


def pixels(picture: Resource) -> Resource:
    return Resource(R.pixels, (picture,))


def only(*names: str) -> Resource:
    return Resource(R.office_database_only, names)


def without(*names: str) -> Resource:
    return Resource(R.office_database_without, names)


def at_threshold(picture: Resource, person: str) -> Resource:
    return Resource(R.database_at_threshold, (picture, person))


def triplet(anchor, positive, negative) -> tuple:
    return tuple(Resource(R.tensor, (v,)) for v in (anchor, positive, negative))


# ------------------------------------------------------------ pixel_distance
_M1, _M2, _E = pixels(camera("madonna", 1)), pixels(camera("madonna", 2)), pixels(badge("elton_john"))

def _image(**pixels) -> np.ndarray:
    """A black (160, 160, 3) float64 picture with the given ``"i_j_k"=value`` pixels set."""
    img = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3))
    for where, v in pixels.items():
        img[tuple(int(i) for i in where.strip("p").split("_"))] = v
    return img


PIXEL_DISTANCE = Exercise(
    "pixel_distance", ref.pixel_distance,
    returns=C.PIXEL_DISTANCE.returns,
    mistakes=M.PIXEL_DISTANCE,
    checks=(
        Check("same picture twice gives 0", (_M1, _M1), tol=EXACT_TOL),
        Check("two pictures of the same person", (_M1, _M2)),
        Check("pictures of two people", (_M1, _E)),
        Check("order does not matter", (_E, _M1), hidden=True),
        Check("two pixels apart (0.3 and 0.4: distance 0.5)",
              (_image(), _image(p0_0_0=0.3, p159_159_2=0.4)), tol=EXACT_TOL, hidden=True),
        Check("a black and a white picture", (_image(), np.ones((IMAGE_SIZE, IMAGE_SIZE, 3))),
              hidden=True),
    ),
)


# -------------------------------------------------------------- triplet_loss
def _small(i: int) -> Check:
    anchor, positive, negative, alpha, loss = TRIPLET_SMALL_CASES[i - 1]
    return Check(f"small case {i} (alpha={alpha:g})",
                 (None, triplet(anchor, positive, negative), alpha),
                 tol=SMALL_LOSS_TOL, value=lambda: [loss])


_SEEDED = (None, Resource(R.seeded_triplet))

TRIPLET_LOSS = Exercise(
    "triplet_loss", ref.triplet_loss,
    returns=C.TRIPLET_LOSS.returns,
    mistakes=M.TRIPLET_LOSS,
    checks=(
        *(_small(i) for i in range(1, len(TRIPLET_SMALL_CASES) + 1)),
        Check("seeded random batch (the lesson's expected output)", _SEEDED, points=2,
              tol=SEEDED_LOSS_TOL, value=lambda: [TRIPLET_SEEDED_LOSS]),
        Check("returns a TensorFlow tensor", _SEEDED,
              fields=(replace(C.TRIPLET_LOSS.returns[0], tol=None),)),
        Check("has a gradient with respect to y_pred (notebook 7 trains with it)", _SEEDED,
              fields=C.TRIPLET_LOSS.extra, kwargs={PROBE: "gradient"},
              value=lambda: [["ok", TRIPLET_SEEDED_LOSS]]),
        Check("random batch of 4", (None, Resource(R.random_triplet, (7, 4, EMBEDDING_SIZE))), hidden=True),
        Check("random batch of 1", (None, Resource(R.random_triplet, (11, 1, EMBEDDING_SIZE))), hidden=True),
        Check("another alpha", (None, Resource(R.random_triplet, (3, 5, 16)), 0.5), hidden=True),
    ),
)


# -------------------------------------------------------------------- verify
def _verify_prints(args, value) -> str:
    return verify_message(args[1], value[1])


def _door(picture, claimed, database=R.OFFICE_DB):
    return (picture, claimed, database, R.MODEL)


VERIFY = Exercise(
    "verify", ref.verify,
    returns=C.VERIFY.returns,
    prints=_verify_prints,
    mistakes=M.VERIFY,
    checks=(
        Check("an employee at the door (jerry_seinfeld_2 as jerry_seinfeld)",
              _door(camera("jerry_seinfeld", 2), "jerry_seinfeld")),
        Check("a stolen badge (madonna_1 claims to be elton_john)",
              _door(camera("madonna", 1), "elton_john")),
        Check("the badge photo itself (distance 0)", _door(badge("ben_afflek"), "ben_afflek")),
        Check(f"exactly at the threshold (distance {THRESHOLD}): the door stays shut",
              _door(camera("mindy_kaling", 2), "mindy_kaling",
                    at_threshold(camera("mindy_kaling", 2), "mindy_kaling")),
              value=lambda: [THRESHOLD, False]),
        Check("a genuine visitor far from the badge", _door(camera("madonna", 3), "madonna"),
              hidden=True),
        Check("another impostor", _door(camera("ben_afflek", 4), "mindy_kaling"), hidden=True),
        Check("a one-person database", _door(camera("elton_john", 2), "elton_john",
                                             only("elton_john")), hidden=True),
        Check("another claim at the threshold",
              _door(camera("elton_john", 3), "jerry_seinfeld",
                    at_threshold(camera("elton_john", 3), "jerry_seinfeld")),
              value=lambda: [THRESHOLD, False], hidden=True),
    ),
)


# ----------------------------------------------------------------- who_is_it
def _who_prints(args, value) -> str:
    """The start of what who_is_it prints (students format the distance as they like)."""
    min_dist, identity = value
    return f"it's {identity}" if accepts(min_dist) else NOT_IN_DATABASE


WHO_IS_IT = Exercise(
    "who_is_it", ref.who_is_it,
    returns=C.WHO_IS_IT.returns,
    prints=_who_prints,
    mistakes=M.WHO_IS_IT,
    checks=(
        Check("an employee at the door (jerry_seinfeld_2)",
              (camera("jerry_seinfeld", 2), R.OFFICE_DB, R.MODEL)),
        Check("a badge photo is found at distance 0", (badge("mindy_kaling"), R.OFFICE_DB, R.MODEL)),
        Check("a stranger: madonna is not in this database",
              (camera("madonna", 1), without("madonna"), R.MODEL)),
        Check("an employee far from the badge", (camera("elton_john", 4), R.OFFICE_DB, R.MODEL),
              hidden=True),
        Check("a one-person database", (camera("ben_afflek", 2), only("mindy_kaling"), R.MODEL),
              hidden=True),
        Check("the last employee of the database", (camera("mindy_kaling", 4), R.OFFICE_DB,
                                                     R.MODEL), hidden=True),
    ),
)

#: the graded exercises, in notebook order
EXERCISES = MappingProxyType({e.name: e for e in (PIXEL_DISTANCE, TRIPLET_LOSS, VERIFY, WHO_IS_IT)})
