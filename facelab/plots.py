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


def _shown(fig, photo: bool = False, summary: str | None = None):
    """In IPython: display ``fig`` once as a PNG picture and close it.

    ``photo=True`` marks the output as showing photos of people, so that
    :func:`facelab.release.strip_photos` can keep it out of saved notebooks;
    its text is :data:`PHOTO_NOTE`, then ``summary`` on the next line. Any
    other figure's text is ``summary``. The summary says the figure in words
    (its alt text: what a screen reader, a text front end and nbval get;
    nbval compares it, so it must be deterministic).

    Leaving figures to the inline backend can emit a figure twice under some
    runners (nbval), which makes saved notebook outputs differ; a closed
    figure shown as a PNG is emitted exactly once. Outside IPython the figure
    is returned for ``fig.savefig`` (its summary in ``fig.facelab_summary``).
    """
    if photo:
        summary = f"{PHOTO_NOTE}\n{summary}" if summary else PHOTO_NOTE
    fig.facelab_summary = summary
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return fig
    if get_ipython() is None:
        return fig
    import base64
    import io

    from IPython.display import display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    if photo:  # its text stays where the photo is stripped (facelab.release.strip_photos)
        display({"image/png": png, "text/plain": summary}, raw=True, metadata=PHOTO_METADATA)
    else:
        text = summary or fig.get_suptitle() or "a figure"
        display({"image/png": png, "text/plain": text}, raw=True,
                metadata={"facelab": {"alt": text}})
    return None  # already shown; returning it would show it again as the cell's result


#: colours and markers of named thresholds, in order: told apart by colour, marker and dash
MARK_STYLES = (("black", "o", "--"), ("tab:green", "s", "-."), ("tab:purple", "D", ":"),
               ("tab:red", "^", (0, (5, 1))), ("tab:cyan", "v", (0, (1, 1))))
#: the two groups of distances
GENUINE_COLOUR, IMPOSTOR_COLOUR = "tab:blue", "tab:orange"


def _style(k: int):
    return MARK_STYLES[k % len(MARK_STYLES)]


def _marks_text(marks: dict[str, float] | None) -> str:
    return ", ".join(f"{name} {t:.2f}" for name, t in (marks or {}).items()) or "none"


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
    said = ", ".join(str(t) for t in titles) if titles is not None else f"{len(pictures)} pictures"
    return _shown(fig, photo=True, summary=f"{suptitle}: {said}")


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
    ax.set_title(f"{title}\n(\"match\" = below the threshold {threshold:.2f})")
    fig.tight_layout()
    below = int(np.sum(accepts(matrix, threshold))) if matrix.size else 0
    span = (f"from {matrix.min():.2f} to {matrix.max():.2f}" if matrix.size else "none")
    return _shown(fig, summary=f"{title}: heatmap of {matrix.shape[0]}x{matrix.shape[1]} "
                               f"distances ({span}); {below} below the threshold "
                               f"{threshold:.2f} (match)")


def _mark_thresholds(ax, marks: dict[str, float] | None, xlim=None) -> list[str]:
    """A vertical line per named threshold (its own colour and dash); names those off the axis."""
    off = []
    for k, (name, t) in enumerate((marks or {}).items()):
        colour, _marker, dash = _style(k)
        if xlim is not None and not xlim[0] <= t <= xlim[1]:
            off.append(f"{name} {t:.2f}")
            continue
        ax.axvline(t, color=colour, linestyle=dash, linewidth=1.6, label=f"{name}: {t:.2f}")
    return off


def _finish(fig, ax, xlabel: str, ylabel: str, title: str, summary: str,
            legend_loc: str = "best"):
    """Label the axes, title, legend, and show the figure once with its summary."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc=legend_loc)
    fig.tight_layout()
    return _shown(fig, summary=summary)


def _describe(values) -> str:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return "none"
    return (f"median {np.median(values):.2f}, from {values.min():.2f} to {values.max():.2f}")


def histogram_range(*groups, marks: dict[str, float] | None = None) -> tuple[float, float]:
    """The x range of a distance histogram: from 0 to a little past the data.

    Thresholds within twice the largest distance widen it so their lines
    show; farther ones are left off (and named). Empty data gives (0, 2).
    """
    values = np.concatenate([np.asarray(g, dtype=np.float64).reshape(-1) for g in groups]) \
        if groups else np.zeros(0)
    if values.size == 0:
        return 0.0, 2.0
    top = float(values.max())
    near = [t for t in (marks or {}).values() if t <= 2 * top]
    top = max([top, *near]) if near else top
    return 0.0, max(top * 1.08, 1e-3)


def distance_histograms(genuine, impostor, thresholds: dict[str, float] | None = None,
                        title: str = "Genuine vs impostor distances", bins: int = 30,
                        xlim: tuple[float, float] | None = None):
    """Two histograms (same person / two people) with vertical threshold lines.

    Each histogram shows shares of its own group (its bars sum to 1), so a
    group ten times larger does not flatten the other. The x axis covers
    the data (:func:`histogram_range`) unless ``xlim`` is given; thresholds
    beyond it are named in the title.
    """
    genuine = np.asarray(genuine, dtype=np.float64).reshape(-1)
    impostor = np.asarray(impostor, dtype=np.float64).reshape(-1)
    lo, hi = xlim if xlim is not None else histogram_range(genuine, impostor,
                                                             marks=thresholds)
    fig, ax = _figure(figsize=(7, 3.8))
    edges = np.linspace(lo, hi, bins + 1)
    for values, colour, label in ((genuine, GENUINE_COLOUR, "genuine (same person)"),
                                  (impostor, IMPOSTOR_COLOUR, "impostor (two people)")):
        if values.size:
            ax.hist(np.clip(values, lo, hi), bins=edges, alpha=0.55, color=colour,
                    weights=np.full(values.size, 1.0 / values.size),
                    label=f"{label}, n={values.size}")
    ax.set_xlim(lo, hi)
    off = _mark_thresholds(ax, thresholds, (lo, hi))
    if off:
        title = f"{title}\n(beyond the right edge: {', '.join(off)})"
    summary = (f"{title.splitlines()[0]}: histograms of {genuine.size} genuine distances "
               f"({_describe(genuine)}) and {impostor.size} impostor distances "
               f"({_describe(impostor)}), x axis {lo:.2f} to {hi:.2f}; thresholds: "
               f"{_marks_text(thresholds)}")
    return _finish(fig, ax, "L2 distance between encodings",
                   "share of the group's pairs", title, summary)


#: the false accept rates the ROC's zoomed panel shows (a door lives there)
ROC_ZOOM_FAR = 0.1


def _roc_point(roc, t: float) -> tuple[float, float]:
    """(false accept rate, true accept rate) at threshold ``t``."""
    i = min(int(np.searchsorted(roc.thresholds, t)), len(roc.thresholds) - 1)
    return float(roc.false_accept_rate[i]), float(roc.true_accept_rate[i])


def roc_plot(roc, marks: dict[str, float] | None = None, title: str = "ROC curve"):
    """True accept rate against false accept rate, with chosen thresholds marked.

    Two panels: the whole curve, and the low false accept region (up to
    :data:`ROC_ZOOM_FAR`) where a door's thresholds sit, drawn large.
    """
    fig, axes = _figure(1, 2, figsize=(9.6, 4.2))
    points = {name: _roc_point(roc, t) for name, t in (marks or {}).items()}
    for ax, zoom in zip(axes, (False, True)):
        ax.step(roc.false_accept_rate, roc.true_accept_rate, where="post", color=GENUINE_COLOUR,
                label=f"verifier (AUC {roc.auc():.3f})")
        if not zoom:
            ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="coin flip")
        for k, (name, (far, tar)) in enumerate(points.items()):
            colour, marker, _ = _style(k)
            ax.plot(far, tar, marker, color=colour, markersize=8 if zoom else 6,
                    markeredgecolor="white", label=f"{name} = {marks[name]:.2f}")
        ax.set_xlabel("false accept rate (impostors let in)")
        if zoom:
            ax.set_xlim(-0.004, ROC_ZOOM_FAR)
            ax.set_title(f"zoom: false accept rate up to {ROC_ZOOM_FAR:.0%}")
        else:
            ax.set_title(title)
            ax.set_ylabel("true accept rate (employees let in)")
            ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    said = "; ".join(f"{name} {marks[name]:.2f}: {far:.1%} false accepts, {tar:.1%} true accepts"
                     for name, (far, tar) in points.items())
    summary = (f"{title}: ROC curve of {roc.n_genuine} genuine and {roc.n_impostor} impostor "
               f"distances, AUC {roc.auc():.3f}, with a zoom on false accept rates up to "
               f"{ROC_ZOOM_FAR:.0%}" + (f"; {said}" if said else ""))
    return _shown(fig, summary=summary)


def error_rates_plot(roc, marks: dict[str, float] | None = None,
                     title: str = "Errors against the threshold"):
    """False accept and false reject rates as the threshold grows."""
    fig, ax = _figure(figsize=(7, 3.8))
    ax.plot(roc.thresholds, roc.false_accept_rate, color=IMPOSTOR_COLOUR,
            label="false accepts (impostor let in)")
    ax.plot(roc.thresholds, roc.false_reject_rate, color=GENUINE_COLOUR,
            label="false rejects (employee kept out)")
    ax.plot(roc.thresholds, 1.0 - roc.accuracy, color="grey", linestyle=":", label="all errors")
    _mark_thresholds(ax, marks)
    said = "; ".join(f"{name} {t:.2f}: {_roc_point(roc, t)[0]:.1%} false accepts, "
                     f"{1 - _roc_point(roc, t)[1]:.1%} false rejects"
                     for name, t in (marks or {}).items())
    return _finish(fig, ax, "threshold (accept when distance < threshold)", "share of pairs",
                   title, f"{title}: false accept and false reject rates for thresholds "
                          f"{roc.thresholds.min():.2f} to {roc.thresholds.max():.2f}"
                          + (f"; {said}" if said else ""))


def loss_curve(losses, steps_per_epoch: int | None = None, title: str = "Training loss",
               references: dict[str, float] | None = None):
    """The loss of each training step, with each epoch's mean if ``steps_per_epoch`` is given.

    ``references`` draws named horizontal lines (for example the loss of a
    network that maps every picture to the same point).
    """
    losses = np.asarray(losses, dtype=np.float64)
    fig, ax = _figure(figsize=(7, 3.4))
    ax.plot(np.arange(1, losses.size + 1), losses, alpha=0.5, color=GENUINE_COLOUR,
            label="each batch")
    said = f"{losses.size} steps"
    if losses.size:
        said += f", loss from {losses[0]:.2f} to {losses[-1]:.2f}"
    if steps_per_epoch and losses.size >= steps_per_epoch:
        n = losses.size // steps_per_epoch
        means = losses[:n * steps_per_epoch].reshape(n, steps_per_epoch).mean(axis=1)
        ax.plot(np.arange(1, n + 1) * steps_per_epoch, means, "o-", color="navy",
                label="epoch mean")
        said += ", epoch means " + ", ".join(f"{m:.2f}" for m in means)
    for k, (name, value) in enumerate((references or {}).items()):
        colour, _, dash = _style(k)
        ax.axhline(value, color=colour, linestyle=dash, label=f"{name}: {value:.2f}")
    if references:
        said += "; reference lines: " + _marks_text(references)
    return _finish(fig, ax, "training step", "triplet loss (sum over the batch)", title,
                   f"{title}: {said}")


def spread_curve(spreads: dict[str, Sequence[float]], title: str = "Spread of the encodings"):
    """Named series of :func:`facelab.training.encoding_spread` per epoch (epoch 0 = before).

    0 means every picture has the same encoding (collapse); unit encodings
    spread evenly over the sphere give about 1.
    """
    fig, ax = _figure(figsize=(7, 3.2))
    said = []
    for k, (name, values) in enumerate(spreads.items()):
        values = np.asarray(values, dtype=np.float64)
        colour, marker, _ = _style(k)
        ax.plot(np.arange(values.size), values, marker=marker, color=colour, label=name)
        if values.size:
            said.append(f"{name} from {values[0]:.3f} to {values[-1]:.3f}")
    ax.set_ylim(bottom=0)
    longest = max((len(v) for v in spreads.values()), default=0)
    ax.set_xticks(range(longest))
    return _finish(fig, ax, "epoch (0 = before training)",
                   "mean distance to the mean encoding", title,
                   f"{title}: " + ("; ".join(said) or "no data")
                   + " (0 = all encodings the same point)")


def door_decision(picture, badge, claimed: str, dist: float, threshold: float = THRESHOLD):
    """The camera picture next to the badge photo, with the decision in words."""
    return show_pictures([picture, badge], ["camera", f"badge of {claimed}"],
                         suptitle=f"distance {dist:.3f} {comparison(dist, threshold)} {threshold:.2f}: "
                                  f"{door_words(accepts(dist, threshold))}")
