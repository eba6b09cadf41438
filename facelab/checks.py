"""Feedback on the graded functions, for students and for the grader.

Each exercise has a list of :class:`Case`s. A case says *what to call*
(``args``, which may name shared resources such as the model, built by
whoever runs the call) and *how to judge* what came back (``judge``, run
where the expected values are computed). A notebook runs both in one
process with :func:`check`; the grader runs the call in a sandboxed worker
and judges in its own process, so student code never sees the expected
values nor its own score.

    >>> check_triplet_loss(triplet_loss)      # in a notebook: prints a verdict
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import expected as X
from .decision import NOT_IN_DATABASE, accepts, verify_message

# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class CaseResult:
    """The verdict on one case: points earned of ``max_points``."""

    name: str
    passed: bool
    points: float
    max_points: float
    message: str = ""
    hint: str = ""
    visible: bool = True


@dataclass(frozen=True)
class CheckResult:
    """All the cases of one exercise, with a plain-text report."""

    exercise: str
    cases: tuple[CaseResult, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)

    @property
    def points(self) -> float:
        return round(sum(c.points for c in self.cases), 6)

    @property
    def max_points(self) -> float:
        return round(sum(c.max_points for c in self.cases), 6)

    def report(self) -> str:
        n_ok = sum(c.passed for c in self.cases)
        head = (f"{self.exercise}: all {len(self.cases)} tests passed "
                f"({self.points:g}/{self.max_points:g} points)" if self.passed else
                f"{self.exercise}: {n_ok} of {len(self.cases)} tests passed "
                f"({self.points:g}/{self.max_points:g} points)")
        lines = [head]
        for c in self.cases:
            if c.passed:
                continue
            label = c.name if c.visible else "a hidden test"
            lines.append(f"  FAILED {label}: {c.message}")
            if c.hint:
                lines.append(f"    Hint: {c.hint}")
        return "\n".join(lines)

    __str__ = report

    def _repr_pretty_(self, printer, cycle):  # IPython shows the report, nothing else
        printer.text(self.report())


# -------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Resource:
    """A value the calling process builds itself (the model, a database...)."""

    name: str
    params: tuple = ()


MODEL = Resource("model")
OFFICE_DB = Resource("office_database")


@dataclass(frozen=True)
class Outcome:
    """What a call produced: its return value (made plain), stdout and error."""

    value: Any = None
    stdout: str = ""
    error: str | None = None  # "ExceptionType: message" when the call raised
    detail: str = ""          # the traceback's last lines, for the student


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Case:
    """One test of an exercise.

    ``args``/``kwargs`` may contain :class:`Resource` markers; ``expect`` (run
    where judging happens) returns the reference value; ``judge(outcome,
    expected)`` returns a Verdict.
    """

    name: str
    points: float
    args: tuple
    judge: Callable[[Outcome, Any], Verdict]
    expect: Callable[[], Any] = lambda: None
    kwargs: dict = field(default_factory=dict)
    visible: bool = True
    setup: str | None = None  # name of a setup step run before the call (seeding)


# ----------------------------------------------------------- resources


@functools.lru_cache(maxsize=None)
def build_resource(res: Resource):
    """Build (once per process) the value a Resource names."""
    from . import database

    def load_pretrained():  # TensorFlow only for the resources that need the model
        from .model import load_pretrained
        return load_pretrained()

    if res.name == "model":
        return load_pretrained()
    if res.name == "office_database":
        return database.office_database(load_pretrained())
    if res.name == "office_database_without":
        full = build_resource(OFFICE_DB)
        return {k: v for k, v in full.items() if k not in res.params}
    if res.name == "office_database_only":
        full = build_resource(OFFICE_DB)
        return {k: v for k, v in full.items() if k in res.params}
    if res.name == "camera":
        person, index = res.params
        return str(database.camera_pictures(person)[index - 1])
    if res.name == "badge":
        return str(database.employee_pictures()[res.params[0]])
    if res.name == "pixels":
        from .exercises import load_pixels
        return load_pixels(build_resource(res.params[0]))
    if res.name == "tensor":
        from ._quiet import tf
        return tf.constant(np.asarray(res.params[0], dtype=np.float32))
    if res.name == "seeded_triplet":
        from ._quiet import tf
        tf.random.set_seed(X.TRIPLET_SEED)
        return tuple(tf.random.normal([3, 128], mean=m, stddev=s, seed=X.TRIPLET_SEED)
                     for m, s in X.TRIPLET_SEEDED_DRAWS)
    if res.name == "random_triplet":
        rng = np.random.default_rng(res.params[0])
        from ._quiet import tf
        m, d = res.params[1], res.params[2]
        return tuple(tf.constant(rng.normal(size=(m, d)).astype(np.float32)) for _ in range(3))
    raise KeyError(f"unknown resource {res.name!r}")


def resolve(obj):
    """Replace Resource markers inside tuples/lists/dicts by their values."""
    if isinstance(obj, Resource):
        return build_resource(obj)
    if isinstance(obj, tuple):
        return tuple(resolve(o) for o in obj)
    if isinstance(obj, list):
        return [resolve(o) for o in obj]
    if isinstance(obj, dict):
        return {k: resolve(v) for k, v in obj.items()}
    return obj


def plain(value, depth: int = 0):
    """Turn a returned value into plain Python/numpy (picklable, no TF tensors)."""
    if depth > 4:
        return repr(value)[:200]
    if hasattr(value, "numpy") and callable(value.numpy):
        try:
            return np.asarray(value.numpy())
        except Exception:
            return repr(value)[:200]
    if isinstance(value, (tuple, list)):
        return type(value)(plain(v, depth + 1) for v in value)
    if isinstance(value, (bool, int, float, str, type(None), np.ndarray, np.generic)):
        return value
    return repr(value)[:200]


def type_name(value) -> str:
    return type(value).__name__


def call_case(fn: Callable, case: Case, max_stdout: int = 20_000) -> Outcome:
    """Call ``fn`` on a case's (resolved) arguments in this process, capturing stdout."""
    buf = io.StringIO()
    try:
        args, kwargs = resolve(case.args), resolve(case.kwargs)
        with contextlib.redirect_stdout(buf):
            value = fn(*args, **kwargs)
        kind = _describe_return(value)
        return Outcome(value=(kind, plain(value)), stdout=buf.getvalue()[:max_stdout])
    except Exception as exc:  # the student's exception is feedback, not a crash
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        return Outcome(stdout=buf.getvalue()[:max_stdout],
                       error=f"{type(exc).__name__}: {exc}"[:500],
                       detail="".join(tb[-3:])[-1500:])


def _describe_return(value) -> str:
    """The returned value's kind as the judges need it (tf tensors lose their type)."""
    tf = sys.modules.get("tensorflow")  # never imported: no tensor can exist
    if tf is not None and isinstance(value, tf.Tensor):
        return "tf.Tensor"
    return type_name(value)


def judge_case(case: Case, outcome: Outcome, expected=None) -> CaseResult:
    """Turn an Outcome into a CaseResult (points, message, hint)."""
    if outcome.error is not None:
        verdict = Verdict(False, f"your function raised {outcome.error}",
                          _error_hint(outcome.error))
    else:
        try:
            verdict = case.judge(outcome, expected)
        except Exception as exc:  # a malformed return the judge could not read
            verdict = Verdict(False, f"could not read what your function returned "
                              f"({type(exc).__name__}: {exc})"[:400],
                              "Return exactly what the docstring asks for.")
    return CaseResult(case.name, verdict.passed, case.points if verdict.passed else 0.0,
                      case.points, verdict.message, verdict.hint, case.visible)


def _error_hint(error: str) -> str:
    if error.startswith("TypeError") and "NoneType" in error:
        return ("A variable is still None: replace every `None` between "
                "### START CODE HERE ### and ### END CODE HERE ###.")
    if error.startswith("NameError"):
        return "Run the cells above first, or check the spelling of the name."
    return "Read the error message and the traceback above it."


def check(exercise: str, fn: Callable, include_hidden: bool = False) -> CheckResult:
    """Run an exercise's cases on ``fn`` in this process and return the result."""
    results = []
    for case in cases(exercise, include_hidden):
        if not callable(fn):
            results.append(CaseResult(case.name, False, 0.0, case.points,
                                      f"expected a function, got {type_name(fn)}",
                                      f"Pass the function itself: check_{exercise}({exercise}).",
                                      case.visible))
            continue
        outcome = call_case(fn, case)
        results.append(judge_case(case, outcome, case.expect()))
    return CheckResult(exercise, tuple(results))


# ------------------------------------------------------------ judge helpers


def _number(value) -> float | None:
    kind, v = value if isinstance(value, tuple) and len(value) == 2 else ("?", value)
    try:
        arr = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.size != 1:
        return None
    return float(arr.reshape(()))


def _close(a: float, b: float, tol: float) -> bool:
    return a is not None and math.isfinite(a) and abs(a - b) <= tol


def _unpack_pair(outcome: Outcome, what: str):
    kind, value = outcome.value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return None, Verdict(False, f"expected a pair {what}, got {kind}"
                             + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else ""),
                             "End with `return dist, door_open` (or `return min_dist, identity`).")
    return value, None


# ---------------------------------------------------------------- exercises
_EXERCISES: dict[str, Callable[[bool], list[Case]]] = {}


def exercise(name: str):
    def register(builder):
        _EXERCISES[name] = builder
        return builder
    return register


def exercises() -> list[str]:
    """The graded exercises, in notebook order."""
    return list(_EXERCISES)


def cases(name: str, include_hidden: bool = False) -> list[Case]:
    """The cases of exercise ``name`` (visible ones; hidden too on request)."""
    if name not in _EXERCISES:
        raise KeyError(f"unknown exercise {name!r}; known: {', '.join(_EXERCISES)}")
    return [c for c in _EXERCISES[name](include_hidden) if c.visible or include_hidden]


# pixel_distance ------------------------------------------------------------
def _judge_distance(tol: float, hint: str):
    def judge(outcome: Outcome, want: float) -> Verdict:
        got = _number(outcome.value)
        if got is None:
            return Verdict(False, f"expected a single number, got {outcome.value[0]}",
                           "Return one float: the norm of the difference, not the difference.")
        if not _close(got, want, tol):
            return Verdict(False, f"expected {want:.4f}, got {got:.4f}", hint)
        return Verdict(True)
    return judge


@exercise("pixel_distance")
def _pixel_cases(hidden: bool) -> list[Case]:
    from .exercises import pixel_distance

    a = Resource("pixels", (Resource("camera", ("madonna", 1)),))
    b = Resource("pixels", (Resource("camera", ("madonna", 2)),))
    c = Resource("pixels", (Resource("badge", ("elton_john",)),))
    ref = lambda x, y: (lambda: pixel_distance(resolve(x), resolve(y)))  # noqa: E731
    sq = "Square the differences before summing, then take the square root (np.linalg.norm does all three)."
    out = [
        Case("same picture twice gives 0", 1, (a, a), _judge_distance(1e-6, "The distance of a picture to itself is 0."), ref(a, a)),
        Case("two pictures of the same person", 1, (a, b), _judge_distance(1e-3, sq), ref(a, b)),
        Case("pictures of two people", 1, (a, c), _judge_distance(1e-3, sq), ref(a, c)),
    ]
    if hidden:
        out += [
            Case("order does not matter", 1, (c, a), _judge_distance(1e-3, "distance(a, b) must equal distance(b, a)."), ref(c, a), visible=False),
            Case("a 3-4-5 triangle", 1, tuple(np.array(v, dtype=np.float64) for v in ([[0.0, 0.0]], [[3.0, 4.0]])),
                 _judge_distance(1e-6, sq), lambda: 5.0, visible=False),
        ]
    return out


# triplet_loss --------------------------------------------------------------
def _judge_loss(want_value: float | None, tol: float, hint: str):
    def judge(outcome: Outcome, want) -> Verdict:
        target = want if want_value is None else want_value
        got = _number(outcome.value)
        if got is None:
            return Verdict(False, f"expected a single number (a scalar tensor), got "
                           f"{outcome.value[0]} of another shape",
                           "Sum over the batch with tf.reduce_sum so the loss is one number.")
        if not _close(got, target, tol):
            return Verdict(False, f"expected loss {target:.4f}, got {got:.4f}", hint)
        return Verdict(True)
    return judge


_TRIPLET_HINTS = (
    "Did you add alpha to basic_loss?",
    "Here pos_dist = 0 and neg_dist = 2: is each a sum of *squared* differences over the last axis?",
    "Here pos_dist = 2 and neg_dist = 0: check the sign of basic_loss = pos_dist - neg_dist + alpha.",
    "Are you taking the maximum of basic_loss and 0?",
    "Are you summing over the batch with tf.reduce_sum (and over axis=-1 for the distances)?",
)


@exercise("triplet_loss")
def _triplet_cases(hidden: bool) -> list[Case]:
    from .exercises import triplet_loss

    out = []
    for i, (anc, pos, neg, alpha, loss) in enumerate(X.TRIPLET_SMALL_CASES, start=1):
        args = (None, (Resource("tensor", (anc,)), Resource("tensor", (pos,)), Resource("tensor", (neg,))),
                alpha)
        out.append(Case(f"small case {i} (alpha={alpha:g})", 1, args,
                        _judge_loss(loss, 1e-5, _TRIPLET_HINTS[i - 1])))
    out.append(Case("seeded random batch (the lesson's expected output)", 2,
                    (None, Resource("seeded_triplet")),
                    _judge_loss(X.TRIPLET_SEEDED_LOSS, 1e-2,
                                "Use the default alpha and sum squared differences over axis=-1.")))

    def is_tensor(outcome: Outcome, _want) -> Verdict:
        kind = outcome.value[0]
        if kind != "tf.Tensor":
            return Verdict(False, f"expected a TensorFlow tensor, got {kind}",
                           "Build the loss with tf operations (tf.reduce_sum, tf.maximum...), "
                           "not numpy or Python floats.")
        return Verdict(True)

    out.append(Case("returns a TensorFlow tensor", 1, (None, Resource("seeded_triplet")), is_tensor))
    if hidden:
        for seed, m in ((7, 4), (11, 1)):
            args = (None, Resource("random_triplet", (seed, m, 128)))
            ref = (lambda a: (lambda: float(triplet_loss(*resolve(a)))))(args)
            out.append(Case(f"random batch of {m}", 1, args,
                            _judge_loss(None, 1e-3, "Compute per-triplet distances, then sum the clipped losses."),
                            ref, visible=False))
        args = (None, Resource("random_triplet", (3, 5, 16)), 0.5)
        out.append(Case("another alpha", 1, args,
                        _judge_loss(None, 1e-3, "Use the alpha argument, not a hard-coded 0.2."),
                        (lambda a: (lambda: float(triplet_loss(*resolve(a)))))(args), visible=False))
    return out


# verify ----------------------------------------------------------------------
def _distance_first(outcome: Outcome, names: tuple[str, str], want_dist: float,
                    hint_type: str, hint_value: str):
    """Read a returned ``(distance, something)`` pair; a Verdict if the distance is wrong."""
    pair, bad = _unpack_pair(outcome, f"({names[0]}, {names[1]})")
    if bad:
        return None, None, bad
    dist = _number(("?", pair[0]))
    if dist is None:
        return pair, None, Verdict(False, f"expected {names[0]} to be a number, got "
                                   f"{type_name(pair[0])}", hint_type)
    if not _close(dist, want_dist, 1e-3):
        return pair, dist, Verdict(False, f"expected {names[0]} {want_dist:.4f}, got {dist:.4f}",
                                   hint_value)
    return pair, dist, None


def _judge_verify(outcome: Outcome, want) -> Verdict:
    want_dist, want_open, identity = want
    pair, dist, bad = _distance_first(
        outcome, ("dist", "door_open"), want_dist,
        "dist is np.linalg.norm(encoding - database[identity]).",
        "Encode the picture with img_to_encoding(image_path, model) and take "
        "np.linalg.norm of its difference with database[identity].")
    if bad:
        return bad
    opened = pair[1]
    if not isinstance(opened, (bool, np.bool_)):
        return Verdict(False, f"expected door_open to be True or False, got {type_name(opened)}",
                       "Set door_open = True or door_open = False.")
    if bool(opened) != want_open:
        return Verdict(False, f"dist is {dist:.4f}, so door_open should be {want_open}",
                       f"The door opens when dist < {X.THRESHOLD} (strictly below).")
    message = verify_message(identity, want_open)
    if message not in outcome.stdout:
        return Verdict(False, f"expected the printed message {message!r}",
                       "Print exactly the lesson's message.")
    return Verdict(True)


def _reference_case(name, reference, args, judge, points=1, visible=True, extra=()):
    """A case whose expected value is the reference solution's, run quietly on ``args``."""
    def expect():
        with contextlib.redirect_stdout(io.StringIO()):
            return (*reference(*resolve(args)), *extra)
    return Case(name, points, args, judge, expect, visible=visible)


def _verify_case(name, cam, identity, visible=True, db=OFFICE_DB):
    from .exercises import verify

    return _reference_case(name, verify, (cam, identity, db, MODEL), _judge_verify,
                           visible=visible, extra=(identity,))


@exercise("verify")
def _verify_cases(hidden: bool) -> list[Case]:
    cam = lambda p, i: Resource("camera", (p, i))  # noqa: E731
    out = [
        _verify_case("an employee at the door (jerry_seinfeld_2 as jerry_seinfeld)",
                     cam("jerry_seinfeld", 2), "jerry_seinfeld"),
        _verify_case("a stolen badge (madonna_1 claims to be elton_john)",
                     cam("madonna", 1), "elton_john"),
        _verify_case("the badge photo itself (distance 0)", Resource("badge", ("ben_afflek",)),
                     "ben_afflek"),
    ]
    if hidden:
        out += [
            _verify_case("hidden: a genuine visitor far from the badge", cam("madonna", 3),
                         "madonna", visible=False),
            _verify_case("hidden: another impostor", cam("ben_afflek", 4), "mindy_kaling",
                         visible=False),
            _verify_case("hidden: a one-person database", cam("elton_john", 2), "elton_john",
                         visible=False, db=Resource("office_database_only", ("elton_john",))),
        ]
    return out


# who_is_it -----------------------------------------------------------------
def _judge_who(outcome: Outcome, want) -> Verdict:
    want_dist, want_name = want
    pair, dist, bad = _distance_first(
        outcome, ("min_dist", "identity"), want_dist,
        "Keep the smallest distance found in min_dist.",
        "Loop over database.items(), keep the smallest distance "
        "(update min_dist and identity together when dist < min_dist).")
    if bad:
        return bad
    if pair[1] != want_name:
        return Verdict(False, f"expected identity {want_name!r}, got {pair[1]!r}",
                       "Set identity = name in the same `if` that updates min_dist.")
    if not accepts(want_dist):
        if NOT_IN_DATABASE not in outcome.stdout:
            return Verdict(False, f"min_dist is {dist:.4f} > {X.THRESHOLD}: expected "
                           "'Not in the database.' to be printed",
                           f"Compare min_dist with {X.THRESHOLD} after the loop.")
    elif f"it's {want_name}" not in outcome.stdout:
        return Verdict(False, f"expected \"it's {want_name}, the distance is ...\" to be printed",
                       "Print the lesson's message when min_dist is within the threshold.")
    return Verdict(True)


def _who_case(name, picture, db=OFFICE_DB, visible=True):
    from .exercises import who_is_it

    return _reference_case(name, who_is_it, (picture, db, MODEL), _judge_who, visible=visible)


@exercise("who_is_it")
def _who_cases(hidden: bool) -> list[Case]:
    cam = lambda p, i: Resource("camera", (p, i))  # noqa: E731
    out = [
        _who_case("an employee at the door (jerry_seinfeld_2)", cam("jerry_seinfeld", 2)),
        _who_case("a badge photo is found at distance 0", Resource("badge", ("mindy_kaling",))),
        _who_case("a stranger: madonna is not in this database", cam("madonna", 1),
                  db=Resource("office_database_without", ("madonna",))),
    ]
    if hidden:
        out += [
            _who_case("hidden: an employee far from the badge", cam("elton_john", 4), visible=False),
            _who_case("hidden: a one-person database", cam("ben_afflek", 2),
                      db=Resource("office_database_only", ("mindy_kaling",)), visible=False),
        ]
    return out


# the notebooks' entry points -------------------------------------------------
def check_pixel_distance(fn) -> CheckResult:
    """Check a student's ``pixel_distance(image_a, image_b)``."""
    return check("pixel_distance", fn)


def check_triplet_loss(fn) -> CheckResult:
    """Check a student's ``triplet_loss(y_true, y_pred, alpha=0.2)``."""
    return check("triplet_loss", fn)


def check_verify(fn) -> CheckResult:
    """Check a student's ``verify(image_path, identity, database, model)``."""
    return check("verify", fn)


def check_who_is_it(fn) -> CheckResult:
    """Check a student's ``who_is_it(image_path, database, model)``."""
    return check("who_is_it", fn)
