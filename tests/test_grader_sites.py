"""Course sites' downloads graded as they come: a Canvas submissions zip (and its
folder), a Moodle download and an nbgrader submitted/ folder, each giving one student
per person with the site's id, "late" kept, re-submissions resolved, and the grades
written back in the site's import format. Ids, CSV cells and the intake's reading of
each layout are fast tests; grading each download end to end is slow."""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
import zipfile

import pytest

from facelab import checks
from facelab.errors import GradingError
from facelab.grading import cells_csv, intake, reports, sites
from facelab.grading.submissions import assign_ids, read_entry

from .test_grader import SOLUTIONS, nb

#: the workbook's maximum (every exercise, hidden cases too), as the reports write it
MAX = f"{sum(c.points for n in checks.exercises() for c in checks.cases(n, include_hidden=True)):g}"
#: what WRONG1 (a pixel_distance returning 0.5) scores: less than the exercise's 6
WRONG1_POINTS = "1"
NB1 = SOLUTIONS[0].read_text()                                    # pixel_distance: 6 points
WRONG1 = nb("# GRADED FUNCTION: pixel_distance\ndef pixel_distance(image_a, image_b):\n    return 0.5\n")

CANVAS = {  # file name in Canvas's download -> content
    "doejane_40123_900001_1_naive_verification.ipynb": WRONG1,      # first upload, wrong
    "doejane_40123_900001_1_naive_verification-1.ipynb": WRONG1,
    "doejane_40123_900001_1_naive_verification-2.ipynb": NB1,       # the newest: graded
    "müllerjosé_40124_900002_Mon cahier 1.ipynb": NB1,              # accents, spaces
    "smithjohn_LATE_40125_900003_1_naive_verification.ipynb": NB1,  # late
    "leeanna_40126_900004_1_naive_verification.ipynb": NB1,         # two Anna Lees
    "leeanna_40127_900005_1_naive_verification.ipynb": WRONG1,
    "kimbo_40128_900006_work.zip": None,                           # a zip of notebooks
}
MOODLE = {
    "Jane Doe_101_assignsubmission_file_/1_naive_verification.ipynb": NB1,
    "José Müller_102_assignsubmission_file_/Mon cahier 1.ipynb": NB1,
    "José Müller_102_assignsubmission_onlinetext_/onlinetext.html": "<p>hello</p>",
    "Anna Lee_103_assignsubmission_file_/a/1_naive_verification.ipynb": WRONG1,
    "Anna Lee_104_assignsubmission_file_/1_naive_verification.ipynb": NB1,
}
NBGRADER = {
    "submitted/jdoe/facelab/1_naive_verification.ipynb": NB1,
    "submitted/jdoe/facelab/timestamp.txt": "2026-12-01 10:00:00.000000 UTC",
    "submitted/José/facelab/1_naive_verification.ipynb": NB1,
    "submitted/JOSE/facelab/1_naive_verification.ipynb": WRONG1,
}


def _kimbo() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("work/1_naive_verification.ipynb", NB1)
    return buf.getvalue()


def write_zip(path, files: dict):
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, _kimbo() if text is None else text)
    return path


def write_folder(root, files: dict):
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(_kimbo() if text is None else text.encode())
    return root


# ------------------------------------------------------------------ fast

def test_ids_are_unique_ignoring_case_and_accents_and_stable():
    names = ["Bob", "bob", "bob-2", "José", "Jose\u0301", "JOSE", "jose_1", "=SUM(1)", "-x", ".hidden"]
    wanted = [(n, n) for n in names]
    ids = assign_ids(wanted)
    assert len({i.casefold() for i in ids}) == len(ids)
    assert ids[2] == "bob-2"                       # not a clash: keeps its own name
    assert ids[6] == "jose_1" and ids[9] == "hidden"
    for i in ids:
        assert i[0] not in ".-=" and set(i) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    for seed in range(5):  # the same class in any order gives the same ids
        shuffled = wanted[:]
        random.Random(seed).shuffle(shuffled)
        assert dict(zip([n for n, _ in shuffled], assign_ids(shuffled))) == dict(zip(names, ids))
    # a new student joining does not rename anyone who did not clash with them
    assert assign_ids(wanted + [("carol", "carol")])[:len(ids)] == ids


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("x")'])
def test_every_formula_prefix_is_neutralised(text):
    cell = cells_csv.text_cell(text)
    assert cell == "'" + text
    back = next(csv.reader(io.StringIO(cells_csv.csv_text([[text, 3, 2.5]])), ))
    assert back == ["'" + text, "3", "2.5"]


def test_cells_are_bounded_and_plain_text_is_untouched():
    assert cells_csv.text_cell("alice") == "alice" and cells_csv.text_cell(None) == ""
    assert len(cells_csv.text_cell("x" * 10_000)) == cells_csv.MAX_CELL
    assert cells_csv.text_cell("a=b") == "a=b"  # only a leading character makes a formula


def test_a_canvas_download_gives_one_student_per_person(tmp_path):
    for root in (write_zip(tmp_path / "submissions.zip", CANVAS), write_folder(tmp_path / "unzipped", CANVAS)):
        fmt, entries = sites.find_entries([root])
        assert fmt == "canvas"
        by_uid = {e.site["canvas_id"]: e for e in entries}
        assert sorted(by_uid) == ["40123", "40124", "40125", "40126", "40127", "40128"]
        assert by_uid["40123"].id == "doejane_40123" and by_uid["40124"].id == "mullerjose_40124"
        assert [e.late for e in entries].count(True) == 1 and by_uid["40125"].late
        jane = by_uid["40123"]
        assert [s[2] for s in jane.sources] == ["1_naive_verification-2.ipynb"]  # the newest
        assert "re-submitted" in jane.notes[0]
        student = read_entry(by_uid["40124"])
        assert [s.label for s in student.sources] == ["Mon cahier 1.ipynb"] and not student.problem
        student = read_entry(by_uid["40128"])
        assert [s.label for s in student.sources] == ["work.zip/work/1_naive_verification.ipynb"]


def test_a_moodle_download_groups_each_participant(tmp_path):
    for root in (write_folder(tmp_path / "moodle", MOODLE), write_zip(tmp_path / "moodle.zip", MOODLE)):
        fmt, entries = sites.find_entries([root])
        assert fmt == "moodle"
        assert [e.id for e in entries] == ["Anna_Lee_103", "Anna_Lee_104", "Jane_Doe_101", "Jose_Muller_102"]
        jose = entries[-1]
        assert jose.site == {"moodle_id": "102", "full_name": "José Müller"}
        assert [s.label for s in read_entry(jose).sources] == ["Mon cahier 1.ipynb"]
        assert [s.label for s in read_entry(entries[0]).sources] == ["a/1_naive_verification.ipynb"]


def test_an_nbgrader_submitted_folder(tmp_path):
    root = write_folder(tmp_path / "course", NBGRADER)
    for given in (root, root / "submitted"):
        fmt, entries = sites.find_entries([given])
        assert fmt == "nbgrader"
        ids = [e.id for e in entries]
        assert len(ids) == 3 and "jdoe" in ids and len({i.casefold() for i in ids}) == 3
        jdoe = next(e for e in entries if e.id == "jdoe")
        assert jdoe.site["timestamp"].startswith("2026-12-01") and jdoe.site["assignments"] == ["facelab"]


def test_a_format_named_that_does_not_fit_says_so(tmp_path):
    write_folder(tmp_path / "plain", {"alice.ipynb": NB1})
    with pytest.raises(GradingError, match="Canvas names"):
        sites.find_entries([tmp_path / "plain"], "canvas")
    assert sites.find_entries([tmp_path / "plain"])[0] == "folder"


def test_the_intake_reads_a_canvas_member_in_its_child(tmp_path):
    root = write_zip(tmp_path / "submissions.zip", CANVAS)
    entry = next(e for e in sites.find_entries([root])[1] if e.site["canvas_id"] == "40123")
    got = intake.run(entry, ["pixel_distance", "verify"], seconds=60)
    assert got.student.problem is None
    assert got.student.extracted["pixel_distance"].problem is None
    assert "def pixel_distance" in got.student.extracted["pixel_distance"].pieces[-1].source
    assert "no function" in got.student.extracted["verify"].problem


def test_the_intake_child_is_limited(tmp_path):
    """A 200 KB literal (parsed: under the statement cap) fits the default limit; with
    too little memory, or no time, the child answers a one-line reason, never an error."""
    from facelab.grading.submissions import Entry

    src = tmp_path / "s.py"
    src.write_text("# GRADED FUNCTION: pixel_distance\ndef pixel_distance(a, b):\n    return 0.0\n\n"
                   "X = [" + "0," * 100_000 + "]\n")
    entry = Entry("s", "s.py", [(str(src), None, "")])
    got = intake.run(entry, ["pixel_distance"], 60)
    assert got.student.problem is None and got.student.extracted["pixel_distance"].problem is None
    got = intake.run(entry, ["pixel_distance"], 60, memory_mb=80)
    why = got.student.problem or got.student.extracted["pixel_distance"].problem
    assert why and "\n" not in why and ("MemoryError" in why or "MB of memory" in why), why
    got = intake.run(entry, ["pixel_distance"], 0.01)
    assert got.student.problem and "time budget" in got.student.problem


# ------------------------------------------------------------------ slow: graded end to end

def _grade(root, out, *extra):
    r = subprocess.run([sys.executable, "-m", "facelab.cli", "grade", str(root), "--out", str(out),
                        "--jobs", "1", *extra], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _csv(path) -> list:
    return list(csv.reader(path.open(encoding="utf-8", newline="")))


@pytest.mark.slow
def test_canvas_download_graded_and_written_back_by_canvas_user_id(tmp_path, office):
    root = write_zip(tmp_path / "submissions.zip", CANVAS)
    r = _grade(root, tmp_path / "out", "--assignment", "Face verification (4711)")
    rows = _csv(tmp_path / "out" / "canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Face verification (4711)"]
    assert rows[1][0] == "Points Possible" and rows[1][5] == MAX
    score = {row[1]: row[5] for row in rows[2:]}
    assert score == {"40123": "6", "40124": "6", "40125": "6", "40126": "6", "40127": WRONG1_POINTS, "40128": "6"}
    book = {row["student"]: row for row in csv.DictReader((tmp_path / "out" / "gradebook.csv").open(newline=""))}
    assert len(book) == 6 and book["smithjohn_40125"]["late"] == "late" and book["doejane_40123"]["late"] == ""
    assert book["mullerjose_40124"]["name"] == "müllerjosé"
    assert f"smithjohn_40125: 6/{MAX}, late" in r.stdout


@pytest.mark.slow
def test_moodle_download_graded_into_its_grading_worksheet(tmp_path, office):
    root = write_folder(tmp_path / "moodle", MOODLE)
    _grade(root, tmp_path / "out")
    rows = _csv(tmp_path / "out" / "moodle.csv")
    assert rows[0] == reports.MOODLE_COLUMNS
    got = {row[0]: (row[1], row[4], row[5]) for row in rows[1:]}
    assert got == {"Participant 101": ("Jane Doe", "6", MAX), "Participant 102": ("José Müller", "6", MAX),
                   "Participant 103": ("Anna Lee", WRONG1_POINTS, MAX), "Participant 104": ("Anna Lee", "6", MAX)}
    assert all(row[8] for row in rows[1:])  # "Last modified (grade)": Moodle needs it
    assert not (tmp_path / "out" / "canvas.csv").exists()


@pytest.mark.slow
def test_nbgrader_submitted_folder_graded_one_row_per_student(tmp_path, office):
    root = write_folder(tmp_path / "course", NBGRADER)
    _grade(root, tmp_path / "out")
    book = {row["student"]: row for row in csv.DictReader((tmp_path / "out" / "gradebook.csv").open(newline=""))}
    assert len(book) == 3 and book["jdoe"]["total"] == "6"
    assert sorted(row["total"] for row in book.values()) == sorted([WRONG1_POINTS, "6", "6"])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["format"] == "nbgrader" and summary["students"] == 3


def test_a_moodle_download_without_folders(tmp_path):
    """Without "download submissions in folders", Moodle prefixes each file's name."""
    root = write_folder(tmp_path / "flat", {
        "Jane Doe_101_assignsubmission_file_1_naive_verification.ipynb": NB1,
        "Jane Doe_101_assignsubmission_file_2_triplet_loss.ipynb": NB1,
        "Anna Lee_103_assignsubmission_onlinetext_onlinetext.html": "<p>hi</p>"})
    fmt, entries = sites.find_entries([root])
    assert fmt == "moodle" and [e.id for e in entries] == ["Jane_Doe_101"]
    assert [s.label for s in read_entry(entries[0]).sources] == ["1_naive_verification.ipynb",
                                                                 "2_triplet_loss.ipynb"]


def test_the_code_sent_to_the_sandbox_is_bounded(tmp_path):
    """Sixteen 200 KB constants the function uses (each under the statement cap) come to
    more code than one frame to the sandbox carries: that exercise's one-line problem."""
    from facelab.grading.submissions import Entry

    consts = "".join(f"C{k} = '{'x' * 200_000}'\n" for k in range(16))
    body = " + ".join(f"len(C{k})" for k in range(16))
    src = tmp_path / "s.py"
    src.write_text(consts + f"# GRADED FUNCTION: pixel_distance\ndef pixel_distance(a, b):\n    return {body}\n")
    got = intake.run(Entry("s", "s.py", [(str(src), None, "")]), ["pixel_distance"], 60)
    why = got.student.extracted["pixel_distance"].problem
    assert why and "MB of code" in why and "\n" not in why
