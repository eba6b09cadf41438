"""Measuring a face verifier: distances, ROC curve, accuracy, best threshold.

Everything except :func:`evaluate_pairs` is plain numpy and needs no model.
Vocabulary used throughout:

* a *genuine* pair shows the same person twice; an *impostor* pair two people;
* at threshold ``t`` a pair is *accepted* when its distance is strictly below
  ``t`` (the rule of ``verify``);
* false accept rate (FAR) = share of impostor pairs accepted;
  false reject rate (FRR) = share of genuine pairs rejected;
  true accept rate (TAR) = 1 - FRR.

Distances are L2 distances between unit-length encodings, so in [0, 2].
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .decision import accepts
from .errors import ImageError, PairsFileError, ShapeError


# ------------------------------------------------------------------ distances
def pairwise_distances(a, b=None) -> np.ndarray:
    """L2 distances between the rows of ``a`` (n, d) and of ``b`` (m, d).

    Returns an (n, m) float64 array; ``b`` defaults to ``a`` (then the
    diagonal is 0). Empty inputs give an array with a zero dimension.
    Rows of different lengths raise ShapeError.
    """
    a = np.asarray(a, dtype=np.float64)
    b = a if b is None else np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2:
        raise ShapeError(f"expected two 2-d arrays (n, d) and (m, d), got {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[1]:
        raise ShapeError(f"rows must have the same length, got {a.shape} and {b.shape}")
    diff = a[:, None, :] - b[None, :, :]
    return np.sqrt(np.sum(diff * diff, axis=-1))


def genuine_impostor(encodings, labels: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Split all pairs i < j of ``encodings`` (n, d) by whether ``labels`` agree.

    Returns ``(genuine, impostor)``: 1-d float64 arrays of L2 distances (each
    unordered pair once; a picture is never paired with itself). Fewer than
    two encodings give two empty arrays. ``labels`` must have n items.
    """
    enc = np.asarray(encodings, dtype=np.float64)
    if enc.ndim != 2:
        raise ShapeError(f"expected encodings of shape (n, d), got {enc.shape}")
    labels = np.asarray(list(labels), dtype=object)
    if labels.shape[0] != enc.shape[0]:
        raise ShapeError(f"{enc.shape[0]} encodings but {labels.shape[0]} labels")
    dist = pairwise_distances(enc)
    i, j = np.triu_indices(enc.shape[0], k=1)
    same = labels[i] == labels[j]
    return dist[i, j][same], dist[i, j][~same]


# ------------------------------------------------------------------------ ROC
@dataclass(frozen=True)
class RocCurve:
    """Error rates at each candidate threshold (all arrays have the same length).

    ``thresholds`` is increasing; at ``thresholds[k]`` a pair is accepted when
    its distance < thresholds[k]. The first threshold accepts nothing
    (FAR 0, FRR 1), the last accepts everything (FAR 1, FRR 0).
    """

    thresholds: np.ndarray
    false_accept_rate: np.ndarray
    false_reject_rate: np.ndarray
    n_genuine: int
    n_impostor: int

    @property
    def true_accept_rate(self) -> np.ndarray:
        return 1.0 - self.false_reject_rate

    @property
    def accuracy(self) -> np.ndarray:
        """Share of all pairs decided right at each threshold."""
        total = self.n_genuine + self.n_impostor
        right = (self.true_accept_rate * self.n_genuine
                 + (1.0 - self.false_accept_rate) * self.n_impostor)
        return right / total if total else np.zeros_like(self.thresholds)

    def auc(self) -> float:
        """Area under TAR-vs-FAR (1.0 = perfect separation, 0.5 = chance)."""
        far, tar = self.false_accept_rate, self.true_accept_rate
        return float(np.sum(np.diff(far) * (tar[1:] + tar[:-1]) / 2.0))


def _as_distances(values, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise ShapeError(f"{what} distances hold NaN or infinite values")
    return arr


def roc_curve(genuine, impostor) -> RocCurve:
    """The ROC curve of a verifier from its genuine and impostor distances.

    ``genuine`` and ``impostor`` are 1-d sequences of distances (any length,
    possibly empty). Candidate thresholds are every distinct distance, plus
    one just above the largest (accepts all); the smallest one accepts
    nothing. A side that is empty has rates 0 throughout. Both empty: a
    one-threshold curve at 0.
    """
    gen = np.sort(_as_distances(genuine, "genuine"))
    imp = np.sort(_as_distances(impostor, "impostor"))
    every = np.concatenate([gen, imp])
    if every.size == 0:
        zero = np.zeros(1)
        return RocCurve(zero, zero.copy(), zero.copy(), 0, 0)
    top = every.max()
    cands = np.unique(np.concatenate([every, [np.nextafter(top, np.inf)]]))
    accepted_gen = np.searchsorted(gen, cands, side="left")   # count of gen < t
    accepted_imp = np.searchsorted(imp, cands, side="left")
    far = accepted_imp / imp.size if imp.size else np.zeros(cands.size)
    frr = 1.0 - accepted_gen / gen.size if gen.size else np.zeros(cands.size)
    return RocCurve(cands, far.astype(np.float64), frr.astype(np.float64),
                    int(gen.size), int(imp.size))


def accuracy_at(genuine, impostor, threshold: float) -> float:
    """Share of pairs decided right at ``threshold`` (accept when distance < threshold).

    Genuine pairs are right when accepted, impostor pairs when rejected.
    Returns a float in [0, 1]; 0.0 when both inputs are empty.
    """
    gen = _as_distances(genuine, "genuine")
    imp = _as_distances(impostor, "impostor")
    total = gen.size + imp.size
    if total == 0:
        return 0.0
    return float((np.sum(accepts(gen, threshold)) + np.sum(~accepts(imp, threshold))) / total)


def best_threshold(genuine, impostor) -> tuple[float, float]:
    """The threshold with the highest accuracy, and that accuracy.

    Among equally good thresholds, the midpoint of the first best run of
    candidates is returned (a value between the distances it separates,
    not one of them). Returns ``(threshold, accuracy)``; ``(0.0, 0.0)`` for
    empty input.
    """
    roc = roc_curve(genuine, impostor)
    if roc.n_genuine + roc.n_impostor == 0:
        return 0.0, 0.0
    acc = roc.accuracy
    k = int(np.argmax(acc))
    best = acc[k]
    lo = roc.thresholds[k - 1] if k > 0 else roc.thresholds[k]
    threshold = float((lo + roc.thresholds[k]) / 2.0)
    # the midpoint lies between two candidates, so it decides exactly like thresholds[k]
    return threshold, float(best)


def threshold_at_far(genuine, impostor, max_far: float) -> float:
    """The largest candidate threshold whose false accept rate is at most ``max_far``."""
    roc = roc_curve(genuine, impostor)
    ok = np.nonzero(roc.false_accept_rate <= max_far)[0]
    return float(roc.thresholds[ok[-1]]) if ok.size else float(roc.thresholds[0])


# ------------------------------------------------------------ LFW pairs file
@dataclass(frozen=True)
class Pair:
    """One line of a pairs file: two picture paths and whether they show one person."""

    first: Path
    second: Path
    same: bool
    line: int


def read_pairs(pairs_file: str | os.PathLike, images_root: str | os.PathLike) -> list[Pair]:
    """Parse an LFW-format pairs file.

    The first line is a header (e.g. ``500`` or ``10 300``) and is skipped.
    Then each line is ``Name<TAB>i<TAB>j`` (same person) or
    ``Name1<TAB>i<TAB>Name2<TAB>j`` (two people); blank lines are ignored.
    Picture paths are ``images_root/Name/Name_{i:04d}.jpg``. A missing file
    or a malformed line raises PairsFileError naming the line. Existence of
    the pictures is not checked here (see :func:`evaluate_pairs`).
    """
    path = Path(pairs_file)
    if not path.is_file():
        raise PairsFileError(f"pairs file not found: {path}")
    root = Path(images_root)

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

    pairs = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for lineno, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        fields = text.strip().split()
        if len(fields) == 3:
            name, i, j = fields
            pairs.append(Pair(picture(name, i, lineno), picture(name, j, lineno), True, lineno))
        elif len(fields) == 4:
            n1, i, n2, j = fields
            pairs.append(Pair(picture(n1, i, lineno), picture(n2, j, lineno), False, lineno))
        else:
            raise PairsFileError(
                f"{path}:{lineno}: expected 'Name i j' or 'Name1 i Name2 j' (3 or 4 "
                f"tab-separated fields), got {len(fields)} fields: {text.strip()!r}")
    return pairs


@dataclass(frozen=True)
class PairsEvaluation:
    """What :func:`evaluate_pairs` measured."""

    threshold: float
    accuracy: float              # at ``threshold``
    best_threshold: float
    best_accuracy: float
    roc: RocCurve
    genuine: np.ndarray          # distances of the same-person pairs
    impostor: np.ndarray         # distances of the two-people pairs

    def summary(self) -> str:
        return (f"{self.roc.n_genuine} same + {self.roc.n_impostor} different pairs: "
                f"accuracy {self.accuracy:.3f} at threshold {self.threshold:.2f}; "
                f"best {self.best_accuracy:.3f} at threshold {self.best_threshold:.3f}; "
                f"AUC {self.roc.auc():.3f}")


def evaluate_pairs(pairs_file, images_root, model, threshold: float | None = None,
                   limit: int | None = None, center_crop: int | None = None) -> PairsEvaluation:
    """Verify every pair of an LFW-format pairs file with ``model``.

    ``threshold`` defaults to the lesson's THRESHOLD. ``limit`` keeps only
    the first ``limit`` same and first ``limit`` different pairs (for speed).
    ``center_crop``, if given, cuts a centred square of that many pixels
    before encoding (LFW faces sit in the middle of a 250x250 picture).
    Each distinct picture is encoded once. A missing picture raises
    ImageError naming it and the pairs-file line; a malformed line raises
    PairsFileError.
    """
    from .expected import THRESHOLD
    from .images import load_image
    from .model import encode_images

    threshold = THRESHOLD if threshold is None else float(threshold)
    pairs = read_pairs(pairs_file, images_root)
    if limit is not None:
        same = [p for p in pairs if p.same][:limit]
        diff = [p for p in pairs if not p.same][:limit]
        pairs = same + diff
    if not pairs:
        raise PairsFileError(f"{pairs_file} lists no pairs")
    paths: dict[Path, int] = {}
    for p in pairs:
        for pic in (p.first, p.second):
            if pic not in paths:
                if not pic.is_file():
                    raise ImageError(f"picture not found: {pic} (named on line {p.line} of "
                                     f"{pairs_file})")
                paths[pic] = len(paths)

    def prepared(pic: Path):
        pixels = load_image(pic)
        if center_crop:
            h, w = pixels.shape[:2]
            side = min(center_crop, h, w)
            top, left = (h - side) // 2, (w - side) // 2
            pixels = pixels[top:top + side, left:left + side]
        return pixels

    codes = encode_images((prepared(pic) for pic in paths), model)
    dist = np.array([np.linalg.norm(codes[paths[p.first]] - codes[paths[p.second]])
                     for p in pairs], dtype=np.float64)
    same = np.array([p.same for p in pairs])
    genuine, impostor = dist[same], dist[~same]
    best_t, best_acc = best_threshold(genuine, impostor)
    return PairsEvaluation(threshold, accuracy_at(genuine, impostor, threshold), best_t,
                           best_acc, roc_curve(genuine, impostor), genuine, impostor)
