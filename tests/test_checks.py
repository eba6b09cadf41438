"""The checks: the reference passes everything; typical mistakes get the right hint."""

from __future__ import annotations

import numpy as np
import pytest

from facelab import checks, exercises
from facelab._quiet import tf


@pytest.mark.parametrize("name", ["pixel_distance", "triplet_loss", "verify", "who_is_it"])
def test_reference_solutions_pass_every_case(name, office_db):
    result = checks.check(name, getattr(exercises, name), include_hidden=True)
    assert result.passed, result.report()
    assert result.points == result.max_points > 0
    assert result.report().startswith(f"{name}: all ")


def _loss(alpha_added=True, clipped=True, squared=True, reduce=True):
    def triplet_loss(y_true, y_pred, alpha=0.2):
        a, p, n = y_pred
        d = (lambda u, v: tf.reduce_sum(tf.square(u - v), axis=-1)) if squared else \
            (lambda u, v: tf.reduce_sum(u - v, axis=-1))
        basic = d(a, p) - d(a, n) + (alpha if alpha_added else 0.0)
        basic = tf.maximum(basic, 0.0) if clipped else basic
        return tf.reduce_sum(basic) if reduce else basic
    return triplet_loss


@pytest.mark.parametrize("mistake,hint", [
    (dict(alpha_added=False), "Did you add alpha to basic_loss?"),
    (dict(clipped=False), "Are you taking the maximum of basic_loss and 0?"),
    (dict(squared=False), "squared"),
    (dict(reduce=False), "reduce_sum"),
])
def test_triplet_loss_mistakes_get_their_hint(mistake, hint):
    result = checks.check_triplet_loss(_loss(**mistake))
    assert not result.passed
    assert hint in result.report()
    assert "Traceback" not in result.report() and "AssertionError" not in result.report()


def test_numpy_triplet_loss_is_told_to_use_tensorflow():
    def triplet_loss(y_true, y_pred, alpha=0.2):
        a, p, n = (np.asarray(t) for t in y_pred)
        basic = ((a - p) ** 2).sum(-1) - ((a - n) ** 2).sum(-1) + alpha
        return float(np.maximum(basic, 0).sum())
    report = checks.check_triplet_loss(triplet_loss).report()
    assert "expected a TensorFlow tensor, got float" in report


def test_placeholder_none_gets_a_clear_message(office_db):
    def verify(image_path, identity, database, model):
        dist = None
        if dist < 0.7:
            door_open = True
        return dist, door_open
    result = checks.check_verify(verify)
    assert result.points == 0
    assert "replace every `None`" in result.report()


def test_verify_wrong_message_and_wrong_comparison(office_db):
    from facelab.model import img_to_encoding

    def verify(image_path, identity, database, model):
        dist = float(np.linalg.norm(img_to_encoding(image_path, model) - database[identity]))
        door_open = dist > 0.7          # backwards
        print("hello")
        return dist, door_open
    report = checks.check_verify(verify).report()
    assert "so door_open should be True" in report
    assert "strictly below" in report


def test_who_is_it_forgetting_the_stranger(office_db):
    from facelab.model import img_to_encoding

    def who_is_it(image_path, database, model):
        enc = img_to_encoding(image_path, model)
        dists = {n: float(np.linalg.norm(enc - e)) for n, e in database.items()}
        identity = min(dists, key=dists.get)
        print(f"it's {identity}, the distance is {dists[identity]}")
        return dists[identity], identity
    result = checks.check_who_is_it(who_is_it)
    failed = [c for c in result.cases if not c.passed]
    assert [c.name for c in failed] == ["a stranger: madonna is not in this database"]
    assert "'Not in the database.'" in failed[0].message


def test_hidden_cases_are_not_revealed(office):
    def pixel_distance(a, b):
        return float(np.abs(np.asarray(a) - np.asarray(b)).sum())  # L1, not L2
    result = checks.check("pixel_distance", pixel_distance, include_hidden=True)
    hidden_failures = [c for c in result.cases if not c.visible and not c.passed]
    assert hidden_failures
    assert "a hidden test" in result.report()
    for case in hidden_failures:
        assert case.name not in result.report()


def test_notebook_display_is_the_report(office):
    result = checks.check_pixel_distance(exercises.pixel_distance)

    class Printer:
        text_out = ""

        def text(self, s):
            self.text_out += s
    printer = Printer()
    result._repr_pretty_(printer, False)
    assert printer.text_out == result.report() == "pixel_distance: all 3 tests passed (3/3 points)"
