"""The door widgets: real controls, real decisions, shown once; uploads of anything."""

from __future__ import annotations

import datetime
import re

import pytest

from facelab import widgets

from .conftest import TEST_IMAGES, need


def _shown(monkeypatch) -> list:
    """Record what the widgets hand to IPython's display."""
    calls: list = []
    monkeypatch.setattr(widgets, "_show", calls.append)
    return calls


def _upload(name: str, data: bytes) -> tuple:
    return ({"name": name, "type": "", "size": len(data), "content": memoryview(data),
             "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)},)


@pytest.mark.slow
def test_front_door_controls_change_the_decision(office_db, model, capsys):
    box = widgets.front_door_controls(office_db, model)
    row, slider, _out = box.children
    pick, who = row.children
    assert len(pick.options) == 25 and list(who.options) == list(office_db)
    assert "ben_afflek_1.png claims to be ben_afflek" in capsys.readouterr().out
    slider.value = 1.1  # the genuine visitor at ~0.80 is let in once the threshold is looser
    said = capsys.readouterr().out
    assert "< threshold 1.10 -> door opens" in said
    who.value = "madonna"  # ben_afflek's picture claiming madonna's badge
    said = capsys.readouterr().out
    assert "ben_afflek_1.png claims to be madonna" in said and "door stays shut" in said


@pytest.mark.slow
def test_front_door_is_shown_once_and_returns_nothing(office_db, model, monkeypatch):
    shown = _shown(monkeypatch)
    assert widgets.front_door(office_db, model, interactive=True) is None
    assert len(shown) == 1 and type(shown[0]).__name__ == "VBox"


def test_threshold_slider_sets_two_decimals():
    import ipywidgets as W

    slider = widgets._slider(W, 0.7)
    assert slider.step == 0.01 and slider.readout_format == ".2f"
    steps = round((slider.max - slider.min) / slider.step)
    width = int(re.fullmatch(r"(\d+)px", slider.layout.width).group(1))
    assert width / steps >= 4, "each 0.01 step needs a few pixels of slider to be reachable"


@pytest.mark.slow
def test_front_door_printed_fallback(office_db, model, capsys):
    assert widgets.front_door(office_db, model, interactive=False) is None
    line = capsys.readouterr().out.strip()
    assert line.startswith("ben_afflek_1.png claims to be ben_afflek: distance 0.")
    assert line.endswith("door stays shut") and "\n" not in line


def test_upload_of_a_file_that_is_not_a_picture_gets_a_plain_message(capsys, monkeypatch):
    shown = _shown(monkeypatch)
    widgets.upload_door(
        {"madonna": None}, model=None, interactive=True)  # nothing is encoded before a picture
    box = shown[0]
    upload = box.children[0].children[0]
    assert "Choose a photo" in capsys.readouterr().out
    upload.value = _upload("notes.txt", b"these are my notes, not a photo")
    said = capsys.readouterr().out.strip().splitlines()[-1]  # after clear_output's escapes
    assert said == ("Could not use this file: 'notes.txt' is not a picture: expected a photo "
                    "(JPEG, PNG...), got 31 bytes of something else")
    assert "BytesIO" not in said and "Traceback" not in said


@pytest.mark.slow
def test_upload_without_a_face(office_db, model, capsys):
    picture = need(TEST_IMAGES) / "no_face" / "dlib_dogs.jpg"
    box = widgets.upload_door_controls(office_db, model)
    box.children[0].children[0].value = _upload(picture.name, picture.read_bytes())
    said = capsys.readouterr().out
    assert "Could not use this file: no face found" in said


@pytest.mark.slow
def test_upload_shows_the_photo_and_the_face_it_compared(office_db, model, capsys, monkeypatch):
    from facelab import plots

    drawn = []
    monkeypatch.setattr(plots, "show_pictures", lambda pics, titles, suptitle: drawn.append(
        ([p.shape for p in pics], titles, suptitle)))
    photo = need(TEST_IMAGES) / "identities" / "obama"
    picture = sorted(photo.iterdir())[0]
    box = widgets.upload_door_controls(office_db, model, claimed="madonna")
    box.children[0].children[0].value = _upload(picture.name, picture.read_bytes())
    said = capsys.readouterr().out
    assert f"{picture.name} claims to be madonna: distance" in said and "door stays shut" in said
    shapes, titles, suptitle = drawn[-1]
    assert titles == ["your photo", "the face compared"] and shapes[1] == (160, 160, 3)
    assert shapes[0][2] == 3 and shapes[0][:2] != (160, 160)
    assert suptitle.startswith("distance ") and suptitle.endswith(">= 0.70: door stays shut")
