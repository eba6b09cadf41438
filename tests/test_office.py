"""`facelab fetch` verifies every file of the office it built, and repairs what is damaged.

Each test works on a copy of the fetched office in a scratch home (the weights
file is linked, not copied), so the real ``images/`` is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from facelab import assets, database
from facelab.office import RECORD, check
from facelab.errors import AssetError

from .conftest import ROOT


@pytest.fixture
def office_copy(office, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "weights").mkdir(parents=True)
    shutil.copy(ROOT / "weights" / "MANIFEST.json", home / "weights" / "MANIFEST.json")
    os.symlink(assets.weights_path(), home / "weights" / assets.WEIGHTS_FILE)
    shutil.copytree(office, home / "images")
    monkeypatch.setenv("FACELAB_HOME", str(home))
    return home / "images"


def fetch_cli(home):
    return subprocess.run([sys.executable, "-m", "facelab.cli", "fetch"], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, env={**os.environ, "FACELAB_HOME": str(home)})


def test_a_fresh_office_matches_its_record(office_copy):
    assert check() == []
    record = json.loads((office_copy / RECORD).read_text())["files"]
    assert len([r for r in record if r.startswith("faces/")]) == 118
    assert sorted(r for r in record if r.startswith("database/")) == [
        f"database/{p}.png" for p in database.employees()]
    assert len([r for r in record if r.startswith("camera/")]) == 25 and "crops.json" in record


def test_fetch_repairs_deleted_corrupted_and_foreign_files(office, office_copy):
    badge = office_copy / "database" / "madonna.png"
    gone = office_copy / "camera" / "elton_john_2.png"
    tiny = office_copy / "camera" / "ben_afflek_3.png"
    crop = sorted((office_copy / "faces" / "val" / "mindy_kaling").glob("*.png"))[0]
    badge.unlink()
    gone.unlink()
    tiny.write_bytes(b"12345")
    flipped = bytearray(crop.read_bytes())
    flipped[-20] ^= 0xFF  # same size: only the checksum can tell
    crop.write_bytes(bytes(flipped))
    (office_copy / "camera" / "bono_1.png").write_bytes(tiny.read_bytes())

    # code that reads the office refuses it, naming the problem and the command
    with pytest.raises(AssetError) as err:
        database.employee_pictures()
    msg = str(err.value)
    assert "database/madonna.png is missing" in msg and "run `facelab fetch`" in msg.lower()
    with pytest.raises(AssetError, match="camera/elton_john_2.png is missing"):
        database.camera_pictures()

    proc = fetch_cli(office_copy.parent)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for line in ("repaired images/database/madonna.png (missing)",
                 "repaired images/camera/elton_john_2.png (missing)",
                 "repaired images/camera/ben_afflek_3.png (altered)",
                 f"repaired images/{crop.relative_to(office_copy).as_posix()} (altered)",
                 "removed images/camera/bono_1.png (unexpected)"):
        assert line in out, out
    assert "already up to date" not in out
    for path in (badge, gone, tiny, crop):  # byte for byte what the first build made
        assert path.read_bytes() == (office / path.relative_to(office_copy)).read_bytes()
    assert not (office_copy / "camera" / "bono_1.png").exists()
    assert check() == [] and len(database.camera_pictures()) == 25
    assert "already up to date" in fetch_cli(office_copy.parent).stdout


def test_an_altered_original_is_written_again_from_the_archive(office_copy, sdist):
    original = sorted((office_copy / "originals" / "train" / "madonna").glob("*"))[0]
    original.write_bytes(b"not a photo")
    report = assets.fetch(archive=sdist)
    rel = original.relative_to(office_copy).as_posix()
    assert report.repaired == (f"repaired images/{rel} (altered)",)
    assert not report.office_built and check() == []


def test_demo_and_verify_refuse_an_office_missing_an_employee(office_copy):
    (office_copy / "database" / "madonna.png").unlink()
    for args in (["demo"], ["verify", str(office_copy / "camera" / "madonna_1.png"), "madonna"]):
        proc = subprocess.run([sys.executable, "-m", "facelab.cli", *args], capture_output=True,
                              text=True, timeout=300, cwd=ROOT,
                              env={**os.environ, "FACELAB_HOME": str(office_copy.parent)})
        assert proc.returncode == AssetError.exit_code, proc.stderr
        assert "database/madonna.png is missing" in proc.stderr and "Run `facelab fetch`" in proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_damaged_crops_file_rebuilds_the_whole_office(office, office_copy):
    (office_copy / "crops.json").write_text("{}")
    (office_copy / "database" / "madonna.png").unlink()
    report = assets.fetch()
    assert report.repaired == ("crops.json was damaged: the office was built again",)
    assert check() == []
    assert (office_copy / "database" / "madonna.png").read_bytes() == (
        office / "database" / "madonna.png").read_bytes()
