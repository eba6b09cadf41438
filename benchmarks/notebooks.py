"""Execute the six solution notebooks and print the seconds each takes, and the total.

    .venv/bin/python benchmarks/notebooks.py [NOTEBOOK ...]

Each notebook runs in a fresh kernel (like nbval does), on a copy in memory:
the committed files are not modified. The budget is 3 minutes for all six.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 180.0


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    total = 0.0
    for path in paths:
        seconds = run(path)
        total += seconds
        print(f"{path.name:32s} {seconds:6.1f} s", flush=True)
    verdict = "within" if total <= BUDGET_SECONDS else "OVER"
    print(f"{'total':32s} {total:6.1f} s ({verdict} the {BUDGET_SECONDS:.0f} s budget)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
