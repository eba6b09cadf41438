"""`facelab grade` on a folder of real students, as an instructor runs it: correct
workbooks (folder, zip, one .py) get the maximum beside every kind of bad input, a slow
student runs out of budget and is still reported, hidden cases stay hidden, and a
tampering student changes nothing for the student graded after it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile

import pytest

from facelab import checks
from facelab.grading import oracle, reports, wire

from .conftest import ROOT
from .test_grader import BAD_INPUTS, SOLUTIONS, nb

pytestmark = pytest.mark.slow

SOL = {p.name: p.read_text() for p in SOLUTIONS}
WRONG = {  # a student who tries, with wrong answers everywhere
    "pixel_distance": "def pixel_distance(image_a, image_b):\n    return 0.123\n",
    "triplet_loss": "def triplet_loss(y_true, y_pred, alpha=0.2):\n    return 1.5\n",
    "verify": "def verify(image_path, identity, database, model):\n    return 0.5, True\n",
    "who_is_it": "def who_is_it(image_path, database, model):\n    return 0.0, 'nobody'\n",
}
SLEEPER = {n: s.replace("):\n", "):\n    import time\n    time.sleep(5)\n", 1) for n, s in WRONG.items()}
TAMPER = """
def pixel_distance(image_a, image_b):
    import os, signal, numpy, time
    numpy.linalg.norm = lambda *a, **k: 0.0          # tamper with the next student's numpy
    signal.setitimer(signal.ITIMER_REAL, 0.5, 0.5)    # and its clock
    open('/tmp/facelab-tamper-mark', 'w').write('x')  # leave files behind
    open('facelab-tamper-mark', 'w').write('x')
    if os.fork() == 0:                                # and a process that outlives us
        os.setsid()
        if os.fork() == 0:
            time.sleep(600)
        os._exit(0)
    import json, stat, struct                         # forge the grader's messages on every pipe
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                for msg in ({{"t": "done", "why": "exited"}},
                            {{"t": "defined", "ex": "pixel_distance", "error": "forged", "notes": []}}):
                    data = json.dumps(msg).encode()
                    os.write(fd, struct.pack(">Q", len(data)) + data)
        except OSError:
            pass
    for p in ('{checks}', '{exercises}'):
        try:
            open(p).read()
            return 'READ ' + p
        except OSError:
            pass
    return 0.0
"""


PROBE = """
def pixel_distance(image_a, image_b):
    import os
    others = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            state = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0]
            if os.stat(f'/proc/{pid}').st_uid == os.getuid() and state != 'Z' and \
                    int(pid) not in (os.getpid(), os.getppid()):
                others.append(pid)
        except OSError:
            pass
    if others or os.path.exists('/tmp/facelab-tamper-mark') or os.path.exists('facelab-tamper-mark'):
        return -1.0  # something of the student before is still here
    return float(np.linalg.norm(image_a - image_b))
"""


def _graded_cells(funcs: dict) -> list[str]:
    head = "import numpy as np\nimport tensorflow as tf\nfrom facelab.model import img_to_encoding\n"
    return [head] + [f"# GRADED FUNCTION: {n}\n{src}" for n, src in funcs.items()]


@pytest.fixture(scope="module")
def graded(tmp_path_factory, office):
    tmp = tmp_path_factory.mktemp("batch")
    subs, out = tmp / "students", tmp / "out"
    (subs / "alice" / "deep").mkdir(parents=True)
    for k, (name, text) in enumerate(SOL.items()):
        (subs / "alice" / ("deep" if k else ".") / name).write_text(text)
    with zipfile.ZipFile(subs / "bob.zip", "w") as z:
        for name, text in SOL.items():
            z.writestr(f"bob/{name}", text)
    for name, (data, _why) in BAD_INPUTS.items():
        (subs / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    (subs / "wrong.ipynb").write_text(nb(*_graded_cells(WRONG)))
    (subs / "sleeper.ipynb").write_text(nb(*_graded_cells(SLEEPER)))
    (subs / "nothing.ipynb").write_text(nb("print('I did not do the homework')"))
    (subs / "...ipynb").write_text(nb("x = 1"))
    r = subprocess.run([sys.executable, "-m", "facelab.cli", "grade", str(subs), "--out", str(out),
                        "--jobs", "2", "--budget", "40"], capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = {row["student"]: row for row in csv.DictReader((out / "gradebook.csv").open())}
    return {"rows": rows, "out": out, "stdout": r.stdout, "stderr": r.stderr}


def results(graded, student) -> dict:
    return json.loads((graded["out"] / "students" / student / "results.json").read_text())


def test_a_correct_workbook_gets_the_maximum_as_a_folder_and_as_a_zip(graded):
    for student in ("alice", "bob"):
        row = graded["rows"][student]
        assert row["total"] == row["max"] and float(row["max"]) > 0, row
        assert row["reason"] == ""
        assert results(graded, student)["score"] == float(row["max"])
    assert graded["stderr"].startswith("sandbox: ")  # the boundary, said in one line


def test_every_bad_input_is_one_row_with_a_reason_and_nothing_outside_out(graded):
    names = {n.rsplit(".", 1)[0] for n in BAD_INPUTS} | {"wrong", "sleeper", "nothing", "student"}
    assert set(graded["rows"]) == names | {"alice", "bob"}
    for name, (_data, why) in BAD_INPUTS.items():
        row = graded["rows"][name.rsplit(".", 1)[0]]
        assert row["total"] == "0" and why in row["reason"], row
        assert results(graded, name.rsplit(".", 1)[0])["tests"], name  # a valid results.json
    assert "no function" in graded["rows"]["nothing"]["reason"]
    assert (graded["out"] / "students" / "student" / "results.json").is_file()  # `...ipynb`, sanitised
    assert not (graded["out"].parent / "results.json").exists()
    for f in ("canvas.csv", "summary.json", "summary.txt", "score_distribution.png"):
        assert (graded["out"] / f).stat().st_size > 0


def test_the_budget_stops_a_slow_student_and_its_results_are_written(graded):
    res = results(graded, "sleeper")
    assert res["score"] == 0 and len(res["tests"]) == len(results(graded, "alice")["tests"])
    assert "time budget of 40 s ran out" in res["output"]
    assert graded["rows"]["wrong"]["total"] != ""  # the students beside it were graded


def test_hidden_cases_never_reach_the_student(graded):
    """What a student reads about each hidden case (its line of `output`, its test's name and
    output) holds no hidden case name and no token of that case's expected value."""
    data = oracle.load()
    res = results(graded, "wrong")
    names = " ".join(c.name for n in checks.exercises() for c in checks.cases(n, include_hidden=True)
                     if not c.visible)
    for name in checks.exercises():
        lines = [ln for ln in res["output"].splitlines() if f"a hidden test of {name}" in ln]
        tests = [t["output"] for t in res["tests"] if t["name"].startswith(f"{name}: hidden test")]
        assert [t["name"] for t in res["tests"] if "hidden" in t["name"] and t["name"].startswith(name)] == \
            [f"{name}: hidden test {k}" for k in range(1, len(tests) + 1)]  # numbered, never named
        lines = [ln.split(f"a hidden test of {name}", 1)[1] for ln in lines]
        hidden = [(c, e) for c, e in zip(checks.cases(name, include_hidden=True), data["expected"][name])
                  if not c.visible]
        assert len(lines) == len(tests) == len(hidden), name  # every hidden case failed
        for (case, exp), line, test in zip(hidden, lines, tests):
            assert case.name not in res["output"] + json.dumps(res["tests"])
            bare = checks.Case(case.name, case.points, (), judge=None, visible=False)
            for tok in reports.secret_tokens(bare, wire.decode(exp)):
                assert tok not in line and tok not in test, (case.name, tok)
    assert names and "a hidden test of verify" in res["output"]


def test_a_tampering_student_changes_nothing_for_the_next_one(tmp_path, office):
    subs = tmp_path / "students"
    subs.mkdir()
    hostile = TAMPER.format(checks=ROOT / "facelab" / "checks" / "suite.py", exercises=ROOT / "facelab" / "exercises.py")
    (subs / "a_tamper.py").write_text(hostile)
    (subs / "b_probe.py").write_text("import numpy as np\n" + PROBE)
    (subs / "c_correct").mkdir()
    for name, text in SOL.items():
        (subs / "c_correct" / name).write_text(text)
    out = tmp_path / "out"
    before = _student_processes()
    r = subprocess.run([sys.executable, "-m", "facelab.cli", "grade", str(subs), "--out", str(out),
                        "--jobs", "1"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {row["student"]: row for row in csv.DictReader((out / "gradebook.csv").open())}
    assert rows["c_correct"]["total"] == rows["c_correct"]["max"], rows
    assert rows["b_probe"]["pixel_distance"] == rows["c_correct"]["pixel_distance"], rows  # nothing left
    assert "READ" not in (out / "students" / "a_tamper" / "results.json").read_text()
    assert _student_processes() - before == set()  # the daemon it left died with its grading


def _student_processes() -> set:
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
            if b"facelab.grading.student" in cmd and cmd.startswith(sys.executable.encode()):
                found.add(int(pid))
        except OSError:
            pass
    return found
