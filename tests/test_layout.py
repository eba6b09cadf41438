"""Where the workbook's files live (home, bundle), and the office's file names."""

from __future__ import annotations

import pytest

from facelab import layout
from facelab.errors import AssetError


def test_camera_names_round_trip():
    for person, n in (("madonna", 1), ("jerry_seinfeld", 12), ("a_1", 3)):
        assert layout.parse_camera_name(layout.camera_name(person, n)) == (person, n)
    assert layout.parse_camera_name("images/camera/ben_afflek_4.png") == ("ben_afflek", 4)


@pytest.mark.parametrize("name", ["madonna.png", "madonna_0.png", "madonna_x.png", "_3.png",
                                  "madonna_3.jpg", "madonna_03.png"])
def test_malformed_camera_names_say_the_form(name):
    with pytest.raises(AssetError, match=r"expected a camera picture named <person>_<n>\.png, got"):
        layout.parse_camera_name(name)


def test_person_of_each_kind_of_picture():
    assert layout.person_of("images/camera/jerry_seinfeld_2.png") == "jerry_seinfeld"
    assert layout.person_of("images/database/madonna.png") == "madonna"
    assert layout.person_of("images/faces/val/elton_john/x.png") == "elton_john"
    assert layout.badge_name("madonna") == "madonna.png"
    assert layout.face_name("train/madonna/a.jpg") == "train/madonna/a.png"


# ------------------------------------------------------- where things live
def test_a_development_install_reads_the_checkout(monkeypatch):
    from .conftest import ROOT

    monkeypatch.delenv("FACELAB_HOME", raising=False)
    assert layout.is_checkout()
    assert layout.bundle_dir() == ROOT and layout.notebooks_dir() == ROOT / "notebooks"
    assert layout.home() == ROOT


def test_facelab_home_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "shared" / ".." / "shared"))
    assert layout.home() == (tmp_path / "shared").resolve()
    assert layout.images_dir() == (tmp_path / "shared" / "images").resolve()
    assert layout.bundle_dir() != layout.home()  # the manifests stay with the code


def test_an_installed_copy_uses_the_per_user_folder_and_its_own_bundle(monkeypatch, tmp_path):
    """Installed from the wheel, the folder above the package is site-packages."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.setattr(layout, "_CHECKOUT", site)
    monkeypatch.delenv("FACELAB_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert not layout.is_checkout()
    assert layout.home() == tmp_path / "data" / "facelab"
    assert layout.bundle_dir() == layout._PACKAGE / "_data"
    assert not layout.home().exists()  # finding the home creates nothing
    with pytest.raises(AssetError, match=r"part of the facelab package: reinstall it with"):
        monkeypatch.setattr(layout, "_PACKAGE", tmp_path / "facelab")
        layout.weights_manifest()


@pytest.mark.parametrize("platform,env,expected", [
    ("linux", {}, "~/.local/share/facelab"),
    ("linux", {"XDG_DATA_HOME": "/srv/xdg"}, "/srv/xdg/facelab"),
    ("darwin", {}, "~/Library/Application Support/facelab"),
    ("win32", {"LOCALAPPDATA": "C:/Users/ana/AppData/Local"}, "C:/Users/ana/AppData/Local/facelab"),
])
def test_user_data_dir_follows_the_platform(platform, env, expected):
    from pathlib import Path

    assert layout.user_data_dir(platform, env) == Path(expected).expanduser()


def test_use_home_reaches_child_processes(monkeypatch, tmp_path):
    import os
    import subprocess
    import sys

    monkeypatch.delenv("FACELAB_HOME", raising=False)
    layout.use_home(tmp_path)
    try:
        out = subprocess.run([sys.executable, "-c", "from facelab import layout; print(layout.home())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    finally:
        os.environ.pop("FACELAB_HOME", None)
    assert out == str(tmp_path.resolve())
