"""Where the workbook's files live, and what their manifests say: named and parsed here only.

Two places, kept apart:

* The **bundle** (:func:`bundle_dir`): what ships with the code. The committed
  ``weights/MANIFEST.json`` and ``images/MANIFEST.json`` (read by
  :func:`weights_manifest` and :func:`images_manifest`) and the solution
  notebooks (:func:`notebooks_dir`). In a development install it is the
  checkout; installed from the wheel it is ``facelab/_data`` inside the package
  (the build maps the top-level folders there, see pyproject.toml).
* The **home** (:func:`home`): the fetched data, ``weights/`` and ``images/``.
  ``$FACELAB_HOME`` if set, else the checkout for a development install, else
  a per-user data folder (:func:`user_data_dir`). Only ``facelab fetch``
  writes there; everything else only reads, so one read-only home can serve
  every user of a hub. Caches go to :func:`cache_dir`, never the home.

Under ``images/`` of the home:

    originals/{train,val}/<person>/<photo>.jpg   the photos as shipped
    faces/{train,val}/<person>/<photo>.png       160x160 face crops
    database/<person>.png                        one badge photo per employee
    camera/<person>_<n>.png                      front-door pictures, n = 1, 2, ...
    crops.json                                   the detector's boxes

``facelab.assets`` fetches the weights and originals, ``facelab.office`` builds
and checks the rest; ``facelab.database`` reads it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path, PurePath

from .errors import AssetError

WEIGHTS_FILE = "facenet_keras.h5"


# --------------------------------------------------------------------- paths
_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent
HOME_VARIABLE = "FACELAB_HOME"


def is_checkout() -> bool:
    """True for a development install: the package sits in the repository it came from.

    Installed from the wheel, the folder above the package is ``site-packages``,
    which holds no ``pyproject.toml`` beside ``weights/MANIFEST.json``.
    """
    return ((_CHECKOUT / "pyproject.toml").is_file()
            and (_CHECKOUT / "weights" / "MANIFEST.json").is_file()
            and (_CHECKOUT / "notebooks").is_dir())


def bundle_dir() -> Path:
    """The folder holding ``weights/MANIFEST.json``, ``images/MANIFEST.json`` and ``notebooks/``.

    The checkout in a development install, ``facelab/_data`` in an installed wheel.
    """
    return _CHECKOUT if is_checkout() else _PACKAGE / "_data"


def notebooks_dir() -> Path:
    """The solution notebooks (``facelab release`` makes the students' copies from them)."""
    return bundle_dir() / "notebooks"


def user_data_dir(platform: str | None = None, environ: dict | None = None) -> Path:
    """The per-user data folder by the platform's convention, ``.../facelab``.

    Linux and other Unix: ``$XDG_DATA_HOME/facelab``, else ``~/.local/share/facelab``;
    macOS: ``~/Library/Application Support/facelab``; Windows:
    ``%LOCALAPPDATA%\\facelab``. ``platform`` and ``environ`` default to this machine's.
    """
    platform = platform or sys.platform
    env = os.environ if environ is None else environ
    if platform.startswith("win"):
        base = env.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "facelab"
    if platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "facelab"
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "facelab"


def home() -> Path:
    """The folder holding the fetched ``weights/`` and ``images/``.

    ``$FACELAB_HOME`` if set, else the checkout for a development install,
    else :func:`user_data_dir`. Nothing is created here: only ``facelab fetch``
    writes into the home.
    """
    env = os.environ.get(HOME_VARIABLE)
    if env:
        return Path(env).expanduser().resolve()
    return _CHECKOUT if is_checkout() else user_data_dir()


def use_home(path: str | os.PathLike) -> Path:
    """Make ``path`` the home of this process and the processes it starts (``$FACELAB_HOME``)."""
    resolved = Path(path).expanduser().resolve()
    os.environ[HOME_VARIABLE] = str(resolved)
    return resolved


def weights_dir() -> Path:
    return home() / "weights"


def images_dir() -> Path:
    return home() / "images"


def weights_path() -> Path:
    """Where ``facenet_keras.h5`` lives once fetched."""
    return weights_dir() / WEIGHTS_FILE


def cache_dir() -> Path:
    """Where the downloaded source distribution is kept between fetches."""
    env = os.environ.get("FACELAB_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "facelab"


# ------------------------------------------------------------------ manifests
def _read_manifest(kind: str, keys: tuple[str, ...]) -> dict:
    path = bundle_dir() / kind / "MANIFEST.json"
    restore = (f"it is part of the repository: restore it with `git checkout -- {path}`"
               if is_checkout() else
               "it is part of the facelab package: reinstall it with "
               "`pip install --force-reinstall --no-deps facelab`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AssetError(f"manifest missing: {path} ({restore})") from None
    except (ValueError, OSError) as exc:
        raise AssetError(f"{path} is not a readable JSON manifest ({type(exc).__name__}: "
                         f"{exc}); {restore}") from None
    missing = [k for k in keys if not isinstance(data, dict) or not isinstance(data.get(k), dict)]
    if missing:
        raise AssetError(f"{path} lacks the section(s) {', '.join(missing)}: expected a JSON "
                         f"object with {', '.join(keys)}; {restore}")
    return data


def weights_manifest() -> dict:
    """``weights/MANIFEST.json`` of the bundle: the source archive and the weights file's sha256."""
    return _read_manifest("weights", ("source", "files"))


def images_manifest() -> dict:
    """``images/MANIFEST.json`` of the bundle: the original photos' sha256 and each person's badge photo."""
    return _read_manifest("images", ("source", "database", "originals"))



# -------------------------------------------------------------- the office
ORIGINALS, FACES, DATABASE, CAMERA = "originals", "faces", "database", "camera"
CROPS = "crops.json"

_CAMERA_NAME = re.compile(r"^(?P<person>.+)_(?P<n>[1-9]\d*)\.png$")


def badge_name(person: str) -> str:
    """``<person>.png``: the file name of a badge photo in ``database/``."""
    return f"{person}.png"


def camera_name(person: str, n: int) -> str:
    """``<person>_<n>.png``: the file name of ``person``'s n-th camera picture (n >= 1)."""
    return f"{person}_{n}.png"


def parse_camera_name(name: str) -> tuple[str, int]:
    """``"madonna_3.png"`` -> ``("madonna", 3)``; inverse of :func:`camera_name`.

    A name of another form raises AssetError saying which form was expected.
    """
    match = _CAMERA_NAME.match(PurePath(name).name)
    if match is None:
        raise AssetError(f"expected a camera picture named <person>_<n>.png, got {name!r}")
    return match["person"], int(match["n"])


def face_name(original: str) -> str:
    """The face crop's path, relative to ``faces/``, of an original photo's relative path."""
    return str(PurePath(original).with_suffix(".png"))


def person_of(picture: str | Path) -> str:
    """The person a picture of the office shows, from its file or folder name.

    ``camera/<person>_<n>.png`` and ``database/<person>.png`` name the person
    in the file name; face crops and originals in their folder's name.
    """
    path = Path(picture)
    if path.parent.name == CAMERA:
        return parse_camera_name(path.name)[0]
    if path.parent.name == DATABASE:
        return path.stem
    return path.parent.name


def derived_files(manifest: dict) -> dict[str, str]:
    """Every picture the office build makes -> the original photo it comes from.

    Keys are paths relative to ``images/`` (``faces/...``, ``database/<person>.png``,
    ``camera/<person>_<n>.png``), values paths relative to ``originals/``. The badge
    photo of each person is the manifest's ``database`` photo; their camera
    pictures are their ``val/`` photos in sorted order, numbered from 1.
    """
    originals = sorted(manifest["originals"])
    plan = {f"{FACES}/{face_name(rel)}": rel for rel in originals}
    for person, rel in sorted(manifest["database"].items()):
        plan[f"{DATABASE}/{badge_name(person)}"] = rel
        val = [r for r in originals if r.startswith(f"val/{person}/")]
        for n, rel_val in enumerate(val, start=1):
            plan[f"{CAMERA}/{camera_name(person, n)}"] = rel_val
    return plan
