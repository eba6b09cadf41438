"""An interactive front door (ipywidgets), with a printed fallback.

:func:`front_door` lets you pick a camera picture and a claimed name, move
the threshold, and see the distance and the decision. :func:`upload_door`
lets you upload your own photo. Both need a Jupyter front end that renders
widgets; without one (a terminal, ``nbconvert``, ``interactive=False``) they
print the decision for their starting values instead, so the output is
plain, deterministic text.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .decision import accepts, comparison, door_words
from .expected import THRESHOLD


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
    return (f"{picture_name} claims to be {claimed}: distance {dist:.3f} "
            f"{comparison(dist, threshold)} threshold {threshold:.2f} -> "
            f"{door_words(accepts(dist, threshold))}")


def front_door(database: Mapping, model, pictures: Sequence | None = None,
               claimed: str | None = None, threshold: float = THRESHOLD,
               interactive: bool | None = None):
    """Pick a camera picture and a claimed name; see the distance and the decision.

    ``pictures`` defaults to all office camera pictures; the first one and
    ``claimed`` (default: the first name in ``database``) are the starting
    values. ``interactive=None`` uses widgets when available; ``False``
    always prints (what the committed notebooks do). Returns the widget box,
    or the printed line.
    """
    from .database import camera_pictures
    from .model import encode_images

    from .database import require_people

    names = require_people(database)
    pictures = [Path(p) for p in (pictures if pictures is not None else camera_pictures())]
    claimed = claimed if claimed is not None else names[0]
    codes = dict(zip(pictures, encode_images(pictures, model)))
    if interactive is None:
        interactive = widgets_available()
    if not interactive:
        line = describe(pictures[0].name, claimed, *_dist_only(codes[pictures[0]], database,
                                                                 claimed, threshold))
        print(line)
        return line

    import ipywidgets as W
    from IPython.display import display

    pick = W.Dropdown(options=[(p.name, p) for p in pictures], value=pictures[0],
                      description="camera")
    who = W.Dropdown(options=names, value=claimed, description="claims")
    slider = W.FloatSlider(value=threshold, min=0.2, max=1.6, step=0.01, description="threshold",
                           continuous_update=False)
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

    return _assemble(W, display, (pick, who), slider, out, redraw)


def _assemble(W, display, row, slider, out, redraw):
    """Lay out the controls, redraw on every change, draw once and display."""
    for control in (*row, slider):
        control.observe(redraw, names="value")
    box = W.VBox([W.HBox(list(row)), slider, out])
    redraw()
    display(box)
    return box


def _dist_only(encoding, database, claimed, threshold):
    dist, _ = decide(encoding, database, claimed, threshold)
    return dist, threshold


def encode_upload(data: bytes, model, crop: bool = True) -> np.ndarray:
    """Encode an uploaded photo (file bytes): optionally cut the face first."""
    from PIL import Image

    from .errors import ImageError
    from .images import crop_face, load_image
    from .model import img_to_encoding

    try:
        with Image.open(io.BytesIO(data)) as pic:
            pixels = load_image(np.asarray(pic.convert("RGB")))
    except (OSError, ValueError) as exc:
        raise ImageError(f"the uploaded file is not a picture Pillow can read ({exc})") from None
    if crop:
        pixels = crop_face(pixels)
    return img_to_encoding(pixels, model)


def upload_door(database: Mapping, model, claimed: str | None = None,
                threshold: float = THRESHOLD, interactive: bool | None = None):
    """Upload your own photo and a claimed name; see the distance and the decision.

    The face is cut out with the detector first (like the face crops of the
    database). Without widgets, prints how to use it and returns None.
    """
    from .database import require_people

    names = require_people(database)
    claimed = claimed if claimed is not None else names[0]
    if interactive is None:
        interactive = widgets_available()
    if not interactive:
        print("Upload needs a Jupyter front end with widgets: run "
              "upload_door(database, model) in JupyterLab to try your own photo.")
        return None

    import ipywidgets as W
    from IPython.display import display

    from .errors import FacelabError

    upload = W.FileUpload(accept="image/*", multiple=False, description="your photo")
    who = W.Dropdown(options=names, value=claimed, description="claims")
    slider = W.FloatSlider(value=threshold, min=0.2, max=1.6, step=0.01, description="threshold",
                           continuous_update=False)
    out = W.Output()
    state = {}

    def redraw(_=None):
        out.clear_output(wait=True)
        with out:
            if not upload.value:
                print("Choose a photo with a visible face.")
                return
            item = upload.value[0]
            try:
                if state.get("name") != item["name"]:
                    state.update(name=item["name"], code=encode_upload(bytes(item["content"]), model))
                dist, _ = decide(state["code"], database, who.value, slider.value)
                print(describe(item["name"], who.value, dist, slider.value))
            except FacelabError as exc:
                print(f"Could not use this photo: {exc}")

    return _assemble(W, display, (upload, who), slider, out, redraw)
