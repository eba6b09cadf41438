"""Reports: each student's Gradescope ``results.json``, the gradebook, Canvas CSV, summary.

What a student sees (``output``, test names and outputs) never holds a hidden
case's name, argument or expected value: a hidden failure says which exercise
and, when it is safe, what kind of mistake (``checks.explain`` when the
checks engine offers it, else the judge's message), and every such text is
dropped if it contains any token of that case's arguments or expected value.
Every file is written atomically (temporary file, then rename) and only
inside the output folder: a student's own files under ``OUT/students/<id>/``
(so no name a student chooses can clash with a report), the reports at the
top. Every CSV goes through ``cells_csv`` (text cells neutralised against
formulas and bounded). Besides the gradebook, the grades go back in the
course site's own import format: ``canvas.csv`` (Canvas's gradebook import,
matched by Canvas's user id when the download was Canvas's) or ``moodle.csv``
(Moodle's offline grading worksheet, matched by "Participant <id>").
"""

from __future__ import annotations

import collections
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import atomic, checks
from ..errors import GradingError
from .cells_csv import write_csv

STUDENTS = "students"   # OUT/students/<id>/results.json


@dataclass
class Graded:
    """One student's verdict: a CheckResult per exercise, in exercise order."""

    student: str
    entry: str
    results: list
    seconds: float = 0.0
    notes: list = field(default_factory=list)
    reason: str = ""       # why the student got 0 for a technical reason
    sandbox: str = ""      # the boundary the code ran in
    hidden_tokens: dict = field(default_factory=dict, repr=False)  # (exercise, case) -> tokens
    name: str = ""         # the original name (file, folder, the course site's name)
    late: bool = False
    site: dict = field(default_factory=dict)  # the course site's ids (canvas_id, moodle_id...)

    @property
    def score(self) -> float:
        return round(sum(r.points for r in self.results), 6)

    @property
    def max_score(self) -> float:
        return round(sum(r.max_points for r in self.results), 6)


# ------------------------------------------------------------------ hidden-safe text

def _leaves(obj):
    if isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _leaves(o)
    elif isinstance(obj, dict):
        for k, o in obj.items():
            yield k
            yield from _leaves(o)
    elif isinstance(obj, checks.Resource):
        yield getattr(obj.build, "__name__", "")
        yield from _leaves(obj.params)
    else:
        yield obj


def secret_tokens(case, expected) -> frozenset:
    """Strings that must not appear in what a student sees about this hidden case."""
    tokens = {case.name}
    for leaf in [*_leaves(expected), *_leaves(case.args), *_leaves(case.kwargs)]:
        if isinstance(leaf, bool):
            tokens.add(str(leaf))
        elif isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
            x = float(leaf)
            tokens.update({f"{x:.4f}", f"{x:.3f}", f"{x:.2f}", f"{x:g}", repr(leaf)})
        elif isinstance(leaf, str) and len(leaf) >= 3:
            tokens.add(leaf)
    return frozenset(t for t in tokens if t)


def _safe(text: str, tokens) -> str:
    return "" if not text or any(t in text for t in tokens) else text


def hidden_feedback(exercise: str, case: checks.CaseResult, tokens) -> str:
    """What a student may read about a failed hidden case (maybe nothing but 'failed')."""
    lines = []
    explain = getattr(checks, "explain", None)
    if explain is not None:
        try:
            lines = [s for s in explain([case]) if _safe(str(s), tokens)]
        except Exception:  # noqa: BLE001 - diagnosis is a bonus, never a failure
            lines = []
    if not lines:
        lines = [t for t in (_safe(case.message, tokens), _safe(case.hint and f"Hint: {case.hint}", tokens)) if t]
    where = _safe(case.detail, tokens)  # the student's own line (judge_case dropped any leak)
    return " ".join(map(str, lines)) + (f"\n{where}" if where else "")


def _case_lines(g: Graded, r) -> list[str]:
    lines = []
    for c in r.cases:
        if c.passed:
            continue
        if c.visible:
            lines.append(f"  FAILED {c.name}: {c.message}")
            if c.detail:
                lines.append(f"    {c.detail}")
            if c.hint:
                lines.append(f"    Hint: {c.hint}")
        else:
            why = hidden_feedback(r.exercise, c, g.hidden_tokens.get((r.exercise, c.name), {c.name}))
            lines.append(f"  FAILED a hidden test of {r.exercise}" + (f": {why}" if why else ""))
    return lines


def student_output(g: Graded) -> str:
    """The student-visible summary (Gradescope's top-level ``output``)."""
    parts = []
    if g.reason:
        parts.append(f"Could not grade: {g.reason}")
    for r in g.results:
        n_ok = sum(c.passed for c in r.cases)
        parts.append("\n".join([f"{r.exercise}: {n_ok} of {len(r.cases)} tests passed "
                                f"({r.points:g}/{r.max_points:g} points)"] + _case_lines(g, r)))
    if g.notes:
        parts.append("Notes:\n" + "\n".join(f"- {n}" for n in g.notes))
    return "\n\n".join(parts)


def gradescope(g: Graded) -> dict:
    """``results.json`` in Gradescope's format."""
    tests = []
    for r in g.results:
        k = 0
        for c in r.cases:
            if c.visible:
                name = f"{r.exercise}: {c.name}"
                out = "" if c.passed else c.message + (f"\n{c.detail}" if c.detail else "") \
                    + (f"\nHint: {c.hint}" if c.hint else "")
            else:
                k += 1
                name = f"{r.exercise}: hidden test {k}"
                out = "" if c.passed else hidden_feedback(
                    r.exercise, c, g.hidden_tokens.get((r.exercise, c.name), {c.name}))
            tests.append({"name": name, "score": c.points, "max_score": c.max_points,
                          "status": "passed" if c.passed else "failed", "output": out,
                          "visibility": "visible" if c.visible else "after_published"})
    return {"score": g.score, "execution_time": math.ceil(g.seconds), "output": student_output(g),
            "output_format": "text", "visibility": "visible", "stdout_visibility": "hidden",
            "tests": tests}


# ------------------------------------------------------------------ files

write_atomic = atomic.write_text


def inside(out: Path, student: str) -> Path:
    """``out/students/<student>``, refusing anything that would resolve elsewhere."""
    base = (Path(out) / STUDENTS).resolve()
    d = (base / student).resolve()
    if d.parent != base or student in ("", ".", ".."):
        raise GradingError(f"expected a student id naming a folder inside {base}, got {student!r}")
    return d


def gradebook_rows(graded: list[Graded]) -> list:
    """student (the id), name (as handed in), late, points per exercise, total, max,
    reason, sandbox."""
    names = checks.exercises()
    rows = [["student", "name", "late", *names, "total", "max", "reason", "sandbox"]]
    for g in graded:
        pts = {r.exercise: r.points for r in g.results}
        rows.append([g.student, g.name or g.student, "late" if g.late else "",
                     *[pts.get(n, 0) for n in names], g.score, g.max_score, g.reason, g.sandbox])
    return rows


def canvas_rows(graded: list[Graded], title: str = "facelab workbook") -> list:
    """Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then
    the assignment's column, with the "Points Possible" row. Canvas matches a row by
    its ID (Canvas's user id) when the download was Canvas's, else by SIS Login ID
    (the student's id: name the files by login)."""
    top = graded[0].max_score if graded else 0
    rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", title],
            ["Points Possible", "", "", "", "", top]]
    for g in graded:
        if "canvas_id" in g.site:
            rows.append([g.name or g.student, g.site["canvas_id"], "", "", "", g.score])
        else:
            rows.append([g.name or g.student, "", "", g.student, "", g.score])
    return rows


#: Moodle's offline grading worksheet (mod/assign, feedback plugin "offline"): its
#: importer needs "Identifier" ("Participant <id>"), "Grade" and "Last modified (grade)".
MOODLE_COLUMNS = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                  "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                  "Feedback comments"]


def moodle_rows(graded: list[Graded], now: float | None = None) -> list:
    """Moodle's grading worksheet with the grades filled in, one row per student of a
    Moodle download (the date is the grading's, so Moodle's "modified more recently
    in Moodle" check keeps later hand edits)."""
    stamp = time.strftime("%A, %d %B %Y, %I:%M %p", time.localtime(now))
    rows = [MOODLE_COLUMNS]
    for g in graded:
        if "moodle_id" not in g.site:
            continue
        rows.append([f"Participant {g.site['moodle_id']}", g.site.get("full_name", g.name), "",
                     "Submitted for grading", g.score, g.max_score, "Yes", "", stamp,
                     (f"Not graded: {g.reason}" if g.reason else "")])
    return rows


def summary(graded: list[Graded], extra: dict | None = None) -> dict:
    names = checks.exercises()
    n = max(1, len(graded))
    per_ex, fails = {}, collections.Counter()
    for name in names:
        rs = [r for g in graded for r in g.results if r.exercise == name]
        per_ex[name] = {"full_marks_rate": round(sum(r.passed for r in rs) / n, 4),
                        "mean_points": round(sum(r.points for r in rs) / n, 4),
                        "max_points": rs[0].max_points if rs else 0}
    for g in graded:
        for r in g.results:
            for c in r.cases:
                if not c.passed:
                    fails[f"{r.exercise} / {c.name}: {c.message}"[:200]] += 1
    scores = [g.score for g in graded]
    return {"students": len(graded), "mean_score": round(sum(scores) / n, 4),
            "max_score": graded[0].max_score if graded else 0,
            "scores": {g.student: g.score for g in graded}, "exercises": per_ex,
            "technical_zeros": {g.student: g.reason for g in graded if g.reason},
            "common_failures": fails.most_common(10), **(extra or {})}


def _summary_text(s: dict) -> str:
    lines = [f"{s['students']} students, mean score {s['mean_score']:g} / {s['max_score']:g}", "",
             "Per exercise (share with full marks, mean points):"]
    lines += [f"  {n}: {v['full_marks_rate']:.0%}, {v['mean_points']:g}/{v['max_points']:g}"
              for n, v in s["exercises"].items()]
    lines += ["", "Most common failures:"] + [f"  {k}x {m}" for m, k in s["common_failures"]]
    if s["technical_zeros"]:
        lines += ["", "Not graded:"] + [f"  {k}: {v}" for k, v in s["technical_zeros"].items()]
    return "\n".join(lines) + "\n"


def _plot(scores: list, top: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(scores, bins=min(20, max(5, len(set(scores)))), range=(0, top or 1),
            color="#4a7ab5", edgecolor="white")
    ax.set(xlabel="score", ylabel="students", title="Score distribution")
    fig.tight_layout()
    with atomic.atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)


def write_results(g: Graded, path: Path) -> None:
    write_atomic(path, json.dumps(gradescope(g), indent=2))


def student_results(g: Graded, out: Path) -> Path:
    """Write ``OUT/students/<id>/results.json``; returns its path."""
    path = inside(Path(out), g.student) / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_results(g, path)
    return path


def site_report(fmt: str) -> str:
    """The import file a format's grades go back in: moodle.csv for Moodle, else canvas.csv."""
    return "moodle.csv" if fmt == "moodle" else "canvas.csv"


def write_reports(graded: list[Graded], out: Path, extra: dict | None = None, *, fmt: str = "folder",
                  title: str = "facelab workbook", results: bool = True) -> dict:
    """results.json per student (unless already written: ``results=False``),
    gradebook.csv, the site's import file (``site_report``), summary.json/.txt, the plot."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for g in graded if results else ():
        student_results(g, out)
    write_csv(out / "gradebook.csv", gradebook_rows(graded))
    if fmt == "moodle":
        write_csv(out / "moodle.csv", moodle_rows(graded))
    else:
        write_csv(out / "canvas.csv", canvas_rows(graded, title))
    s = summary(graded, dict(extra or {}, format=fmt))
    write_atomic(out / "summary.json", json.dumps(s, indent=2))
    write_atomic(out / "summary.txt", _summary_text(s))
    _plot([g.score for g in graded], s["max_score"], out / "score_distribution.png")
    return s
