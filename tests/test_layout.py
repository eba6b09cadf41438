"""The office's file names: written and parsed in one place."""

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
