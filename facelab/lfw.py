"""LFW-format pairs files, and measuring the model on them by the LFW protocol.

``pairs.txt`` (View 2, header ``10 300``: ten folds of 300 same-person and
300 two-person pairs) and ``pairsDevTest.txt`` (View 1, header ``500``: one
set) name pictures as ``Name/Name_0001.jpg`` under an images folder.
:func:`evaluate_pairs` encodes each distinct picture once and scores each
fold at thresholds chosen on the other folds (:mod:`facelab.evaluation`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ImageError, NoFaceError, PairsFileError, ShapeError
from .expected import EMBEDDING_SIZE
from .evaluation import (DEFAULT_FOLDS, FAR_TARGET, FoldsEvaluation, RocCurve, accuracy_at,
                         kfold_evaluation, roc_curve, split_folds)


# ------------------------------------------------------------ LFW pairs file
@dataclass(frozen=True)
class Pair:
    """One line of a pairs file: two picture paths, whether they show one person,
    the line number (1 is the header) and the set it belongs to (0-based)."""

    first: Path
    second: Path
    same: bool
    line: int
    set: int = 0


def _header(path: Path, lines: list[str]) -> tuple[int, int]:
    """(sets, pairs of each kind per set) from line 1: ``M`` is (1, M), ``N M`` is (N, M)."""
    fields = lines[0].split() if lines else []
    try:
        numbers = [int(f) for f in fields]
    except ValueError:
        numbers = []
    if len(numbers) == 1:
        numbers = [1, numbers[0]]
    if len(numbers) != 2 or min(numbers) < 1:
        raise PairsFileError(f"{path}:1: expected a header 'M' (M same-person then M two-person "
                             f"pairs) or 'N M' (N sets of them), got {lines[0] if lines else ''!r}")
    return numbers[0], numbers[1]


def read_pairs(pairs_file: str | os.PathLike, images_root: str | os.PathLike) -> list[Pair]:
    """Parse an LFW-format pairs file.

    Line 1 is the header: ``M`` for one set (View 1: M same-person pairs,
    then M two-person pairs) or ``N M`` for N such sets in a row (View 2:
    ``10 300``, the ten folds of the protocol). Then each line is
    ``Name<TAB>i<TAB>j`` (same person) or ``Name1<TAB>i<TAB>Name2<TAB>j``
    (two people); blank lines are ignored. Picture paths are
    ``images_root/Name/Name_{i:04d}.jpg``. A missing file, a bad header, a
    malformed line, a pair out of its place in its set or a pair count that
    differs from the header raises PairsFileError naming the line. Whether
    the pictures exist is not checked here (see :func:`evaluate_pairs`).
    """
    path = Path(pairs_file)
    if not path.is_file():
        raise PairsFileError(f"pairs file not found: {path}")
    root = Path(images_root)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PairsFileError(f"{path} is not a readable text file ({exc})") from None
    sets, per_set = _header(path, lines)

    def picture(name: str, idx: str, lineno: int) -> Path:
        try:
            number = int(idx)
        except ValueError:
            raise PairsFileError(f"{path}:{lineno}: picture number {idx!r} is not an "
                                 "integer") from None
        if number < 1 or not name:
            raise PairsFileError(f"{path}:{lineno}: expected a name and a picture number >= 1, "
                                 f"got {name!r} {idx!r}")
        return root / name / f"{name}_{number:04d}.jpg"

    pairs: list[Pair] = []
    for lineno, text in enumerate(lines[1:], start=2):
        fields = text.split()
        if not fields:
            continue
        if len(fields) not in (3, 4):
            raise PairsFileError(
                f"{path}:{lineno}: expected 'Name i j' or 'Name1 i Name2 j' (3 or 4 "
                f"tab-separated fields), got {len(fields)} fields: {text.strip()!r}")
        same = len(fields) == 3
        n1, i, n2, j = (fields[0], fields[1], fields[0], fields[2]) if same else fields
        index = len(pairs)
        number, position = index // (2 * per_set), index % (2 * per_set)
        if number >= sets:
            raise PairsFileError(f"{path}:{lineno}: the header announces {sets * 2 * per_set} "
                                 "pairs; this line is one more")
        if sets > 1 and same != (position < per_set):
            raise PairsFileError(
                f"{path}:{lineno}: set {number + 1} should list {per_set} same-person pairs, "
                f"then {per_set} two-person pairs; this line is pair {position + 1} of the set "
                f"and a {'same-person' if same else 'two-person'} pair")
        pairs.append(Pair(picture(n1, i, lineno), picture(n2, j, lineno), same, lineno,
                          number if sets > 1 else 0))
    n_same = sum(p.same for p in pairs)
    if n_same != sets * per_set or len(pairs) - n_same != sets * per_set:
        raise PairsFileError(f"{path}:1: the header announces {sets * per_set} same-person and "
                             f"{sets * per_set} two-person pairs; the file lists {n_same} and "
                             f"{len(pairs) - n_same}")
    return pairs


def pair_folds(pairs: Sequence[Pair], folds: int | None = None) -> np.ndarray:
    """The fold of each pair: its set when the file has several (View 2), else
    :func:`split_folds` into ``folds`` (default 10) folds.

    ``folds`` given for a file whose header defines its own sets, and not
    equal to their number, raises PairsFileError.
    """
    sets = np.array([p.set for p in pairs], dtype=np.int64)
    n_sets = np.unique(sets).size
    if n_sets > 1:
        if folds is not None and folds != n_sets:
            raise PairsFileError(f"the pairs file's header defines {n_sets} folds; asked for "
                                 f"{folds} (a fold count applies to single-set files only)")
        return sets
    return split_folds([p.same for p in pairs], DEFAULT_FOLDS if folds is None else folds)


# ------------------------------------------------------------- pairs + model
@dataclass(frozen=True)
class PairsEvaluation:
    """What :func:`evaluate_pairs` measured on a pairs file."""

    folds: FoldsEvaluation       # the LFW protocol: thresholds chosen on the other folds
    roc: RocCurve                # all pairs (for the AUC and plots)
    genuine: np.ndarray          # distances of the same-person pairs
    impostor: np.ndarray         # distances of the two-people pairs
    threshold: float             # a fixed threshold (the lesson's, unless given)
    accuracy: float              # at ``threshold`` on all pairs (nothing tuned)
    preprocessing: str
    crop: int | str | None
    pictures: int                # distinct pictures encoded
    seconds: float               # time spent loading and encoding them
    flip: bool = False           # test-time flip (encoding averaged with the mirror's)
    margin: float | None = None  # the face crop's margin per side (crop "face" only)
    fallback: int | None = None  # centred crop side used where no face was found
    fallbacks: tuple[Path, ...] = ()  # the pictures that took the fallback crop

    def summary(self) -> str:
        f = self.folds
        crop = f"face (margin {self.margin:g})" if self.crop == "face" else self.crop or "none"
        face = ""
        if self.crop == "face":
            names = ", ".join(p.name for p in self.fallbacks[:5])
            more = ", ..." if len(self.fallbacks) > 5 else ""
            face = (f"  no face found in {len(self.fallbacks)} of {self.pictures} pictures"
                    + (f" (centred {self.fallback} crop instead: {names}{more})"
                       if self.fallbacks else "") + "\n")
        return (f"{self.roc.n_genuine} same + {self.roc.n_impostor} different pairs, "
                f"{self.pictures} pictures, preprocessing {self.preprocessing}, "
                f"crop {crop}{', flip' if self.flip else ''}:\n" + face +
                f"  {f.k}-fold accuracy {100 * f.accuracy:.2f}% +- {100 * f.accuracy_std:.2f} "
                f"(thresholds {f.thresholds.min():.3f}-{f.thresholds.max():.3f})\n"
                f"  AUC {self.roc.auc():.4f}; VAL {100 * f.val:.1f}% +- {100 * f.val_std:.1f} "
                f"@ FAR {100 * f.far:.2f}% (target {100 * f.far_target:g}%)\n"
                f"  accuracy {100 * self.accuracy:.2f}% at the fixed threshold "
                f"{self.threshold:g}; encoding took {self.seconds:.1f} s")


def evaluate_pairs(pairs_file, images_root, model, folds: int | None = None,
                   preprocessing: str = "assignment", crop: int | str | None = None,
                   limit: int | None = None, threshold: float | None = None,
                   far_target: float = FAR_TARGET, progress=None,
                   batch_size: int = 32, flip: bool = False, margin: float | None = None,
                   fallback: int | None = None) -> PairsEvaluation:
    """Verify every pair of an LFW-format pairs file with ``model``, by the LFW protocol.

    Folds come from the file's header (View 2's ``10 300``); a single-set
    file is split into ``folds`` folds (default 10, :func:`pair_folds`).
    ``preprocessing`` names how pictures become the model's input (see
    :mod:`facelab.preprocessing`); ``crop``, if given, first cuts the centred
    square of that many pixels (LFW faces sit in the middle of 250x250
    pictures), or with ``"face"`` the face the detector finds, as the office's
    crops were made (:func:`facelab.images.crop_face`, with ``margin`` per
    side, default 0.1, resized to 160x160). Where the detector finds no face,
    ``fallback`` (a side in pixels) cuts the centred square instead and the
    picture is listed in the result's ``fallbacks``; without it NoFaceError
    names the picture and its line. ``flip`` averages each encoding with its
    mirror's (:func:`facelab.encoding.encode_images`). ``limit`` keeps the first ``limit`` same and first ``limit``
    different pairs. ``threshold`` (default: the lesson's) gives one more,
    untuned accuracy. ``progress(done, total)`` is called as pictures are
    encoded. ``model`` None loads the pretrained FaceNet once the file and
    its pictures are checked. Each distinct picture is encoded once. A
    missing picture raises ImageError naming it and its line; a malformed
    file, PairsFileError.
    """
    import time

    from .expected import THRESHOLD
    from .images import CROP_MARGIN, crop_face, load_image
    from .encoding import encode_images
    from .preprocessing import center_crop, check_preprocessing

    check_preprocessing(preprocessing)
    threshold = THRESHOLD if threshold is None else float(threshold)
    pairs = read_pairs(pairs_file, images_root)
    if limit is not None:
        pairs = [p for p in pairs if p.same][:limit] + [p for p in pairs if not p.same][:limit]
    fold_of = pair_folds(pairs, folds)
    index: dict[Path, int] = {}
    for p in pairs:
        for pic in (p.first, p.second):
            if pic not in index:
                if not pic.is_file():
                    raise ImageError(f"picture not found: {pic} (named on line {p.line} of "
                                     f"{pairs_file})")
                index[pic] = len(index)

    if crop is not None and crop != "face" and not (isinstance(crop, int) and crop >= 1):
        raise ShapeError(f"expected a crop side in pixels (>= 1) or 'face', got {crop!r}")
    if crop != "face" and (margin is not None or fallback is not None):
        raise ShapeError(f"a margin and a fallback apply to crop 'face' only; got crop {crop!r}")
    if margin is not None and not 0 <= margin <= 1:
        raise ShapeError(f"expected a face crop margin between 0 and 1 (a fraction of the face's "
                         f"size per side), got {margin!r}")
    if fallback is not None and not (isinstance(fallback, int) and fallback >= 1):
        raise ShapeError(f"expected a fallback crop side in pixels (>= 1), got {fallback!r}")
    if crop == "face" and margin is None:
        margin = CROP_MARGIN
    lines = {}
    for p in pairs:
        lines.setdefault(p.first, p.line)
        lines.setdefault(p.second, p.line)

    fallbacks: list[Path] = []

    def prepared(pic: Path):
        pixels = load_image(pic)
        if crop == "face":
            try:
                return crop_face(pixels, margin=margin)
            except NoFaceError:
                if fallback is None:
                    raise NoFaceError(f"no face found in {pic} (named on line {lines[pic]} of "
                                      f"{pairs_file}); use a centred --crop, or a --fallback "
                                      "crop for such pictures") from None
                fallbacks.append(pic)
                return center_crop(pixels, fallback)
        return center_crop(pixels, crop) if crop else pixels

    if model is None:
        from .model import load_pretrained

        model = load_pretrained()
    start = time.perf_counter()
    pictures = list(index)
    codes = np.empty((len(pictures), EMBEDDING_SIZE), dtype=np.float32)
    for at in range(0, len(pictures), batch_size):
        chunk = [prepared(pic) for pic in pictures[at:at + batch_size]]
        codes[at:at + len(chunk)] = encode_images(chunk, model, batch_size=batch_size,
                                                  preprocessing=preprocessing, flip=flip)
        if progress is not None:
            progress(at + len(chunk), len(pictures))
    seconds = time.perf_counter() - start
    first = np.array([index[p.first] for p in pairs])
    second = np.array([index[p.second] for p in pairs])
    dist = np.linalg.norm(codes[first] - codes[second], axis=1).astype(np.float64)
    same = np.array([p.same for p in pairs])
    genuine, impostor = dist[same], dist[~same]
    return PairsEvaluation(kfold_evaluation(dist, same, fold_of, far_target),
                           roc_curve(genuine, impostor), genuine, impostor, threshold,
                           accuracy_at(genuine, impostor, threshold), preprocessing, crop,
                           len(pictures), seconds, flip, margin, fallback, tuple(fallbacks))
