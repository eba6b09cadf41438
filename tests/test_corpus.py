"""A correct solution never loses a point: the corpus of tests/corpus.py, each version
handed in as the four solution notebooks with one graded cell replaced, graded in ONE
`facelab grade` batch and checked in-process with the notebook's `check_*`: correct
versions keep full marks both ways, wrong ones lose points both ways, and the notebook's
verdict on every visible case is the grader's."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import nbformat
import pytest

from facelab import checks
from facelab.cells import graded_name

from .conftest import ROOT
from .corpus import CORRECT, VERSIONS, WRONG

pytestmark = pytest.mark.slow

NOTEBOOKS = {"pixel_distance": "1_naive_verification.ipynb", "triplet_loss": "2_triplet_loss.ipynb",
             "verify": "4_face_verification.ipynb", "who_is_it": "5_face_recognition.ipynb"}


def test_the_corpus_is_big_enough_and_names_are_unique():
    assert len(CORRECT) >= 40 and len(WRONG) >= 15
    assert len({v.name for v in VERSIONS}) == len(VERSIONS)
    assert {v.exercise for v in CORRECT} == {v.exercise for v in WRONG} == set(NOTEBOOKS)


def _hand_in(folder, version) -> None:
    """The four solution notebooks, the version's graded cell (and its helper cell) replacing one."""
    folder.mkdir(parents=True)
    for exercise, name in NOTEBOOKS.items():
        nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        if exercise == version.exercise:
            k = next(i for i, c in enumerate(nb.cells) if graded_name("".join(c.source)) == exercise)
            nb.cells[k].source = f"# GRADED FUNCTION: {exercise}\n\n{version.source}"
            if version.helper:
                nb.cells.insert(k, nbformat.v4.new_code_cell(version.helper))
        nbformat.write(nb, folder / name)


def _setup_cell(exercise: str) -> str:
    nb = nbformat.read(ROOT / "notebooks" / NOTEBOOKS[exercise], as_version=4)
    return next("".join(c.source) for c in nb.cells if c.cell_type == "code")


def _in_notebook(version):
    """check_* on the version as the notebook runs it: its set-up cell, the helper, the cell."""
    ns: dict = {"__name__": "__main__"}
    exec(compile(_setup_cell(version.exercise), "<setup cell>", "exec"), ns)  # noqa: S102
    for k, cell in enumerate((version.helper, version.source)):
        if cell:
            checks.keep_source(f"<cell {k}>", cell)
            exec(compile(cell, f"<cell {k}>", "exec"), ns)  # noqa: S102
    return checks.check(version.exercise, ns[version.exercise])


@pytest.fixture(scope="module")
def graded(tmp_path_factory, office):
    tmp = tmp_path_factory.mktemp("corpus")
    subs, out = tmp / "students", tmp / "out"
    for v in VERSIONS:
        _hand_in(subs / v.name, v)
    r = subprocess.run([sys.executable, "-m", "facelab.cli", "grade", str(subs), "--out", str(out),
                        "--jobs", "2"], capture_output=True, text=True, timeout=3000)
    assert r.returncode == 0, r.stderr[-3000:]
    return {v.name: json.loads((out / "students" / v.name / "results.json").read_text()) for v in VERSIONS}


def _grader_verdicts(results: dict, exercise: str) -> dict:
    """{visible case name: passed} and (points, max points) of one exercise in results.json."""
    mine = [t for t in results["tests"] if t["name"].startswith(f"{exercise}: ")]
    visible = {t["name"].split(": ", 1)[1]: t["status"] == "passed" for t in mine
               if t["visibility"] == "visible"}
    return visible, (sum(t["score"] for t in mine), sum(t["max_score"] for t in mine))


@pytest.mark.parametrize("version", VERSIONS, ids=[v.name for v in VERSIONS])
def test_notebook_and_grader_agree(version, graded, office_db):
    results = graded[version.name]
    notebook = _in_notebook(version)
    grader, (points, top) = _grader_verdicts(results, version.exercise)
    mine = {c.name: c.passed for c in notebook.cases}
    assert mine == grader, (notebook.report(), results["output"])
    others = [t for t in results["tests"] if not t["name"].startswith(f"{version.exercise}: ")]
    assert all(t["status"] == "passed" for t in others), results["output"]  # the untouched three
    if version.correct:
        assert notebook.passed, notebook.report()
        assert points == top > 0, results["output"]
    else:
        assert not notebook.passed, notebook.report()
        assert points < top, results["output"]
        assert "Traceback" not in results["output"] and "What went wrong" in notebook.report() \
            or "FAILED" in notebook.report()


def test_a_raising_line_is_shown_in_results_json(graded):
    """Where the student's code raised, results.json shows their own line (cell and text)."""
    results = graded["vf-door-never-shut"]
    failed = [t for t in results["tests"] if t["status"] == "failed" and t["visibility"] == "visible"]
    assert failed, results["output"]
    for t in failed:  # the grader shows the line as it ran it (parsed: `return (dist, door_open)`)
        assert re.search(r"in verify \(4_face_verification\.ipynb cell \d+, line 8\):  "
                         r"return \(?dist, door_open\)?", t["output"]), t["output"]


def test_a_student_who_preprocesses_otherwise_is_judged_by_the_real_model(graded):
    """Pixels rounded to 4 decimals are no test's stored input, even up to float rounding:
    the grader's model loads the real model for them (the weights are readable in the
    sandbox), full marks; x * (1 / 255) is a test's input up to rounding: full marks too."""
    for name in ("vf-rounded-pixels", "vf-reciprocal-scaling", "wh-reciprocal-scaling"):
        res = graded[name]
        assert res["score"] == sum(t["max_score"] for t in res["tests"]), res["output"]
