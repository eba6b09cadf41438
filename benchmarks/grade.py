"""Batch grading speed: facelab's grader vs executing each notebook from scratch.

    .venv/bin/python benchmarks/grade.py [N] [--jobs J]

Generates N submissions (default 50: correct, partly wrong and broken ones)
in a temporary folder and grades them twice, on J parallel processes
(default: all cores):
  1. `facelab.grader.grade` (long-lived workers, model loaded once per worker),
  2. like nbgrader/otter: each notebook executed from scratch with nbclient
     (a fresh kernel imports TensorFlow and loads the model), followed by a
     cell running the visible and hidden checks in that kernel.
Prints both wall times, the ratio, and whether every per-exercise score is
identical.

The grader's workers keep the encodings of the test pictures in an on-disk
store (see facelab.encoding.cache_encodings), so a first-ever run also encodes
them (~2 s more per worker); `--cold` deletes the store first to measure that.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from facelab import assets, checks, grader

# facelab's modules first, as in the workbook: they import TensorFlow with its start-up
# messages silenced, so the student's own `import tensorflow` below prints nothing
IMPORTS = ("import numpy as np\nfrom facelab.model import img_to_encoding, load_pretrained\n"
           "from facelab.database import office_database\nimport tensorflow as tf\nTHRESH = 0.7\n")
SETUP = "model = load_pretrained()\ndatabase = office_database(model)\nprint(len(database))"
SOL = {
    "pixel_distance": "def pixel_distance(image_a, image_b):\n"
                      "    return float(np.linalg.norm(image_a - image_b))",
    "triplet_loss": "def triplet_loss(y_true, y_pred, alpha=0.2):\n"
                    "    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]\n"
                    "    pos = tf.reduce_sum(tf.square(anchor - positive), axis=-1)\n"
                    "    neg = tf.reduce_sum(tf.square(anchor - negative), axis=-1)\n"
                    "    return tf.reduce_sum(tf.maximum(pos - neg + alpha, 0.0))",
    "verify": "def verify(image_path, identity, database, model):\n"
              "    dist = float(np.linalg.norm(img_to_encoding(image_path, model) - database[identity]))\n"
              "    door_open = dist < THRESH\n"
              "    print(f\"It's {identity}, welcome in!\" if door_open else f\"It's not {identity}, please go away\")\n"
              "    return dist, door_open",
    "who_is_it": "def who_is_it(image_path, database, model):\n"
                 "    enc = img_to_encoding(image_path, model)\n"
                 "    min_dist, identity = 100, None\n"
                 "    for name, e in database.items():\n"
                 "        d = float(np.linalg.norm(enc - e))\n"
                 "        if d < min_dist:\n"
                 "            min_dist, identity = d, name\n"
                 "    print('Not in the database.' if min_dist > THRESH else f\"it's {identity}, the distance is {min_dist}\")\n"
                 "    return min_dist, identity",
}
VARIANTS = [
    {},  # correct
    {"triplet_loss": SOL["triplet_loss"].replace("+ alpha", "")},           # forgot alpha
    {"pixel_distance": SOL["pixel_distance"].replace("float(np.linalg.norm(image_a - image_b))",
                                                     "float(np.sum(image_a - image_b))")},
    {"verify": SOL["verify"].replace("dist < THRESH", "dist > THRESH")},    # inverted door
    {"who_is_it": SOL["who_is_it"].replace("d < min_dist", "d > min_dist")},
    {"pixel_distance": "def pixel_distance(image_a, image_b)\n    return 0"},  # syntax error
    {"verify": "def verify(image_path, identity, database, model):\n    raise RuntimeError('todo')"},
    {"triplet_loss": SOL["triplet_loss"].replace("return tf.reduce_sum(", "return float(tf.reduce_sum(") + ")"},
]
CHECK_CELL = """
import json as _json
from facelab import checks as _checks
_scores = {}
for _name in _checks.exercises():
    _fn = globals().get(_name)
    _scores[_name] = _checks.check(_name, _fn, include_hidden=True).points if callable(_fn) else 0.0
print("SCORES" + _json.dumps(_scores))
"""


def make(folder: Path, n: int) -> list[Path]:
    paths = []
    for k in range(n):
        over = VARIANTS[k % len(VARIANTS)]
        cells = [IMPORTS, SETUP] + [f"# GRADED FUNCTION: {name}\n" + over.get(name, src)
                                    for name, src in SOL.items()]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        p = folder / f"student{k:03d}.ipynb"
        nbformat.write(nb, p)
        paths.append(p)
    return paths


def run_from_scratch(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECK_CELL))
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for out in nb.cells[-1].get("outputs", []):
        text = out.get("text", "")
        if "SCORES" in text:
            return json.loads(text.split("SCORES", 1)[1].splitlines()[0])
    raise RuntimeError(f"no scores from {path.name}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=50)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--cold", action="store_true", help="delete the stored picture encodings first")
    a = ap.parse_args()
    store = assets.cache_dir() / "encodings"
    if a.cold:
        shutil.rmtree(store, ignore_errors=True)
    warm = any(store.glob("encodings-*.npz"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "subs"
        folder.mkdir()
        paths = make(folder, a.n)
        t = time.perf_counter()
        graded = grader.grade([folder], Path(tmp) / "out", jobs=a.jobs)
        ours = time.perf_counter() - t
        print(f"facelab grader: {ours:.1f} s for {a.n} submissions on {a.jobs} workers "
              f"(mean execution_time per submission {sum(g.seconds for g in graded) / len(graded):.2f} s; "
              f"test pictures' encodings {'read from the store' if warm else 'computed and stored'})",
              flush=True)
        t = time.perf_counter()
        with ThreadPoolExecutor(a.jobs) as pool:
            scratch = list(pool.map(run_from_scratch, paths))
        theirs = time.perf_counter() - t
        print(f"from scratch (nbclient + checks): {theirs:.1f} s", flush=True)
        ours_scores = [{r.exercise: r.points for r in g.results} for g in graded]
        same = all(abs(o[e] - s[e]) < 1e-9 for o, s in zip(ours_scores, scratch) for e in checks.exercises())
        print(f"ratio: {theirs / ours:.1f}x (target >= 20x); scores identical: {same}")
        if not same:
            for p, o, s in zip(paths, ours_scores, scratch):
                if o != s:
                    print(f"  {p.name}: grader {o} vs scratch {s}")
        sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
