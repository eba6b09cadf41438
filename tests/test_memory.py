"""What a notebook's kernel holds: TensorFlow's start-up pages are given back.

The peaks per notebook are measured side by side by benchmarks/notebooks.py;
these tests only check the mechanisms, in fresh processes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT

RESIDENT = """
import facelab._quiet
from facelab._quiet import release_library_pages
total = 0
path = ""
for line in open("/proc/self/smaps"):
    fields = line.split()
    if "-" in fields[0] and len(fields) >= 5:
        path = fields[5] if len(fields) >= 6 else ""
    elif fields[0] == "Rss:" and os.path.basename(path).startswith("libtensorflow"):
        total += int(fields[1])
print(total // 1024, release_library_pages("no-such-library"), release_library_pages("libc."))
"""


def resident_tensorflow_mb(**env) -> tuple[int, bool]:
    """MB of libtensorflow resident after ``import facelab._quiet``; whether MADV_PAGEOUT works."""
    proc = subprocess.run([sys.executable, "-c", "import os\n" + RESIDENT], capture_output=True,
                          text=True, timeout=300, cwd=ROOT,
                          env={k: v for k, v in {**os.environ, **env}.items() if v is not None})
    assert proc.returncode == 0, proc.stderr
    mb, untouched, libc = proc.stdout.split()
    assert untouched == "0"  # only the named libraries are paged out
    return int(mb), int(libc) > 0


@pytest.mark.slow
def test_tensorflow_start_up_pages_are_given_back():
    kept, _ = resident_tensorflow_mb(FACELAB_KEEP_TF_PAGES="1")
    released, supported = resident_tensorflow_mb(FACELAB_KEEP_TF_PAGES=None)
    if not supported:
        pytest.skip("this kernel refuses madvise(MADV_PAGEOUT) (it needs Linux 5.4+)")
    assert kept > 200 and released < kept / 2, (kept, released)
