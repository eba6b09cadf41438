"""Figures for the notebooks (matplotlib). Each function returns the Figure.

Every figure has a title and labelled axes; decisions are written in words
("door opens", "door stays shut") rather than by colour only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .expected import THRESHOLD


def _plt():
    import matplotlib.pyplot as plt
    return plt


def _shown(fig):
    """Display ``fig`` once in IPython and close it, so no backend shows it again.

    (Left to the inline backend, a figure can be emitted twice under some
    runners, which would make saved notebook outputs differ.) Outside IPython
    the figure is returned open, for ``savefig`` or ``plt.show``.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return fig
    if get_ipython() is None:
        return fig
    from IPython.display import display

    display(fig)
    _plt().close(fig)
    return fig


def show_pictures(pictures: Sequence, titles: Sequence[str] | None = None,
                  suptitle: str = "Pictures", size: float = 2.4):
    """Show pictures (paths or arrays) side by side, one title under each."""
    from .images import load_image

    plt = _plt()
    n = max(len(pictures), 1)
    fig, axes = plt.subplots(1, n, figsize=(size * n, size + 0.6), squeeze=False)
    for k, ax in enumerate(axes[0]):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < len(pictures):
            ax.imshow(load_image(pictures[k]))
            if titles is not None:
                ax.set_xlabel(titles[k], fontsize=9)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return _shown(fig)


def distance_heatmap(matrix, row_labels: Sequence[str], col_labels: Sequence[str] | None = None,
                     title: str = "L2 distance between encodings", threshold: float = THRESHOLD,
                     annotate: bool = True):
    """A distance matrix as a heatmap; cells below ``threshold`` are marked "match"."""
    plt = _plt()
    matrix = np.asarray(matrix, dtype=np.float64)
    col_labels = row_labels if col_labels is None else col_labels
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * matrix.shape[1], 1.0 + 0.6 * matrix.shape[0]))
    im = ax.imshow(matrix, cmap="viridis_r", vmin=0.0, vmax=max(2.0, float(matrix.max(initial=0))))
    ax.set_xticks(range(len(col_labels)), labels=col_labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(row_labels)), labels=row_labels, fontsize=8)
    ax.set_xlabel("picture")
    ax.set_ylabel("picture")
    if annotate:
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                word = "\nmatch" if matrix[i, j] < threshold else ""
                ax.text(j, i, f"{matrix[i, j]:.2f}{word}", ha="center", va="center", fontsize=6,
                        color="white" if matrix[i, j] < 1.0 else "black")
    fig.colorbar(im, ax=ax, label="L2 distance (0 = identical)")
    ax.set_title(f"{title}\n(\"match\" = below the threshold {threshold})")
    fig.tight_layout()
    return _shown(fig)


def distance_histograms(genuine, impostor, thresholds: dict[str, float] | None = None,
                        title: str = "Genuine vs impostor distances", bins: int = 30):
    """Two histograms (same person / two people) with vertical threshold lines."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    edges = np.linspace(0.0, 2.0, bins + 1)
    ax.hist(np.asarray(genuine), bins=edges, alpha=0.6, label=f"genuine (same person), n={len(genuine)}")
    ax.hist(np.asarray(impostor), bins=edges, alpha=0.6, label=f"impostor (two people), n={len(impostor)}")
    for k, (name, t) in enumerate((thresholds or {}).items()):
        ax.axvline(t, color=f"C{k + 2}", linestyle="--", label=f"{name}: {t:.2f}")
    ax.set_xlabel("L2 distance between encodings")
    ax.set_ylabel("number of pairs")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _shown(fig)


def roc_plot(roc, marks: dict[str, float] | None = None, title: str = "ROC curve"):
    """True accept rate against false accept rate, with chosen thresholds marked."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot(roc.false_accept_rate, roc.true_accept_rate, label=f"verifier (AUC {roc.auc():.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="coin flip")
    for k, (name, t) in enumerate((marks or {}).items()):
        i = min(int(np.searchsorted(roc.thresholds, t)), len(roc.thresholds) - 1)
        ax.plot(roc.false_accept_rate[i], roc.true_accept_rate[i], "o", color=f"C{k + 2}",
                label=f"{name} = {t:.2f}")
    ax.set_xlabel("false accept rate (impostors let in)")
    ax.set_ylabel("true accept rate (employees let in)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return _shown(fig)


def error_rates_plot(roc, marks: dict[str, float] | None = None,
                     title: str = "Errors against the threshold"):
    """False accept and false reject rates as the threshold grows."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(roc.thresholds, roc.false_accept_rate, label="false accepts (impostor let in)")
    ax.plot(roc.thresholds, roc.false_reject_rate, label="false rejects (employee kept out)")
    ax.plot(roc.thresholds, 1.0 - roc.accuracy, color="grey", linestyle=":", label="all errors")
    for k, (name, t) in enumerate((marks or {}).items()):
        ax.axvline(t, color=f"C{k + 2}", linestyle="--", label=f"{name}: {t:.2f}")
    ax.set_xlabel("threshold (accept when distance < threshold)")
    ax.set_ylabel("share of pairs")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _shown(fig)


def door_decision(picture, badge, claimed: str, dist: float, threshold: float = THRESHOLD):
    """The camera picture next to the badge photo, with the decision in words."""
    opens = dist < threshold
    verdict = "door opens" if opens else "door stays shut"
    return show_pictures([picture, badge], ["camera", f"badge of {claimed}"],
                         suptitle=f"distance {dist:.3f} {'<' if opens else '>='} {threshold}: "
                                  f"{verdict}")
