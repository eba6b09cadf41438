"""Each released notebook, run top to bottom as a student gets it (placeholders unfilled):
every cell works or fails with one sentence saying what to do, never a traceback from
inside TensorFlow or Keras. Notebook 7 runs beside the released, unfinished notebook 2."""

from __future__ import annotations

import re

import nbformat
import pytest

from facelab import errors
from facelab.release import release

from .conftest import ROOT

pytestmark = pytest.mark.slow  # runs the seven notebooks (a few minutes)

SOLUTIONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: frames of these packages in a traceback mean the student hit their internals
INTERNALS = re.compile(r"site-packages/(tensorflow|keras|tf_keras|h5py)/|"
                       r"File \S*(tensorflow|keras)/", re.I)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def released(tmp_path_factory, office):
    out = tmp_path_factory.mktemp("released")
    release([ROOT / "notebooks"], out)
    return out


def failures(nb) -> list[str]:
    """Every way a run cell failed that is not one facelab sentence, as readable lines."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {index + 1} ({cell.source.splitlines()[0][:60]!r})"
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", "")) if out.output_type == "stream" else ""
            if "Traceback (most recent call last)" in text:
                found.append(f"{where}: printed a traceback: {text[-300:]!r}")
            if out.output_type != "error":
                continue
            trace = ANSI.sub("", "\n".join(out.get("traceback", [])))
            cls = getattr(errors, out.ename, None)
            if INTERNALS.search(trace):
                found.append(f"{where}: a traceback from inside TensorFlow/Keras "
                             f"({out.ename}: {out.evalue[:200]})")
            elif not (isinstance(cls, type) and issubclass(cls, errors.FacelabError)):
                found.append(f"{where}: {out.ename}: {out.evalue[:200]} (not a facelab "
                             f"message saying what to do)")
            elif "\n" in out.evalue.strip() or len(out.evalue) > 400 or len(trace.splitlines()) > 1:
                found.append(f"{where}: {out.ename} is not one sentence: {trace[:400]!r}")
    return found


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_released_notebook_runs_as_released_without_dead_ends(released, path):
    """The demo cells after an exercise start with require_finished(fn), so an unfinished
    exercise stops them with one sentence, not a TypeError on None."""
    from nbclient import NotebookClient

    nb = nbformat.read(released / path.name, as_version=4)
    assert all(c.get("outputs") in (None, []) for c in nb.cells)  # as the student gets it
    NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(released)}}).execute()
    assert nb.cells[-1].cell_type != "code" or nb.cells[-1].execution_count is not None
    problems = failures(nb)
    assert not problems, "\n".join(problems)
    for cell in nb.cells:  # the exercise is unfinished: each demo cell stops at its first line
        if cell.cell_type == "code" and "\nrequire_finished(" in "\n" + cell.source:
            error, = [o for o in cell.outputs if o.output_type == "error"]
            assert error.ename == "UnfinishedError" and "is not finished yet" in error.evalue


def test_notebook_7_names_notebook_2_when_its_loss_is_unfinished(released):
    """The exact dead end of the issue: the released notebook 2 beside notebook 7."""
    from nbclient import NotebookClient

    nb = nbformat.read(released / "7_training.ipynb", as_version=4)
    nb.cells = nb.cells[:next(i for i, c in enumerate(nb.cells)
                              if "require_loss(triplet_loss)" in c.source) + 1]
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(released)}}).execute()
    error, = [o for o in nb.cells[-1].outputs if o.output_type == "error"]
    assert error.ename == "LossError"
    assert error.evalue == ("your triplet_loss from 2_triplet_loss.ipynb (notebook 2) returns "
                            "None, so it is not finished yet: finish it there (its START CODE "
                            "HERE block), save that notebook, then run this notebook again "
                            "from the top")
    assert error.traceback == [f"LossError: {error.evalue}"]  # one line, no frames
