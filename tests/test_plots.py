"""Figures have titles, labelled axes, and say decisions in words."""

from __future__ import annotations

import numpy as np

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
