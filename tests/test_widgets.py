"""The door widgets: real controls, real decisions, one output with a text fallback; uploads
of anything, judged by their content; the door run by a student's own verify."""

from __future__ import annotations

import datetime
import re

import pytest

from facelab import widgets

from .conftest import TEST_IMAGES, need


def _shown(monkeypatch) -> list:
    """Record what the widgets hand to the display: (box, fallback text)."""
    calls: list = []
    monkeypatch.setattr(widgets, "_show", lambda box, text: calls.append((box, text)))
    return calls


def _upload(name: str, data: bytes) -> tuple:
    return ({"name": name, "type": "", "size": len(data), "content": memoryview(data),
             "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)},)


def _lines(box) -> list[str]:
    return widgets.shown_text(box).splitlines()


@pytest.mark.slow
def test_front_door_controls_change_the_decision(office_db, model):
    box = widgets.front_door_controls(office_db, model)
    row, slider, _out = box.children
    pick, who = row.children
    assert len(pick.options) == 25 and list(who.options) == list(office_db)
    assert "ben_afflek_1.png claims to be ben_afflek" in widgets.shown_text(box)
    slider.value = 1.1  # the genuine visitor at ~0.80 is let in once the threshold is looser
    assert "< threshold 1.10 -> door opens" in widgets.shown_text(box)
    who.value = "madonna"  # ben_afflek's picture claiming madonna's badge
    said = widgets.shown_text(box)
    assert "ben_afflek_1.png claims to be madonna" in said and "door stays shut" in said
    assert "claims to be ben_afflek" not in said  # the area was replaced, not appended to


@pytest.mark.slow
def test_front_door_is_shown_once_with_its_text_and_returns_nothing(office_db, model, monkeypatch):
    shown = _shown(monkeypatch)
    assert widgets.front_door(office_db, model, interactive=True) is None
    (box, text), = shown
    assert type(box).__name__ == "VBox"
    assert text.startswith("ben_afflek_1.png claims to be ben_afflek: distance 0.")


def test_one_output_holds_the_live_view_and_the_text(monkeypatch):
    """The front end chooses: a widget manager renders the view, anything else the text."""
    import ipywidgets as W
    from IPython import display as ipd

    shown = []
    monkeypatch.setattr(ipd, "display", lambda data, raw=False: shown.append((data, raw)))
    box = W.VBox([W.Label("door")])
    widgets.display_widget(box, "the door, in words")
    (data, raw), = shown
    assert raw and data["text/plain"] == "the door, in words"
    assert data[widgets.WIDGET_VIEW]["model_id"] == box.model_id


def test_nbval_compares_the_text_and_skips_the_widget_view():
    """What keeps nbval deterministic: it skips the view's random model id, not the text."""
    import nbval.plugin as plugin

    source = open(plugin.__file__).read()
    assert "'application/vnd.jupyter.widget-view+json'" in source
    assert widgets.WIDGET_VIEW == "application/vnd.jupyter.widget-view+json"


def test_what_a_redraw_draws_goes_into_the_output_area_not_the_cell(capsys):
    import ipywidgets as W

    out = W.Output()
    widgets.render(out, lambda: print("first"))
    widgets.render(out, lambda: print("second"))
    assert capsys.readouterr().out == ""
    assert out.outputs == ({"output_type": "stream", "name": "stdout", "text": "second\n"},)


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


def test_upload_of_a_file_that_is_not_a_picture_gets_a_plain_message(monkeypatch):
    shown = _shown(monkeypatch)
    widgets.upload_door(
        {"madonna": None}, model=None, interactive=True)  # nothing is encoded before a picture
    (box, text), = shown
    assert text == widgets.UPLOAD_TEXT
    upload = box.children[0].children[0]
    assert _lines(box) == ["Choose a photo with a visible face."]
    upload.value = _upload("notes.txt", b"these are my notes, not a photo")
    assert _lines(box) == ["Could not use this file: 'notes.txt' is not a picture: expected a "
                           "photo (JPEG, PNG...), got 31 bytes of something else"]


@pytest.mark.slow
def test_upload_without_a_face(office_db, model):
    picture = need(TEST_IMAGES) / "no_face" / "dlib_dogs.jpg"
    box = widgets.upload_door_controls(office_db, model)
    box.children[0].children[0].value = _upload(picture.name, picture.read_bytes())
    assert "Could not use this file: no face found" in widgets.shown_text(box)


@pytest.fixture
def drawn(monkeypatch):
    """What the upload door draws: (pictures, titles, suptitle) per figure."""
    from facelab import plots

    calls = []
    monkeypatch.setattr(plots, "show_pictures", lambda pics, titles, suptitle: calls.append(
        (pics, titles, suptitle)))
    return calls


@pytest.mark.slow
def test_upload_shows_the_photo_and_the_face_it_compared(office_db, model, drawn):
    photo = need(TEST_IMAGES) / "identities" / "obama"
    picture = sorted(photo.iterdir())[0]
    box = widgets.upload_door_controls(office_db, model, claimed="madonna")
    box.children[0].children[0].value = _upload(picture.name, picture.read_bytes())
    said = widgets.shown_text(box)
    assert f"{picture.name} claims to be madonna: distance" in said and "door stays shut" in said
    pics, titles, suptitle = drawn[-1]
    assert titles == ["your photo", "the face compared"] and pics[1].shape == (160, 160, 3)
    assert pics[0].shape[2] == 3 and pics[0].shape[:2] != (160, 160)
    assert suptitle.startswith("distance ") and suptitle.endswith(">= 0.70: door stays shut")


def _distance(box) -> float:
    return float(re.search(r"distance (\d\.\d+)", widgets.shown_text(box)).group(1))


@pytest.mark.slow
def test_two_photos_under_one_name_are_each_judged_as_themselves(office, office_db, model, drawn):
    """A phone names every photo image.jpg: the second upload must not get the first's result."""
    import numpy as np

    madonna = sorted((office / "originals" / "train" / "madonna").iterdir())[0].read_bytes()
    ben = sorted((office / "originals" / "train" / "ben_afflek").iterdir())[0].read_bytes()

    def judged(uploads):
        box = widgets.upload_door_controls(office_db, model, claimed="madonna")
        upload = box.children[0].children[0]
        results = []
        for name, data in uploads:
            upload.value = _upload(name, data)
            results.append((_distance(box), drawn[-1][0][0]))
        return results

    (d_madonna, photo_madonna), (d_ben, photo_ben), (d_again, _) = judged(
        [("image.jpg", madonna), ("image.jpg", ben), ("image.jpg", madonna)])
    (alone_ben, _), = judged([("ben.jpg", ben)])  # the same photo under a name never used
    assert d_ben == alone_ben and d_again == d_madonna
    assert d_madonna < 1.0 < d_ben  # her own badge is the nearer one
    assert np.array_equal(photo_ben, widgets.read_upload(ben))  # the photo shown is the new one
    assert not np.array_equal(photo_madonna, photo_ben)


# --------------------------------------------------- the door with the student's verify
def _verify_right(image_path, identity, database, model):
    import numpy as np

    from facelab.encoding import img_to_encoding

    dist = np.linalg.norm(img_to_encoding(image_path, model) - database[identity])
    print("It's " + identity + (", welcome in!" if dist < 0.7 else ""))
    return dist, bool(dist < 0.7)


def _verify_released(image_path, identity, database, model):
    """The released placeholders, as run: every statement became None."""
    encoding = None  # noqa: F841
    dist = None
    if None:
        None
        door_open = True
    else:
        None
        door_open = None
    return dist, door_open


def _verify_no_else(image_path, identity, database, model):
    dist = 1.0
    if dist < 0.7:
        door_open = True
    return dist, door_open  # noqa: F821 - UnboundLocalError when the door stays shut


@pytest.mark.slow
def test_verify_door_runs_the_students_verify_and_the_slider(office_db, model):
    box = widgets.verify_door_controls(_verify_right, office_db, model,
                                       claimed="jerry_seinfeld")
    (pick, who), slider = box.children[0].children, box.children[1]
    pick.value = next(p for p in pick.options if p[0] == "jerry_seinfeld_2.png")[1]
    lines = _lines(box)
    assert lines[0] == "It's jerry_seinfeld, welcome in!"  # what their function printed
    assert re.fullmatch(r"your verify: jerry_seinfeld_2\.png claiming jerry_seinfeld: "
                        r"distance 0\.67\d, door_open True", lines[1]), lines
    assert lines[2].endswith("< threshold 0.70 -> door opens")
    slider.value = 0.6  # the student's distance, judged at the slider's threshold
    assert _lines(box)[2].endswith(">= threshold 0.60 -> door stays shut")
    assert "door_open True" in _lines(box)[1]  # their verify keeps its own 0.7


@pytest.mark.slow
@pytest.mark.parametrize("verify, says", [
    (_verify_released, "your verify returned (None, None): finish the exercise above"),
    (_verify_no_else, "your verify raised UnboundLocalError (cannot access local variable "
                      "'door_open'"),
])
def test_verify_door_says_what_to_finish_in_one_sentence(office_db, model, verify, says,
                                                         monkeypatch, capsys):
    box = widgets.verify_door_controls(verify, office_db, model)
    assert len(_lines(box)) == 1 and _lines(box)[0].startswith(says), _lines(box)
    shown = _shown(monkeypatch)
    widgets.verify_door(verify, office_db, model, interactive=True)
    assert shown[0][1].startswith(says)  # the text fallback says it too
    widgets.verify_door(verify, office_db, model, interactive=False)
    assert capsys.readouterr().out.startswith(says)
