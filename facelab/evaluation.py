"""Measuring a face verifier: distances, ROC curve, accuracy, thresholds, the LFW protocol.

Plain numpy: no model, no files (pairs files and the model are in
:mod:`facelab.lfw`).
Vocabulary used throughout:

* a *genuine* pair shows the same person twice; an *impostor* pair two people;
* at threshold ``t`` a pair is *accepted* when its distance is strictly below
  ``t`` (the rule of ``verify``);
* false accept rate (FAR) = share of impostor pairs accepted;
  false reject rate (FRR) = share of genuine pairs rejected;
  true accept rate (TAR) = 1 - FRR.

Distances are L2 distances between unit-length encodings, so in [0, 2].

A threshold chosen on some pairs and scored on the same pairs overstates the
accuracy. :func:`kfold_evaluation` follows the LFW protocol instead: the pairs
are cut into k folds, and each fold is scored at the threshold chosen on the
other k - 1 folds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .decision import accepts
from .errors import ShapeError


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


# ------------------------------------------------------------------- k folds
#: the false accept rate at which FaceNet reports its validation rate (VAL@FAR=0.1%)
FAR_TARGET = 1e-3
#: folds of the LFW protocol, also used to split a single-set pairs file
DEFAULT_FOLDS = 10


def split_folds(same, k: int = DEFAULT_FOLDS) -> np.ndarray:
    """Fold numbers 0..k-1 for pairs listed as one set, stratified.

    ``same`` is a 1-d sequence of bools (genuine pair or not), in file order.
    The genuine pairs are cut, in order, into k runs of near-equal length, and
    so are the impostor pairs; fold i gets run i of each, so every fold holds
    both kinds in the file's proportion (LFW files list pairs grouped by name,
    so contiguous runs also keep most people inside one fold). Returns an int
    array of the same length. ShapeError when k < 2 or either kind has fewer
    than k pairs (a fold would lack it); empty input is such a case.
    """
    same = np.asarray(same, dtype=bool).reshape(-1)
    if k < 2:
        raise ShapeError(f"expected at least 2 folds, got {k}")
    folds = np.empty(same.size, dtype=np.int64)
    for kind, word in ((True, "same-person"), (False, "two-person")):
        where = np.nonzero(same == kind)[0]
        if where.size < k:
            raise ShapeError(f"{k} folds need at least {k} {word} pairs, got {where.size}")
        folds[where] = np.arange(where.size) * k // where.size
    return folds


@dataclass(frozen=True)
class FoldsEvaluation:
    """Per-fold results of :func:`kfold_evaluation` (each array has one value per fold).

    ``thresholds[i]`` is the best-accuracy threshold on all folds but i, and
    ``accuracies[i]`` the accuracy it gives on fold i. ``val_thresholds[i]``
    is the largest threshold whose false accept rate on the other folds is at
    most ``far_target``; ``val_rates[i]`` and ``far_rates[i]`` are the true
    and false accept rates it gives on fold i.
    """

    thresholds: np.ndarray
    accuracies: np.ndarray
    val_thresholds: np.ndarray
    val_rates: np.ndarray
    far_rates: np.ndarray
    far_target: float

    @property
    def k(self) -> int:
        return int(self.accuracies.size)

    @property
    def accuracy(self) -> float:
        """Mean held-out accuracy over the folds."""
        return float(np.mean(self.accuracies))

    @property
    def accuracy_std(self) -> float:
        """Standard deviation of the held-out accuracies (over folds, ddof=0)."""
        return float(np.std(self.accuracies))

    @property
    def val(self) -> float:
        """Mean validation rate (true accept rate) at the target false accept rate."""
        return float(np.mean(self.val_rates))

    @property
    def val_std(self) -> float:
        return float(np.std(self.val_rates))

    @property
    def far(self) -> float:
        """Mean false accept rate measured on the held-out folds at the VAL thresholds."""
        return float(np.mean(self.far_rates))


def kfold_evaluation(distances, same, folds, far_target: float = FAR_TARGET) -> FoldsEvaluation:
    """Score each fold at thresholds chosen on the other folds (the LFW protocol).

    ``distances`` (n,) are pair distances, ``same`` (n,) bools (genuine pair),
    ``folds`` (n,) the fold number of each pair (any integers; e.g. from
    :func:`split_folds`). For each fold: the best-accuracy threshold of the
    other folds (:func:`best_threshold`) gives the held-out accuracy, and the
    largest threshold whose false accept rate on the other folds is at most
    ``far_target`` (:func:`threshold_at_far`) gives the held-out validation
    rate and false accept rate. ShapeError if the lengths differ, there are
    fewer than two folds (empty input included), or a fold lacks genuine or
    impostor pairs.
    """
    dist = _as_distances(distances, "pair")
    same = np.asarray(same, dtype=bool).reshape(-1)
    folds = np.asarray(folds).reshape(-1)
    if not dist.size == same.size == folds.size:
        raise ShapeError(f"expected as many distances, same flags and fold numbers, got "
                         f"{dist.size}, {same.size} and {folds.size}")
    names = np.unique(folds)
    if names.size < 2:
        raise ShapeError(f"expected pairs in at least 2 folds, got {names.size}")
    rows = []
    for fold in names:
        test = folds == fold
        gen, imp = dist[test & same], dist[test & ~same]
        if gen.size == 0 or imp.size == 0:
            raise ShapeError(f"fold {fold} has {gen.size} same-person and {imp.size} "
                             "two-person pairs; each fold needs both")
        train_gen, train_imp = dist[~test & same], dist[~test & ~same]
        t, _ = best_threshold(train_gen, train_imp)
        t_val = threshold_at_far(train_gen, train_imp, far_target)
        rows.append((t, accuracy_at(gen, imp, t), t_val, float(np.mean(accepts(gen, t_val))),
                     float(np.mean(accepts(imp, t_val)))))
    cols = np.array(rows, dtype=np.float64).T
    return FoldsEvaluation(*cols, far_target=float(far_target))
