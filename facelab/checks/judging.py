"""Judging what a graded function returned: its fields, their kinds, what it printed.

An exercise's function returns one value or a tuple of fields; each field is
a :class:`Number` (one number within a tolerance), a :class:`Flag` (True or
False) or a :class:`Text` (a name). :class:`Returns` is the judge of a case:
it reads an :class:`~facelab.checks.calling.Outcome`, checks the form (a tuple of the
right length, one number and not an array of shape (1,), not a tensor...),
then each value against the :class:`Expected` data, then the printed text,
and answers with a :class:`Verdict` whose ``summary`` says the same without
any value (what hidden cases show). :mod:`facelab.checks` re-exports all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .calling import Outcome
from ..errors import FacelabError

# ---------------------------------------------------------- what is returned


def _shape_problem(kind: str, value) -> str | None:
    """Why ``value`` is not one number, in words (None when it is one)."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return f"{value} (a bool)"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return None
    if isinstance(value, np.ndarray):
        if value.ndim == 0 and value.dtype.kind in "iuf":
            return None
        return f"an array of shape {value.shape}"
    if isinstance(value, (list, tuple)):
        return f"a {kind} of length {len(value)}"
    return f"a {kind}"


@dataclass(frozen=True)
class Number:
    """A returned field that is one real number, equal to the expected one within ``tol``.

    Any real scalar: a float, an int, a numpy scalar, a 0-d array or a 0-d
    TensorFlow tensor (``tensor="only"``: a scalar TensorFlow tensor and only
    that). ``tol=None`` checks the type only.
    """

    name: str
    tol: float | None = 1e-3
    tensor: bool | str = True

    def problem(self, kind: str, value) -> str | None:
        if value is None:
            return "None"
        if self.tensor == "only" and kind != "tf.Tensor":
            return f"a {kind}, not a TensorFlow tensor"
        return _shape_problem(kind, value)

    def equal(self, got, want) -> bool:
        if self.tol is None:
            return True
        got = float(np.asarray(got, dtype=np.float64))
        return math.isfinite(got) and abs(got - float(want)) <= self.tol

    def show(self, value) -> str:
        return f"{float(np.asarray(value, dtype=np.float64)):.4f}"

    def states(self) -> str:
        """What the exercise's text says of this field."""
        if self.tensor == "only":
            return f"`{self.name}`: a scalar (0-d) TensorFlow tensor"
        return (f"`{self.name}`: one real number: a Python float or int, a numpy scalar "
                "(np.float32, np.float64...), or a 0-d numpy array or TensorFlow tensor "
                "(not an array of shape (1,), not a list)")


@dataclass(frozen=True)
class Flag:
    """A returned field that is True or False (a numpy bool counts).

    ``decides``: the index of the distance field this flag is the door's decision on.
    The expected flag is then the decision on the student's own distance when that
    distance lies on the other side of the threshold than the expected one (their
    arithmetic, within the distance's tolerance, moved a case that is exactly at the
    threshold): a door that follows the rule on their distance is right.
    """

    name: str
    decides: int | None = None

    def expected(self, got_distance, want_distance, want) -> tuple:
        """(the accepted flags, True when the student's own distance is on the other side).

        On the other side, both decisions are right: the rule applied to their distance
        in float64 (``decision.accepts``), or in their own arithmetic (a float32 distance
        compared with 0.7 compares with float32(0.7)), which is the expected flag."""
        from ..decision import accepts

        try:
            theirs = float(np.asarray(got_distance, dtype=np.float64))
        except (TypeError, ValueError):
            return (want,), False
        if math.isfinite(theirs) and accepts(theirs) != accepts(float(want_distance)):
            return (want, accepts(theirs)), True
        return (want,), False

    def problem(self, kind: str, value) -> str | None:
        if isinstance(value, (bool, np.bool_)) or (isinstance(value, np.ndarray)
                                                  and value.shape == () and value.dtype == bool):
            return None
        return "None" if value is None else f"a {kind}, not True or False"

    def equal(self, got, want) -> bool:
        return bool(got) == bool(want)

    def show(self, value) -> str:
        return str(bool(value))

    def states(self) -> str:
        from ..expected import THRESHOLD

        rule = (f": True exactly when the distance you return is below {THRESHOLD} (strictly)"
                if self.decides is not None else "")
        return f"`{self.name}`: True or False (a Python or numpy bool){rule}"


@dataclass(frozen=True)
class Text:
    """A returned field that is a string equal to the expected one."""

    name: str

    def problem(self, kind: str, value) -> str | None:
        if isinstance(value, str):
            return None
        return "None" if value is None else f"a {kind}, not a name"

    def equal(self, got, want) -> bool:
        return isinstance(got, str) and str.__eq__(str(got), want) is True

    def show(self, value) -> str:
        return repr(str(value)) if isinstance(value, str) else repr(value)

    def states(self) -> str:
        return f"`{self.name}`: a name: any string (`str`, or a subclass such as numpy's `np.str_`)"


@dataclass(frozen=True)
class Differentiable:
    """A returned field that is a TensorFlow tensor with a gradient with respect to the
    function's tensor arguments (the case's ``gradient`` probe answers "ok")."""

    name: str
    of: str = "y_pred"

    def problem(self, kind: str, value) -> str | None:
        status = value.get("status") if isinstance(value, dict) else None
        if status == "ok":
            return None
        if status == "not a tensor":
            return "a value that is not a TensorFlow tensor, so it has no gradient"
        return f"a tensor with no gradient with respect to {self.of}"

    def equal(self, got, want) -> bool:
        want = want[0] if isinstance(want, (list, tuple)) else want
        return isinstance(got, dict) and got.get("status") == want

    def show(self, value) -> str:
        return str(value.get("status")) if isinstance(value, dict) else str(value)

    def states(self) -> str:
        return (f"`{self.name}` has a gradient with respect to `{self.of}`: compute it with "
                "TensorFlow operations only (no numpy, no float(...), no tf.constant(...) of a "
                "result): notebook 7 trains a network with this loss")


@dataclass(frozen=True)
class Verdict:
    """A judge's answer. ``summary`` says the same as ``message`` without any value."""

    passed: bool
    message: str = ""
    hint: str = ""
    summary: str = ""


@dataclass(frozen=True)
class Expected:
    """The expected data of one case, as ``case.expect()`` returns it (JSON-able lists).

    ``value``: the returned fields, in order; ``prints``: text the call must
    print (or None); ``mistakes``: ``[[mistake name, fields, prints], ...]``,
    what each catalogued mistake would return and print on this case.
    """

    value: list
    prints: str | None = None
    mistakes: list = field(default_factory=list)

    @classmethod
    def read(cls, data) -> Expected:
        if isinstance(data, Expected):
            return data
        if isinstance(data, (list, tuple)) and len(data) == 3:
            return cls(list(data[0]), data[1], [list(m) for m in data[2] or ()])
        raise FacelabError(f"expected data [value, prints, mistakes], got {type(data).__name__}")

    def data(self) -> list:
        return [_jsonable(self.value), self.prints, _jsonable(self.mistakes)]


def _jsonable(v):
    """Plain JSON types: numpy and TensorFlow numbers become floats/bools, tuples lists."""
    if hasattr(v, "numpy") and callable(v.numpy):
        v = v.numpy()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    return v


@dataclass(frozen=True)
class Returns:
    """The judge of a case: the function returns ``fields`` (one value, or a tuple
    in this order) equal to the expected ones, and prints the expected text."""

    fields: tuple

    def unpack(self, outcome: Outcome):
        """``(items, item kinds)`` of the answer, or a Verdict saying why it has the wrong form."""
        kind, value, kinds = (tuple(outcome.value) + ("?", None, ()))[:3] \
            if isinstance(outcome.value, (tuple, list)) else ("?", outcome.value, ())
        if len(self.fields) == 1:
            return (value,), (kind,)
        names = ", ".join(f.name for f in self.fields)
        if not isinstance(value, (tuple, list)) or len(value) != len(self.fields):
            got = f"a {kind} of length {len(value)}" if isinstance(value, (tuple, list)) else \
                f"a {kind}"
            text = f"expected the tuple ({names}), got {got}"
            return None, Verdict(False, text, f"End with `return {names}`.", text)
        return tuple(value), tuple(kinds) if len(kinds) == len(value) else ("?",) * len(value)

    def __call__(self, outcome: Outcome, expected) -> Verdict:
        want = Expected.read(expected)
        items, kinds = self.unpack(outcome)
        if items is None:
            return kinds
        own_side = False  # the student's own distance fell on the other side of the threshold
        for f, got, kind, exp in zip(self.fields, items, kinds, want.value):
            accepted = (exp,)
            if isinstance(f, Flag) and f.decides is not None and f.decides < len(items):
                accepted, own_side = f.expected(items[f.decides], want.value[f.decides], exp)
            bad = f.problem(kind, got)
            if bad:
                text = f"{f.name} should be {_describe(f)}, got {bad}"
                return Verdict(False, text, f"Return {f.name} as {_describe(f)}.", text)
            if not any(f.equal(got, e) for e in accepted):
                return Verdict(False, f"expected {f.name} {f.show(exp)}, got {f.show(got)}",
                               f"Check how you compute {f.name}: follow the exercise's steps.",
                               f"{f.name} is not the expected value")
        if want.prints is not None and not own_side and want.prints not in outcome.stdout:
            said = outcome.stdout.strip().splitlines()
            return Verdict(False, f"expected the printed message {want.prints!r}, got "
                           f"{said[-1][:120]!r}" if said else
                           f"expected the printed message {want.prints!r}, nothing was printed",
                           "Print exactly the lesson's message.",
                           "the printed message is not the lesson's")
        return Verdict(True)


def _describe(f) -> str:
    if isinstance(f, Number):
        return "a scalar TensorFlow tensor" if f.tensor == "only" else "one number"
    if isinstance(f, Differentiable):
        return f"differentiable with respect to {f.of}"
    return "True or False" if isinstance(f, Flag) else "a string"
