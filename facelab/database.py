"""Employee databases: name -> encoding(s), and the office's pictures.

A *database* maps each name to one (1, 128) encoding, as in the lesson. A
*gallery* maps each name to an (n, 128) array: several pictures per person,
used in the going-further notebook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from . import assets, layout, office
from .errors import ArgumentError, EmptyDatabaseError, ShapeError, UnknownIdentityError
from .images import ImageLike
from .layout import person_of  # noqa: F401  (the notebooks import it from here)


def build_database(pictures: Mapping[str, ImageLike], model, batch_size: int = 32) -> dict:
    """Encode one picture per person: ``{name: (1, 128) float32 array}``.

    ``pictures`` maps names to paths or arrays. All pictures are encoded in
    batches. An empty mapping gives an empty dict.
    """
    from .encoding import encode_images

    names = list(pictures)
    codes = encode_images([pictures[n] for n in names], model, batch_size=batch_size)
    return {name: codes[i:i + 1] for i, name in enumerate(names)}


def build_gallery(pictures: Mapping[str, Sequence[ImageLike]], model, batch_size: int = 32) -> dict:
    """Encode several pictures per person: ``{name: (n, 128) float32 array}``.

    A person with no pictures raises ShapeError (a gallery row cannot be empty).
    """
    from .encoding import encode_images

    flat, owners = [], []
    for name, items in pictures.items():
        items = list(items)
        if not items:
            raise ShapeError(f"{name!r} has no pictures; give at least one per person")
        flat += items
        owners += [name] * len(items)
    codes = encode_images(flat, model, batch_size=batch_size)
    owners_arr = np.array(owners, dtype=object)
    return {name: codes[owners_arr == name] for name in pictures}


def distances_to(encoding, gallery: Mapping[str, np.ndarray]) -> dict:
    """L2 distance from one encoding to each person: the minimum over their pictures.

    ``encoding`` has shape (1, 128) or (128,); returns ``{name: float}``.
    An empty gallery raises EmptyDatabaseError.
    """
    require_people(gallery)
    row = np.asarray(encoding, dtype=np.float32).reshape(-1)
    out = {}
    for name, codes in gallery.items():
        codes = np.asarray(codes, dtype=np.float32).reshape(-1, row.shape[0])
        out[name] = float(np.min(np.linalg.norm(codes - row, axis=1)))
    return out


def require_people(database: Mapping) -> list[str]:
    """The names in ``database``, in order; EmptyDatabaseError when there are none."""
    if len(database) == 0:
        raise EmptyDatabaseError("expected a database with at least one person, got an empty "
                                 "one: enrol someone first")
    return list(database)


def lookup(database: Mapping, name: str):
    """``database[name]`` or UnknownIdentityError listing the known names."""
    if name not in database:
        raise UnknownIdentityError(name, database.keys())
    return database[name]


# ----------------------------------------------------------------- the office
def employees() -> list[str]:
    """The office's employees (the people of the photo set), sorted."""
    return sorted(assets.images_manifest()["database"])


def employee_pictures() -> dict[str, Path]:
    """``{name: images/database/<name>.png}``: one badge photo per employee."""
    root = office.require() / layout.DATABASE
    return {name: root / layout.badge_name(name) for name in employees()}


def camera_pictures(person: str | None = None) -> list[Path]:
    """The front-door camera pictures ``images/camera/<person>_<n>.png``, sorted.

    With ``person``, only theirs (UnknownIdentityError for a stranger's name).
    """
    root = office.require() / layout.CAMERA
    if person is not None and person not in employees():
        raise UnknownIdentityError(person, employees())
    found = [(layout.parse_camera_name(p.name), p) for p in root.glob("*.png")]
    return [p for (who, _n), p in sorted(found) if person is None or who == person]


def face_pictures(split: str, person: str | None = None, cropped: bool = True) -> list[Path]:
    """Photos of the ``train`` or ``val`` split: face crops (default) or originals."""
    if split not in ("train", "val"):
        raise ArgumentError(f"expected the split 'train' or 'val', got {split!r}")
    root = office.require() / (layout.FACES if cropped else layout.ORIGINALS) / split
    people = [person] if person else employees()
    for name in people:
        if name not in employees():
            raise UnknownIdentityError(name, employees())
    return sorted(p for name in people for p in (root / name).glob("*")
                  if p.is_file() and not p.name.startswith("."))


def office_database(model) -> dict:
    """The employee database of the office: one encoding per employee."""
    return build_database(employee_pictures(), model)
