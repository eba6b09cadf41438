"""An interactive front door (ipywidgets), with a printed fallback.

:func:`front_door` lets you pick a camera picture and a claimed name, move
the threshold, and see the distance and the decision. :func:`upload_door`
lets you upload your own photo: it shows the photo and the face crop the
door compared. Both display their widget once and return None (a call on a
cell's last line shows one copy). Without a Jupyter front end that renders
widgets (a terminal, ``nbconvert``, ``interactive=False``) they print the
decision for their starting values instead: plain, deterministic text.

:func:`front_door_controls` and :func:`upload_door_controls` build the same
widgets without displaying them (for tests, or to lay them out yourself).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .decision import accepts, comparison, door_words
from .expected import THRESHOLD

#: the threshold slider: its range, step (two decimals) and width, wide enough
#: that one step is a few pixels (about 3.5 px of track per 0.01)
SLIDER_MIN, SLIDER_MAX, SLIDER_STEP, SLIDER_WIDTH = 0.0, 1.6, 0.01, "720px"


def widgets_available() -> bool:
    """True inside a Jupyter kernel with ipywidgets installed."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def decide(encoding, database: Mapping, claimed: str, threshold: float = THRESHOLD) -> tuple[float, bool]:
    """Distance from ``encoding`` (1, 128) to ``database[claimed]`` and whether the door opens."""
    from .database import lookup

    ref = np.asarray(lookup(database, claimed), dtype=np.float32).reshape(-1)
    dist = float(np.linalg.norm(np.asarray(encoding, dtype=np.float32).reshape(-1) - ref))
    return dist, accepts(dist, threshold)


def describe(picture_name: str, claimed: str, dist: float, threshold: float) -> str:
    """One line: who claims what, the distance against the threshold, the decision."""
    return (f"{picture_name} claims to be {claimed}: distance {dist:.3f} "
            f"{comparison(dist, threshold)} threshold {threshold:.2f} -> "
            f"{door_words(accepts(dist, threshold))}")


def _slider(W, threshold: float):
    return W.FloatSlider(value=threshold, min=SLIDER_MIN, max=SLIDER_MAX, step=SLIDER_STEP,
                         readout_format=".2f", description="threshold",
                         continuous_update=False, layout=W.Layout(width=SLIDER_WIDTH))


def _assemble(W, row, slider, out, redraw):
    """Lay out the controls, redraw on every change and once now; return the box."""
    for control in (*row, slider):
        control.observe(redraw, names="value")
    box = W.VBox([W.HBox(list(row)), slider, out])
    redraw()
    return box


def _show(box) -> None:
    from IPython.display import display

    display(box)


# ----------------------------------------------------------------- front door
def front_door_controls(database: Mapping, model, pictures: Sequence | None = None,
                        claimed: str | None = None, threshold: float = THRESHOLD):
    """The front-door widget, not displayed: ``VBox([HBox([camera, claims]), slider, output])``.

    ``pictures`` defaults to all office camera pictures (encoded once, in
    batches); the first one and ``claimed`` (default: the first name in
    ``database``) are the starting values. Needs ipywidgets.
    """
    import ipywidgets as W

    pictures, claimed, codes = _door_start(database, model, pictures, claimed)
    pick = W.Dropdown(options=[(p.name, p) for p in pictures], value=pictures[0],
                      description="camera")
    who = W.Dropdown(options=list(database), value=claimed, description="claims")
    slider = _slider(W, threshold)
    out = W.Output()

    def redraw(_=None):
        out.clear_output(wait=True)
        with out:
            from .database import employee_pictures
            from .plots import door_decision

            dist, _ = decide(codes[pick.value], database, who.value, slider.value)
            print(describe(pick.value.name, who.value, dist, slider.value))
            badge = employee_pictures().get(who.value)
            if badge is not None:
                door_decision(pick.value, badge, who.value, dist, slider.value)

    return _assemble(W, (pick, who), slider, out, redraw)


def _door_start(database, model, pictures, claimed):
    from .database import camera_pictures, require_people
    from .encoding import encode_images

    names = require_people(database)
    pictures = [Path(p) for p in (pictures if pictures is not None else camera_pictures())]
    claimed = claimed if claimed is not None else names[0]
    return pictures, claimed, dict(zip(pictures, encode_images(pictures, model)))


def front_door(database: Mapping, model, pictures: Sequence | None = None,
               claimed: str | None = None, threshold: float = THRESHOLD,
               interactive: bool | None = None) -> None:
    """Pick a camera picture and a claimed name; see the distance and the decision.

    Displays the widget once (see :func:`front_door_controls`) and returns
    None. ``interactive=None`` uses widgets when available; ``False``
    prints the decision for the starting values instead (what the committed
    notebooks do).
    """
    if interactive is None:
        interactive = widgets_available()
    if interactive:
        _show(front_door_controls(database, model, pictures, claimed, threshold))
        return
    pictures, claimed, codes = _door_start(database, model, pictures, claimed)
    dist, _ = decide(codes[pictures[0]], database, claimed, threshold)
    print(describe(pictures[0].name, claimed, dist, threshold))


# ------------------------------------------------------------------- upload
def read_upload(data: bytes, name: str = "the file") -> np.ndarray:
    """An uploaded file's bytes as an (H, W, 3) uint8 picture (EXIF rotation applied).

    Raises ImageError, naming the file, when the bytes are not a picture.
    """
    from PIL import Image, ImageOps

    from .errors import ImageError
    from .images import load_image

    try:
        with Image.open(io.BytesIO(data)) as pic:
            return load_image(np.asarray(ImageOps.exif_transpose(pic).convert("RGB")))
    except (OSError, ValueError, SyntaxError):
        raise ImageError(f"{name} is not a picture: expected a photo (JPEG, PNG...), got "
                         f"{len(data)} bytes of something else") from None


def face_for_upload(data: bytes, model, name: str = "the file"):
    """``(photo, face crop, encoding)`` of an uploaded photo: the crop is what is compared.

    Raises ImageError (not a picture) or NoFaceError (no face found).
    """
    from .encoding import img_to_encoding
    from .images import crop_face

    photo = read_upload(data, name)
    face = crop_face(photo)
    return photo, face, img_to_encoding(face, model)


def upload_door_controls(database: Mapping, model, claimed: str | None = None,
                         threshold: float = THRESHOLD):
    """The upload widget, not displayed: ``VBox([HBox([upload, claims]), slider, output])``.

    The output shows the uploaded photo next to the face crop it used and
    the decision; a file that is not a picture, or a photo without a face,
    gets one plain sentence. Needs ipywidgets.
    """
    import ipywidgets as W

    from .database import require_people
    from .errors import FacelabError

    names = require_people(database)
    upload = W.FileUpload(accept="image/*", multiple=False, description="your photo")
    who = W.Dropdown(options=names, value=claimed if claimed is not None else names[0],
                     description="claims")
    slider = _slider(W, threshold)
    out = W.Output()
    state: dict = {}

    def redraw(_=None):
        out.clear_output(wait=True)
        with out:
            if not upload.value:
                print("Choose a photo with a visible face.")
                return
            item = upload.value[0]
            try:
                if state.get("name") != item["name"]:
                    state.clear()
                    state.update(name=item["name"], found=face_for_upload(
                        bytes(item["content"]), model, repr(item["name"])))
            except FacelabError as exc:
                state.clear()
                print(f"Could not use this file: {exc}")
                return
            from .plots import show_pictures

            photo, face, code = state["found"]
            dist, _ = decide(code, database, who.value, slider.value)
            print(describe(item["name"], who.value, dist, slider.value))
            opens = accepts(dist, slider.value)
            show_pictures([photo, face], ["your photo", "the face compared"],
                          suptitle=f"distance {dist:.3f} {comparison(dist, slider.value)} "
                                   f"{slider.value:.2f}: {door_words(opens)}")

    return _assemble(W, (upload, who), slider, out, redraw)


def upload_door(database: Mapping, model, claimed: str | None = None,
                threshold: float = THRESHOLD, interactive: bool | None = None) -> None:
    """Upload your own photo and a claimed name; see the face crop, distance and decision.

    Displays the widget once (see :func:`upload_door_controls`) and returns
    None; without widgets, prints how to use it. An empty database raises
    EmptyDatabaseError.
    """
    from .database import require_people

    require_people(database)
    if interactive is None:
        interactive = widgets_available()
    if not interactive:
        print("Upload needs a Jupyter front end with widgets: run "
              "upload_door(database, model) in JupyterLab to try your own photo.")
        return
    _show(upload_door_controls(database, model, claimed, threshold))
