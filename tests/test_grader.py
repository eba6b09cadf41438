"""The batch grader: extraction, sandboxed workers, hostile submissions, reports, Gradescope.

One batch (session fixture) grades every submission below on two workers;
each test then reads its verdict. Student code must never escape its worker.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from facelab import grader

from .conftest import ROOT

SOL = {
    "pixel_distance": '''def pixel_distance(image_a, image_b):
    return float(np.linalg.norm(image_a - image_b))''',
    "triplet_loss": '''def triplet_loss(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_sum(tf.maximum(pos - neg + alpha, 0.0))''',
    "verify": '''def verify(image_path, identity, database, model):
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding - database[identity]))
    if dist < THRESH:
        print("It's " + str(identity) + ", welcome in!")
        door_open = True
    else:
        print("It's not " + str(identity) + ", please go away")
        door_open = False
    return dist, door_open''',
    "who_is_it": '''def who_is_it(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist = 100
    identity = None
    for name, db_enc in database.items():
        dist = float(np.linalg.norm(encoding - db_enc))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist > THRESH:
        print("Not in the database.")
    else:
        print("it's " + str(identity) + ", the distance is " + str(min_dist))
    return min_dist, identity''',
}
IMPORTS = ("import numpy as np\nimport tensorflow as tf\nfrom facelab.model import img_to_encoding\n"
           "THRESH = 0.7\n")


def notebook(overrides=None, extra=(), drop=()):
    overrides = overrides or {}
    cells = [IMPORTS, "print('hello')\nstray = [1, 2, 3]"]
    for name, src in SOL.items():
        if name not in drop:
            cells.append(f"# GRADED FUNCTION: {name}\n\n" + overrides.get(name, src))
    cells += list(extra)
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [],
                                  "execution_count": None} for c in cells]})


def pd(body: str) -> dict:
    return {"pixel_distance": "def pixel_distance(image_a, image_b):\n" + body}


@pytest.fixture(scope="session")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grading")
    subs, outside = tmp / "subs", tmp / "outside"
    subs.mkdir()
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("another student's answers")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    hits = []

    def accept():
        for _ in range(400):
            try:
                hits.append(server.accept())
            except OSError:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    ok = "    return float(np.linalg.norm(image_a - image_b))\n"
    # the hidden cases, the reference solutions, another submission, a solution notebook
    native_targets = [str(Path(grader.__file__).with_name(n)) for n in ("checks.py", "exercises.py")]
    native_targets += [str(subs / "correct.ipynb"), str(ROOT / "notebooks" / "4_face_verification.ipynb")]
    books = {
        "correct": notebook(extra=["for i in range(3):\n    print(i)", "%matplotlib inline\n!ls"]),
        "syntax_error": notebook(pd("    return 0 +\n")),
        "missing": notebook(drop=("pixel_distance",)),
        "wrong_signature": notebook({"triplet_loss": "def triplet_loss(y_pred, alpha=0.2):\n    return 0"}),
        "wrong_type": notebook({"triplet_loss": SOL["triplet_loss"].replace(
            "return tf.reduce_sum(", "return float(tf.reduce_sum(") + ")"}),
        "nan": notebook(pd("    return float('nan')\n")),
        "exception": notebook(pd("    raise ValueError('boom')\n")),
        "sys_exit": notebook(pd("    import sys\n    sys.exit(3)\n")),
        "os_exit": notebook(pd("    import os\n    os._exit(0)\n")),
        "infinite_loop": notebook(pd("    while True:\n        pass\n")),
        "memory_bomb": notebook(pd("    hog = []\n    while True:\n        hog.append(b'x' * 2**27)\n")),
        "print_flood": notebook(pd("    print('spam ' * 2_000_000)\n" + ok)),
        "monkeypatch": notebook({"verify": (
            "def verify(image_path, identity, database, model):\n"
            "    import facelab.checks, facelab.grader\n"
            "    np.linalg.norm = lambda *a, **k: 0.0\n"
            "    tf.reduce_sum = lambda *a, **k: 0.0\n"
            "    facelab.checks.judge_case = lambda *a, **k: None\n"
            "    facelab.grader.decode = lambda x: 0\n"
            "    return 0.0, True\n")}),
        "files": notebook({**pd(f"    open({str(secret)!r}).read()\n" + ok),
                           "triplet_loss": "def triplet_loss(y_true, y_pred, alpha=0.2):\n"
                           f"    open({str(outside / 'pwned')!r}, 'w').write('x')\n    return 0.0\n",
                           "verify": "def verify(image_path, identity, database, model):\n"
                           "    import facelab.checks\n    return open(facelab.checks.__file__).read(), True\n"}),
        "socket": notebook(pd(f"    import socket\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n" + ok)
                           | {"triplet_loss": "def triplet_loss(y_true, y_pred, alpha=0.2):\n"
                              "    import _socket, importlib, socket\n    importlib.reload(socket)\n"
                              "    _socket.socket()\n    return 0.0\n"}),
        "import_time": notebook(extra=[f"open({str(outside / 'import_ran')!r}, 'w').write('x')",
                                       "import os\nos._exit(1)", "while True:\n    pass"]),
        "native_read": notebook(pd(
            "    out = []\n"
            f"    for p in {native_targets!r}:\n"
            "        try:\n"
            "            out.append(f'READ {len(tf.io.read_file(p).numpy())}')\n"
            "        except Exception as exc:\n"
            "            out.append(f'HIDDEN {type(exc).__name__}')\n"
            "    raise RuntimeError(' '.join(out))\n")
            | {"triplet_loss": "def triplet_loss(y_true, y_pred, alpha=0.2):\n"
               f"    for p in {[str(outside / 'native_pwned'), str(ROOT / 'facelab' / 'native_pwned.py')]!r}:\n"
               "        try:\n"
               "            tf.io.write_file(p, 'x')\n"
               "        except Exception:\n"
               "            pass\n"
               "    tf.io.write_file('own_file.txt', 'x')  # its own folder stays writable\n"
               "    return tf.io.read_file('own_file.txt')\n"}),
        "helpers": notebook(pd("    return SCALE * float(np.linalg.norm(_diff(image_a, image_b)))\n"),
                            extra=["def _diff(a, b):\n    return a - b", "SCALE = 1.0"]),
    }
    for name, text in books.items():
        (subs / f"{name}.ipynb").write_text(text)
    (subs / "invalid_json.ipynb").write_text('{"cells": [ not json')
    py = "\n\n".join([IMPORTS] + [f"# GRADED FUNCTION: {n}\n" + s for n, s in SOL.items()])
    (subs / "plain_script.py").write_text(py + "\n\nprint(pixel_distance)\n")
    out = tmp / "out"
    graded = grader.grade([subs], out, jobs=2, time_limit=15, memory_limit=3000)
    server.close()
    return {"graded": {g.student: g for g in graded}, "out": out, "outside": outside, "hits": hits,
            "subs": subs}


def score(batch, student, exercise=None):
    g = batch["graded"][student]
    if exercise is None:
        return g.score, g.max_score
    r = next(r for r in g.results if r.exercise == exercise)
    return r.points, r.max_points


def messages(batch, student, exercise):
    g = batch["graded"][student]
    r = next(r for r in g.results if r.exercise == exercise)
    return " | ".join(c.message for c in r.cases)


def others_full(batch, student, exercise):
    g = batch["graded"][student]
    return all(r.passed for r in g.results if r.exercise != exercise)


def test_correct_submissions_get_full_marks(batch):
    for student in ("correct", "plain_script", "helpers", "print_flood"):
        got, top = score(batch, student)
        assert got == top > 0, (student, [r.report() for r in batch["graded"][student].results])
        assert batch["graded"][student].notes == [], student  # nothing flagged as tampering


def test_syntax_error_invalid_json_and_missing_function(batch):
    assert score(batch, "syntax_error", "pixel_distance")[0] == 0
    assert "syntax error" in messages(batch, "syntax_error", "pixel_distance")
    assert others_full(batch, "syntax_error", "pixel_distance")
    assert score(batch, "invalid_json")[0] == 0
    assert "not a valid notebook" in messages(batch, "invalid_json", "verify")
    assert "no function `pixel_distance`" in messages(batch, "missing", "pixel_distance")
    assert others_full(batch, "missing", "pixel_distance")


def test_wrong_signature_and_wrong_return_type(batch):
    assert score(batch, "wrong_signature", "triplet_loss")[0] == 0
    assert "wrong signature" in messages(batch, "wrong_signature", "triplet_loss")
    got, top = score(batch, "wrong_type", "triplet_loss")
    assert 0 < got < top  # partial credit: right values, not a tensor
    assert "expected a TensorFlow tensor" in messages(batch, "wrong_type", "triplet_loss")


def test_nan_and_exceptions(batch):
    assert score(batch, "nan", "pixel_distance")[0] == 0
    assert "nan" in messages(batch, "nan", "pixel_distance")
    assert "ValueError: boom" in messages(batch, "exception", "pixel_distance")
    assert "sys.exit" in messages(batch, "sys_exit", "pixel_distance")
    assert others_full(batch, "sys_exit", "pixel_distance")


def test_os_exit_infinite_loop_and_memory_bomb_are_contained(batch):
    assert "os._exit" in messages(batch, "os_exit", "pixel_distance")
    assert "longer than 15 s" in messages(batch, "infinite_loop", "pixel_distance")
    assert "more than 3000 MB" in messages(batch, "memory_bomb", "pixel_distance")
    for student in ("os_exit", "infinite_loop", "memory_bomb"):
        assert score(batch, student, "pixel_distance")[0] == 0
        assert others_full(batch, student, "pixel_distance"), student  # the batch went on


def test_monkeypatching_cannot_change_scores(batch):
    assert score(batch, "monkeypatch", "verify")[0] == 0
    assert any("changed the grading environment" in n for n in batch["graded"]["monkeypatch"].notes)
    assert others_full(batch, "monkeypatch", "verify")


def test_files_outside_the_sandbox(batch):
    assert "is not allowed" in messages(batch, "files", "pixel_distance")
    assert score(batch, "files", "pixel_distance")[0] == 0
    assert not (batch["outside"] / "pwned").exists()
    assert "is not allowed" in messages(batch, "files", "triplet_loss")
    assert score(batch, "files", "verify")[0] == 0  # the hidden cases' source is unreadable
    assert "is not allowed" in messages(batch, "files", "verify")


def test_native_code_cannot_read_the_hidden_cases_or_other_submissions(batch):
    """tf.io.read_file is native code (the audit hook never sees it): the worker's
    own mount namespace covers those files, when the machine allows namespaces."""
    if "-m" not in grader._unshare_flags():
        pytest.skip("no mount namespace here (unshare -m fails): only the audit hook guards reads")
    msg = messages(batch, "native_read", "pixel_distance")
    reads = msg.split("RuntimeError: ", 1)[1].split(" | ")[0].split()
    assert reads.count("READ") + reads.count("HIDDEN") == 4, msg
    assert all(n == "0" for w, n in zip(reads, reads[1:]) if w == "READ"), msg  # empty, if anything
    assert (ROOT / "facelab" / "checks.py").stat().st_size > 1000  # the grader's own view is intact
    # native writes: refused everywhere but the worker's own folder
    assert not (batch["outside"] / "native_pwned").exists()
    assert not (ROOT / "facelab" / "native_pwned.py").exists()
    own = messages(batch, "native_read", "triplet_loss")
    assert "raised" not in own and own, own  # it wrote and read back its own file (then a wrong answer)


def test_no_network(batch):
    assert score(batch, "socket", "pixel_distance")[0] == 0
    assert score(batch, "socket", "triplet_loss")[0] == 0
    assert "not allowed" in messages(batch, "socket", "triplet_loss")
    assert batch["hits"] == []


def test_code_at_import_time_never_runs(batch):
    got, top = score(batch, "import_time")
    assert got == top
    assert not (batch["outside"] / "import_ran").exists()


def test_reports(batch):
    out = batch["out"]
    res = json.loads((out / "nan" / "results.json").read_text())
    assert {"score", "tests", "execution_time"} <= set(res)
    vis = {t["visibility"] for t in res["tests"]}
    assert vis == {"visible", "after_published"}
    hidden = [t for t in res["tests"] if t["visibility"] != "visible" and t["score"] == 0]
    assert hidden and all(t["output"] == "A hidden test failed." for t in hidden)
    visible_fail = [t for t in res["tests"] if t["visibility"] == "visible" and t["score"] == 0]
    assert all("Hint:" in t["output"] for t in visible_fail)
    rows = (out / "gradebook.csv").read_text().splitlines()
    assert rows[0].startswith("student,submission,pixel_distance,triplet_loss,verify,who_is_it,total")
    assert len(rows) == 1 + len(batch["graded"])
    assert (out / "score_distribution.png").stat().st_size > 1000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["submissions"] == len(batch["graded"]) and summary["common_failures"]


def test_extraction_takes_only_what_the_function_needs():
    cells = ["import numpy as np\nimport os", "x = os.system('boom')",
             "K = 2\ndef helper(a):\n    return a * K",
             "# GRADED FUNCTION: pixel_distance\ndef pixel_distance(a, b):\n    return np.sum(helper(a - b))\nprint(1)",
             "def broken(:"]
    ex = grader.extract(cells, "pixel_distance")
    src = "\n".join(p.source for p in ex.pieces)
    assert ex.problem is None and "os.system" not in src and "print(1)" not in src
    assert "def helper" in src and "K = 2" in src and "import numpy as np" in src



def test_extraction_ignores_globals_shadowed_by_parameters():
    cells = ["import numpy as np\nfrom facelab.model import img_to_encoding, load_pretrained",
             "model = load_pretrained()\ndatabase = office_database(model)",
             "THRESH = 0.7",
             "# GRADED FUNCTION: verify\ndef verify(image_path, identity, database, model):\n"
             "    d = float(np.linalg.norm(img_to_encoding(image_path, model) - database[identity]))\n"
             "    return d, d < THRESH"]
    src = "\n".join(p.source for p in grader.extract(cells, "verify").pieces)
    assert "load_pretrained()" not in src and "office_database" not in src  # not needed: parameters
    assert "THRESH = 0.7" in src and "img_to_encoding" in src


def test_cli_help_and_errors(tmp_path):
    for cmd in ("grade", "gradescope"):
        r = subprocess.run([sys.executable, "-m", "facelab.cli", cmd, "--help"], capture_output=True,
                           text=True, cwd=ROOT, timeout=120)
        assert r.returncode == 0 and "--out" in r.stdout
    r = subprocess.run([sys.executable, "-m", "facelab.cli", "grade", str(tmp_path / "nope"), "--out",
                        str(tmp_path / "o")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 5 and r.stderr.count("\n") == 1 and "no such file" in r.stderr


def test_gradescope_autograder_zip_runs(tmp_path, batch):
    z = grader.build_autograder_zip(tmp_path / "autograder.zip")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(z) as f:
        names = set(f.namelist())
        assert {"setup.sh", "run_autograder", "source/facelab/checks.py"} <= names
        f.extractall(root)
    (root / "submission").mkdir()
    (root / "submission" / "nb.ipynb").write_text((batch["subs"] / "wrong_type.ipynb").read_text())
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), FACELAB_PYTHON=sys.executable,
               FACELAB_HOME=str(ROOT), FACELAB_TIME_LIMIT="60")
    r = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True,
                       text=True, timeout=400)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((root / "results" / "results.json").read_text())
    want = batch["graded"]["wrong_type"]
    assert res["score"] == want.score < want.max_score
    assert len(res["tests"]) == sum(len(r.cases) for r in want.results)


@pytest.mark.slow
def test_a_tampering_submission_cannot_affect_the_next_one(tmp_path):
    """One worker: the first submission poisons the shared state in three ways (the
    weights in verify, whose checksum runs after the submission's last exercise; the
    cached encodings and a class attribute in who_is_it); the next, correct, submission
    runs on the same worker slot and must still get full marks."""
    subs = tmp_path / "subs"
    subs.mkdir()
    zero_weights = ("def verify(image_path, identity, database, model):\n"
                    "    model.set_weights([w * 0 for w in model.get_weights()])\n"
                    "    return 0.0, True\n")
    poison = ("def who_is_it(image_path, database, model):\n"
              "    import facelab.encoding as fm\n"
              "    for key, (m, enc) in list(fm._ENCODINGS.items()):\n"
              "        fm._ENCODINGS[key] = (m, enc * 0)\n"
              "    type(model).__call__ = lambda self, *a, **k: 0\n"
              "    return 0.0, None\n")
    (subs / "a_poison.ipynb").write_text(notebook({"verify": zero_weights, "who_is_it": poison}))
    (subs / "b_correct.ipynb").write_text(notebook())
    g = grader.Grader(jobs=1, time_limit=60, memory_limit=4000)
    first, second = g.grade(grader.find_submissions([subs]))
    note = " ".join(first.notes)
    assert "changed the grading environment" in note
    for what in ("(added)", "cached picture encodings", "the model's weights"):
        assert what in note, (what, note)
    assert g.restarts == 1
    assert second.score == second.max_score > 0, [r.report() for r in second.results]
    assert second.notes == []


@pytest.mark.slow
def test_prepare_leaves_the_test_pictures_encodings_in_the_store(tmp_path, monkeypatch):
    """What Gradescope's setup.sh runs once, so that each submission's run starts faster."""
    monkeypatch.setenv("FACELAB_CACHE", str(tmp_path / "cache"))
    grader.prepare()
    (store,) = (tmp_path / "cache" / "encodings").glob("encodings-*.npz")
    with np.load(store) as data:
        names = data.files
    assert sum(n.startswith("one-") for n in names) >= 10  # case and database pictures
    assert any(n.startswith("batch-") for n in names)       # the office database as a batch
