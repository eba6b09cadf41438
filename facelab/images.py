"""Loading pictures and cutting out faces.

All pictures become (H, W, 3) uint8 RGB arrays: grayscale and PGM are
repeated to three channels, RGBA/palette pictures lose their alpha channel
(as Keras' ``load_img`` does), and the EXIF orientation of phone photos is
applied. Errors are :class:`~facelab.errors.ImageError` with the path.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import NamedTuple, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError, NoFaceError, ShapeError
from .expected import IMAGE_SIZE
from .preprocessing import prepare, resize

ImageLike = Union[str, os.PathLike, np.ndarray]

#: fraction of the detected box's longer side added on each side of a face crop
CROP_MARGIN = 0.1


def load_image(image: ImageLike) -> np.ndarray:
    """Read a picture as an (H, W, 3) uint8 RGB array.

    ``image`` is a path or an array. Arrays of shape (H, W) or (H, W, 1) are
    repeated to 3 channels; (H, W, 4) loses its alpha; other shapes raise
    ShapeError. Float arrays must hold pixels in [0, 255]. A missing, empty or
    undecodable file raises ImageError naming the file.
    """
    if isinstance(image, np.ndarray):
        return _as_rgb_array(image)
    if not isinstance(image, (str, os.PathLike)):
        raise ImageError(f"expected a picture path or a numpy array, got {type(image).__name__}")
    path = Path(image)
    if not path.exists():
        raise ImageError(f"picture not found: {path}")
    if path.is_dir():
        raise ImageError(f"expected a picture file, got a folder: {path}")
    if path.stat().st_size == 0:
        raise ImageError(f"picture file is empty (0 bytes): {path}")
    try:
        with Image.open(path) as pic:
            pic = ImageOps.exif_transpose(pic)
            if pic.mode in ("P", "PA", "LA", "RGBA", "I", "I;16", "F"):
                pic = pic.convert("RGBA") if pic.mode in ("P", "PA", "LA") else pic
                pic = _to_8bit(pic)
            return np.asarray(pic.convert("RGB"), dtype=np.uint8).copy()
    except UnidentifiedImageError:
        raise ImageError(f"not a picture Pillow can read: {path}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"could not decode picture {path}: {exc}") from None


def _to_8bit(pic: Image.Image) -> Image.Image:
    if pic.mode in ("I", "I;16", "F"):
        arr = np.asarray(pic, dtype=np.float64)
        top = arr.max() if arr.size and arr.max() > 255 else 255.0
        return Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8))
    return pic


def _as_rgb_array(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    elif not (arr.ndim == 3 and arr.shape[2] == 3):
        raise ShapeError(f"expected a picture of shape (H, W), (H, W, 3) or (H, W, 4), "
                         f"got an array of shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ShapeError(f"expected a picture with pixels, got an array of shape {arr.shape}")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.number):
            raise ShapeError(f"expected numeric pixels, got dtype {arr.dtype}")
        if not np.all(np.isfinite(arr)):
            raise ShapeError("picture array holds NaN or infinite values")
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def resize_nearest(pixels: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Resize an (H, W, 3) uint8 array to (size, size, 3) with nearest-neighbour.

    This is what the original workbook's ``load_img(..., target_size=(160, 160))``
    did; keeping it is what lets the expected outputs match.
    """
    return resize(pixels, size, "nearest")


def load_pixels(image: ImageLike) -> np.ndarray:
    """A picture as the naive method sees it: (160, 160, 3) float64 in [0, 1].

    Loaded as RGB and resized with nearest-neighbour, like the model's input.
    """
    return resize_nearest(load_image(image)).astype(np.float64) / 255.0


def to_model_input(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (160, 160, 3) float32 in [0, 1]: the assignment's preprocessing."""
    return prepare(_as_rgb_array(pixels), "assignment")


class Face(NamedTuple):
    """A face found by the detector: box in pixels of the original picture."""

    x: int
    y: int
    width: int
    height: int
    confidence: float

    @property
    def area(self) -> int:
        return self.width * self.height


@functools.lru_cache(maxsize=1)
def _detector():
    from . import _quiet  # noqa: F401  (silence TensorFlow before mtcnn imports it)
    from mtcnn import MTCNN

    return MTCNN()


#: detections below this confidence are not counted as faces (first pass)
MIN_FACE_CONFIDENCE = 0.9
#: a second, more permissive pass for faces the first misses (sunglasses, a
#: microphone in front of the mouth): MTCNN stage thresholds and a floor
RELAXED_STAGE_THRESHOLDS = {"threshold_pnet": 0.5, "threshold_rnet": 0.5, "threshold_onet": 0.5}
RELAXED_MIN_CONFIDENCE = 0.8


def _run_detector(pixels: np.ndarray, floor: float, **kwargs) -> list[Face]:
    faces = []
    for item in _detector().detect_faces(pixels, **kwargs) or []:
        x, y, w, h = (int(v) for v in item["box"])
        conf = float(item["confidence"])
        if w > 0 and h > 0 and conf >= floor:
            faces.append(Face(max(x, 0), max(y, 0), w, h, conf))
    faces.sort(key=lambda f: (-f.area, -f.confidence, f.x, f.y))
    return faces


def detect_faces(image: ImageLike) -> list[Face]:
    """Find faces with the MTCNN detector; largest first; empty list if none.

    A strict pass runs first; only if it finds nothing, a relaxed pass (lower
    stage thresholds, confidence floor 0.8) looks again. Boxes are in pixels
    of the picture as loaded (EXIF rotation applied).
    """
    pixels = load_image(image)
    return (_run_detector(pixels, MIN_FACE_CONFIDENCE)
            or _run_detector(pixels, RELAXED_MIN_CONFIDENCE, **RELAXED_STAGE_THRESHOLDS))


def crop_box(face: Face, width: int, height: int, margin: float = CROP_MARGIN):
    """Square box around ``face`` grown by ``margin`` per side, clipped to the picture.

    Returns (left, top, right, bottom) in pixels.
    """
    side = max(face.width, face.height) * (1.0 + 2.0 * margin)
    cx, cy = face.x + face.width / 2.0, face.y + face.height / 2.0
    left = int(round(max(0.0, cx - side / 2.0)))
    top = int(round(max(0.0, cy - side / 2.0)))
    right = int(round(min(float(width), cx + side / 2.0)))
    bottom = int(round(min(float(height), cy + side / 2.0)))
    return left, top, right, bottom


def cut_box(pixels: np.ndarray, box, size: int = IMAGE_SIZE) -> np.ndarray:
    """Cut ``box`` = (left, top, right, bottom) out of ``pixels``, resized to (size, size, 3)."""
    left, top, right, bottom = box
    crop = Image.fromarray(pixels[top:bottom, left:right])
    return np.asarray(crop.resize((size, size), Image.BILINEAR))


def cut_face(pixels: np.ndarray, face: Face, size: int = IMAGE_SIZE,
             margin: float = CROP_MARGIN) -> np.ndarray:
    """Cut ``face`` (a detection in ``pixels``) with a margin, resized to (size, size, 3)."""
    return cut_box(pixels, crop_box(face, pixels.shape[1], pixels.shape[0], margin), size)


def crop_face(image: ImageLike, size: int = IMAGE_SIZE, margin: float = CROP_MARGIN) -> np.ndarray:
    """Cut out the largest face with a margin and resize it to (size, size, 3) uint8.

    Raises NoFaceError (naming the picture when it is a path) if the detector
    finds no face.
    """
    pixels = load_image(image)
    faces = detect_faces(pixels)
    if not faces:
        where = f" in {image}" if not isinstance(image, np.ndarray) else ""
        raise NoFaceError(f"no face found{where}: the detector needs a visible, "
                          "roughly frontal human face")
    return cut_face(pixels, faces[0], size, margin)


def save_image(pixels: np.ndarray, path: str | os.PathLike) -> None:
    """Write an (H, W, 3) uint8 array atomically (see :mod:`facelab.atomic`).

    The format follows the suffix (.png, .jpg/.jpeg; PNG otherwise).
    """
    from .atomic import atomic_write

    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(Path(path).suffix.lower(), "PNG")
    picture = Image.fromarray(_as_rgb_array(pixels))
    with atomic_write(path) as handle:
        picture.save(handle, format=fmt)
