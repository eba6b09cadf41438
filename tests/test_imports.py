"""Imports cost only what is used: no TensorFlow for the CLI's parser or notebook 1."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import ROOT

REPORT = ("import sys\n"
          "print(sorted(m for m in ('tensorflow', 'keras', 'mtcnn', 'h5py') if m in sys.modules))\n")


def modules_after(code: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", code + "\n" + REPORT], capture_output=True,
                          text=True, timeout=300, cwd=ROOT / "notebooks")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_the_package_and_the_command_line_parser_import_no_tensorflow():
    assert modules_after("import facelab, facelab.cli\nfacelab.cli.build_parser()\n"
                         "from facelab import decision, layout, office, database, exercises, "
                         "plots, widgets, evaluation, release, checks") == []


def test_notebook_1_and_its_check_import_no_tensorflow(office):
    nb = json.loads((ROOT / "notebooks" / "1_naive_verification.ipynb").read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    code = "\n".join(cells)
    assert "check_pixel_distance(pixel_distance)" in code  # the exercise is checked, for real
    code += ("\nresult = check_pixel_distance(pixel_distance)\n"
             "assert result.passed and result.points > 0, result.report()\n")
    assert modules_after(code) == []
