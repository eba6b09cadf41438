"""The `facelab grade` and `facelab gradescope` commands: parse, call, print."""

from __future__ import annotations

import sys
from pathlib import Path


def _bar(done: int, total: int) -> None:
    fill = int(30 * done / max(1, total))
    sys.stderr.write(f"\rgrading [{'#' * fill}{'.' * (30 - fill)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def cmd_grade(args) -> int:
    from . import batch, pool

    limits = pool.Limits(case_seconds=args.case_seconds, budget=args.budget, memory_mb=args.memory_mb)
    graded = batch.grade(args.submissions, args.out, jobs=args.jobs, mode=args.sandbox,
                         trusted=args.trusted_submissions, limits=limits,
                         progress=_bar if sys.stderr.isatty() else None)
    for g in graded:
        print(f"{g.student}: {g.score:g}/{g.max_score:g}" + (f" ({g.reason})" if g.reason else ""))
    print(f"reports in {args.out}: gradebook.csv, canvas.csv, summary.txt, summary.json, "
          "score_distribution.png, <student>/results.json")
    return 0


def cmd_gradescope(args) -> int:
    from .gradescope import build_zip

    path = build_zip(Path(args.out))
    print(f"wrote {path}: upload it as the assignment's autograder (Gradescope: Configure Autograder)")
    return 0


def register_cli(sub) -> None:
    """Add `grade` and `gradescope` to the `facelab` command's subparsers."""
    from .pool import DEFAULT_BUDGET, DEFAULT_CASE_SECONDS, DEFAULT_MEMORY_MB

    p = sub.add_parser("grade", help="grade a folder of students (each entry is one student)",
                       description="Each entry directly under a folder given (and each file given) is "
                       "one student: a notebook, a .py file, a folder of them or a .zip. Writes "
                       "OUT/gradebook.csv, OUT/canvas.csv, OUT/summary.json/.txt, "
                       "OUT/score_distribution.png and OUT/<student>/results.json (Gradescope format). "
                       "Exit code 0 when every student was graded, whatever their scores.")
    p.add_argument("submissions", nargs="+", metavar="PATH", help="folders of students, or students' files")
    p.add_argument("--out", required=True, metavar="OUT", help="folder for the reports")
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="students graded at once (default: cores)")
    p.add_argument("--sandbox", choices=("auto", "namespaces", "user"), default="auto",
                   help="auto: namespaces where allowed, else a user of its own; user: act as if "
                   "namespaces were refused (as in Gradescope's containers)")
    p.add_argument("--trusted-submissions", action="store_true",
                   help="grade even where no sandbox can be built (marked in the gradebook)")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET, metavar="SECONDS",
                   help=f"wall-clock seconds per student (default {DEFAULT_BUDGET:g})")
    p.add_argument("--case-seconds", type=float, default=DEFAULT_CASE_SECONDS, metavar="SECONDS",
                   help=f"seconds per test case (default {DEFAULT_CASE_SECONDS:g})")
    p.add_argument("--memory-mb", type=float, default=DEFAULT_MEMORY_MB, metavar="MB",
                   help=f"resident memory per student (default {DEFAULT_MEMORY_MB:g})")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("gradescope", help="build the Gradescope autograder zip",
                       description="Write the zip Gradescope expects: setup.sh and run_autograder at "
                       "the top, facelab's source (with its hidden cases) beside them.")
    p.add_argument("--out", required=True, metavar="ZIP", help="path of the zip to write")
    p.set_defaults(func=cmd_gradescope)
