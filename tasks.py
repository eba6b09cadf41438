#!/usr/bin/env python3
"""Set-up and the two entry points of the README (standard library only).

    python3 tasks.py demo   # set up, fetch the assets, run the office door demo
    python3 tasks.py test   # set up, fetch the assets, run every test and nbval

Set-up makes .venv/ (if missing), installs facelab in editable mode with its
`notebooks` and `test` extras at the exact versions of constraints.txt (again
only when pyproject.toml or constraints.txt changed), then runs `facelab fetch`,
which is a no-op when weights/ and images/ are up to date.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".facelab-installed"
CONSTRAINTS = ROOT / "constraints.txt"


def run(*cmd, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def setup() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"facelab needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()
                          + CONSTRAINTS.read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != want:
        run(PY, "-m", "pip", "install", "--disable-pip-version-check", "-q",
            "-c", CONSTRAINTS.name, "-e", ".[notebooks,test]")
        STAMP.write_text(want + "\n")
    run(BIN / "facelab", "fetch")


def demo() -> int:
    setup()
    run(BIN / "facelab", "demo")
    return 0


def test(extra: list[str]) -> int:
    setup()
    cmd = [PY, "-m", "pytest", "tests"]
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if notebooks:
        cmd += ["--nbval", *notebooks]
    cmd += extra
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "setup"):
        print(__doc__)
        return 2
    try:
        if argv[0] == "demo":
            return demo()
        if argv[0] == "setup":
            setup()
            return 0
        return test(argv[1:])
    except subprocess.CalledProcessError as exc:
        print(f"tasks.py {argv[0]}: step failed with exit code {exc.returncode}: "
              f"{' '.join(str(c) for c in exc.cmd)}", file=sys.stderr)
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
