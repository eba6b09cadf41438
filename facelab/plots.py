"""Figures for the notebooks (matplotlib).

In IPython each function displays its figure once (as a PNG) and returns
None; elsewhere it returns the Figure, for ``fig.savefig``.

Every figure has a title and labelled axes; decisions are written in words
("door opens", "door stays shut") rather than by colour only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .decision import accepts, comparison, door_words
from .expected import THRESHOLD


def _figure(nrows: int = 1, ncols: int = 1, figsize=(6.4, 4.8), **kwargs):
    """A new Figure and its axes, made without pyplot.

    Pyplot would register the figure with the notebook backend, which may
    show it a second time; these figures are shown once, by :func:`_shown`.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


#: display metadata marking a figure that shows photos of people; such image
#: data is removed from committed notebooks (see facelab.release.strip_photos)
PHOTO_METADATA = {"facelab": {"photo": True}}
#: the text of a photo output, what a saved notebook shows once its photo is stripped
PHOTO_NOTE = "[photo: it appears when you run this cell]"


def _shown(fig, photo: bool = False):
    """In IPython: display ``fig`` once as a PNG picture and close it.

    ``photo=True`` marks the output as showing photos of people, so that
    :func:`facelab.release.strip_photos` can keep it out of saved notebooks.

    Leaving figures to the inline backend can emit a figure twice under some
    runners (nbval), which makes saved notebook outputs differ; a closed
    figure shown as a PNG is emitted exactly once. Outside IPython the figure
    is returned for ``fig.savefig``.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return fig
    if get_ipython() is None:
        return fig
    import io

    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    if photo:  # its text stays where the photo is stripped (facelab.release.strip_photos)
        import base64

        display({"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                 "text/plain": PHOTO_NOTE}, raw=True, metadata=PHOTO_METADATA)
    else:
        display(Image(data=buf.getvalue(), format="png"))
    return None  # already shown; returning it would show it again as the cell's result


def show_pictures(pictures: Sequence, titles: Sequence[str] | None = None,
                  suptitle: str = "Pictures", size: float = 2.4):
    """Show pictures (paths or arrays) side by side, one title under each."""
    from .images import load_image

    n = max(len(pictures), 1)
    fig, axes = _figure(1, n, figsize=(size * n, size + 0.6), squeeze=False)
    for k, ax in enumerate(axes[0]):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < len(pictures):
            ax.imshow(load_image(pictures[k]))
            if titles is not None:
                ax.set_xlabel(titles[k], fontsize=9)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return _shown(fig, photo=True)


def distance_heatmap(matrix, row_labels: Sequence[str], col_labels: Sequence[str] | None = None,
                     title: str = "L2 distance between encodings", threshold: float = THRESHOLD,
                     annotate: bool = True):
    """A distance matrix as a heatmap; cells below ``threshold`` are marked "match"."""
    matrix = np.asarray(matrix, dtype=np.float64)
    col_labels = row_labels if col_labels is None else col_labels
    fig, ax = _figure(figsize=(1.0 + 0.75 * matrix.shape[1], 1.0 + 0.6 * matrix.shape[0]))
    im = ax.imshow(matrix, cmap="viridis_r", vmin=0.0, vmax=max(2.0, float(matrix.max(initial=0))))
    ax.set_xticks(range(len(col_labels)), labels=col_labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(row_labels)), labels=row_labels, fontsize=8)
    ax.set_xlabel("picture")
    ax.set_ylabel("picture")
    if annotate:
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                word = "\nmatch" if accepts(matrix[i, j], threshold) else ""
                ax.text(j, i, f"{matrix[i, j]:.2f}{word}", ha="center", va="center", fontsize=6,
                        color="white" if matrix[i, j] < 1.0 else "black")
    fig.colorbar(im, ax=ax, label="L2 distance (0 = identical)")
    ax.set_title(f"{title}\n(\"match\" = below the threshold {threshold})")
    fig.tight_layout()
    return _shown(fig)


def _mark_thresholds(ax, marks: dict[str, float] | None) -> None:
    """A dashed vertical line per named threshold."""
    for k, (name, t) in enumerate((marks or {}).items()):
        ax.axvline(t, color=f"C{k + 2}", linestyle="--", label=f"{name}: {t:.2f}")


def _finish(fig, ax, xlabel: str, ylabel: str, title: str, legend_loc: str = "best"):
    """Label the axes, title, legend, and show the figure once."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc=legend_loc)
    fig.tight_layout()
    return _shown(fig)


def distance_histograms(genuine, impostor, thresholds: dict[str, float] | None = None,
                        title: str = "Genuine vs impostor distances", bins: int = 30):
    """Two histograms (same person / two people) with vertical threshold lines."""
    fig, ax = _figure(figsize=(7, 3.8))
    edges = np.linspace(0.0, 2.0, bins + 1)
    ax.hist(np.asarray(genuine), bins=edges, alpha=0.6, label=f"genuine (same person), n={len(genuine)}")
    ax.hist(np.asarray(impostor), bins=edges, alpha=0.6, label=f"impostor (two people), n={len(impostor)}")
    _mark_thresholds(ax, thresholds)
    return _finish(fig, ax, "L2 distance between encodings", "number of pairs", title)


def roc_plot(roc, marks: dict[str, float] | None = None, title: str = "ROC curve"):
    """True accept rate against false accept rate, with chosen thresholds marked."""
    fig, ax = _figure(figsize=(4.6, 4.2))
    ax.plot(roc.false_accept_rate, roc.true_accept_rate, label=f"verifier (AUC {roc.auc():.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="coin flip")
    for k, (name, t) in enumerate((marks or {}).items()):
        i = min(int(np.searchsorted(roc.thresholds, t)), len(roc.thresholds) - 1)
        ax.plot(roc.false_accept_rate[i], roc.true_accept_rate[i], "o", color=f"C{k + 2}",
                label=f"{name} = {t:.2f}")
    return _finish(fig, ax, "false accept rate (impostors let in)",
                   "true accept rate (employees let in)", title, legend_loc="lower right")


def error_rates_plot(roc, marks: dict[str, float] | None = None,
                     title: str = "Errors against the threshold"):
    """False accept and false reject rates as the threshold grows."""
    fig, ax = _figure(figsize=(7, 3.8))
    ax.plot(roc.thresholds, roc.false_accept_rate, label="false accepts (impostor let in)")
    ax.plot(roc.thresholds, roc.false_reject_rate, label="false rejects (employee kept out)")
    ax.plot(roc.thresholds, 1.0 - roc.accuracy, color="grey", linestyle=":", label="all errors")
    _mark_thresholds(ax, marks)
    return _finish(fig, ax, "threshold (accept when distance < threshold)", "share of pairs",
                   title)


def loss_curve(losses, steps_per_epoch: int | None = None, title: str = "Training loss"):
    """The loss of each training step, with each epoch's mean if ``steps_per_epoch`` is given."""
    losses = np.asarray(losses, dtype=np.float64)
    fig, ax = _figure(figsize=(7, 3.4))
    ax.plot(np.arange(1, losses.size + 1), losses, alpha=0.5, label="each batch")
    if steps_per_epoch and losses.size >= steps_per_epoch:
        n = losses.size // steps_per_epoch
        means = losses[:n * steps_per_epoch].reshape(n, steps_per_epoch).mean(axis=1)
        ax.plot(np.arange(1, n + 1) * steps_per_epoch, means, "o-", label="epoch mean")
    return _finish(fig, ax, "training step", "triplet loss (sum over the batch)", title)


def door_decision(picture, badge, claimed: str, dist: float, threshold: float = THRESHOLD):
    """The camera picture next to the badge photo, with the decision in words."""
    return show_pictures([picture, badge], ["camera", f"badge of {claimed}"],
                         suptitle=f"distance {dist:.3f} {comparison(dist, threshold)} {threshold}: "
                                  f"{door_words(accepts(dist, threshold))}")
