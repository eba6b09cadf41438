"""facelab release: the transformation (static, all notebooks) and student runs (1, 2, 5)."""

from __future__ import annotations

import copy
import json

import nbformat
import pytest

from facelab import cli
from facelab.release import ReleaseError, graded_name, release, release_notebook, student_source

from .conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = sorted(NOTEBOOKS.glob("*.ipynb"))
EXERCISES = {"1_naive_verification": "pixel_distance", "2_triplet_loss": "triplet_loss",
             "4_face_verification": "verify", "5_face_recognition": "who_is_it"}


def _read(path):
    return nbformat.read(path, as_version=4)


def _between_markers(source: str) -> list[str]:
    lines = source.split("\n")
    start = next(i for i, l in enumerate(lines) if "START CODE HERE" in l)
    end = next(i for i, l in enumerate(lines) if "END CODE HERE" in l)
    return [l.strip() for l in lines[start + 1:end]]


# -------------------------------------------------------------------- static
def test_seven_solution_notebooks_exist():
    assert [p.stem for p in SOLUTIONS] == [
        "1_naive_verification", "2_triplet_loss", "3_pretrained_model",
        "4_face_verification", "5_face_recognition", "6_going_further", "7_training"]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_release_transformation_static(path):
    solution = _read(path)
    student = release_notebook(solution, path.name)
    assert len(student.cells) == len(solution.cells)
    graded = [i for i, c in enumerate(solution.cells)
              if c.cell_type == "code" and graded_name(c.source)]
    if path.stem in EXERCISES:
        assert [graded_name(solution.cells[i].source) for i in graded] == [EXERCISES[path.stem]]
    else:
        assert graded == []
    first = graded[0] if graded else len(solution.cells)
    for i, (sol, stu) in enumerate(zip(solution.cells, student.cells)):
        if i in graded:
            compile(stu.source, "student", "exec")
            body = _between_markers(stu.source)
            assert body, "the student block is empty"
            for line in body:  # only placeholders, comments and kept keywords remain
                assert (line.endswith("None") or line.endswith("None:") or line.startswith("#")
                        or line in ("else:", "")), line
            assert "np.linalg.norm" not in stu.source and "tf.reduce_sum" not in stu.source
            assert stu.outputs == []
        elif sol.cell_type == "code" and i > first:
            assert stu.source == sol.source and stu.outputs == []
        else:
            assert stu == sol  # before the first graded cell, and markdown: unchanged
    # the solution itself is not modified
    assert _read(path) == solution


def test_student_source_rules():
    src = ("# GRADED FUNCTION: f\n"
           "def f(x, d):\n"
           "    ### START CODE HERE ###\n"
           "    # a comment stays\n"
           "    a, b = (x,\n"
           "            2)\n"
           "    total: int = 0\n"
           "    total += a\n"
           "    for k, v in d.items():\n"
           "        if v > a:\n"
           "            print(k)\n"
           "        elif v < 0:\n"
           "            pass\n"
           "        else:\n"
           "            total = v\n"
           "    ### END CODE HERE ###\n"
           "    return total\n")
    want = ("# GRADED FUNCTION: f\n"
            "def f(x, d):\n"
            "    ### START CODE HERE ###\n"
            "    # a comment stays\n"
            "    a, b = None\n"
            "    total: int = None\n"
            "    total = None\n"
            "    for k, v in None:\n"
            "        if None:\n"
            "            None\n"
            "        elif None:\n"
            "            pass\n"
            "        else:\n"
            "            total = None\n"
            "    ### END CODE HERE ###\n"
            "    return total\n")
    assert student_source(src) == want


@pytest.mark.parametrize("src, message", [
    ("# GRADED FUNCTION: f\ndef f():\n    return 1\n", "no ### START CODE HERE"),
    ("# GRADED FUNCTION: f\ndef f():\n    ### START CODE HERE ###\n    x = 1\n    return x\n",
     "never closed"),
    ("# GRADED FUNCTION: f\ndef f():\n    ### END CODE HERE ###\n    return 1\n", "without a"),
    ("# GRADED FUNCTION: f\ndef f(:\n    ### START CODE HERE ###\n    ### END CODE HERE ###\n",
     "not valid Python"),
])
def test_student_source_errors(src, message):
    with pytest.raises(ReleaseError, match=message):
        student_source(src)


def test_release_files_and_errors(tmp_path):
    out = tmp_path / "student"
    written = release([NOTEBOOKS], out)
    assert [p.name for p in written] == [p.name for p in SOLUTIONS]
    assert not list(out.glob(".*.part"))
    with pytest.raises(ReleaseError, match="would overwrite"):
        release([SOLUTIONS[0]], NOTEBOOKS)
    with pytest.raises(ReleaseError, match="not found"):
        release([tmp_path / "missing.ipynb"], out)
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ReleaseError, match="not a readable notebook"):
        release([bad], out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReleaseError, match="no notebooks"):
        release([tmp_path / "empty"], out)


def test_release_cli(tmp_path, capsys):
    assert cli.main(["release", str(SOLUTIONS[0]), "-o", str(tmp_path)]) == 0
    assert (tmp_path / SOLUTIONS[0].name).is_file()
    assert "wrote" in capsys.readouterr().out
    assert cli.main(["release", str(tmp_path / "nope.ipynb"), "-o", str(tmp_path)]) == 4
    assert "facelab release:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["release", "--help"])
    assert exc.value.code == 0
    assert "START CODE HERE" in capsys.readouterr().out


# ---------------------------------------------------------------- end to end
def _text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"ERROR {out.ename}: {out.evalue}")
        else:
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.parametrize("stem", ["1_naive_verification", "2_triplet_loss", "5_face_recognition"])
def test_student_release_runs_then_solutions_pass(stem, tmp_path):
    """Run the student notebook top to bottom, then paste the solutions back and re-check.

    One kernel per notebook does both: the pasted solution cells and their
    checks are appended at the end of the student notebook.
    """
    from nbclient import NotebookClient

    solution = _read(NOTEBOOKS / f"{stem}.ipynb")
    student = release_notebook(solution, stem)
    exercise = EXERCISES[stem]
    check_idx = next(i for i, c in enumerate(student.cells)
                     if c.cell_type == "code" and f"check_{exercise}(" in c.source)
    graded = next(c for c in solution.cells if c.cell_type == "code" and graded_name(c.source))
    n_student = len(student.cells)
    student.cells += [copy.deepcopy(graded), copy.deepcopy(solution.cells[check_idx])]
    for cell in student.cells[n_student:]:
        cell.outputs = []
    NotebookClient(student, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()

    before = _text(student.cells[check_idx])
    assert "FAILED" in before and "Hint:" in before, before
    assert "Traceback" not in before and "AssertionError" not in before, before
    assert f"{exercise}: 0 of" in before, before
    after = _text(student.cells[-1])
    assert f"{exercise}: all" in after and "tests passed" in after, after
    assert "FAILED" not in after, after
    # the kernel survived everything: the last cell ran
    assert student.cells[-1].execution_count is not None
    json.dumps(student)  # a well-formed notebook came back
