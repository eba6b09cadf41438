"""Grading students' workbooks, here (`facelab grade`) and on Gradescope.

The parts, along the process boundary:

    sites.py        a folder or a course site's download (Canvas, Moodle, nbgrader) grader
    submissions.py  entries, ids, what they handed in (read with caps)            intake
    intake.py       one student read and extracted in a limited child process      intake
    extract.py      graded functions and what they need, with ast (nothing runs)   intake
    oracle.py       expected values, plain case arguments, picture encodings       trusted helper
    wire.py         the frames between processes (JSON, never pickle)              both sides
    student.py      fork server (server user) + one child per student and phase    sandbox
    sandbox/        the operating-system boundary: probe, secrets, view, launch,   grader
                    sweep (one file each)
    pool.py         one fork server per slot, limits, restarts                     grader
    batch.py        a batch from entries to judged results                         grader
    resume.py       results saved per student, re-runs, a killed run's leftovers   grader
    reports.py      results.json, gradebook.csv, canvas.csv / moodle.csv, summary  grader
    cells_csv.py    the one CSV writer: formula-safe, bounded cells                grader
    gradescope.py   the autograder zip, setup.sh, run_autograder                   grader

Judging happens in the grader, against expected values computed by the
trusted oracle; the student side receives only the cases' arguments.
"""

from __future__ import annotations


def grade(paths, out, **kwargs):
    """Grade every student in ``paths``; see :func:`facelab.grading.batch.grade`."""
    from .batch import grade as _grade

    return _grade(paths, out, **kwargs)
