"""facelab: a workbook on face verification (1:1) and recognition (1:K).

``import facelab`` is cheap; TensorFlow is imported (quietly) the first time
something that needs it is used. The flat public API:

    load_image, load_pixels, crop_face, detect_faces       pictures
    load_pretrained, img_to_encoding, encode_images        the model
    pixel_distance, triplet_loss, verify, who_is_it        reference solutions
    build_database, build_gallery, office_database, ...    databases
    fetch                                                  assets
    tf                                                     TensorFlow, imported quietly
    THRESHOLD, ALPHA                                       the lesson's constants
"""

from __future__ import annotations

import importlib

from .errors import (AssetError, ChecksumError, EmptyDatabaseError, FacelabError, FetchError,
                     ImageError, ModelError, NoFaceError, ShapeError, UnknownIdentityError)
from .expected import ALPHA, THRESHOLD

__version__ = "0.1.0"

_LAZY = {
    "load_image": "images", "crop_face": "images", "detect_faces": "images",
    "load_pretrained": "model", "img_to_encoding": "encoding", "encode_images": "encoding",
    "build_facenet": "model",
    "load_pixels": "images", "pixel_distance": "exercises", "triplet_loss": "exercises",
    "verify": "exercises", "who_is_it": "exercises",
    "build_database": "database", "build_gallery": "database", "office_database": "database",
    "employees": "database", "employee_pictures": "database", "camera_pictures": "database",
    "face_pictures": "database", "person_of": "layout", "distances_to": "database",
    "fetch": "assets", "tf": "_quiet",
}

__all__ = sorted([*_LAZY, "ALPHA", "THRESHOLD", "FacelabError", "AssetError", "ChecksumError",
                  "EmptyDatabaseError", "FetchError", "ImageError", "ModelError", "NoFaceError",
                  "ShapeError", "UnknownIdentityError"])


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'facelab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
