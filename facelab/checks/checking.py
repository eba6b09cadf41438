"""Running the checks: the notebooks' ``check_*``, ``hint``, ``require_finished``; the cases.

The content (:mod:`.suite`, :mod:`.mistakes`, :mod:`.hints`) is loaded on
first use, never at import: a sandboxed grading worker imports this package
for :mod:`.calling` and :mod:`.resources` and must not need the secrets.

    >>> check_verify(verify)        # in a notebook: prints a verdict
    >>> hint("verify")              # stuck? progressively stronger hints
    >>> require_finished(verify)    # atop a cell using it: one sentence if it is unfinished
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import FacelabError
from .calling import Resource, call_case, resolve
from .engine import Case, CaseResult, CheckResult, Exercise, judge_case

#: the modules holding reference solutions, hidden cases, expected values or the
#: mistake catalogue: the grader hides them from student code. ``facelab.expected``
#: is imported by ``import facelab`` (for THRESHOLD), so hide its file, do not unload it.
SECRET_MODULES = ("facelab.checks.suite", "facelab.checks.mistakes", "facelab.exercises",
                  "facelab.expected")


#: the exercises' content once loaded (clearing it makes the next call reload it)
_EXERCISES: dict[str, Exercise] = {}


def _content() -> dict[str, Exercise]:
    if not _EXERCISES:
        from . import suite as content  # the secret part, loaded on first use

        _EXERCISES.update(content.EXERCISES)
    return _EXERCISES


def exercises() -> list[str]:
    """The graded exercises, in notebook order."""
    return list(_content())


def _exercise(name: str) -> Exercise:
    known = _content()
    if name not in known:
        raise FacelabError(f"unknown exercise {name!r}; expected one of: {', '.join(known)}")
    return known[name]


def cases(name: str, include_hidden: bool = False) -> list[Case]:
    """The cases of exercise ``name``: the visible ones, and the hidden ones on request."""
    return [_exercise(name).case(c) for c in _exercise(name).checks
            if include_hidden or not c.hidden]


def check(exercise: str, fn: Callable, include_hidden: bool = False) -> CheckResult:
    """Run an exercise's cases on ``fn`` in this process and return the result."""
    every = cases(exercise, include_hidden=True)
    run = [c for c in every if include_hidden or c.visible]
    results = []
    for case in run:
        if not callable(fn):
            text = f"expected a function, got {type(fn).__name__}"
            results.append(CaseResult(case.name, False, 0.0, case.points, text,
                                      f"Pass the function itself: check_{exercise}({exercise}).",
                                      case.visible))
            continue
        results.append(judge_case(case, call_case(fn, case), case.expect()))
    return CheckResult(exercise, tuple(results), hidden_not_run=len(every) - len(run),
                       graded=include_hidden)


# the notebooks' entry points -------------------------------------------------
def check_pixel_distance(fn) -> CheckResult:
    """Check a student's ``pixel_distance(image_a, image_b)`` on the visible cases."""
    return check("pixel_distance", fn)


def check_triplet_loss(fn) -> CheckResult:
    """Check a student's ``triplet_loss(y_true, y_pred, alpha=0.2)`` on the visible cases."""
    return check("triplet_loss", fn)


def check_verify(fn) -> CheckResult:
    """Check a student's ``verify(image_path, identity, database, model)`` on the visible cases."""
    return check("verify", fn)


def check_who_is_it(fn) -> CheckResult:
    """Check a student's ``who_is_it(image_path, database, model)`` on the visible cases."""
    return check("who_is_it", fn)


def require_finished(fn: Callable) -> None:
    """Before a cell uses a graded function: one sentence, not a traceback, when it cannot run yet.

    Calls ``fn`` on its exercise's first visible case (named by ``fn.__name__``;
    what it prints is not shown). When the checks find it unfinished (a
    ``None`` placeholder returned or used), or it raises, raises
    UnfinishedError saying what to do first; otherwise returns None. A function
    that is no exercise's passes unchecked.
    """
    from ..errors import UnfinishedError
    from .engine import UNFINISHED

    name = getattr(fn, "__name__", "")
    if not callable(fn) or name not in _content():
        return
    case = cases(name)[0]
    outcome = call_case(fn, case)
    result = judge_case(case, outcome, case.expect())
    then = "run that cell, then run this one again"
    if result.mistake == UNFINISHED:
        raise UnfinishedError(f"{name} is not finished yet: fill in its graded cell above (each "
                              f"None between START CODE HERE and END CODE HERE), {then}")
    if outcome.error is not None:
        said = outcome.error.splitlines()[0][:150]
        raise UnfinishedError(f"{name} raised {said}: fix its graded cell above "
                              f"(check_{name}({name}) shows the line), {then}")


# ---------------------------------------------------------------- hints
_ASKED: dict[str, int] = {}


def hint(exercise: str, level: int = 1) -> None:
    """Print hint number ``level`` (1 = gentlest) for an exercise; none gives the solution.

    Asking again with ``level + 1`` gives a stronger one; past the last, the
    last is repeated. The strongest level asked per exercise is kept in
    :func:`hints_asked`. An unknown exercise (a typo) or a level below 1 prints one
    line saying what to type instead.
    """
    from .hints import HINTS

    if exercise not in HINTS:  # a typo in a notebook: one line, not a traceback
        import difflib

        near = difflib.get_close_matches(str(exercise), list(HINTS), n=1)
        print(f"No hints for {exercise!r}: " + (f"did you mean hint({near[0]!r})? " if near else "")
              + f"The exercises with hints are {', '.join(HINTS)}.")
        return
    if not isinstance(level, int) or isinstance(level, bool) or level < 1:
        print(f"A hint level is a whole number from 1 up, got {level!r}: try "
              f"hint({exercise!r}, 1).")
        return
    steps = HINTS[exercise]
    k = min(level, len(steps))
    _ASKED[exercise] = max(_ASKED.get(exercise, 0), k)
    more = (f"  (stronger: hint({exercise!r}, {k + 1}))" if k < len(steps)
            else "  (that was the last hint)")
    print(f"{exercise}, hint {k} of {len(steps)}: {steps[k - 1]}{more}")


def hints_asked() -> dict[str, int]:
    """``{exercise: strongest hint level asked}`` in this process."""
    return dict(_ASKED)


# compatibility with callers written against the first version of this module
def build_resource(res: Resource):
    """Build (once per process) the value a Resource names (same as :func:`resolve`)."""
    return resolve(res)

