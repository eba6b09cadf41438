"""The door's one decision: strictly below the threshold, scalar or vectorised."""

from __future__ import annotations

import numpy as np
import pytest

from facelab.decision import (NOT_IN_DATABASE, accepts, comparison, door_words, verify_message,
                              who_message)
from facelab.expected import THRESHOLD


def test_strictly_below_the_threshold():
    assert accepts(0.69) is True
    assert accepts(THRESHOLD) is False  # at the threshold the door stays shut
    assert accepts(0.71) is False
    assert accepts(1.0, threshold=1.1) is True
    assert accepts(float("nan")) is False
    assert accepts(np.float32(0.5)) is True


def test_vectorised_keeps_the_shape():
    got = accepts(np.array([[0.1, 0.7], [0.9, np.nextafter(0.7, 0)]]))
    assert got.dtype == bool and got.tolist() == [[True, False], [False, True]]
    assert accepts(np.array([])).shape == (0,)
    assert accepts([0.2, 0.8], 0.5).tolist() == [True, False]


def test_words():
    assert comparison(0.5) == "<" and comparison(0.7) == ">="
    assert door_words(True) == "door opens" and door_words(False) == "door stays shut"
    assert verify_message("kian", True) == "It's kian, welcome in!"
    assert verify_message("kian", False) == "It's not kian, please go away"
    assert who_message("kian", 0.5, True) == "it's kian, the distance is 0.5"
    assert who_message("kian", 0.9, False) == NOT_IN_DATABASE == "Not in the database."


def test_widgets_and_evaluation_decide_the_same_at_the_threshold():
    from facelab import evaluation, widgets

    db = {"a": np.zeros((1, 128), np.float32)}
    assert widgets.decide(np.zeros((1, 128)), db, "a", 0.0) == (0.0, False)
    assert widgets.describe("p.png", "a", THRESHOLD, THRESHOLD).endswith(
        ">= threshold 0.70 -> door stays shut")
    assert evaluation.accuracy_at([THRESHOLD], [THRESHOLD], THRESHOLD) == 0.5  # both rejected


@pytest.mark.slow
def test_reference_solutions_reject_a_distance_at_the_threshold(monkeypatch, capsys):
    from facelab import encoding, exercises

    monkeypatch.setattr(encoding, "img_to_encoding", lambda image, model: np.zeros((1, 128), np.float32))
    row = np.zeros((1, 128), np.float32)
    row[0, 0] = THRESHOLD
    at = float(row[0, 0])  # the float32 distance the encodings give, used as the threshold
    assert exercises.verify("x", "a", {"a": row}, None, threshold=at) == (at, False)
    assert exercises.who_is_it("x", {"a": row}, None, threshold=at) == (at, "a")
    assert capsys.readouterr().out.split("\n")[:2] == ["It's not a, please go away", NOT_IN_DATABASE]
    assert exercises.verify("x", "a", {"a": row}, None, threshold=np.nextafter(at, 1))[1] is True
