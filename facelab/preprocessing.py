"""How a picture becomes the network's input: one name per preprocessing.

A preprocessing maps an (H, W, 3) uint8 RGB picture to the (160, 160, 3)
float32 array the FaceNet model takes. It is two choices:

* the resize to 160x160: nearest-neighbour (what the original assignment's
  ``load_img(..., target_size=(160, 160))`` did) or bilinear;
* the pixel scaling: ``pixels / 255`` (the assignment) or per-picture
  standardisation, ``(pixels - mean) / std`` over all the picture's values
  (the std is floored at 1 / sqrt(number of values), so a flat picture does
  not divide by zero): what the checkpoint was trained on ("prewhitening").

The four names below are the four combinations. ``assignment`` is the
default everywhere: the lesson's expected outputs were computed with it.
``facenet`` is the checkpoint's own. Cropping (a centred square, or the
detector's face crop) is a separate choice, made before these.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .errors import FacelabError, ShapeError
from .expected import IMAGE_SIZE

#: name -> (resize filter, standardise): the one table of preprocessings
PREPROCESSINGS = {
    "assignment": ("nearest", False),    # the original workbook's: the default
    "bilinear": ("bilinear", False),
    "standardized": ("nearest", True),
    "facenet": ("bilinear", True),       # the checkpoint's own
}
DEFAULT_PREPROCESSING = "assignment"

_FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR}


def check_preprocessing(name: str) -> str:
    """Return ``name`` if it names a preprocessing, else raise FacelabError listing them."""
    if not isinstance(name, str) or name not in PREPROCESSINGS:
        raise FacelabError(f"expected a preprocessing among {', '.join(PREPROCESSINGS)}; "
                           f"got {name!r}")
    return name


def resize(pixels: np.ndarray, size: int = IMAGE_SIZE, method: str = "nearest") -> np.ndarray:
    """Resize an (H, W, 3) uint8 array to (size, size, 3) uint8 (``nearest`` or ``bilinear``).

    A picture already of that size is returned unchanged.
    """
    if pixels.shape[:2] == (size, size):
        return pixels
    return np.asarray(Image.fromarray(pixels).resize((size, size), _FILTERS[method]))


def standardize(pixels: np.ndarray) -> np.ndarray:
    """Per-picture standardisation: float32 with mean 0 and standard deviation 1.

    The std is floored at 1/sqrt(pixels.size), so a uniform picture gives
    zeros. An empty array raises ShapeError.
    """
    x = np.asarray(pixels, dtype=np.float64)
    if x.size == 0:
        raise ShapeError("expected a picture with pixels, got an empty array")
    std = max(float(x.std()), 1.0 / np.sqrt(x.size))
    return ((x - x.mean()) / std).astype(np.float32)


def prepare(pixels: np.ndarray, preprocessing: str = DEFAULT_PREPROCESSING) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (160, 160, 3) float32 model input, by ``preprocessing``.

    ``assignment``: nearest-neighbour, / 255 (values in [0, 1]);
    ``facenet``: bilinear, standardised (mean 0, std 1). Unknown names raise
    FacelabError.
    """
    method, standardise = PREPROCESSINGS[check_preprocessing(preprocessing)]
    small = resize(pixels, IMAGE_SIZE, method)
    return standardize(small) if standardise else small.astype(np.float32) / np.float32(255.0)


def center_crop(pixels: np.ndarray, side: int) -> np.ndarray:
    """The centred ``side`` x ``side`` square of an (H, W, ...) array.

    A side larger than the picture is clipped to its smaller dimension;
    ``side`` < 1 raises ShapeError.
    """
    if side < 1:
        raise ShapeError(f"expected a crop side of at least 1 pixel, got {side}")
    h, w = pixels.shape[:2]
    side = min(int(side), h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return pixels[top:top + side, left:left + side]
