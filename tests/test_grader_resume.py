"""A run again keeps what an earlier run finished (same files, same cases) and regrades
what changed; what a killed run left in /tmp and in OUT is removed at the next start,
never what a live grader holds. Fast: no sandbox, no model."""

from __future__ import annotations

import fcntl
import os
import importlib
import tempfile
import time

from facelab import checks
from facelab.grading import reports, resume
from facelab.grading.submissions import Entry


def _graded(sid: str, points: float) -> reports.Graded:
    case = checks.CaseResult("one", points > 0, points, 6.0, "" if points else "expected 1.0, got 0.5", "", True)
    return reports.Graded(sid, f"{sid}.ipynb", [checks.CheckResult("pixel_distance", (case,), graded=True)],
                          1.5, ["a note"], "", "namespaces", name=f"{sid}.ipynb", late=True,
                          site={"canvas_id": "40123"})


def test_a_saved_student_comes_back_until_its_files_or_the_cases_change(tmp_path):
    sub = tmp_path / "alice.ipynb"
    sub.write_text("{}")
    entry = Entry("alice", "alice.ipynb", [(str(sub), None, "")])
    out = tmp_path / "out"
    fp = resume.fingerprints([entry])["alice"]
    resume.save(_graded("alice", 6.0), out, fp, "cases-1")
    assert (out / "students" / "alice" / "results.json").is_file()
    back = resume.finished(out, [entry], "cases-1")["alice"]
    assert (back.score, back.max_score, back.late, back.site, back.name) == (6.0, 6.0, True, {"canvas_id": "40123"},
                                                                            "alice.ipynb")
    assert reports.gradebook_rows([back])[1] == reports.gradebook_rows([_graded("alice", 6.0)])[1]
    assert resume.finished(out, [entry], "cases-2") == {}          # the cases changed
    time.sleep(0.01)
    sub.write_text('{"cells": []}')                                 # re-submitted
    assert resume.finished(out, [entry], "cases-1") == {}


def test_leftovers_of_a_dead_run_go_and_a_live_run_stays(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    probe = importlib.import_module("facelab.grading.sandbox.probe")  # the package exports a probe()
    monkeypatch.setattr(probe, "LOCK_DIR", str(tmp_path / "no-locks"))
    dead = tmp_path / "facelab-run-dead"
    (dead / "facelab-grading-x" / "facelab-slot0").mkdir(parents=True)
    (dead / resume.LOCK).write_text("")
    with resume.RunFolder() as live:
        assert tempfile.gettempdir() == live.path  # what the run creates goes inside it
        out = tmp_path / "out"
        (out / "students" / "bob").mkdir(parents=True)
        half = [out / ".gradebook.csv.abc.tmp", out / "students" / "bob" / ".results.json.x.tmp"]
        for h in half:
            h.write_text("half")
        (out / "students" / "bob" / "results.json").write_text("{}")
        removed = resume.clean_leftovers(out)
        assert str(dead) in removed and not dead.exists()
        assert os.path.isdir(live.path)            # held by this run's lock: kept
        assert not any(h.exists() for h in half) and (out / "students" / "bob" / "results.json").exists()
        fd = os.open(os.path.join(live.path, resume.LOCK), os.O_RDONLY)
        try:  # another process (here: another open file) cannot take the live lock
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                raise AssertionError("the live run's lock was free")
            except BlockingIOError:
                pass
        finally:
            os.close(fd)
    assert not os.path.exists(live.path) and tempfile.gettempdir() == str(tmp_path)
