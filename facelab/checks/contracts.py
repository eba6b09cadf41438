"""One contract per graded exercise: what it receives, returns and prints, as data.

A :class:`Contract` is the one home of what an exercise requires. The cases
(:mod:`.suite`) take their judged fields from it (``contract.returns``), so
the notebook's check and the grader enforce exactly it; its arguments say the
kinds and shapes every case (hidden ones too) passes, and a test runs each
case's arguments through ``Arg.fits``; :meth:`Contract.markdown` is the text
the exercise's markdown cell states word for word (a test keeps the notebook
and this data in step). Nothing here is secret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ..decision import NOT_IN_DATABASE, verify_message
from ..expected import EMBEDDING_SIZE, IMAGE_SIZE, THRESHOLD
from .judging import Differentiable, Flag, Number, Text

DISTANCE_TOL = 1e-3   # encodings and pixels: float32 arithmetic in any order

HEADING = "**What the check and the grader require** (the same rules, one place: `facelab.checks.contracts`):"


@dataclass(frozen=True)
class Arg:
    """An argument: what the text says of it, and a test that every case's value fits."""

    name: str
    says: str
    fits: Callable[[object], bool] = lambda value: True


@dataclass(frozen=True)
class Contract:
    """An exercise's contract: its arguments, judged return fields and printed messages."""

    exercise: str
    args: tuple
    returns: tuple
    prints: tuple = ()
    extra: tuple = ()   # further judged properties (e.g. a gradient), stated too

    def lines(self) -> list[str]:
        """The contract's sentences, as the exercise's text states them."""
        out = [f"- `{a.name}`: {a.says}" for a in self.args]
        fields = ", ".join(f"`{f.name}`" for f in self.returns)
        out.append("- It returns " + ("one value:" if len(self.returns) == 1
                                      else f"the tuple ({fields}), in this order:"))
        out += [f"  - {f.states()}" for f in (*self.returns, *self.extra)]
        out += [f"- {p}" for p in self.prints]
        return out

    def markdown(self) -> str:
        return "\n".join([HEADING, "", *self.lines()])


def _image(value) -> bool:
    arr = np.asarray(value)
    return arr.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and arr.dtype.kind == "f"


def _triplet(value) -> bool:
    shapes = {tuple(np.asarray(v).shape) for v in value}
    return len(value) == 3 and len(shapes) == 1 and len(next(iter(shapes))) == 2


def _path(value) -> bool:
    return isinstance(value, str)


def _database(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and np.asarray(v).shape == (1, EMBEDDING_SIZE) for k, v in value.items())


_MODEL = Arg("model", "the notebook's FaceNet model: use it through "
                      "`img_to_encoding(image_path, model)` (calling it yourself, `model(x)`, "
                      "`model.predict(x, verbose=0)` or `model.predict_on_batch(x)`, works too)")
_DATABASE = Arg("database", f"a dict from each name (a `str`) to its encoding, an array of shape "
                            f"(1, {EMBEDDING_SIZE}) (float32, or float64); the tests use the "
                            "office's database, parts of it, and one-person databases",
                _database)
_PATH = Arg("image_path", "the path of a picture, a `str`", _path)
_DIST = Number("dist", DISTANCE_TOL)

PIXEL_DISTANCE = Contract(
    "pixel_distance",
    args=(Arg("image_a", f"a picture as a float array of shape ({IMAGE_SIZE}, {IMAGE_SIZE}, 3), "
                         "pixel values in [0, 1]", _image),
          Arg("image_b", "another picture of the same shape", _image)),
    returns=(_DIST,),
)

TRIPLET_LOSS = Contract(
    "triplet_loss",
    args=(Arg("y_true", "unused (Keras losses take it); the tests pass None"),
          Arg("y_pred", "a tuple (anchor, positive, negative) of three float32 TensorFlow "
                        "tensors of the same shape (m, d): m triplets (the tests use m from "
                        f"1 to 5), d = {EMBEDDING_SIZE} or 16", _triplet),
          Arg("alpha", "the margin, a Python float (0.2 unless given)")),
    returns=(Number("loss", DISTANCE_TOL, tensor="only"),),
    extra=(Differentiable("loss"),),
)

VERIFY = Contract(
    "verify",
    args=(_PATH, Arg("identity", "the claimed name, a `str` key of `database`", _path),
          _DATABASE, _MODEL),
    returns=(_DIST, Flag("door_open", decides=0)),
    prints=(f"It prints exactly `{verify_message('<identity>', True)}` when the door opens "
            f"(`dist < {THRESHOLD}`, strictly below), else "
            f"`{verify_message('<identity>', False)}`.",),
)

WHO_IS_IT = Contract(
    "who_is_it",
    args=(_PATH, _DATABASE, _MODEL),
    returns=(Number("min_dist", DISTANCE_TOL), Text("identity")),
    prints=(f"It prints `{NOT_IN_DATABASE}` when `min_dist > {THRESHOLD}`, else a "
            "line starting with `it's <identity>` (then the distance, formatted as you like); "
            "`identity` is the nearest name either way.",),
)

#: the contracts, in notebook order
CONTRACTS = MappingProxyType({c.exercise: c for c in (PIXEL_DISTANCE, TRIPLET_LOSS, VERIFY,
                                                      WHO_IS_IT)})
