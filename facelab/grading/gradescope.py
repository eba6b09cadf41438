"""Gradescope: the autograder zip, its two scripts, and what ``run_autograder`` runs.

Gradescope unzips the zip into ``/autograder/source`` and runs ``setup.sh``
there once per image, then ``/autograder/run_autograder`` once per
submission. Both scripts take the root from ``$AUTOGRADER_ROOT`` (default
``/autograder``), so a test can run the true sequence in a temporary root.
Everything under ``ROOT/submission`` is one student. Whatever happens,
``ROOT/results/results.json`` is written and valid.

``setup.sh`` installs facelab into its own virtual environment (PEP 668),
with the distribution's ``python3.11`` where the system Python is older
(Ubuntu 22.04), fetches the weights and pictures, creates the sandbox user
and computes the expected values once (so each submission starts without
loading the model). Documented variables: ``FACELAB_REUSE_SITE`` (a
site-packages folder that already holds the dependencies, used instead of
the network: the test suite's way to stay fast) with ``FACELAB_BASE_PYTHON``
(the interpreter that site-packages belongs to), and ``FACELAB_HOME`` (an
existing folder of fetched weights and pictures).
"""

from __future__ import annotations

import json
import os
import sys
import time
import zipfile
from pathlib import Path

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope image setup (run once, in ROOT/source): facelab in its own venv, assets, sandbox user.
set -euxo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SRC="$ROOT/source"
VENV="$ROOT/venv"
if [ -n "${FACELAB_REUSE_SITE:-}" ]; then
    # no network: reuse a site-packages that already holds the dependencies (test suite)
    "$FACELAB_BASE_PYTHON" -m venv --without-pip "$VENV"
    SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$FACELAB_REUSE_SITE" > "$SITE/facelab-reuse.pth"
    INSTALL=("$VENV/bin/python" -m pip install --no-deps --no-build-isolation --no-index)
else
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends util-linux ca-certificates python3
    BASE=python3
    if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        apt-get install -y --no-install-recommends python3.11 python3.11-venv
        BASE=python3.11
    else
        apt-get install -y --no-install-recommends python3-venv
    fi
    "$BASE" -m venv "$VENV"   # its own environment: PEP 668 forbids installing into the system's
    "$VENV/bin/python" -m pip install --upgrade pip
    INSTALL=("$VENV/bin/python" -m pip install)
fi
"${INSTALL[@]}" -c "$SRC/constraints.txt" "$SRC"   # the exact versions of the lock
rm -rf "$SRC/build" "$SRC"/*.egg-info   # leftovers holding a copy of the package
HOME_DIR="${FACELAB_HOME:-$ROOT/facelab-home}"
mkdir -p "$HOME_DIR/weights" "$HOME_DIR/images"
cp -n "$SRC/weights/MANIFEST.json" "$HOME_DIR/weights/" || true
cp -n "$SRC/images/MANIFEST.json" "$HOME_DIR/images/" || true
cat > "$ROOT/facelab.env" <<EOF
export FACELAB_PYTHON="$VENV/bin/python"
export FACELAB_HOME="$HOME_DIR"
export FACELAB_CACHE="$ROOT/cache"
EOF
. "$ROOT/facelab.env"
cd "$ROOT"
"$FACELAB_PYTHON" -m facelab.cli fetch
"$FACELAB_PYTHON" -m facelab.grading.sandbox create-users 1
"$FACELAB_PYTHON" -m facelab.grading.gradescope prepare
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this once per submission: grade ROOT/submission into ROOT/results/results.json.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
[ -f "$ROOT/facelab.env" ] && . "$ROOT/facelab.env"
mkdir -p "$ROOT/results"
cd "$ROOT"
"${FACELAB_PYTHON:-$ROOT/venv/bin/python}" -m facelab.grading.gradescope run "$ROOT"
if ! [ -s "$ROOT/results/results.json" ]; then   # the grader itself could not start
    echo '{"score": 0, "execution_time": 0, "output": "The autograder could not start; please tell your instructor.", "visibility": "visible", "stdout_visibility": "hidden", "tests": []}' > "$ROOT/results/results.json"
fi
exit 0
"""


def build_zip(out: Path) -> Path:
    """The zip Gradescope wants: setup.sh and run_autograder at the top, the package's
    source (hidden cases included) beside them; assets are fetched by setup.sh."""
    import facelab

    pkg = Path(facelab.__file__).resolve().parent
    repo = pkg.parent
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o755 << 16
            z.writestr(info, text)
        for f in sorted(pkg.rglob("*.py")):
            if "__pycache__" not in f.parts:
                z.write(f, f"facelab/{f.relative_to(pkg).as_posix()}")
        # what pyproject.toml's build maps into the wheel (manifests, notebooks) and the lock
        notebooks = [p.relative_to(repo).as_posix() for p in sorted((repo / "notebooks").glob("*.ipynb"))]
        for extra in ("pyproject.toml", "README.md", "constraints.txt", "weights/MANIFEST.json",
                      "images/MANIFEST.json", *notebooks):
            if (repo / extra).is_file():
                z.write(repo / extra, extra)
    os.replace(tmp, out)
    return out


def _fallback(reason: str, seconds: float) -> dict:
    return {"score": 0, "execution_time": int(seconds + 1), "visibility": "visible",
            "stdout_visibility": "hidden", "tests": [],
            "output": f"Could not grade this submission: {reason}. Please tell your instructor."}


def run(root: Path) -> dict:
    """Grade ``root/submission`` (one student) into ``root/results/results.json``."""
    from . import batch, intake, pool, reports
    from .submissions import Entry

    t0 = time.monotonic()
    dest = root / "results" / "results.json"
    try:
        limits = pool.Limits(case_seconds=float(os.environ.get("FACELAB_CASE_SECONDS", pool.DEFAULT_CASE_SECONDS)),
                             budget=float(os.environ.get("FACELAB_BUDGET", pool.DEFAULT_BUDGET)),
                             memory_mb=student_memory_mb())
        boundary = batch.sandbox.probe(os.environ.get("FACELAB_SANDBOX", "auto"), slots=1)
        print(boundary.describe(), flush=True)
        ctx = batch.build_context(boundary, limits)
        trusted = bool(os.environ.get("FACELAB_TRUSTED_SUBMISSIONS"))
        batch.pool.check_ready(ctx, trusted)
        entry = Entry("submission", "submission", [(str(root / "submission"), None, "")])
        student = intake.run(entry, list(ctx.cases), limits.budget, float(os.environ.get(
            "FACELAB_INTAKE_MEMORY_MB", GRADESCOPE_INTAKE_MB))).student  # read in a limited child
        secrets = batch.secret_paths([], root / "results") + [str(root / "source")]
        (graded,) = batch.grade_students([student], ctx, 1, secrets, trusted)
        data = reports.gradescope(graded)
    except BaseException as exc:  # noqa: BLE001 - every submission gets a results.json
        data = _fallback(f"{type(exc).__name__}: {str(exc)[:300]}", time.monotonic() - t0)
    reports.write_atomic(dest, json.dumps(data, indent=2))
    return data


#: resident memory allowed to one student's process in Gradescope's default (768 MB) container
GRADESCOPE_MEMORY_MB = 450.0
#: what the rest of a run holds beside the student's process (the grader, the fork server's
#: own pages), kept free of the container's memory when the student's share is sized from it
RUN_RESERVE_MB = 400.0
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def container_memory_mb(paths=_CGROUP_LIMITS) -> float | None:
    """The memory limit of the container this run is in (cgroup v2, else v1), in MB;
    None where no finite limit is set or none can be read."""
    for path in paths:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # v1 writes a huge number for "none"
            return int(text) / 2**20
        return None  # "max", or a limit we cannot read: no finite limit
    return None


def student_memory_mb(container_mb: float | None = None) -> float:
    """One student's memory on Gradescope: ``$FACELAB_MEMORY_MB`` if set, else what the
    container leaves beside the rest of the run (its limit less ``RUN_RESERVE_MB``), and
    never less than ``GRADESCOPE_MEMORY_MB``. A 768 MB container gives 450 MB (enough for
    the documented path); a 1.5 GB one gives 1136 MB, enough for a student whose own
    preprocessing makes the graded model load the real model (measured: ~600 MB)."""
    env = os.environ.get("FACELAB_MEMORY_MB")
    if env:
        return float(env)
    limit = container_memory_mb() if container_mb is None else container_mb
    return max(GRADESCOPE_MEMORY_MB, (limit or 0.0) - RUN_RESERVE_MB)
#: address space for reading and parsing the submission (before the fork server starts)
GRADESCOPE_INTAKE_MB = 400.0


def prepare() -> None:
    """What setup.sh runs once: compute and store the oracle's answer (the model is
    loaded here, never in a submission's run)."""
    from . import oracle

    oracle.load()
    print(f"expected values stored in {oracle.cache_file()}")


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["run"]:
        run(Path(args[1] if len(args) > 1 else os.environ.get("AUTOGRADER_ROOT", "/autograder")))
        return 0
    if args[:1] == ["prepare"]:
        prepare()
        return 0
    print("usage: python -m facelab.grading.gradescope run [ROOT] | prepare", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
