"""Grading a batch: from entries on disk to judged results, one student at a time per slot.

:func:`grade` finds the students (a folder, or a course site's download:
``sites``), removes what a killed run left (``resume``), keeps the students an
earlier run of the same command already graded, probes the sandbox (and
refuses untrusted work without one), gets the expected values and plain case
arguments from the trusted oracle, makes the secrets unreadable to the
sandbox users and grades every missing student on the pool: each is read and
extracted in a limited child (``intake``, within that student's budget), run,
judged and written to ``OUT/students/<id>/`` at once; then the reports. A
student whose grading fails in any way gets a result (zero and a one-line
reason), never an exception that stops the batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import sys
import time
from pathlib import Path

from .. import checks
from ..errors import GradingError
from . import intake, oracle, pool, reports, resume, sandbox, sites, wire
from .extract import extract_student, signature_problem
from .submissions import Entry, Student


def _reference(name: str):
    try:
        from .. import exercises
        return getattr(exercises, name, None)
    except ImportError:
        return None


def build_context(boundary, limits: pool.Limits) -> pool.Context:
    """The shared state of a batch: oracle answer decoded, hidden cases' secret tokens."""
    from .. import assets

    data = oracle.load()
    cases = {n: checks.cases(n, include_hidden=True) for n in checks.exercises()}
    if {n: len(c) for n, c in cases.items()} != {n: len(data["expected"].get(n, ())) for n in cases}:
        raise GradingError("the stored expected values do not match the cases; delete "
                           f"{oracle.cache_file().parent} and grade again")
    expected = {n: [wire.decode(v) for v in data["expected"][n]] for n in cases}
    setup = {"t": "setup", "table": data["table"], "memory_mb": limits.memory_mb}
    env = {"FACELAB_HOME": str(assets.home()), "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
           "PYTHONIOENCODING": "utf-8", "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    share_pictures(assets.images_dir())
    # (the weights: the graded model loads the real model for an input that is not a test's)
    ctx = pool.Context(boundary, setup, cases, expected, limits, args=data["cases"],
                       readable=(str(assets.images_dir()), str(assets.weights_path())), env=env)
    ctx.hidden = hidden_tokens(ctx)
    return ctx


def share_pictures(folder: Path) -> None:
    """Let the sandbox users read the pictures (nothing secret). Pictures are written with
    the umask's mode (facelab.atomic), but a restrictive umask or an older fetch (which
    left them owner-only) would fail every picture case."""
    for root, dirs, files in os.walk(folder):
        for name, bits in [(d, 0o005) for d in dirs] + [(f, 0o004) for f in files] + [("", 0o005)]:
            path = os.path.join(root, name) if name else root
            with contextlib.suppress(OSError):
                mode = os.lstat(path).st_mode
                if not stat.S_ISLNK(mode) and mode & bits != bits:
                    os.chmod(path, stat.S_IMODE(mode) | bits)


def hidden_tokens(ctx: pool.Context) -> dict:
    return {(n, c.name): reports.secret_tokens(c, ctx.expected[n][i])
            for n, cs in ctx.cases.items() for i, c in enumerate(cs) if not c.visible}


def _fail(case, message: str, hint: str = "") -> checks.CaseResult:
    return checks.CaseResult(case.name, False, 0.0, case.points, message, hint, case.visible)


def _label(case, name: str) -> str:
    return f"test '{case.name}' of {name}" if case.visible else f"a hidden test of {name}"


def _judge(ctx: pool.Context, name: str, i: int, raw) -> checks.CaseResult:
    case = ctx.cases[name][i]
    try:
        err = raw.get("error")
        outcome = checks.Outcome(value=wire.decode(raw["value"]), stdout=str(raw.get("stdout") or "")[:20_000],
                                 error=None if err is None else str(err)[:500],
                                 detail=str(raw.get("detail") or "")[:2000],
                                 unset=tuple(str(u)[:40] for u in list(raw.get("unset") or ())[:10]))
    except (wire.WireError, KeyError, TypeError, AttributeError):
        outcome = checks.Outcome(error="ValueError: unreadable return value")
    if case.visible:
        return checks.judge_case(case, outcome, ctx.expected[name][i])
    return _judge_hidden(case, outcome, ctx.expected[name][i])


HIDDEN_FAILED = "a hidden test failed"


def _judge_hidden(case, outcome: checks.Outcome, expected) -> checks.CaseResult:
    """A hidden case's result holding only text the grader wrote. The process that ran
    it saw the hidden arguments, so nothing it wrote is shown: no stdout, no exception
    message or type name, no variable name, no repr, no returned string. The judge sees
    the returned values, what was printed (part of some exercises' contract) and an error
    reduced to "raised" (or "None was used", for the catalogue's "not finished yet");
    the student reads a fixed sentence and the catalogue's diagnosis."""
    error = None
    if outcome.error is not None:
        error = ("TypeError: 'NoneType' object" if "NoneType" in outcome.error
                 else "Exception: your function raised an exception")
    clean = checks.Outcome(value=outcome.value, stdout=outcome.stdout, error=error, detail="", unset=())
    r = checks.judge_case(case, clean, expected)
    if r.passed:
        return r
    told = [says for _, says in r.candidates]
    diagnosis = r.diagnosis if r.diagnosis in told or r.diagnosis.startswith("Not finished yet") else ""
    message = "your function raised an exception in a hidden test" if error else HIDDEN_FAILED
    return dataclasses.replace(r, message=message, hint=diagnosis, diagnosis=diagnosis,
                               mistake=r.mistake if diagnosis else "", detail="")


def plan(student: Student, ctx: pool.Context) -> tuple[dict, dict, list]:
    """(exercise -> pieces to run, exercise -> (problem, hint), notes) for one student."""
    runnable, problems, notes = {}, {}, []
    for name, cs in ctx.cases.items():
        if student.problem:
            problems[name] = (student.problem, "Hand in the workbook's notebooks, then resubmit.")
            continue
        ex = student.extracted[name] if student.extracted is not None else extract_student(student, name)
        if ex.note:
            notes.append(ex.note)
        bad = ex.problem or next((p for c in cs if (p := signature_problem(
            name, ex.signature, c.args, c.kwargs, _reference(name)))), None)
        if bad:
            problems[name] = (bad, "Keep the lesson's `# GRADED FUNCTION` cell and its `def` line.")
        else:
            runnable[name] = [{"label": p.label, "source": p.source} for p in ex.pieces]
    return runnable, problems, notes


class _Run:
    """The frames of one child (one phase of a student): which exercise and case come next.
    ``order``: [(exercise, [case indices])]; ``got``: exercise -> {index: CaseResult}."""

    def __init__(self, ctx, order, got, notes, hidden=False):
        self.ctx, self.order, self.got, self.notes, self.hidden = ctx, order, got, notes, hidden
        self.cur, self.pos = 0, None  # pos: next index in order[cur], None while awaiting "defined"
        self.started = self.unstarted = False  # a frame came / the child never ran
        self.broken: set = set()       # exercises whose cell did not define the function

    def fail_rest(self, message: str, hint: str = "") -> None:
        """The current exercise's cases of this phase not judged yet score 0 with ``message``."""
        if self.cur < len(self.order):
            name, idx = self.order[self.cur]
            for i in idx:
                self.got[name].setdefault(i, _fail(self.ctx.cases[name][i], message, hint))
            self.cur, self.pos = self.cur + 1, None

    def take(self, frame: dict) -> bool:
        """Apply one frame; False when it is not what the protocol expects next."""
        name, idx = self.order[self.cur] if self.cur < len(self.order) else (None, [])
        t = frame.get("t")
        self.started = True
        if t == "defined" and self.pos is None and frame.get("ex") == name:
            if not self.hidden:  # a hidden phase's process wrote it: never shown
                self.notes += [str(n)[:300] for n in (frame.get("notes") or [])[:5]]
            if frame.get("error"):
                self.broken.add(name)
                self.fail_rest(f"running the cell of {name} failed in the hidden tests' process"
                               if self.hidden else str(frame["error"])[:500],
                               "Run the graded cell on its own to see the error.")
            else:
                self.pos = 0
            return True
        if t == "case" and self.pos is not None and frame.get("ex") == name and frame.get("i") == idx[self.pos]:
            self.got[name][idx[self.pos]] = _judge(self.ctx, name, idx[self.pos], frame.get("outcome") or {})
            self.pos += 1
            if self.pos == len(idx):
                self.cur, self.pos = self.cur + 1, None
            return True
        return t == "end" and self.cur == len(self.order)

    def what(self) -> str:
        if self.cur >= len(self.order):
            return "the end"
        name, idx = self.order[self.cur]
        return _label(self.ctx.cases[name][idx[self.pos]], name) if self.pos is not None else f"defining {name}"


def _why_stopped(why: str, ctx: pool.Context) -> str:
    return {"memory": f"your code used more than {ctx.limits.memory_mb:g} MB of memory",
            "died": "the process running your code stopped: did it call os._exit() or crash "
                    "the interpreter?",
            "garbage": "the process running your code wrote something that is not an answer "
                       "to the grader's socket"}.get(why, "the process running your code stopped")


def _send_job(chan, ctx: pool.Context, runnable: dict, order: list) -> None:
    """The child's job on its own socket: the code, then only this phase's arguments."""
    frames = [wire.frame({"t": "job", "exercises": [{"name": n, "pieces": runnable[n], "cases": idx}
                                                    for n, idx in order]})]
    for n, idx in order:
        for i in idx:
            if (n, i) not in ctx.frames:  # built once per batch (the pictures make MBs of JSON)
                ctx.frames[(n, i)] = wire.frame({"t": "args", "ex": n, "i": i, "args": ctx.args[n][i][0],
                                                 "kwargs": ctx.args[n][i][1]})
            frames.append(ctx.frames[(n, i)])
    chan.settimeout(60)
    chan.sendall(b"".join(frames))


def _collect(slot: pool.Slot, chan, run: _Run, budget_end: float) -> bool:
    """Read one child's frames from its socket until it ends, then the server's ``done``;
    False if the budget ran out."""
    ctx = run.ctx
    reader = wire.FrameReader(chan.fileno())
    while True:
        what = run.what()
        deadline = min(time.monotonic() + ctx.limits.case_seconds, budget_end)
        try:
            frame = reader.next(deadline)
        except TimeoutError:
            slot.interrupt()
            out_of_budget = deadline >= budget_end
            run.fail_rest(f"the submission's time budget of {ctx.limits.budget:g} s ran out ({what})"
                          if out_of_budget else f"took longer than {ctx.limits.case_seconds:g} s ({what}): "
                          "is there an infinite loop?", "Make sure your function returns quickly.")
            return not out_of_budget
        except (EOFError, OSError):  # the child (and all it started) is gone: why?
            done = slot.done()
            if done.get("clean") is False and not run.started:  # its code never ran: run it again
                run.unstarted = True
                return True
            run.fail_rest(_why_stopped(str(done.get("why")), ctx))
            return True
        except wire.WireError:
            slot.interrupt()
            run.fail_rest(_why_stopped("garbage", ctx))
            return True
        if not isinstance(frame, dict) or not run.take(frame):  # broke the protocol: stop it
            slot.interrupt()
            run.fail_rest("the process running your code sent an unexpected reply")
            return True
        if frame.get("t") == "end":
            slot.done()
            return True


def _run_phase(slot: pool.Slot, ctx: pool.Context, runnable: dict, order: list, got: dict,
               notes: list, left: float, hidden: bool) -> tuple[float, set]:
    """One phase's cases in fresh children until done or out of budget; (seconds left,
    exercises whose cell did not define the function)."""
    retried, broken = False, set()
    while order:
        slot.ensure()
        start = time.monotonic()
        run = _Run(ctx, order, got, notes, hidden)
        chan = None
        try:
            chan = slot.child()
            _send_job(chan, ctx, runnable, order)
            in_budget = _collect(slot, chan, run, start + left)
        except pool.SlotDied as exc:
            run.fail_rest(str(exc))
            in_budget = True
        except OSError:  # the child never read its job
            slot.interrupt()
            run.unstarted = not run.started
            in_budget = True
        finally:
            if chan is not None:
                chan.close()
        left -= time.monotonic() - start
        broken |= run.broken
        if run.unstarted:  # once: a fresh server, the same exercises; then it counts
            if not retried:
                retried = True
                continue
            run.fail_rest(_why_stopped("died", ctx))
        order = order[run.cur:]
        if not in_budget or left <= 0:
            return 0.0, broken
    return left, broken


def run_student(slot: pool.Slot, ctx: pool.Context, runnable: dict, results: dict, notes: list,
                budget: float | None = None) -> None:
    """Run the runnable exercises: the visible cases in one child, then the hidden cases
    in another (which never sees a visible case's output, and whose text is never shown;
    the visible child never receives a hidden case's arguments), until done or out of
    budget (``budget``: what is left of the student's, default all of it). The budget
    counts the student's own time, not the (re)starts of the slot's server."""
    left = ctx.limits.budget if budget is None else budget
    got = {n: {} for n in runnable}
    broken: set = set()
    for hidden in (False, True):
        order = [(n, [i for i, c in enumerate(ctx.cases[n]) if c.visible != hidden])
                 for n in runnable if n not in broken]
        order = [(n, idx) for n, idx in order if idx]
        if order and left > 0:
            left, more = _run_phase(slot, ctx, runnable, order, got, notes, left, hidden)
            broken |= more
    for n in runnable:
        first = next(iter(got[n].values()), None)
        why = (f"not run: the submission's time budget of {ctx.limits.budget:g} s ran out" if n not in broken
               else first.message if first is not None else "the graded cell did not define the function")
        results[n] = [got[n].get(i) or _fail(c, why) for i, c in enumerate(ctx.cases[n])]


def grade_one(slot: pool.Slot, student: Student, ctx: pool.Context, spent: float = 0.0) -> reports.Graded:
    """One student's result; a failure of the grader itself becomes a reason, not an error.
    ``spent``: seconds of the student's budget already used (reading, by the intake)."""
    try:
        slot.ensure()  # the server's start-up is not this student's time
    except pool.SlotDied:
        pass  # retried, and reported if it still fails, by run_student
    t0 = time.monotonic() - spent
    results = {n: [] for n in ctx.cases}
    notes, reason = list(student.notes), ""
    try:
        runnable, problems, more = plan(student, ctx)
        notes += more
        for name, (problem, hint) in problems.items():
            results[name] = [_fail(c, problem, hint) for c in ctx.cases[name]]
        if runnable:
            run_student(slot, ctx, runnable, results, notes, budget=ctx.limits.budget - spent)
        if student.problem:
            reason = student.problem
        elif not runnable:
            reason = "no graded function could be run: " + next(iter(problems.values()))[0]
    except Exception as exc:  # noqa: BLE001 - never lose a student
        reason = f"the grader failed on this submission ({type(exc).__name__}: {str(exc)[:200]})"
        results = {n: [_fail(c, reason) for c in cs] for n, cs in ctx.cases.items()}
    checked = [checks.CheckResult(n, tuple(results[n][:len(cs)])) for n, cs in ctx.cases.items()]
    return reports.Graded(student.id, student.entry, checked, time.monotonic() - t0, notes[:20], reason,
                          slot_mode(ctx), ctx.hidden)


def slot_mode(ctx: pool.Context) -> str:
    return ctx.boundary.mode if ctx.boundary.mode != "none" else "none (trusted submissions)"


def secret_paths(entries, out) -> list[str]:
    """What student code must not read: the sandbox's list (the secret modules and the
    bytecode cache in every copy of the package, the checkout's .git, notebooks and
    tests, the entries, the output; see ``sandbox.secret_paths``) and the oracle's cache.
    ``facelab/expected.py`` stays readable: ``import facelab`` needs it (the sandbox
    leaves out what it imports), and it holds only the lesson's visible numbers."""
    return sandbox.secret_paths(entries, out) + [str(oracle.cache_file().parent)]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _prove(secrets: list, ctx: pool.Context, attempts: int = 3) -> list:
    """The sandbox's own proof that the secrets are unreadable (retried: another grader
    sweeping the same sandbox user can break a probe, never make it pass)."""
    problems = []
    for _ in range(attempts):
        try:
            problems = sandbox.check_protected(secrets, ctx.boundary, readable=ctx.readable)
        except OSError as exc:
            problems = [f"the sandbox probe could not run ({exc})"]
        if not problems or not all("probe" in p for p in problems):
            return problems
        time.sleep(1)
    return problems


def grade_students(students: list, ctx: pool.Context, jobs: int, secrets: list,
                   trusted: bool, progress=None, one=None) -> list[reports.Graded]:
    """Grade on the pool with the secrets protected (and the protection proven first);
    ``one(slot, student)`` grades one (default :func:`grade_one`)."""
    with sandbox.protect(secrets, ctx.boundary, readable=ctx.readable):
        if ctx.boundary.mode != "none":
            problems = _prove(secrets, ctx)
            if problems and not trusted:
                raise GradingError(f"the sandbox does not hold here: {problems[0]}")
        return pool.run_pool(students, ctx, jobs, one or (lambda slot, s: grade_one(slot, s, ctx)), progress)


def grade_entry(slot: pool.Slot, entry: Entry, ctx: pool.Context,
                intake_mb: float = intake.DEFAULT_MEMORY_MB) -> reports.Graded:
    """One student from its entry: read and extracted by the limited intake child (its
    time counts against the student's budget), then graded on ``slot``."""
    try:
        got = intake.run(entry, list(ctx.cases), ctx.limits.budget, intake_mb)
        student, spent = got.student, got.seconds
    except Exception as exc:  # noqa: BLE001 - never lose a student
        student, spent = Student(entry.id, entry.name, problem=f"the grader could not read this submission "
                                 f"({type(exc).__name__}: {str(exc)[:200]})"), 0.0
    if spent >= ctx.limits.budget and not student.problem:
        student.problem = f"reading what was handed in used the whole time budget of {ctx.limits.budget:g} s"
    g = grade_one(slot, student, ctx, spent=spent)
    g.entry, g.name, g.late, g.site = entry.name, entry.name, entry.late, dict(entry.site)
    return g


def grade_entries(entries: list[Entry], ctx: pool.Context, jobs: int, secrets: list, trusted: bool,
                  out: Path, fingerprints: dict, key: str, progress=None,
                  intake_mb: float = intake.DEFAULT_MEMORY_MB) -> list[reports.Graded]:
    """Grade ``entries`` on the pool, writing each student's results the moment that
    student is graded (``resume.save``): a grader killed midway keeps them all."""
    def one(slot, entry):
        g = grade_entry(slot, entry, ctx, intake_mb)
        try:
            resume.save(g, out, fingerprints[entry.id], key)
        except OSError as exc:
            _say(f"{entry.id}: could not write its results ({exc})")
        return g

    return grade_students(entries, ctx, jobs, secrets, trusted, progress, one)


def _sources(entries: list[Entry]) -> list:
    """The paths student code must not read: every source path (a course zip once)."""
    return sorted({Path(p) for e in entries for p, _m, _l in e.sources}, key=str)


def grade(paths, out, *, jobs: int | None = None, mode: str = "auto", trusted: bool = False,
          limits: pool.Limits | None = None, progress=None, say=_say, fmt: str = "auto",
          title: str = "facelab workbook", regrade: bool = False,
          intake_mb: float = intake.DEFAULT_MEMORY_MB) -> list[reports.Graded]:
    """Grade every student found in ``paths`` (``fmt``: auto, folder, canvas, moodle,
    nbgrader) and write the reports into ``out``. Students an earlier run already graded
    into ``out`` (same files, same cases) are kept, unless ``regrade``."""
    out = Path(out)
    fmt, entries = sites.find_entries(paths, fmt)
    removed = resume.clean_leftovers(out)
    if removed:
        say(f"removed {len(removed)} leftover(s) of an interrupted run: " + ", ".join(removed[:3])
            + (" ..." if len(removed) > 3 else ""))
    key = resume.cases_key({n: checks.cases(n, include_hidden=True) for n in checks.exercises()})
    done = {} if regrade else resume.finished(out, entries, key)
    todo = [e for e in entries if e.id not in done]
    if done:
        say(f"{len(done)} of {len(entries)} students already graded in {out}; grading the {len(todo)} missing")
    extra = {"sandbox": "", "restarts": 0, "seconds": 0.0}
    fresh: dict = {}
    if todo:
        jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
        with resume.RunFolder():
            boundary = sandbox.probe(mode, slots=jobs)
            say(boundary.describe())
            if boundary.mode == "user" and jobs > 1:
                # without namespaces, students graded at the same moment share /tmp, /dev/shm
                # and /proc: one student's hidden phase could hand its arguments to another's
                # visible phase. One at a time, each swept as root before the next starts.
                say(f"user mode grades one student at a time (not {jobs}): without namespaces, "
                    "students graded together could reach each other through shared folders")
                jobs = 1
            ctx = build_context(boundary, limits or pool.Limits())
            pool.check_ready(ctx, trusted)
            out.mkdir(parents=True, exist_ok=True)
            secrets = secret_paths(_sources(entries), out)  # every classmate, graded or not
            t0 = time.monotonic()
            graded = grade_entries(todo, ctx, jobs, secrets, trusted, out, resume.fingerprints(todo), key,
                                   progress, intake_mb)
            fresh = {g.student: g for g in graded}
            extra = {"sandbox": boundary.describe(), "restarts": ctx.restarts,
                     "seconds": round(time.monotonic() - t0, 2)}
    everyone = [fresh.get(e.id) or done[e.id] for e in entries]
    reports.write_reports(everyone, out, dict(extra, graded_now=len(fresh), kept=len(done)), fmt=fmt,
                          title=title, results=False)
    return everyone
