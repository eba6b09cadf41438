"""The real Gradescope sequence, in a temporary root: unzip the autograder into ROOT/source,
run setup.sh there as shipped, copy a submission into ROOT/submission, run run_autograder
(sandbox as in Gradescope's containers: namespaces refused), validate results.json
against Gradescope's specification, and measure the whole run's peak memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
import zipfile
from pathlib import Path

import pytest

from facelab.grading import gradescope

from .test_grader import SOLUTIONS

pytestmark = pytest.mark.slow

VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def validate(res: dict) -> None:
    """Gradescope's results.json specification (the keys we use, with their types)."""
    allowed = {"score", "execution_time", "output", "output_format", "test_output_format",
               "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
    assert set(res) <= allowed, set(res) - allowed
    assert isinstance(res["score"], (int, float)) and res["score"] >= 0
    assert isinstance(res.get("execution_time", 0), int)
    assert isinstance(res.get("output", ""), str)
    assert res.get("output_format", "text") in FORMATS
    assert res.get("visibility", "visible") in VISIBILITY
    assert res.get("stdout_visibility", "visible") in VISIBILITY
    for t in res["tests"]:
        assert set(t) <= {"score", "max_score", "status", "name", "name_format", "number", "output",
                          "output_format", "tags", "visibility", "extra_data"}, t
        assert isinstance(t["name"], str) and isinstance(t["output"], str)
        assert isinstance(t["score"], (int, float)) and isinstance(t["max_score"], (int, float))
        assert 0 <= t["score"] <= t["max_score"]
        assert t["status"] in ("passed", "failed") and t["visibility"] in VISIBILITY
    if res["tests"]:
        assert abs(sum(t["score"] for t in res["tests"]) - res["score"]) < 1e-6


class PeakMemory:
    """Samples the summed proportional set size (PSS) of a process and all its
    descendants every 50 ms: what the container's memory limit is charged."""

    def __init__(self, pid: int):
        self.pid, self.peak_mb, self._stop = pid, 0.0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for p in filter(str.isdigit, os.listdir("/proc")):
            try:
                ppid = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(p))
        out, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo += children.get(p, [])
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for p in self._tree():
                try:
                    for line in open(f"/proc/{p}/smaps_rollup"):
                        if line.startswith("Pss:"):
                            total += int(line.split()[1])
                except OSError:
                    pass
            self.peak_mb = max(self.peak_mb, total / 1024)
            time.sleep(0.05)

    def stop(self) -> float:
        self._stop.set()
        self.thread.join()
        return self.peak_mb


@pytest.fixture(scope="module")
def root(tmp_path_factory, office):
    """A Gradescope root after setup.sh, run exactly as shipped (reusing this environment's
    site-packages and fetched assets through the documented variables)."""
    tmp = tmp_path_factory.mktemp("gradescope")
    z = gradescope.build_zip(tmp / "autograder.zip")
    root = tmp / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(z) as f:
        f.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):  # zipfile drops the modes; Gradescope keeps them
        os.chmod(root / "source" / script, 0o755)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), FACELAB_REUSE_SITE=sysconfig.get_paths()["purelib"],
               FACELAB_BASE_PYTHON=getattr(sys, "_base_executable", sys.executable))
    r = subprocess.run(["bash", "./setup.sh"], cwd=root / "source", env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")  # as Gradescope does
    return root


def closed_folders(*paths) -> list[str]:
    """Folders above ``paths`` and the real Python installation "other" cannot search."""
    import sysconfig as sc
    found = set()
    for p in [*paths, os.path.realpath(sys.executable), sc.get_paths()["stdlib"]]:
        for a in Path(os.path.realpath(p)).parents:
            if not os.stat(a).st_mode & 0o001:
                found.add(str(a))
    return sorted(found)


def run_autograder(root: Path, files: dict, **env_extra) -> tuple[dict, float, float]:
    sub = root / "submission"
    shutil.rmtree(sub, ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    sub.mkdir()
    for name, data in files.items():
        (sub / name).parent.mkdir(parents=True, exist_ok=True)
        (sub / name).write_bytes(data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACELAB_")}
    env.update(AUTOGRADER_ROOT=str(root), FACELAB_SANDBOX="user")  # Gradescope: no namespaces
    env.update(env_extra)
    # here (not on Gradescope) pytest's folders and the Python below root's home are closed
    # to other users: name them, as an instructor would, so user mode may open them
    env["FACELAB_SANDBOX_SEARCHABLE"] = os.pathsep.join(closed_folders(root / "venv" / "bin"))
    t0 = time.monotonic()
    proc = subprocess.Popen(["bash", str(root / "run_autograder")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    mem = PeakMemory(proc.pid)
    out, _ = proc.communicate(timeout=900)
    peak = mem.stop()
    assert proc.returncode == 0, out[-3000:]
    res = json.loads((root / "results" / "results.json").read_text())
    validate(res)
    return res, peak, time.monotonic() - t0


def test_the_four_uploaded_notebooks_get_the_maximum_within_gradescope_s_memory(root):
    res, peak_mb, seconds = run_autograder(root, {p.name: p.read_bytes() for p in SOLUTIONS})
    assert res["score"] == sum(t["max_score"] for t in res["tests"]) > 0, res["output"][:2000]
    print(f"\nrun_autograder: {seconds:.1f} s, peak memory (PSS, all processes) {peak_mb:.0f} MB")
    assert peak_mb < 700, peak_mb  # Gradescope's default container is killed past 768 MB


def test_a_zip_upload_and_a_broken_upload_both_get_a_valid_results_json(root):
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in SOLUTIONS:
            z.write(p, f"my work/{p.name}")
    res, _, _ = run_autograder(root, {"workbook.zip": buf.getvalue()})
    assert res["score"] == sum(t["max_score"] for t in res["tests"]) > 0, res["output"][:2000]
    res, _, _ = run_autograder(root, {"a.ipynb": b"[" * 100_000})
    assert res["score"] == 0 and "nests too deeply" in res["output"]
    res, _, _ = run_autograder(root, {})
    assert res["score"] == 0 and "Could not grade" in res["output"]



def _with(versions: dict, tmp_path) -> dict:
    """The four solution notebooks, with the graded cells of ``versions`` (corpus or
    {name: Version}) replaced as tests/test_corpus.py hands them in."""
    from .test_corpus import NOTEBOOKS, _hand_in

    files = {p.name: p.read_bytes() for p in SOLUTIONS}
    for name, version in versions.items():
        _hand_in(tmp_path / name, version)
        nb = NOTEBOOKS[version.exercise]
        files[nb] = (tmp_path / name / nb).read_bytes()
    return files


def test_a_student_who_scales_pixels_their_own_way_keeps_full_marks(root, tmp_path):
    """verify and who_is_it scale the pixels as x * (1 / 255) in float32: not the stored
    inputs bit for bit, but the same pictures up to rounding: full marks, no model loaded."""
    from .corpus import CORRECT

    versions = {v.name: v for v in CORRECT if v.name in ("vf-reciprocal-scaling", "wh-reciprocal-scaling")}
    res, peak_mb, seconds = run_autograder(root, _with(versions, tmp_path))
    print(f"\nrun_autograder, own pixel scaling: {seconds:.1f} s, peak memory (PSS) {peak_mb:.0f} MB")
    assert res["score"] == sum(t["max_score"] for t in res["tests"]) > 0, res["output"][:3000]
    assert peak_mb < 700, peak_mb


def test_the_student_s_memory_follows_the_container(monkeypatch, tmp_path):
    monkeypatch.delenv("FACELAB_MEMORY_MB", raising=False)
    v2, v1 = tmp_path / "memory.max", tmp_path / "limit_in_bytes"
    v2.write_text("max\n")
    assert gradescope.container_memory_mb((str(v2), str(v1))) is None
    v2.write_text(f"{1536 * 2**20}\n")
    assert gradescope.container_memory_mb((str(v2), str(v1))) == 1536
    v1.write_text(f"{2**63 - 4096}\n")  # cgroup v1's "no limit"
    assert gradescope.container_memory_mb((str(tmp_path / "absent"), str(v1))) is None
    assert gradescope.student_memory_mb(768) == gradescope.GRADESCOPE_MEMORY_MB == 450
    assert gradescope.student_memory_mb(1536) == 1536 - gradescope.RUN_RESERVE_MB
    assert gradescope.student_memory_mb(None) == 450
    monkeypatch.setenv("FACELAB_MEMORY_MB", "700")
    assert gradescope.student_memory_mb(1536) == 700


def test_a_student_whose_input_needs_the_real_model_is_judged_on_its_output_in_a_1_5_gb_container(root, tmp_path):
    """verify encodes with the checkpoint's own preprocessing (standardised pixels): no
    test's input, so the graded model loads the real model in the student's process. In a
    1.5 GB container (the student's share: what ``student_memory_mb`` gives there) that
    student is judged on the real model's answer (other distances than the exercise's
    preprocessing gives, as the notebook's check says too), not stopped for memory, and
    the whole run stays inside the container."""
    from .corpus import Version, _fn, _verify

    encoder = _fn("img_to_encoding(image_path, model)", """
from facelab.images import load_image
from facelab.preprocessing import prepare
x = prepare(load_image(image_path), "facenet")[None]
emb = model.predict(x, verbose=0)
return emb / np.linalg.norm(emb)
""")
    own = Version("vf-facenet-preprocessing", "verify", False, _verify("""
encoding = img_to_encoding(image_path, model)
dist = np.linalg.norm(encoding - database[identity])
"""), helper=encoder)
    share = gradescope.student_memory_mb(1536)
    res, peak_mb, seconds = run_autograder(root, _with({own.name: own}, tmp_path),
                                           FACELAB_MEMORY_MB=f"{share:g}")
    verify = [t for t in res["tests"] if t["name"].startswith("verify: ")]
    print(f"\nrun_autograder, real model loaded lazily: {seconds:.1f} s, peak memory (PSS) "
          f"{peak_mb:.0f} MB; verify {sum(t['score'] for t in verify):g}/"
          f"{sum(t['max_score'] for t in verify):g}")
    shown = "\n".join(t["output"] for t in verify)
    assert "expected dist 0.6740, got 0.74" in shown, shown[:2000]    # the real model's answer
    assert "MB" not in shown and "memory" not in shown, shown[:2000]  # not a memory stop
    others = [t for t in res["tests"] if not t["name"].startswith("verify: ")]
    assert others and all(t["status"] == "passed" for t in others), res["output"][:3000]
    assert peak_mb < 1536, peak_mb
