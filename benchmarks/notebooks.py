"""Execute the solution notebooks; print each one's seconds and peak kernel memory side by side.

    .venv/bin/python benchmarks/notebooks.py [--compare] [NOTEBOOK ...]

Each notebook runs in a fresh kernel (like nbval does), on a copy in memory:
the committed files are not modified. After the last cell, one more cell
reads the kernel's peak resident memory (``ru_maxrss``: the most physical
memory the kernel process ever held, what a course hub's memory limit
counts). Budgets: 3 minutes for all notebooks; 800 MB per model notebook,
so that two notebooks fit a 2 GB hub. Other work on the machine slows the
seconds, not the memory.

``--compare`` runs each notebook a second time, right after, with
``FACELAB_KEEP_TF_PAGES=1`` (TensorFlow's start-up pages kept resident, as
before facelab released them: see facelab/_quiet.py) and prints both runs
side by side with their ratios.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 180.0
BUDGET_MB = 800.0
_PEAK = ("import resource\n"
         "print('facelab-peak-kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")


def run(path: Path) -> tuple[float, float]:
    """(seconds, peak resident MB of the kernel) for executing ``path`` top to bottom."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK))
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    return seconds, int(text.split()[-1]) / 1024.0


def run_with(path: Path, keep_pages: bool) -> tuple[float, float]:
    """:func:`run` in a kernel started with or without FACELAB_KEEP_TF_PAGES."""
    saved = os.environ.pop("FACELAB_KEEP_TF_PAGES", None)
    if keep_pages:
        os.environ["FACELAB_KEEP_TF_PAGES"] = "1"
    try:
        return run(path)
    finally:
        os.environ.pop("FACELAB_KEEP_TF_PAGES", None)
        if saved is not None:
            os.environ["FACELAB_KEEP_TF_PAGES"] = saved


def main(argv: list[str]) -> int:
    compare = "--compare" in argv
    paths = [Path(a) for a in argv if a != "--compare"] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    head = f"{'notebook':32s} {'seconds':>8s} {'peak MB':>8s}"
    if compare:
        head += f" | {'kept: s':>8s} {'peak MB':>8s} | {'time x':>6s} {'memory x':>8s}"
    print(head, flush=True)
    total, over = 0.0, []
    for path in paths:
        seconds, peak = run_with(path, keep_pages=False)
        total += seconds
        over += [path.name] if peak > BUDGET_MB else []
        line = f"{path.name:32s} {seconds:8.1f} {peak:8.0f}"
        if compare:
            kept_s, kept_mb = run_with(path, keep_pages=True)
            line += (f" | {kept_s:8.1f} {kept_mb:8.0f} | {seconds / kept_s:6.2f} "
                     f"{peak / kept_mb:8.2f}")
        print(line, flush=True)
    verdict = "within" if total <= BUDGET_SECONDS else "OVER"
    print(f"{'total':32s} {total:8.1f}          ({verdict} the {BUDGET_SECONDS:.0f} s budget)")
    print(f"peak memory: {'all within' if not over else 'OVER for ' + ', '.join(over)} "
          f"the {BUDGET_MB:.0f} MB budget")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
