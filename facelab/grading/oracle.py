"""The trusted helper: expected values, case arguments and test-picture encodings.

    python -m facelab.grading.oracle      (started by the grader, never in the sandbox)

A separate process that runs only facelab's own code: it builds the real
model, resolves every case's arguments to plain data (the model becomes a
marker), computes each case's expected value with the reference solutions
(``case.expect()``) and encodes the pictures the cases use (and the office
badges) with the real model. It answers one frame and exits, so its memory
(TensorFlow and the model) is gone before any student process starts.

The answer is kept in the grader's cache folder, readable by its owner only
(``$FACELAB_CACHE/grading/oracle-<key>.json``, mode 0600), keyed by the
package's source, the weights and pictures manifests and the library
versions; a later run (and each Gradescope submission, after ``setup.sh``)
reads it instead of loading the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from ..errors import GradingError
from . import wire


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _strings(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _strings(o)


def compute() -> dict:
    """Everything the grader and the student side need about the cases (trusted code only)."""
    from .. import checks, database

    model = checks.build_resource(checks.MODEL)
    cases, expected, pictures = {}, {}, set(map(str, database.employee_pictures().values()))
    with contextlib.redirect_stdout(io.StringIO()):
        for name in checks.exercises():
            cases[name], expected[name] = [], []
            for case in checks.cases(name, include_hidden=True):
                args, kwargs = checks.resolve(case.args), checks.resolve(case.kwargs)
                pictures.update(p for p in _strings((args, kwargs)) if os.path.isfile(p))
                cases[name].append([wire.encode(args, model=model), wire.encode(kwargs, model=model)])
                expected[name].append(wire.encode(case.expect(), model=model))
    return {"cases": cases, "expected": expected, "table": raw_outputs(sorted(pictures), model)}


def raw_outputs(pictures: list, model) -> list:
    """[sha256 of the model input, the model's raw output] per picture, from the very
    compiled function ``img_to_encoding`` runs: normalised by ``img_to_encoding`` on the
    student side, they give bit-identical encodings (a case exactly at the threshold
    stays exactly at it)."""
    import numpy as np

    from .._quiet import tf
    from ..encoding import _forward  # what img_to_encoding runs on a Keras model
    from ..images import load_image, to_model_input

    table = []
    for p in pictures:
        x = to_model_input(load_image(p))
        raw = np.asarray(_forward(model)(tf.constant(x[None], dtype=tf.float32)), dtype=np.float32)
        table.append([hashlib.sha256(x.tobytes()).hexdigest(), wire.encode(raw[0])])
    return table


def cache_key() -> str:
    """What the answer depends on: facelab's source, the asset manifests, the libraries."""
    import numpy

    from .. import assets

    pkg = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(f"{sys.version} {numpy.__version__}".encode())
    with contextlib.suppress(Exception):
        from importlib.metadata import version
        h.update(version("tensorflow").encode())
    for f in sorted(pkg.rglob("*.py")):
        h.update(f.relative_to(pkg).as_posix().encode() + f.read_bytes())
    for m in (assets.weights_dir() / "MANIFEST.json", assets.images_dir() / "MANIFEST.json"):
        h.update(m.read_bytes() if m.is_file() else b"-")
    h.update(str(assets.home()).encode())  # the pictures' paths are part of the arguments
    return h.hexdigest()[:24]


def cache_file() -> Path:
    from .. import assets

    return assets.cache_dir() / "grading" / f"oracle-{cache_key()}.json"


def _store(path: Path, data: dict) -> None:
    """Write owner-only (mkstemp's 0600, folder 0700), atomically; a read-only cache
    folder only costs speed."""
    from .. import atomic

    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        atomic.write_text(path, json.dumps(data))
        os.chmod(path, 0o600)


def load(timeout: float = 900) -> dict:
    """The oracle's answer: from the cache, else from a fresh trusted process (then cached)."""
    path = cache_file()
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text())
    r = subprocess.run([sys.executable, "-m", "facelab.grading.oracle"], capture_output=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    try:
        data = json.loads(r.stdout)
    except ValueError:
        tail = r.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise GradingError(f"could not compute the expected values: {tail[0][:300]}") from None
    if data.get("error"):
        raise GradingError(f"could not compute the expected values: {data['error']}")
    _store(path, data)
    return data


def main() -> None:
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but the answer on stdout
    try:
        data = compute()
    except Exception as exc:  # noqa: BLE001 - reported to the grader as one line
        data = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    out.write(json.dumps(data))
    out.flush()


if __name__ == "__main__":
    main()
