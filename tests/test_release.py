"""facelab release: the transformation (static, all notebooks), clean student notebooks, and
student runs (1, 2, 4, 5) with catalogued mistakes pasted in."""

from __future__ import annotations

import copy
import json
import re

import nbformat
import pytest

from facelab import cli
from facelab.release import ReleaseError, graded_name, release, release_notebook, student_source

from .conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = sorted(NOTEBOOKS.glob("*.ipynb"))
EXERCISES_OF = {"1_naive_verification": "pixel_distance", "2_triplet_loss": "triplet_loss",
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
    if path.stem in EXERCISES_OF:
        assert [graded_name(solution.cells[i].source) for i in graded] == [EXERCISES_OF[path.stem]]
    else:
        assert graded == []
    assert any(c.get("outputs") for c in solution.cells)  # the solution was run
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
        elif sol.cell_type == "code":  # the whole notebook looks unrun
            assert stu.source == sol.source and stu.outputs == []
        else:
            assert stu == sol  # markdown: unchanged
        if sol.cell_type == "code":
            assert stu.execution_count is None
    assert "widgets" not in student.metadata
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


#: the catalogued mistakes pasted into each released notebook (see tests/wrong_answers.py)
PASTED = {"1_naive_verification": ("squared",),
          "2_triplet_loss": ("numpy_not_imported", "swapped", "clip_after_sum"),
          "4_face_verification": ("at_threshold", "swapped_return", "dist_array", "not_encoded"),
          "5_face_recognition": ("squared", "identity_outside_if")}


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(PASTED))
def test_student_release_runs_then_mistakes_are_diagnosed_then_solutions_pass(stem, tmp_path):
    """Run the student notebook top to bottom, then paste catalogued mistakes, then the
    solution, each followed by the notebook's own check cell, in the same kernel."""
    from nbclient import NotebookClient

    from facelab.checks.suite import EXERCISES

    from .wrong_answers import WRONG

    solution = _read(NOTEBOOKS / f"{stem}.ipynb")
    student = release_notebook(solution, stem)
    name = EXERCISES_OF[stem]
    exercise = EXERCISES[name]
    check_idx = next(i for i, c in enumerate(student.cells)
                     if c.cell_type == "code" and f"check_{name}(" in c.source)
    graded = next(c for c in solution.cells if c.cell_type == "code" and graded_name(c.source))
    check = solution.cells[check_idx]
    sources: dict = {}
    for ex, m, src in WRONG:  # the first wrong answer of each mistake
        if ex == name:
            sources.setdefault(m, src)
    pasted = []
    for mistake in PASTED[stem]:
        cell = copy.deepcopy(graded)
        cell.source = f"# GRADED FUNCTION: {name}\n\n" + sources[mistake]
        student.cells += [cell, copy.deepcopy(check)]
        pasted.append((mistake, len(student.cells) - 1))
    student.cells += [copy.deepcopy(graded), copy.deepcopy(check)]
    for cell in student.cells[len(solution.cells):]:
        cell.outputs = []
    NotebookClient(student, timeout=900, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()

    before = _text(student.cells[check_idx])  # the released placeholders, as run
    assert f"{name}: 0 of" in before and "FAILED" in before, before
    assert "What went wrong: Not finished yet: " in before, before
    assert "Traceback" not in before and "nan" not in before, before
    says = {m.name: m.says for m in exercise.mistakes}
    for mistake, at in pasted:
        out = _text(student.cells[at])
        assert f"What went wrong: {says[mistake]}" in out, (mistake, out)
        assert out.count("What went wrong:") == 1 and "Traceback" not in out, out
        if mistake == "not_encoded":  # the student's own line, in their cell
            assert re.search(r"in verify \(Cell In\[\d+\], line 5\):  dist = np.linalg.norm"
                             r"\(image_path - database\[identity\]\)", out), out
    after = _text(student.cells[-1])
    assert re.fullmatch(rf"{name}: (\d+)/\1 visible checks passed; \d+ more tests? run when "
                        r"your work is graded\.\n?", after), after
    assert student.cells[-1].execution_count is not None  # the kernel survived everything
    json.dumps(student)  # a well-formed notebook came back


@pytest.mark.parametrize("path", [p for p in SOLUTIONS if p.stem[0] in "12345"], ids=lambda p: p.stem)
def test_student_notebooks_are_clean(path):
    """No private import, no `<IPython.core.display.Image object>` where a photo was
    stripped (a note instead), and the check's expected output is the honest one."""
    from facelab.plots import PHOTO_NOTE

    student = release_notebook(_read(path), path.name)
    for cell in student.cells:
        if cell.cell_type != "code":
            continue
        assert not re.search(r"(from|import)\s+facelab\._", cell.source), cell.source
        assert "import facelab  #" not in cell.source
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = "".join(data.get("text/plain", ""))
            if not [m for m in data if m.startswith("image/")]:  # the text is what shows
                assert "IPython.core.display.Image object" not in text
            if out.get("metadata", {}).get("facelab", {}).get("photo"):
                assert text.startswith(PHOTO_NOTE)
                assert not [m for m in out["data"] if m.startswith("image/")]
    if path.stem in EXERCISES_OF:
        text = "\n".join(c.source for c in student.cells if c.cell_type == "markdown")
        assert "more tests run when your work is graded" in text
        assert f'hint("{EXERCISES_OF[path.stem]}")' in text


def test_strip_photos_leaves_a_note_where_the_photo_was():
    from facelab.plots import PHOTO_METADATA, PHOTO_NOTE
    from facelab.release import strip_photos

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("show()", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain":
                               "<IPython.core.display.Image object>"}, metadata=PHOTO_METADATA),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "chart"})])])
    assert strip_photos(nb) == 1 and strip_photos(nb) == 0  # a second pass changes nothing
    photo, chart = nb.cells[0].outputs
    assert photo["data"] == {"text/plain": PHOTO_NOTE}
    assert chart["data"] == {"image/png": "iVBOR", "text/plain": "chart"}


def test_release_keeps_only_tagged_outputs_and_no_widget_state():
    from facelab.plots import PHOTO_METADATA, PHOTO_NOTE
    from facelab.release import KEEP_OUTPUT, WIDGET_VIEW

    shown = nbformat.v4.new_code_cell("print('what the lesson shows')", execution_count=3,
                                      outputs=[nbformat.v4.new_output("stream", text="shown\n"),
                                               nbformat.v4.new_output("execute_result",
                                                                      data={"text/plain": "1"},
                                                                      execution_count=3)])
    shown.metadata["tags"] = [KEEP_OUTPUT]
    photo = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"},
                                   metadata=PHOTO_METADATA)
    shown.outputs.append(photo)
    run = nbformat.v4.new_code_cell("front_door()", execution_count=4, outputs=[
        nbformat.v4.new_output("display_data", data={"text/plain": "a door",
                                                     WIDGET_VIEW: {"model_id": "abc"}})])
    nb = nbformat.v4.new_notebook(cells=[shown, run])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    student = release_notebook(nb)
    kept, cleared = student.cells
    assert kept.execution_count is None and cleared.execution_count is None
    assert [o.output_type for o in kept.outputs] == ["stream", "execute_result", "display_data"]
    assert kept.outputs[1].execution_count is None
    assert kept.outputs[2].data == {"text/plain": PHOTO_NOTE}
    assert cleared.outputs == [] and "widgets" not in student.metadata


def test_strip_photos_removes_widget_views_and_state_keeping_the_text():
    from facelab.release import WIDGET_VIEW, strip_photos

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("door()", outputs=[
        nbformat.v4.new_output("display_data", data={"text/plain": "ben claims...",
                                                     WIDGET_VIEW: {"model_id": "abc"}})])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    assert strip_photos(nb) == 2 and strip_photos(nb) == 0
    assert nb.cells[0].outputs[0].data == {"text/plain": "ben claims..."}
    assert "widgets" not in nb.metadata


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_committed_notebooks_hold_no_widget_state_and_show_the_doors_as_text(path):
    """strip-photos ran: no saved widget state (photos hide in it), no random model ids;
    each door's output is its text fallback, what nbval compares."""
    from facelab.release import WIDGET_VIEW

    nb = _read(path)
    assert "widgets" not in nb.metadata
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert WIDGET_VIEW not in out.get("data", {}), cell.source[:80]
        if cell.cell_type == "code" and re.search(r"^(front|upload|verify)_door\(", cell.source,
                                                  re.M):
            texts = [o["data"]["text/plain"] for o in cell.outputs if o.get("data")]
            assert texts and all(t.strip() and "VBox" not in t for t in texts), texts
