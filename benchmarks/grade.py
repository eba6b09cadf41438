"""Grading a class: `facelab grade` vs executing every student's notebooks from scratch.

    .venv/bin/python benchmarks/grade.py [N] [--jobs J] [--scratch K] [--sandbox MODE]

N students (default 50) each hand in the four solution notebooks (1, 2, 4, 5)
as a folder; every fifth student's copy carries one mistake (alpha dropped,
the door's comparison inverted...), so identical scores mean something. Both
ways run side by side in this one process, on J parallel processes (default:
all cores):

  1. `facelab grade` on the folder of students (fork servers in the sandbox,
     expected values from the oracle's store; its first run computes them),
  2. as nbgrader and otter-grader do: each student's four notebooks executed
     from scratch with nbclient (a fresh kernel imports TensorFlow and loads
     the model), each followed by a cell scoring its exercise with the
     visible and hidden cases in that kernel.

Executing 4 x N notebooks takes long; ``--scratch K`` executes the first K
students only (default: all) and the ratio compares the time per student
of both ways. Prints both times, the time per student, the ratio and
whether every per-exercise score of the students run both ways is identical.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {"pixel_distance": "1_naive_verification.ipynb", "triplet_loss": "2_triplet_loss.ipynb",
             "verify": "4_face_verification.ipynb", "who_is_it": "5_face_recognition.ipynb"}
MISTAKES = [  # (exercise, text in the solution, replacement)
    None,
    ("triplet_loss", "tf.subtract(pos_dist, neg_dist), alpha", "tf.subtract(pos_dist, neg_dist), 0.0"),
    ("verify", "if dist < 0.7:", "if dist > 0.7:"),
    ("pixel_distance", "np.linalg.norm(image_a - image_b)", "np.sum(image_a - image_b)"),
    ("who_is_it", "if dist < min_dist:", "if dist > min_dist:"),
]
CHECK_CELL = """
import json as _json
from facelab import checks as _checks
_fn = globals().get({name!r})
print("SCORE" + _json.dumps(_checks.check({name!r}, _fn, include_hidden=True).points if callable(_fn) else 0.0))
"""


def make_class(folder: Path, n: int) -> list[Path]:
    """N student folders of the four solution notebooks; every fifth one with a mistake."""
    students = []
    for k in range(n):
        d = folder / f"student{k:03d}"
        d.mkdir(parents=True)
        mistake = MISTAKES[(k // 5) % (len(MISTAKES) - 1) + 1] if k % 5 == 4 else None
        for name, nb_name in NOTEBOOKS.items():
            text = (ROOT / "notebooks" / nb_name).read_text()
            if mistake and mistake[0] == name:
                assert json.dumps(mistake[1])[1:-1] in text, mistake
                text = text.replace(json.dumps(mistake[1])[1:-1], json.dumps(mistake[2])[1:-1])
            (d / nb_name).write_text(text)
        students.append(d)
    return students


def run_notebook(path: Path, name: str) -> float:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECK_CELL.format(name=name)))
    NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    for out in nb.cells[-1].get("outputs", []):
        if "SCORE" in out.get("text", ""):
            return float(out["text"].split("SCORE", 1)[1].split()[0])
    raise RuntimeError(f"no score from {path}")


def from_scratch(student: Path) -> dict:
    return {name: run_notebook(student / nb_name, name) for name, nb_name in NOTEBOOKS.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=50)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--scratch", type=int, default=None, metavar="K")
    ap.add_argument("--sandbox", default="auto", choices=("auto", "namespaces", "user"))
    a = ap.parse_args()
    k = min(a.scratch or a.n, a.n)
    with tempfile.TemporaryDirectory() as tmp:
        students = make_class(Path(tmp) / "class", a.n)
        t = time.perf_counter()
        r = os.system(f"{sys.executable} -m facelab.cli grade {tmp}/class --out {tmp}/out "
                      f"--jobs {a.jobs} --sandbox {a.sandbox} > {tmp}/grade.log 2>&1")
        ours = time.perf_counter() - t
        if r:
            sys.exit("facelab grade failed: " + Path(f"{tmp}/grade.log").read_text()[-2000:])
        rows = {}
        for line in (Path(tmp) / "out" / "gradebook.csv").read_text().splitlines()[1:]:
            cells = line.split(",")
            rows[cells[0]] = dict(zip(NOTEBOOKS, map(float, cells[3:7])))  # after student, name, late
        print(f"facelab grade: {ours:.1f} s for {a.n} students on {a.jobs} processes "
              f"({ours / a.n:.2f} s per student, start-up included)", flush=True)
        t = time.perf_counter()
        with ThreadPoolExecutor(a.jobs) as pool:
            scratch = list(pool.map(from_scratch, students[:k]))
        theirs = time.perf_counter() - t
        print(f"from scratch (nbclient, 4 notebooks + checks per student): {theirs:.1f} s for {k} "
              f"students ({theirs / k:.2f} s per student)", flush=True)
        same = all(abs(rows[s.name][e] - sc[e]) < 1e-9 for s, sc in zip(students, scratch) for e in NOTEBOOKS)
        print(f"ratio (time per student): {(theirs / k) / (ours / a.n):.1f}x (target >= 10x); "
              f"scores identical for the {k} students run both ways: {same}; "
              f"totals: {sorted({sum(v.values()) for v in rows.values()})}")
        if not same:
            for s, sc in zip(students, scratch):
                print(f"  {s.name}: grader {rows[s.name]} vs scratch {sc}")
        sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
