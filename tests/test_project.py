"""The project's promises: two README commands, ranges and a lock in sync, nothing forbidden committed."""

from __future__ import annotations

import pytest

import re
import subprocess
import sys
import tomllib

from .conftest import ROOT

DEMO = "python3 tasks.py demo"
TEST = "python3 tasks.py test"


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S).group(1)
    return [ln.strip() for ln in first_block.splitlines() if ln.strip() and not ln.startswith("#")]


def test_readme_opens_with_the_two_commands():
    assert readme_commands() == [DEMO, TEST]


def test_ci_calls_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec python3 tasks.py test$", script, re.M)


def _pins(lines) -> dict:
    out = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.-]+)==([^\s#;]+)", line)
        if m:
            out[_canonical(m.group(1))] = m.group(2)
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements(extras=("notebooks", "test")) -> dict:
    """{name: Requirement} of pyproject's dependencies and the given extras."""
    from packaging.requirements import Requirement

    project = _project()
    lines = project["dependencies"] + [d for e in extras for d in project["optional-dependencies"][e]]
    return {_canonical(r.name): r for r in map(Requirement, lines)}


def _locked() -> dict:
    return _pins((ROOT / "constraints.txt").read_text().splitlines())


def test_pyproject_declares_ranges_not_pins():
    for name, req in _requirements().items():
        ops = {s.operator for s in req.specifier}
        assert ops == {">=", "<"}, f"{name}: expected a tested range >=low,<high, got {req.specifier}"


def test_the_lock_lies_within_the_ranges():
    locked = _locked()
    assert locked["tensorflow"] == "2.21.0" and "facelab" not in locked
    for name, req in _requirements().items():
        assert name in locked, f"constraints.txt does not pin {name}"
        assert req.specifier.contains(locked[name]), f"{name}=={locked[name]} not in {req.specifier}"


def test_installed_versions_are_the_locked_ones():
    """tasks.py installs with `-c constraints.txt`: this venv holds exactly the lock."""
    from importlib.metadata import distributions

    installed = {_canonical(d.metadata["Name"]): d.version for d in distributions()}
    locked = _locked()
    differ = {n: (v, installed.get(n)) for n, v in locked.items() if installed.get(n) != v}
    assert differ == {}, "pinned vs installed: " + str(differ)


def test_every_install_path_uses_the_lock():
    tasks = (ROOT / "tasks.py").read_text()
    assert '"-c", CONSTRAINTS.name, "-e", ".[notebooks,test]"' in tasks
    env = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in env and "- -c constraints.txt" in env and "- -e .[notebooks,test]" in env
    binder = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert "-c ../constraints.txt" in binder
    named = {_canonical(ln) for ln in binder if ln and not ln.startswith(("#", "-"))}
    assert named == set(_requirements(extras=("notebooks",))), "binder/requirements.txt drifted"
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_no_weights_photos_or_shared_data_are_committed():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    banned = [f for f in files if re.search(r"\.(h5|jpe?g|png|pgm|tar\.gz)$", f, re.I)
              or f.startswith(("weights/", "images/")) and not f.endswith("MANIFEST.json")
              or "shared/" in f]
    assert banned == []


@pytest.mark.slow
def test_demo_command_works():
    """The README's first command, as a user runs it (set-up is a no-op here)."""
    proc = subprocess.run([sys.executable, "tasks.py", "demo"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "already up to date" in proc.stdout
    assert "It's jerry_seinfeld, welcome in!" in proc.stdout
    assert "jupyter lab notebooks/" in proc.stdout


def test_committed_notebooks_hold_no_photos_of_people():
    """Photo figures are marked by facelab.plots and stripped; nothing else shows photos."""
    import nbformat

    from facelab.release import is_photo_output

    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(notebooks) == 7
    marked = 0
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                images = [m for m in output.get("data", {}) if m.startswith("image/")]
                if is_photo_output(output):
                    marked += 1
                    assert images == [], f"{path.name}: a photo output kept its image"
                elif images:
                    assert not re.search(r"show_pictures|door_decision|front_door|upload_door",
                                         cell.source), f"{path.name}: unmarked photo figure"
    assert marked >= 5  # the notebooks do show photos when run
