"""Figures have titles, labelled axes, and say decisions in words."""

from __future__ import annotations

import re

import numpy as np
import pytest

from facelab import plots
from facelab.evaluation import roc_curve


def _texts(fig):
    ax = fig.axes[0]
    return ax.get_title(), ax.get_xlabel(), ax.get_ylabel()


def test_evaluation_figures_are_labelled():
    roc = roc_curve(np.array([0.5, 0.8, 0.9]), np.array([1.2, 1.4, 0.95]))
    for fig in (plots.roc_plot(roc, {"lesson": 0.7}), plots.error_rates_plot(roc, {"a": 1.0}),
                plots.distance_histograms([0.5, 0.6], [1.2, 1.3], {"t": 0.7})):
        title, xlabel, ylabel = _texts(fig)
        assert title and xlabel and ylabel
        assert fig.axes[0].get_legend() is not None


def test_door_decision_says_it_in_words(office):
    fig = plots.door_decision(office / "camera" / "madonna_1.png",
                              office / "database" / "elton_john.png", "elton_john", 1.392)
    assert "door stays shut" in fig.get_suptitle()
    fig = plots.door_decision(office / "camera" / "jerry_seinfeld_2.png",
                              office / "database" / "jerry_seinfeld.png", "jerry_seinfeld", 0.674)
    assert "door opens" in fig.get_suptitle()
    assert [ax.get_xlabel() for ax in fig.axes] == ["camera", "badge of jerry_seinfeld"]


def test_thresholds_are_printed_as_the_text_prints_them(office):
    fig = plots.door_decision(office / "camera" / "ben_afflek_1.png",
                              office / "database" / "ben_afflek.png", "ben_afflek", 0.799,
                              1.1161732829860709)
    assert fig.get_suptitle() == "distance 0.799 < 1.12: door opens"
    fig = plots.distance_histograms([0.5], [1.2], {"chosen on train": 1.1161732829860709})
    assert [line.get_label() for line in fig.axes[0].lines] == ["chosen on train: 1.12"]


def _rates():
    rng = np.random.default_rng(0)
    return roc_curve(rng.normal(0.8, 0.1, 25), rng.normal(1.37, 0.1, 100))


def test_roc_zooms_on_low_false_accepts_with_marks_told_apart():
    marks = {"lesson": 0.7, "train: best accuracy": 1.116, "train: no false accept": 0.976,
             "tuned on the visitors": 1.05}
    fig = plots.roc_plot(_rates(), marks)
    full, zoom = fig.axes
    assert full.get_xlim()[1] >= 1.0 and zoom.get_xlim()[1] == plots.ROC_ZOOM_FAR
    points = [line for line in zoom.lines if line.get_marker() not in ("None", None, "")]
    assert len(points) == 4
    styles = {(line.get_color(), line.get_marker()) for line in points}
    assert len({c for c, _ in styles}) == 4 and len({m for _, m in styles}) == 4
    from matplotlib.colors import to_rgb

    colours = [np.array(to_rgb(c)) for c, _ in styles]  # no two near-identical colours
    assert min(np.abs(a - b).sum() for i, a in enumerate(colours) for b in colours[i + 1:]) > 0.4
    assert "AUC" in fig.facelab_summary and "1.12: " in fig.facelab_summary


def test_histograms_show_shares_on_the_datas_range():
    rng = np.random.default_rng(0)
    genuine, impostor = rng.normal(0.05, 0.01, 25), rng.normal(0.07, 0.02, 1000)  # 40x more
    fig = plots.distance_histograms(genuine, impostor, {"lesson": 0.7})
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert lo == 0.0 and impostor.max() < hi < 0.2  # not 0-2: the data fills the axis
    for bars in ax.containers:  # each group's bars sum to 1, whatever its size
        assert sum(b.get_height() for b in bars) == pytest.approx(1.0)
    assert "lesson 0.70" in ax.get_title()  # the threshold off the axis is named
    assert "25 genuine" in fig.facelab_summary and "1000 impostor" in fig.facelab_summary
    fig = plots.distance_histograms([0.6, 0.8], [1.2, 1.4], {"lesson": 0.7})
    assert fig.axes[0].get_xlim()[1] > 1.4 and "beyond" not in fig.axes[0].get_title()


def test_every_chart_says_itself_in_words():
    roc = _rates()
    figs = [plots.roc_plot(roc, {"lesson": 0.7}), plots.error_rates_plot(roc, {"lesson": 0.7}),
            plots.distance_histograms([0.5, 0.6], [1.2, 1.3], {"t": 0.7}),
            plots.loss_curve([3.0, 2.0], 1, references={"collapse": 2.0}),
            plots.spread_curve({"visitors": [0.07, 0.04]}),
            plots.distance_heatmap(np.array([[0.0, 1.2], [1.2, 0.0]]), ["a", "b"])]
    for fig in figs:
        assert re.search(r"\d\.\d\d", fig.facelab_summary), fig.facelab_summary
        titles = {ax.get_title().split("\n")[0] for ax in fig.axes} | {fig.get_suptitle()}
        assert fig.facelab_summary.split(":")[0] in titles, fig.facelab_summary


def test_in_a_notebook_the_chart_text_is_its_summary(monkeypatch):
    """What a screen reader, a text front end and nbval get instead of 'Image object'."""
    import IPython
    from IPython import display as ipd

    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(ipd, "display", lambda data, raw=False, metadata=None: shown.append(
        (data, metadata)))
    assert plots.loss_curve([3.0, 2.0], references={"collapse": 2.0}) is None
    (data, metadata), = shown
    assert data["text/plain"] == ("Training loss: 2 steps, loss from 3.00 to 2.00; reference "
                                  "lines: collapse 2.00")
    assert data["image/png"] and metadata == {"facelab": {"alt": data["text/plain"]}}


def test_a_photo_figure_says_what_it_shows_under_the_note(office, monkeypatch):
    """The photo is stripped from saved notebooks; its words stay (alt text)."""
    import IPython
    from IPython import display as ipd

    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(ipd, "display", lambda data, raw=False, metadata=None: shown.append(
        (data, metadata)))
    plots.door_decision(office / "camera" / "jerry_seinfeld_2.png",
                        office / "database" / "jerry_seinfeld.png", "jerry_seinfeld", 0.674)
    (data, metadata), = shown
    assert data["text/plain"] == (f"{plots.PHOTO_NOTE}\ndistance 0.674 < 0.70: door opens: "
                                  "camera, badge of jerry_seinfeld")
    assert metadata == plots.PHOTO_METADATA
    from facelab.release import strip_photos

    nb = __import__("nbformat").v4.new_notebook(cells=[__import__("nbformat").v4.new_code_cell(
        "door()", outputs=[__import__("nbformat").v4.new_output(
            "display_data", data=data, metadata=metadata)])])
    assert strip_photos(nb) == 1
    assert nb.cells[0].outputs[0].data == {"text/plain": data["text/plain"]}
