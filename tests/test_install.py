"""facelab as a course installs it: the wheel in a fresh venv, and Binder's build script.

Both tests build real environments outside the checkout (fresh virtual
environments, pip installing the exact set of constraints.txt from pip's
cache), so they take minutes: they are marked slow. The source archive of
the model and photos comes from the developer's cache (``FACELAB_CACHE``),
so nothing is downloaded beyond the package registry.

Root (CI) runs the notebooks as the unprivileged user ``nobody``; another
user runs them as itself. Either way the data home is made read-only first.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow

BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)
PASSED = re.compile(r"^(\w+): (\d+)/(\d+) visible checks passed", re.M)


# ------------------------------------------------------------------ helpers
def run(cmd, *, timeout=1800, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          timeout=timeout, **kw)
    assert proc.returncode == 0, (f"{' '.join(str(c) for c in cmd)} exited {proc.returncode}:\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def clean_env(**extra) -> dict:
    """This process's environment without facelab's variables (and without the
    checkout's venv on PATH), reusing the caches: pip's, and facelab's source archive."""
    from facelab import layout

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FACELAB_", "PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(ROOT)))
    env["FACELAB_CACHE"] = str(layout.cache_dir())
    env.update(extra)
    return env


def fresh_venv(path: Path) -> Path:
    run([BASE_PYTHON, "-m", "venv", path])
    return path / "bin"


def student_user() -> tuple[int, int]:
    """(uid, gid) of the unprivileged user that runs the notebooks."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def as_student(uid_gid: tuple[int, int]) -> dict:
    uid, gid = uid_gid
    return {} if os.geteuid() != 0 else {"user": uid, "group": gid, "extra_groups": []}


def make_read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def paste_solutions(released: Path, solutions: Path, out: Path) -> int:
    """Write each released notebook into ``out`` with its graded cells' sources taken
    from the solution notebook (matched by cell id), as a student who solved it would.
    Returns how many graded cells were pasted."""
    import nbformat

    from facelab.cells import graded_name

    pasted = 0
    for path in sorted(released.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        answers = {c.id: c.source for c in nbformat.read(solutions / path.name, as_version=4).cells}
        for cell in nb.cells:
            if cell.cell_type == "code" and graded_name(cell.source):
                assert cell.source != answers[cell.id], f"{path.name}: release kept a solution"
                cell.source = answers[cell.id]
                pasted += 1
        nbformat.write(nb, out / path.name)
    return pasted


@pytest.fixture(scope="module")
def scratch():
    """A world-traversable scratch folder outside the checkout (the student user reads it)."""
    root = Path(tempfile.mkdtemp(prefix="facelab-install-"))
    root.chmod(0o755)
    yield root
    for home in (root / "home", root / "binder-venv" / "share" / "facelab"):
        for path in [home, *home.rglob("*")] if home.exists() else []:
            if path.is_dir() and not path.is_symlink():  # read-only homes, made removable
                path.chmod(0o755)
    shutil.rmtree(root, ignore_errors=True)


# -------------------------------------------------------------------- tests
def test_the_wheel_installed_outside_the_checkout_runs_every_notebook(scratch):
    # 1. build the wheel as `pip wheel .` does, and look inside
    dist = scratch / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT],
        env=clean_env(), cwd=scratch)
    wheel, = dist.glob("facelab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "facelab/_data/weights/MANIFEST.json" in names
    assert "facelab/_data/images/MANIFEST.json" in names
    shipped = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("facelab/_data/notebooks/"))
    assert shipped == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert not [n for n in names if re.search(r"\.(h5|jpe?g|png|tar\.gz)$", n, re.I)]

    # 2. a fresh venv outside the checkout, the exact versions of constraints.txt
    bin_ = fresh_venv(scratch / "venv")
    run([bin_ / "pip", "install", "-q", "-c", ROOT / "constraints.txt", f"{wheel}[notebooks]"],
        env=clean_env(), cwd=scratch)
    where = run([bin_ / "python", "-c", "from facelab import layout; print(layout.bundle_dir()); "
                 "print(layout.home())"], env=clean_env(HOME=str(scratch)), cwd=scratch)
    bundle, default_home = where.stdout.split()
    assert "site-packages" in bundle and not bundle.startswith(str(ROOT))
    assert default_home == str(scratch / ".local" / "share" / "facelab")  # the per-user folder
    secrets = run([bin_ / "python", "-c", "from facelab.grading import sandbox; "
                   "print(*sandbox.secret_paths(), sep='\\n')"], env=clean_env(), cwd=scratch)
    assert str(Path(bundle) / "notebooks") in secrets.stdout.split("\n")  # hidden from graded code

    # 3. the administrator fills one home and makes it read-only
    home = scratch / "home"
    fetched = run([bin_ / "facelab", "fetch", "--home", home], env=clean_env(), cwd=scratch)
    assert f"export FACELAB_HOME={home}" in fetched.stdout
    make_read_only(home)

    # 4. ... releases the notebooks from the installed copy
    released = scratch / "released"
    run([bin_ / "facelab", "release", "-o", released], env=clean_env(), cwd=scratch)

    # 5. a student (unprivileged, working elsewhere) pastes the solutions and runs everything
    student = student_user()
    work = scratch / "student"
    work.mkdir()
    pasted = paste_solutions(released, Path(bundle) / "notebooks", work)
    assert pasted >= 4
    if os.geteuid() == 0:
        for path in [work, *work.iterdir()]:
            os.chown(path, *student)
    env = {"PATH": f"{bin_}:/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8",
           "FACELAB_HOME": str(home), "FACELAB_CACHE": str(work / ".cache")}
    probe = subprocess.run(["sh", "-c", f"touch {home}/x || touch {home}/images/x"],
                           capture_output=True, env=env, **as_student(student))
    assert probe.returncode != 0, "the student can write into the shared home"
    out = work / "executed"
    notebooks = sorted(p.name for p in work.glob("*.ipynb"))
    run([bin_ / "jupyter", "nbconvert", "--to", "notebook", "--execute", "--output-dir", out,
         "--ExecutePreprocessor.timeout=1200", *notebooks], cwd=work, env=env, timeout=3000,
        **as_student(student))

    import nbformat

    from facelab.cells import graded_name

    checked = 0
    for name in notebooks:
        nb = nbformat.read(out / name, as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert errors == [], f"{name}: {errors[0].ename}: {errors[0].evalue}"
        text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                         for c in nb.cells for o in c.get("outputs", []))
        graded = {graded_name(c.source) for c in nb.cells if c.cell_type == "code"} - {None}
        results = {m[1]: (int(m[2]), int(m[3])) for m in PASSED.finditer(text)}
        assert graded <= set(results), f"{name}: no check result for {graded - set(results)}"
        for function in graded:
            done, total = results[function]
            assert done == total, f"{name}: {function}: {done}/{total} checks passed"
            checked += 1
    assert checked >= 4  # pixel_distance, triplet_loss, verify, who_is_it


def test_binder_build_script_as_shipped(scratch):
    """repo2docker's steps without Docker: a copy of the repository, a fresh environment,
    `pip install -r binder/requirements.txt`, then binder/postBuild; binder/start then
    gives every process the read-only data home."""
    repo = scratch / "repo"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / rel)
    bin_ = fresh_venv(scratch / "binder-venv")
    env = clean_env(PATH=f"{bin_}:{clean_env()['PATH']}")
    run([bin_ / "pip", "install", "-q", "-r", "binder/requirements.txt"], env=env, cwd=repo)
    built = run(["bash", "binder/postBuild"], env=env, cwd=repo)
    prefix = Path(run([bin_ / "python", "-c", "import sys; print(sys.prefix)"]).stdout.strip())
    home = prefix / "share" / "facelab"
    assert f"postBuild: data in {home}" in built.stdout
    assert not os.access(home / "images", os.W_OK) or os.geteuid() == 0
    assert not stat.S_IMODE((home / "images").stat().st_mode) & 0o222

    workbook = sorted(p.name for p in (repo / "workbook").glob("*.ipynb"))
    assert workbook == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert "### START CODE HERE ###" in (repo / "workbook" / "4_face_verification.ipynb").read_text()

    student = student_user()
    again = run([repo / "binder" / "start", "facelab", "fetch"], env=env, cwd=scratch,
                **as_student(student))
    assert "already up to date" in again.stdout
    door = run([repo / "binder" / "start", "facelab", "verify", home / "images" / "camera" /
                "jerry_seinfeld_2.png", "jerry_seinfeld"],
               env={**env, "HOME": str(scratch)}, cwd=scratch, **as_student(student))
    assert "-> door opens" in door.stdout, door.stdout
