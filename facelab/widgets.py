"""Interactive front doors (ipywidgets) that fall back to plain text by themselves.

:func:`front_door` lets you pick a camera picture and a claimed name, move
the threshold, and see the distance and the decision. :func:`verify_door`
is the same door run by *your* ``verify`` (notebook 4). :func:`upload_door`
lets you upload your own photo: it shows the photo and the face crop the
door compared; results are kept by the picture's content (its sha256),
never by its file name.

Each displays one output holding two representations: the live widget
(``application/vnd.jupyter.widget-view+json``) and a text fallback
(``text/plain``). The front end decides at run time: JupyterLab, Notebook,
VS Code or Colab with widgets render the widget; a terminal, ``nbconvert``,
nbval or a static viewer show the text, which is deterministic (nbval
compares it and skips the widget's random model id). Nothing in the
notebook needs editing to get the widget. Outside a Jupyter kernel (plain
Python) they print the text. What a widget draws goes into its Output
area directly (``Output.outputs``), never through the cell's own output.

:func:`front_door_controls`, :func:`verify_door_controls` and
:func:`upload_door_controls` build the widgets without displaying them (for
tests, or to lay them out yourself); what they show is in ``box.children[-1].outputs``.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .decision import accepts, comparison, door_words
from .expected import THRESHOLD

#: the threshold slider: its range, step (two decimals) and width, wide enough
#: that one step is a few pixels (about 3.5 px of track per 0.01)
SLIDER_MIN, SLIDER_MAX, SLIDER_STEP, SLIDER_WIDTH = 0.0, 1.6, 0.01, "720px"
#: the mime type of a live widget view
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: how many uploaded pictures the upload door keeps encoded (by content)
UPLOADS_KEPT = 16


def widgets_available() -> bool:
    """True inside a Jupyter kernel with ipywidgets installed (whether or not a front end
    renders widgets: :func:`display_widget` leaves that to the front end)."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def display_widget(box, text: str) -> None:
    """Display ``box`` as one output: its live view, and ``text`` for front ends without widgets."""
    from IPython.display import display

    view = box._repr_mimebundle_().get(WIDGET_VIEW)
    data = {"text/plain": text}
    if view is not None:
        data[WIDGET_VIEW] = view
    display(data, raw=True)


def render(out, draw: Callable[[], None]) -> None:
    """Replace what the Output widget ``out`` shows with what ``draw()`` prints and displays.

    The prints and figures are captured in the kernel and put in
    ``out.outputs`` directly, so they never reach the cell's own output
    (nbval and nbconvert see only the text fallback). A FacelabError
    raised by ``draw`` becomes its one-line message.
    """
    from IPython.utils.capture import capture_output

    from .errors import FacelabError

    with capture_output(stdout=True, stderr=False, display=True) as cap:
        try:
            draw()
        except FacelabError as exc:
            print(exc)
    items = []
    if cap.stdout:
        items.append({"output_type": "stream", "name": "stdout", "text": cap.stdout})
    for rich in cap.outputs:
        items.append({"output_type": "display_data", "data": dict(rich.data),
                      "metadata": dict(rich.metadata or {})})
    out.outputs = tuple(items)


def shown_text(box) -> str:
    """Everything a control box's Output area shows as text (prints and figure texts)."""
    parts = []
    for item in box.children[-1].outputs:
        parts.append(item.get("text") or item.get("data", {}).get("text/plain", ""))
    return "".join(p if p.endswith("\n") else p + "\n" for p in parts if p)


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


def _assemble(W, row, slider, out, draw):
    """Lay out the controls, redraw on every change and once now; return the box."""
    def redraw(_=None):
        render(out, draw)

    for control in (*row, slider):
        control.observe(redraw, names="value")
    box = W.VBox([W.HBox(list(row)), slider, out])
    redraw()
    return box


def _show(box, text: str) -> None:
    display_widget(box, text)


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

    def draw():
        dist, _ = decide(codes[pick.value], database, who.value, slider.value)
        print(describe(pick.value.name, who.value, dist, slider.value))
        _door_figure(pick.value, who.value, dist, slider.value)

    return _assemble(W, (pick, who), slider, out, draw)


def _door_figure(picture, claimed: str, dist: float, threshold: float) -> None:
    from .database import employee_pictures
    from .plots import door_decision

    badge = employee_pictures().get(claimed)
    if badge is not None:
        door_decision(picture, badge, claimed, dist, threshold)


def _door_start(database, model, pictures, claimed):
    from .database import camera_pictures, require_people
    from .encoding import encode_images

    names = require_people(database)
    pictures = [Path(p) for p in (pictures if pictures is not None else camera_pictures())]
    claimed = claimed if claimed is not None else names[0]
    return pictures, claimed, dict(zip(pictures, encode_images(pictures, model)))


def printed(box) -> str:
    """What a control box's Output area printed (its figures left out), without the last newline."""
    return "".join(item.get("text", "") for item in box.children[-1].outputs
                   if item.get("output_type") == "stream").rstrip("\n")


def _present(build: Callable, interactive: bool | None, text: str | None = None) -> None:
    """Build the widget once; display it with its text fallback, or print that text alone.

    The fallback is ``text``, or else what the widget printed for its
    starting values (the same words the live widget shows first).
    """
    if interactive is None:
        interactive = widgets_available()
    box = build()
    said = text if text is not None else printed(box)
    if interactive:
        _show(box, said)
    else:
        print(said)


def front_door(database: Mapping, model, pictures: Sequence | None = None,
               claimed: str | None = None, threshold: float = THRESHOLD,
               interactive: bool | None = None) -> None:
    """Pick a camera picture and a claimed name; see the distance and the decision.

    Displays one output (see the module docstring): the widget of
    :func:`front_door_controls` where a front end renders widgets, else one
    line, the decision for the starting values. Returns None.
    ``interactive=False`` prints that line (outside a Jupyter kernel too).
    """
    _present(lambda: front_door_controls(database, model, pictures, claimed, threshold),
             interactive)


# ----------------------------------------------------- the student's verify
def run_verify(verify: Callable, picture, claimed: str, database: Mapping, model):
    """Call a student's ``verify(picture, claimed, database, model)``; ``(dist, door_open)``.

    Raises VerifyError, one sentence, when it raises or does not return a
    number and a bool-like value (an unfinished exercise returns None).
    """
    from .errors import VerifyError

    try:
        result = verify(str(picture), claimed, database, model)
    except Exception as exc:  # noqa: BLE001 - the student's code: one sentence, not a traceback
        message = str(exc).splitlines()[0][:150] if str(exc) else "no message"
        raise VerifyError(f"your verify raised {type(exc).__name__} ({message}): fix the "
                          "exercise above, run its cell, then this one again") from None
    try:
        dist, door_open = result
        dist = float(np.asarray(dist, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise VerifyError(f"your verify returned {_short(result)}, not (dist, door_open): "
                          "finish the exercise above, run its cell, then this one again") from None
    if door_open is None or not np.isfinite(dist):
        raise VerifyError(f"your verify returned {_short(result)}: finish the exercise above, "
                          "run its cell, then this one again")
    return dist, bool(door_open)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def verify_door_controls(verify: Callable, database: Mapping, model,
                         pictures: Sequence | None = None, claimed: str | None = None,
                         threshold: float = THRESHOLD):
    """The door run by a student's ``verify``: ``VBox([HBox([camera, claims]), slider, output])``.

    For the chosen camera picture and claimed name it calls ``verify`` (what
    it prints is shown), then shows its distance and decision, and what the
    door would decide at the slider's threshold with that distance.
    ``pictures`` defaults to all office camera pictures. Needs ipywidgets.
    """
    import ipywidgets as W

    from .database import camera_pictures, require_people

    names = require_people(database)
    pictures = [Path(p) for p in (pictures if pictures is not None else camera_pictures())]
    pick = W.Dropdown(options=[(p.name, p) for p in pictures], value=pictures[0],
                      description="camera")
    who = W.Dropdown(options=names, value=claimed if claimed is not None else names[0],
                     description="claims")
    slider = _slider(W, threshold)
    out = W.Output()

    def draw():
        dist, door_open = run_verify(verify, pick.value, who.value, database, model)
        print(verify_summary(pick.value.name, who.value, dist, door_open, slider.value))
        _door_figure(pick.value, who.value, dist, slider.value)

    return _assemble(W, (pick, who), slider, out, draw)


def verify_summary(picture_name: str, claimed: str, dist: float, door_open: bool,
                   threshold: float) -> str:
    """Two lines: what the student's verify decided, and the door at ``threshold``."""
    return (f"your verify: {picture_name} claiming {claimed}: distance {dist:.3f}, "
            f"door_open {door_open}\n"
            + describe(picture_name, claimed, dist, threshold))


def verify_door(verify: Callable, database: Mapping, model, pictures: Sequence | None = None,
                claimed: str | None = None, threshold: float = THRESHOLD,
                interactive: bool | None = None) -> None:
    """The office door run by your ``verify``, with a threshold slider (notebook 4).

    Displays one output (see the module docstring): the widget of
    :func:`verify_door_controls`, else what it printed for the starting
    values (what your ``verify`` printed, then its decision; or the one
    sentence saying what to finish first). Returns None.
    """
    _present(lambda: verify_door_controls(verify, database, model, pictures, claimed, threshold),
             interactive)


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
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
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


def content_key(data: bytes) -> str:
    """The sha256 of an upload's bytes: what its results are kept under (never its name)."""
    return hashlib.sha256(bytes(data)).hexdigest()


def upload_door_controls(database: Mapping, model, claimed: str | None = None,
                         threshold: float = THRESHOLD):
    """The upload widget, not displayed: ``VBox([HBox([upload, claims]), slider, output])``.

    The output shows the uploaded photo next to the face crop it used and
    the decision; a file that is not a picture, or a photo without a face,
    gets one plain sentence. Each picture is encoded once and kept by the
    sha256 of its bytes (the last :data:`UPLOADS_KEPT`): a new photo under a
    name used before is judged as the new photo. Needs ipywidgets.
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
    found: dict[str, tuple] = {}  # sha256 of the bytes -> (photo, face, encoding)

    def draw():
        if not upload.value:
            print("Choose a photo with a visible face.")
            return
        item = upload.value[0]
        data = bytes(item["content"])
        key = content_key(data)
        if key not in found:
            try:
                result = face_for_upload(data, model, repr(item["name"]))
            except FacelabError as exc:
                print(f"Could not use this file: {exc}")
                return
            while len(found) >= UPLOADS_KEPT:
                found.pop(next(iter(found)))
            found[key] = result
        from .plots import show_pictures

        photo, face, code = found[key]
        dist, _ = decide(code, database, who.value, slider.value)
        print(describe(item["name"], who.value, dist, slider.value))
        opens = accepts(dist, slider.value)
        show_pictures([photo, face], ["your photo", "the face compared"],
                      suptitle=f"distance {dist:.3f} {comparison(dist, slider.value)} "
                               f"{slider.value:.2f}: {door_words(opens)}")

    return _assemble(W, (upload, who), slider, out, draw)


#: what the upload door says where widgets do not render (and before a photo is chosen)
UPLOAD_TEXT = ("Upload door: choose a photo with a visible face and a claimed name to see the "
               "face it compares and the decision (it appears in JupyterLab, Jupyter Notebook, "
               "VS Code or Colab with widgets).")


def upload_door(database: Mapping, model, claimed: str | None = None,
                threshold: float = THRESHOLD, interactive: bool | None = None) -> None:
    """Upload your own photo and a claimed name; see the face crop, distance and decision.

    Displays one output (see the module docstring): the widget of
    :func:`upload_door_controls`, else :data:`UPLOAD_TEXT`. Returns None.
    An empty database raises EmptyDatabaseError.
    """
    _present(lambda: upload_door_controls(database, model, claimed, threshold), interactive,
             UPLOAD_TEXT)
