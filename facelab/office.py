"""The office under ``images/``: built from the original photos, recorded, checked, repaired.

:func:`build` crops every original photo to its face (MTCNN) and lays out
``faces/``, ``database/`` and ``camera/`` (names in :mod:`facelab.layout`) in
a staging folder, moves them into place, and writes last the record
``images/.office.json``: the sha256 and size of every file it made. So the
derived pictures are checked like the downloaded ones: :func:`check`
compares the folders with the record (missing, altered and unexpected
files), :func:`repair` makes again only what is damaged (a face crop is cut
again from its original with the box recorded in ``crops.json``; a badge or
camera picture is copied again from its crop) and says what it did, and
:func:`require`, called by all code that reads the office, refuses a layout
that does not match the record with "run `facelab fetch`".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from . import layout
from .atomic import sha256_file, write_bytes, write_text
from .errors import AssetError, NoFaceError

RECORD = ".office.json"
_OLD_STAMP = ".office-complete"  # the record of earlier versions (trusted without checking)

Progress = Callable[[str], None]


def _quiet_progress(_message: str) -> None:
    pass


class Damage(NamedTuple):
    """One way the office differs from its record: ``path`` (relative to images/) is
    ``"missing"``, ``"altered"`` or ``"unexpected"``; ``path`` "." means no valid record."""

    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.path} is {self.what}" if self.path != "." else self.what


NOT_BUILT = Damage(".", "not built yet")


def _root() -> Path:
    return layout.images_dir()


def _manifest(manifest: dict | None) -> dict:
    return manifest if manifest is not None else layout.images_manifest()


def stamp(manifest: dict) -> str:
    """A hash of everything the office depends on: the manifest and the crop settings."""
    from . import images

    blob = json.dumps({"m": manifest, "margin": images.CROP_MARGIN, "size": images.IMAGE_SIZE,
                       "min_conf": images.MIN_FACE_CONFIDENCE,
                       "relaxed": [images.RELAXED_STAGE_THRESHOLDS, images.RELAXED_MIN_CONFIDENCE]},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _fingerprint(path: Path) -> dict:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


# ---------------------------------------------------------------- building
def build(manifest: dict | None = None, progress: Progress = _quiet_progress) -> None:
    """Crop every original photo to its face, lay out the office, record its files.

    Everything is built in a staging folder and moved into place at the end;
    the record is written last, so an interrupted build leaves no record and
    the next `facelab fetch` builds again. Raises NoFaceError naming the photo
    if the detector finds no face in one of them.
    """
    from . import images

    manifest = _manifest(manifest)
    root = _root()
    originals = root / layout.ORIGINALS
    stage = Path(tempfile.mkdtemp(prefix=".office-", dir=root))
    try:
        boxes = {}
        rels = sorted(manifest["originals"])
        progress(f"cropping {len(rels)} photos to the face with MTCNN...")
        for rel in rels:
            pixels = images.load_image(originals / rel)
            faces = images.detect_faces(pixels)
            if not faces:
                raise NoFaceError(f"no face found in {originals / rel}; every photo of the "
                                  "office needs one (is the manifest right?)")
            face = faces[0]
            box = images.crop_box(face, pixels.shape[1], pixels.shape[0])
            images.save_image(images.cut_box(pixels, box), stage / layout.FACES / layout.face_name(rel))
            boxes[rel] = {"box": [face.x, face.y, face.width, face.height], "crop": list(box),
                          "confidence": round(face.confidence, 6), "faces_found": len(faces)}
        for rel, original in layout.derived_files(manifest).items():
            if not rel.startswith(layout.FACES + "/"):
                _copy(stage / layout.FACES / layout.face_name(original), stage / rel)
        (stage / layout.CROPS).write_text(json.dumps(boxes, indent=1, sort_keys=True) + "\n")
        for name in (RECORD, _OLD_STAMP):
            (root / name).unlink(missing_ok=True)
        for name in (layout.FACES, layout.DATABASE, layout.CAMERA, layout.CROPS):
            target = root / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            os.replace(stage / name, target)
        _write_record(manifest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _copy(src: Path, dest: Path) -> None:
    """Copy a face crop to a badge or camera picture, atomically (a repair never half-writes)."""
    write_bytes(dest, src.read_bytes())


def _write_record(manifest: dict) -> None:
    root = _root()
    files = [*layout.derived_files(manifest), layout.CROPS]
    record = {"stamp": stamp(manifest), "files": {rel: _fingerprint(root / rel) for rel in files}}
    write_text(root / RECORD, json.dumps(record, indent=1, sort_keys=True) + "\n")


def _read_record(manifest: dict) -> dict | None:
    """The record's ``files`` if it exists, is readable and matches this manifest."""
    try:
        record = json.loads((_root() / RECORD).read_text())
        if record["stamp"] == stamp(manifest) and isinstance(record["files"], dict):
            return record["files"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


# ---------------------------------------------------------------- checking
def check(manifest: dict | None = None, thorough: bool = True) -> list[Damage]:
    """How the office on disk differs from its record; an empty list when it matches.

    Every recorded file must exist with its size and (``thorough``) its sha256;
    ``faces/``, ``database/`` and ``camera/`` must hold no other file (an
    extra badge photo would enrol a stranger). ``[NOT_BUILT]`` when there is no
    record for this manifest. ``thorough=False`` only reads sizes (what
    :func:`require` does on every call, in about a millisecond).
    """
    manifest = _manifest(manifest)
    files = _read_record(manifest)
    if files is None:
        return [NOT_BUILT]
    root = _root()
    damages = []
    for rel, want in sorted(files.items()):
        path = root / rel
        if not path.is_file():
            damages.append(Damage(rel, "missing"))
        elif path.stat().st_size != want["bytes"] or (thorough and _fingerprint(path) != want):
            damages.append(Damage(rel, "altered"))
    for folder in (layout.FACES, layout.DATABASE, layout.CAMERA):
        for path in sorted((root / folder).rglob("*")):
            rel = path.relative_to(root).as_posix()
            if not path.is_dir() and rel not in files:
                damages.append(Damage(rel, "unexpected"))
    return damages


def require() -> Path:
    """Return ``images/`` if the office matches its record, else raise AssetError.

    The message names what is missing, altered or unexpected (an employee's
    badge photo, a camera picture...) and says to run `facelab fetch`.
    """
    root = _root()
    damages = check(thorough=False)
    if damages == [NOT_BUILT]:
        raise AssetError(f"the office pictures are not in {root} yet; run `facelab fetch` first")
    if damages:
        listed = "; ".join(str(d) for d in damages[:3])
        more = f" (and {len(damages) - 3} more)" if len(damages) > 3 else ""
        raise AssetError(f"the office pictures in {root} do not match what `facelab fetch` "
                         f"built: {listed}{more}. Run `facelab fetch` to repair them")
    return root


# --------------------------------------------------------------- repairing
def repair(manifest: dict | None = None, damages: list[Damage] | None = None,
           progress: Progress = _quiet_progress) -> list[str]:
    """Make the office match its record again; return what was done, one line per file.

    Unexpected files are removed; a missing or altered face crop is cut again
    from its original with the box of ``crops.json``; a badge or camera
    picture is copied again from its crop. When there is no record, when
    ``crops.json`` itself is damaged, or when a remade file does not match
    the record, the whole office is built again instead.
    """
    manifest = _manifest(manifest)
    damages = check(manifest) if damages is None else damages
    if not damages:
        return []
    if NOT_BUILT in damages or any(d.path == layout.CROPS for d in damages):
        progress("building the office (face crops, database, camera pictures)")
        build(manifest, progress)
        return ["the office was built" if NOT_BUILT in damages else f"{layout.CROPS} was damaged: "
                "the office was built again"]
    root = _root()
    plan = layout.derived_files(manifest)
    done = []
    faces_first = sorted(damages, key=lambda d: not d.path.startswith(layout.FACES + "/"))
    for damage in faces_first:
        path = root / damage.path
        if damage.what == "unexpected":
            path.unlink()
            line = f"removed images/{damage.path} (unexpected)"
        else:
            if damage.path.startswith(layout.FACES + "/"):
                _recut(plan[damage.path], path)
            else:
                _copy(root / layout.FACES / layout.face_name(plan[damage.path]), path)
            line = f"repaired images/{damage.path} ({damage.what})"
        progress(line)
        done.append(line)
    still = check(manifest)
    if still:
        progress(f"the remade files do not match the record ({still[0]}): building the office again")
        build(manifest, progress)
        done.append("the office was built again")
    return done


def _recut(original: str, dest: Path) -> None:
    """Cut the face crop of ``original`` again with the box recorded in crops.json."""
    from . import images

    root = _root()
    crop = json.loads((root / layout.CROPS).read_text())[original]["crop"]
    pixels = images.load_image(root / layout.ORIGINALS / original)
    images.save_image(images.cut_box(pixels, tuple(crop)), dest)
