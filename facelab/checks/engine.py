"""The checks engine's types and judge: cases, results, mistakes, and judging one outcome.

:class:`Check` and :class:`Exercise` are how the content (:mod:`.suite`)
writes an exercise as data; :class:`Mistake` and :class:`Answer` how the
catalogue (:mod:`.mistakes`) recognises a mistake. :func:`judge_case` turns
an :class:`~facelab.checks.calling.Outcome` into a :class:`CaseResult`
(points, message, the mistake's diagnosis, the student's line), and
:class:`CheckResult` says the results of one exercise in plain text. No case,
no expected value and no mistake lives here, and nothing here imports them.

Hidden cases (``visible=False``): their ``message``, ``hint``,
``diagnosis`` and :func:`explain` sentences never contain an expected
value, an argument or the case's name (:func:`judge_case` words them
without values and drops any text that would reveal one).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import FacelabError
from .calling import PROBE, Outcome, Resource, fresh, gradient_status, resolve
from .judging import Expected, Number, Returns, Verdict, _jsonable

# ----------------------------------------------------------------- content


@dataclass(frozen=True)
class Answer:
    """A failed case's answer, as the mistake catalogue's recognisers see it."""

    items: tuple | None        # the returned fields (None: not the expected form)
    kinds: tuple
    value: Any                 # the returned value, plain
    kind: str
    stdout: str
    error: str | None
    want: Expected
    probe: str | None = None   # a gradient probe's status ("ok", "no gradient", "not a tensor")

    def number(self, i: int = 0) -> float | None:
        """Item ``i`` as a float when it is one number (of any kind), else None."""
        if self.items is None or i >= len(self.items) or _has_none(self.items[i]):
            return None
        try:
            arr = np.asarray(self.items[i], dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return float(arr.reshape(())) if arr.size == 1 else None


@dataclass(frozen=True)
class Mistake:
    """A mistake students make, how to recognise it and what to tell them.

    ``says``: one or two plain sentences (no values): what the student
    probably did and what to change. Recognised either by value, ``returns``
    being the mistaken function itself (same signature as the exercise; run
    by ``case.expect()`` in a trusted process): the student's answer passes
    the case's judge against the mistake's answer; or by form, ``spots(answer)``
    (an :class:`Answer`) returning True.
    """

    name: str
    says: str
    returns: Callable | None = None
    spots: Callable[[Answer], bool] | None = None


@dataclass(frozen=True)
class Case:
    """One test of an exercise.

    ``args``/``kwargs`` may contain :class:`Resource` markers; ``expect()``
    (trusted processes only) returns the expected data (:class:`Expected`
    as JSON-able lists); ``judge(outcome, expected)`` returns a Verdict;
    ``mistakes`` is the exercise's catalogue, tried in order on a failure.
    """

    name: str
    points: float
    args: tuple
    judge: Callable[[Outcome, Any], Verdict] | None
    expect: Callable[[], Any] = lambda: None
    kwargs: dict = field(default_factory=dict)
    visible: bool = True
    mistakes: tuple = ()
    exercise: str = ""


@dataclass(frozen=True)
class CaseResult:
    """The verdict on one case: points earned of ``max_points``.

    ``hint`` is the diagnosis when a mistake was recognised, else the
    judge's hint; ``mistake`` names the catalogued mistake; ``detail`` is the
    student's line where their code raised.
    """

    name: str
    passed: bool
    points: float
    max_points: float
    message: str = ""
    hint: str = ""
    visible: bool = True
    diagnosis: str = ""
    mistake: str = ""
    detail: str = ""
    candidates: tuple = ()  # ((mistake name, sentence), ...): every catalogued mistake that fits


def consistent(results: Iterable[CaseResult]) -> tuple[CaseResult, ...]:
    """The results with one diagnosis per mistake across cases.

    A case may fit several mistakes (two wrong formulas can agree on it);
    each takes the candidate that fits the most failed cases of the list
    (ties: the catalogue's order), so the same mistake is named everywhere.
    """
    results = tuple(results)
    counts: dict[str, int] = {}
    for r in results:
        for name, _ in (r.candidates if not r.passed else ()):
            counts[name] = counts.get(name, 0) + 1
    out = []
    for r in results:
        if r.passed or len(r.candidates) < 2:
            out.append(r)
            continue
        name, says = max(r.candidates, key=lambda c: counts[c[0]])
        out.append(replace(r, mistake=name, diagnosis=says, hint=says))
    return tuple(out)


def explain(results: Iterable[CaseResult]) -> list[str]:
    """The mistake diagnoses of failed results, each once, in order (value-free sentences)."""
    out: list[str] = []
    for r in consistent(results):
        if not r.passed and r.diagnosis and r.diagnosis not in out:
            out.append(r.diagnosis)
    return out


@dataclass(frozen=True)
class CheckResult:
    """All the cases of one exercise, with a plain-text report.

    ``hidden_not_run``: how many hidden cases run only at grading (a
    notebook's check says so); ``graded``: the report is the grader's.
    """

    exercise: str
    cases: tuple[CaseResult, ...]
    hidden_not_run: int = 0
    graded: bool = False

    def __post_init__(self):
        object.__setattr__(self, "cases", consistent(self.cases))

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
        n, ok = len(self.cases), sum(c.passed for c in self.cases)
        what = "tests" if self.graded or not self.hidden_not_run else "visible checks"
        later = (f"; {self.hidden_not_run} more test{'s' if self.hidden_not_run != 1 else ''} "
                 "run when your work is graded") if self.hidden_not_run else ""
        if self.passed:
            return f"{self.exercise}: {ok}/{n} {what} passed{later}."
        lines = [f"{self.exercise}: {ok} of {n} {what} passed "
                 f"({self.points:g}/{self.max_points:g} points)"]
        groups: dict[str, list] = {}  # one line per distinct failure (errors: per type)
        for c in self.cases:
            if c.passed:
                continue
            key = c.message.split(":", 1)[0] if c.message.startswith("your function raised") \
                else c.message
            group = groups.setdefault(key, [c.message, [], 0, c.detail])
            if c.visible:
                group[1].append(c.name)
            else:
                group[2] += 1
        for message, names, hidden, detail in groups.values():
            who = names + (["a hidden test"] if hidden == 1 else
                           [f"{hidden} hidden tests"] if hidden else [])
            if len(names) + hidden == n > 1:
                lines.append(f"  FAILED all {n} {what}: {message}")
            elif len(who) == 1:
                lines.append(f"  FAILED {who[0]}: {message}")
            else:  # one case name a line: names hold commas and parentheses of their own
                lines.append(f"  FAILED {len(names) + hidden} {what}: {message}")
                lines += [f"    - {w}" for w in who]
            if detail:
                lines.append(f"    {detail}")
        for sentence in explain(self.cases):
            lines.append(f"  What went wrong: {sentence}")
        hints = []
        for c in self.cases:
            if not c.passed and not c.diagnosis and c.hint and c.hint not in hints:
                hints.append(c.hint)
        lines += [f"  Hint: {h}" for h in hints]
        if later:
            lines.append(f"Stuck? hint({self.exercise!r}) gives a hint, "
                         f"hint({self.exercise!r}, 2) a stronger one. "
                         f"{self.hidden_not_run} more tests run when your work is graded.")
        return "\n".join(lines)

    __str__ = report

    def _repr_pretty_(self, printer, cycle):  # IPython shows the report, nothing else
        printer.text(self.report())


# ------------------------------------------------------------------- judging

UNFINISHED = "unfinished"


def _answer(case: Case, outcome: Outcome, want: Expected) -> Answer:
    kind, value, _ = (tuple(outcome.value) + ("?", None, ()))[:3] \
        if isinstance(outcome.value, (tuple, list)) else ("?", None, ())
    if kind == "gradient" and isinstance(value, dict):  # a gradient probe: judge its result
        exp = want.value[0] if want.value else None
        loss = exp[1] if isinstance(exp, (list, tuple)) and len(exp) > 1 else None
        inner, inner_kind = value.get("value"), str(value.get("kind"))
        return Answer((inner,), (inner_kind,), inner, inner_kind, outcome.stdout, outcome.error,
                      Expected([loss], want.prints, want.mistakes), probe=value.get("status"))
    items, kinds = (case.judge.unpack(outcome) if isinstance(case.judge, Returns)
                    else ((value,), (kind,)))
    if items is None:
        items, kinds = None, ()
    return Answer(items, kinds, value, kind, outcome.stdout, outcome.error, want)


def _has_none(value) -> bool:
    if value is None:
        return True
    if isinstance(value, (tuple, list)):
        return any(_has_none(v) for v in value)
    return False


def _unfinished(case: Case, outcome: Outcome, answer: Answer) -> str | None:
    """The 'not finished yet' sentence when a None shows the function is incomplete."""
    fix = ("Replace each `None` placeholder between ### START CODE HERE ### and "
           "### END CODE HERE ### with your code.")
    if outcome.error is not None:
        if "NoneType" not in outcome.error and "None" not in outcome.error.split(":", 1)[-1]:
            return None
        names = outcome.unset
        where = (f"{_names(names)} {'is' if len(names) == 1 else 'are'} still None where your "
                 f"code uses {'it' if len(names) == 1 else 'them'}" if names
                 else "a value your code uses is still None")
        return f"Not finished yet: {where}. {fix}"
    if not _has_none(answer.value):
        return None
    fields = case.judge.fields if isinstance(case.judge, Returns) else ()
    if answer.items is not None and len(fields) == len(answer.items):
        names = tuple(f.name for f, v in zip(fields, answer.items) if _has_none(v))
        if names:
            return (f"Not finished yet: {_names(names)} {'is' if len(names) == 1 else 'are'} "
                    f"still None when your function returns. {fix}")
    return ("Not finished yet: your function returns None. " + fix
            + " Keep the `return` line at the end.")


def _names(names) -> str:
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _recognise(case: Case, outcome: Outcome, answer: Answer) -> list[Mistake]:
    """The catalogued mistakes that explain this failed answer, in catalogue order."""
    made = {m[0]: Expected([] if m[1] is None else list(m[1]), m[2] if len(m) > 2 else None)
            for m in answer.want.mistakes if m}
    found = []
    for mistake in case.mistakes:
        try:
            if mistake.spots is not None and mistake.spots(answer):
                found.append(mistake)
                continue
            its = made.get(mistake.name)
            if (mistake.returns is not None and its is not None and outcome.error is None
                    and its.value != answer.want.value and case.judge(outcome, its).passed):
                found.append(mistake)
        except Exception:  # noqa: BLE001 - a recogniser that cannot read this answer
            continue
    return found


def _secrets(case: Case, want: Expected) -> list[str]:
    """Texts that would reveal a hidden case: its name, its string arguments, its values."""
    found = [case.name]

    def walk(o):
        if isinstance(o, Resource):
            walk(o.params)
        elif isinstance(o, (tuple, list)):
            for x in o:
                walk(x)
        elif isinstance(o, dict):
            walk(list(o.values()))
        elif isinstance(o, str) and len(o) >= 3:
            found.append(o)
        elif isinstance(o, float) and o not in (0.0, 1.0):
            found.extend(f"{o:.{d}f}" for d in (2, 3, 4))
    walk((case.args, case.kwargs, want.value))
    return found


def judge_case(case: Case, outcome: Outcome, expected=None) -> CaseResult:
    """Turn an Outcome into a CaseResult: points, message, hint and the mistake's diagnosis."""
    try:
        want = Expected.read(expected)
    except FacelabError:  # a bare expected value (callers of the first version)
        want = Expected([expected], None, [])
    verdict = None
    if outcome.error is None:
        try:
            verdict = case.judge(outcome, want) if case.judge is not None else Verdict(True)
        except Exception as exc:  # noqa: BLE001 - a malformed answer the judge could not read
            text = f"could not read what your function returned ({type(exc).__name__})"
            verdict = Verdict(False, text, "Return exactly what the docstring asks for.", text)
        if verdict.passed:
            return CaseResult(case.name, True, case.points, case.points, visible=case.visible)
    answer = _answer(case, outcome, want)
    found = _recognise(case, outcome, answer)
    diagnosis = found[0].says if found else _unfinished(case, outcome, answer) or ""
    name = found[0].name if found else (UNFINISHED if diagnosis else "")
    if outcome.error is not None:
        kind = outcome.error.split(":", 1)[0]
        message = f"your function raised {outcome.error}" if case.visible else \
            f"your function raised {kind}"
        hint = "Read the error and your line shown below it."
        summary = f"your function raised {kind}"
    else:
        message, hint, summary = verdict.message, verdict.hint, verdict.summary
    detail = outcome.detail
    if not case.visible:
        message = summary or "a hidden test failed"
        leaks = _secrets(case, want)
        message, hint, diagnosis, detail = (
            "" if any(s in t for s in leaks) else t for t in (message, hint, diagnosis, detail))
        message = message or "a hidden test failed"
    leaks = [] if case.visible else _secrets(case, want)
    candidates = tuple((m.name, m.says) for m in found if not any(s in m.says for s in leaks))
    return CaseResult(case.name, False, 0.0, case.points, message, diagnosis or hint,
                      case.visible, diagnosis, name if diagnosis else "", detail, candidates)


# ----------------------------------------------------------------- exercises


@dataclass(frozen=True)
class Check:
    """One case of an exercise, as data: a name, the arguments, and what differs.

    ``value``: the expected fields when they are known numbers (else the
    reference solution's answer); ``fields``: the judged fields when they
    differ from the exercise's (e.g. only the type); ``tol``: the tolerance of
    its numbers.
    """

    name: str
    args: tuple
    points: float = 1
    hidden: bool = False
    tol: float | None = None
    value: Callable[[], Any] | None = None
    fields: tuple | None = None
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Exercise:
    """An exercise as data: its reference, what it returns and prints, its cases, its mistakes.

    ``prints(args, value)`` gives the text the call must print (None: nothing
    required), from the resolved arguments and the expected fields.
    """

    name: str
    reference: Callable
    returns: tuple
    checks: tuple
    mistakes: tuple = ()
    prints: Callable | None = None

    def case(self, c: Check) -> Case:
        fields = c.fields or self.returns
        if c.tol is not None:
            fields = tuple(replace(f, tol=c.tol) if isinstance(f, Number) and f.tol is not None
                           else f for f in fields)
        return Case(c.name, c.points, c.args, Returns(tuple(fields)),
                    lambda: self.expected(c), dict(c.kwargs), not c.hidden, self.mistakes,
                    self.name)

    def _fields(self, fn: Callable, c: Check):
        """``fn``'s answer on the case's arguments as a list of fields (its prints muted)."""
        args, kwargs = fresh(resolve(c.args)), fresh(resolve(c.kwargs))
        probe = kwargs.pop(PROBE, None)
        with contextlib.redirect_stdout(io.StringIO()):
            if probe == "gradient":
                value, status = gradient_status(fn, args, kwargs)
                return [_jsonable([status, value])], args
            value = fn(*args, **kwargs)
        fields = list(value) if len(self.returns) > 1 else [value]
        return _jsonable(fields), args

    def expected(self, c: Check) -> list:
        """The expected data of a case (trusted processes only): see :class:`Expected`."""
        if c.value is not None:
            value = _jsonable(list(c.value()))
            args = resolve(c.args)
        else:
            value, args = self._fields(self.reference, c)
        prints = self.prints(args, value) if self.prints else None
        made = []
        for m in self.mistakes:
            if m.returns is None:
                continue
            try:
                its, _ = self._fields(m.returns, c)
                made.append([m.name, its, self.prints(args, its) if self.prints else None])
            except Exception:  # noqa: BLE001 - this mistake raises here: nothing to compare
                continue
        return Expected(value, prints, made).data()
