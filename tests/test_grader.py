"""The grader's parts that run no student code: who the students are, reading what they
handed in (every bad input gives a reason), extraction, the wire, hidden-safe reports."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from facelab import checks
from facelab.errors import GradingError
from facelab.grading import reports, wire
from facelab.grading.extract import extract, extract_student, signature_problem
from facelab.grading.submissions import MAX_FILE, find_students, read_student

from .conftest import ROOT

SOLUTIONS = [ROOT / "notebooks" / n for n in ("1_naive_verification.ipynb", "2_triplet_loss.ipynb",
                                              "4_face_verification.ipynb", "5_face_recognition.ipynb")]


def nb(*cells: str) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [],
                                  "execution_count": None} for c in cells]})


def test_one_student_per_entry_sorted_with_safe_ids(tmp_path):
    for name in ("bob.ipynb", "alice.zip", "...ipynb", "a b;rm.py", ".hidden.ipynb", "Alice.py", ".DS_Store"):
        (tmp_path / name).write_text("x")
    (tmp_path / "carol").mkdir()
    (tmp_path / ".ipynb_checkpoints").mkdir()
    found = find_students([tmp_path])
    ids = [sid for sid, _ in found]
    assert ids == sorted(ids, key=str.lower)
    assert {i for i in ids if not i.lower().startswith("alice")} == {"bob", "student", "hidden", "a_b_rm", "carol"}
    alices = [i for i in ids if i.lower().startswith("alice")]
    assert len(alices) == 2 and len({i.lower() for i in alices}) == 2  # Alice.py and alice.zip
    assert all("/" not in i and not i.startswith(".") for i in ids)
    out = tmp_path / "out"
    for sid in ids:
        assert reports.inside(out, sid).parent == (out / "students").resolve()
    for bad in ("..", ".", "../x", "a/b"):
        with pytest.raises(GradingError):
            reports.inside(out, bad)


def test_a_folder_or_zip_of_the_four_notebooks_yields_every_graded_function(tmp_path):
    folder = tmp_path / "alice"
    (folder / "deep" / "er").mkdir(parents=True)
    for k, p in enumerate(SOLUTIONS):
        (folder / ("deep/er" if k == 3 else ".") / p.name).write_bytes(p.read_bytes())
    with zipfile.ZipFile(tmp_path / "bob.zip", "w") as z:
        for p in SOLUTIONS:
            z.write(p, f"work/{p.name}")
    for sid, entry in (("alice", folder), ("bob", tmp_path / "bob.zip")):
        student = read_student(sid, entry)
        assert student.problem is None and len(student.sources) == 4, student
        for name in checks.exercises():
            ex = extract_student(student, name)
            assert ex.problem is None and ex.note is None, (sid, name, ex.problem)
            assert f"def {name}(" in ex.pieces[-1].source


def test_two_files_defining_a_graded_function_differently_follow_one_rule(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.ipynb").write_text(nb("# GRADED FUNCTION: pixel_distance\n"
                                                "def pixel_distance(a, b):\n    return 1.0"))
    (tmp_path / "s" / "b.py").write_text("# GRADED FUNCTION: pixel_distance\n"
                                         "def pixel_distance(a, b):\n    return 2.0\n")
    (tmp_path / "s" / "c.py").write_text("def pixel_distance(a, b):\n    return 3.0\n")  # no header
    ex = extract_student(read_student("s", tmp_path / "s"), "pixel_distance")
    assert "return 1.0" in ex.pieces[-1].source  # the first headed file in name order
    assert "a.ipynb" in ex.note and "b.py" in ex.note and "c.py" not in ex.note


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


def _zip(entries: dict, compress=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for n, d in entries.items():
            z.writestr(n, d)
    return buf.getvalue()


BAD_INPUTS = {
    "invalid.ipynb": ('{"cells": [ not json', "invalid JSON"),
    "nbformat3.ipynb": (json.dumps({"nbformat": 3, "worksheets": [{"cells": []}]}), "nbformat 3"),
    "deep.ipynb": ("[" * 200_000 + "]" * 200_000, "nests too deeply"),
    "huge.ipynb": (b" " * (MAX_FILE + 10), "files over"),
    "empty.zip": (_zip({}), "no notebook"),
    "bomb.zip": (_zip({"a.ipynb": b"\0" * (64 * 2**20)}), "zip bomb"),
    "not_a_zip.zip": (b"PK\x03\x04garbage", "not a readable zip"),
    "notes.txt": ("hello", "expected a notebook"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_every_bad_input_gives_that_student_a_one_line_reason(tmp_path, name):
    data, why = BAD_INPUTS[name]
    student = read_student("s", _write(tmp_path, name, data))
    assert student.problem and why in student.problem, student.problem
    assert "\n" not in student.problem and len(student.problem) < 400


def test_non_utf8_bytes_are_replaced_and_the_function_still_found(tmp_path):
    src = b"# GRADED FUNCTION: pixel_distance\n# caf\xe9 \xff\ndef pixel_distance(a, b):\n    return 0.0\n"
    student = read_student("s", _write(tmp_path, "s.py", src))
    assert any("UTF-8" in n for n in student.notes)
    assert extract_student(student, "pixel_distance").problem is None


def test_a_huge_expression_is_that_exercise_s_problem_not_the_batch_s(tmp_path):
    body = " + ".join(["a"] * 5000)
    student = read_student("s", _write(tmp_path, "s.py", "# GRADED FUNCTION: pixel_distance\n"
                                      f"def pixel_distance(a, b):\n    return {body}\n"))
    ex = extract_student(student, "pixel_distance")
    assert ex.problem and "too deeply nested" in ex.problem, ex.problem


def test_a_symlink_in_a_student_folder_is_never_followed(tmp_path):
    (tmp_path / "s").mkdir()
    other = _write(tmp_path, "other.py", "# GRADED FUNCTION: verify\ndef verify(a, b, c, d):\n    return 1\n")
    (tmp_path / "s" / "copy.py").symlink_to(other)
    student = read_student("s", tmp_path / "s")
    assert student.problem and not student.sources


def test_extraction_takes_only_what_the_function_needs():
    cells = ["import numpy as np\nimport os", "x = os.system('boom')",
             "K = 2\ndef helper(a):\n    return a * K",
             "# GRADED FUNCTION: pixel_distance\ndef pixel_distance(a, b):\n"
             "    return np.sum(helper(a - b))\nprint(1)", "def broken(:", "%matplotlib inline\n!ls"]
    src = "\n".join(p.source for p in extract(cells, "pixel_distance").pieces)
    assert "os.system" not in src and "print(1)" not in src
    assert "def helper" in src and "K = 2" in src and "import numpy as np" in src


def test_signature_problems_name_the_lesson_signature():
    import ast

    from facelab import exercises

    args = ast.parse("def f(y_pred, alpha=0.2): pass").body[0].args
    msg = signature_problem("triplet_loss", args, (None, (1, 2, 3)), {}, exercises.triplet_loss)
    assert msg is None  # two positional arguments bind
    msg = signature_problem("triplet_loss", args, (None, (1, 2, 3), 0.5), {}, exercises.triplet_loss)
    assert "wrong signature" in msg and "y_true" in msg


def test_the_wire_round_trips_plain_data_and_never_evaluates():
    value = ("f", [1, 2.5, None, True, "x"], {"a": np.arange(6, dtype=np.float32).reshape(2, 3)},
             np.float64(0.25), 2**70)
    back = wire.decode(wire.encode(value))
    assert back[0] == "f" and back[1] == [1, 2.5, None, True, "x"] and back[4] == repr(2**70)
    assert np.array_equal(back[2]["a"], value[2]["a"]) and back[3] == 0.25
    for bad in (["x", 1], ["a", "|O", [1], ""], "not a list", ["v", [1]], ["d", 5]):
        with pytest.raises(wire.WireError):
            wire.decode(bad)


def test_a_half_written_frame_never_blocks_the_reader():
    r, w = os.pipe()
    try:
        os.write(w, b"\0\0\0\0\0\0\0\x10{")  # announces 16 bytes, sends 1
        reader = wire.FrameReader(r)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            reader.next(time.monotonic() + 0.3)
        assert time.monotonic() - t0 < 2
        os.write(w, b'"t": "hello!!"}')
        assert reader.next(time.monotonic() + 1) == {"t": "hello!!"}
        os.write(w, (2**40).to_bytes(8, "big"))
        with pytest.raises(wire.WireError):
            reader.next(time.monotonic() + 1)
    finally:
        os.close(r)
        os.close(w)


def _graded(hidden_message: str, case_name="hidden: the secret case") -> reports.Graded:
    case = checks.Case(case_name, 1, ("madonna_3.png", "mindy_kaling"), judge=None, visible=False)
    expected = (0.8127, False, "mindy_kaling")
    results = [checks.CheckResult("verify", (
        checks.CaseResult("visible one", False, 0.0, 1, "expected dist 0.5000, got 0.6604", "Use norm."),
        checks.CaseResult(case_name, False, 0.0, 1, hidden_message, "Check the door.", False)))]
    return reports.Graded("s", "s.ipynb", results,
                          hidden_tokens={("verify", case_name): reports.secret_tokens(case, expected)})


@pytest.mark.parametrize("message", ["expected dist 0.8127, got 0.6604",
                                     "dist is 0.6604, so door_open should be False",
                                     "your function raised KeyError: 'mindy_kaling'",
                                     "hidden: the secret case went wrong"])
def test_hidden_cases_never_leak_into_what_a_student_sees(message):
    g = _graded(message)
    data = reports.gradescope(g)
    seen = json.dumps(data) + reports.student_output(g)
    for token in ("0.8127", "0.813", "mindy_kaling", "madonna_3", "hidden: the secret case",
                  "should be False"):
        assert token not in seen, (token, seen)
    assert "expected dist 0.5000" in seen  # visible cases keep their full feedback
    assert "a hidden test of verify" in data["output"]


def test_a_safe_hidden_diagnosis_is_kept():
    g = _graded("your function returned a string, not a pair")
    assert "returned a string, not a pair" in reports.gradescope(g)["output"]


def test_gradebook_and_canvas_columns():
    g = _graded("x")
    rows = reports.gradebook_rows([g])
    assert rows[0] == ["student", "name", "late", *checks.exercises(), "total", "max", "reason", "sandbox"]
    canvas = reports.canvas_rows([g])
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[1][0] == "Points Possible" and canvas[2][3] == "s"  # a folder: by SIS Login ID
    g.site = {"canvas_id": "40123"}
    assert reports.canvas_rows([g])[2][1:4] == ["40123", "", ""]  # Canvas's download: by ID


def test_the_fork_servers_sweep_reaps_a_whole_process_tree(tmp_path):
    """_sweep kills and reaps every descendant (here: a child that forked grandchildren
    and exited, leaving them as orphans of a subreaper) and says so; a tree it cannot
    reap in time is reported as not clean, so the grader replaces the server."""
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "tree.py"
    script.write_text(textwrap.dedent('''
        import ctypes, os, sys, time
        from facelab.grading.student import _sweep
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        def tree():
            pid = os.fork()
            if pid == 0:
                os.setsid()
                for _ in range(5):
                    if os.fork() == 0:
                        os.setsid()  # out of the child's process group
                        time.sleep(600)
                        os._exit(0)
                os._exit(0)  # the grandchildren become our orphans
            return pid
        child = tree()
        time.sleep(0.5)
        print(_sweep(False, child, 0.0))  # no kill(-1) and no time: orphans remain
        me = str(os.getpid())
        for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
            try:
                with open(f'/proc/{pid}/stat') as f:
                    if f.read().rsplit(')', 1)[1].split()[1] == me:
                        os.kill(int(pid), 9)
            except OSError:
                pass
        print(_sweep(False, 0, 10.0))   # all killed now: reaped, clean
    '''))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["False", "True"], r.stdout + r.stderr
