"""facelab.evaluation: synthetic cases with known answers, and LFW DevTest pairs."""

from __future__ import annotations

import numpy as np
import pytest

from facelab.errors import FacelabError, ImageError, ShapeError
from facelab.evaluation import (PairsFileError, accuracy_at, best_threshold, evaluate_pairs,
                                genuine_impostor, pairwise_distances, read_pairs, roc_curve,
                                threshold_at_far)

from .conftest import LFW, need


# ------------------------------------------------------------------ synthetic
def test_pairwise_distances_known_values():
    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    d = pairwise_distances(a)
    assert d.shape == (2, 2)
    np.testing.assert_allclose(d, [[0, 5], [5, 0]])
    np.testing.assert_allclose(pairwise_distances(a, np.array([[0.0, 1.0]])), [[1.0], [np.sqrt(18)]])
    assert pairwise_distances(np.zeros((0, 2))).shape == (0, 0)
    with pytest.raises(ShapeError):
        pairwise_distances(np.zeros((2, 2)), np.zeros((2, 3)))


def test_genuine_impostor_split():
    enc = np.array([[0.0], [1.0], [3.0], [7.0]])
    gen, imp = genuine_impostor(enc, ["a", "a", "b", "b"])
    np.testing.assert_allclose(sorted(gen), [1.0, 4.0])
    np.testing.assert_allclose(sorted(imp), [2.0, 3.0, 6.0, 7.0])
    gen, imp = genuine_impostor(enc[:1], ["a"])
    assert gen.size == 0 and imp.size == 0
    with pytest.raises(ShapeError):
        genuine_impostor(enc, ["a"])


def test_roc_perfect_separation():
    roc = roc_curve([0.1, 0.2], [0.8, 0.9, 1.0])
    assert roc.n_genuine == 2 and roc.n_impostor == 3
    assert np.all(np.diff(roc.thresholds) > 0)
    assert roc.false_accept_rate[0] == 0 and roc.false_reject_rate[0] == 1
    assert roc.false_accept_rate[-1] == 1 and roc.false_reject_rate[-1] == 0
    np.testing.assert_allclose(roc.true_accept_rate, 1 - roc.false_reject_rate)
    assert roc.auc() == pytest.approx(1.0)
    t, acc = best_threshold([0.1, 0.2], [0.8, 0.9, 1.0])
    assert acc == 1.0 and 0.2 < t <= 0.8
    assert t == pytest.approx(0.5)
    assert accuracy_at([0.1, 0.2], [0.8, 0.9, 1.0], t) == 1.0


def test_accuracy_at_uses_strictly_below():
    # a genuine pair exactly at the threshold is rejected, like `verify`
    assert accuracy_at([0.7], [], 0.7) == 0.0
    assert accuracy_at([0.69], [0.7], 0.7) == 1.0
    assert accuracy_at([0.1, 0.9], [0.5, 1.5], 0.7) == 0.5
    assert accuracy_at([], [], 0.7) == 0.0


def test_roc_overlap_and_chance():
    rng = np.random.default_rng(0)
    same = rng.uniform(0, 1, 2000)
    roc = roc_curve(same, rng.uniform(0, 1, 2000))
    assert roc.auc() == pytest.approx(0.5, abs=0.03)
    # inverted: impostors closer than genuine pairs
    t, acc = best_threshold([0.9, 1.0], [0.1, 0.2])
    assert acc == 0.5  # rejecting everything gets the impostors right


def test_roc_empty_sides():
    roc = roc_curve([], [])
    assert roc.thresholds.shape == (1,)
    assert best_threshold([], []) == (0.0, 0.0)
    roc = roc_curve([0.3], [])
    assert np.all(roc.false_accept_rate == 0)
    with pytest.raises(ShapeError):
        roc_curve([np.nan], [1.0])


def test_threshold_at_far():
    gen, imp = [0.1, 0.3, 0.5], [0.4, 0.9]
    t = threshold_at_far(gen, imp, 0.0)
    assert t == pytest.approx(0.4)  # accepting < 0.4 lets no impostor in
    assert accuracy_at(gen, imp, t) == pytest.approx(4 / 5)


# ---------------------------------------------------------------- pairs file
def test_read_pairs_and_errors(tmp_path):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("2\nAnn\t1\t2\nAnn\t1\tBob\t3\n\n")
    got = read_pairs(pairs, tmp_path / "img")
    assert [p.same for p in got] == [True, False]
    assert got[0].first == tmp_path / "img" / "Ann" / "Ann_0001.jpg"
    assert got[1].second == tmp_path / "img" / "Bob" / "Bob_0003.jpg"

    pairs.write_text("1\nAnn\t1\n")
    with pytest.raises(PairsFileError, match=r"pairs.txt:2: expected"):
        read_pairs(pairs, tmp_path)
    pairs.write_text("1\nAnn\tone\t2\n")
    with pytest.raises(PairsFileError, match="not an integer"):
        read_pairs(pairs, tmp_path)
    with pytest.raises(PairsFileError, match="not found"):
        read_pairs(tmp_path / "nope.txt", tmp_path)
    assert issubclass(PairsFileError, FacelabError)


def test_evaluate_pairs_missing_image(tmp_path):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1\nAnn\t1\t2\n")
    with pytest.raises(ImageError, match=r"Ann_0001.jpg.*line 2"):
        evaluate_pairs(pairs, tmp_path, model=lambda x: x)


# ----------------------------------------------------------------------- LFW
@pytest.fixture(scope="module")
def lfw_result(model):
    root = need(LFW)
    return evaluate_pairs(root / "pairsDevTest.txt", root / "images", model, threshold=0.7,
                          limit=100, center_crop=160)


def test_lfw_subset_well_above_chance(lfw_result):
    r = lfw_result
    assert r.roc.n_genuine == 100 and r.roc.n_impostor == 100
    assert r.best_accuracy >= 0.9, r.summary()
    assert 0.8 < r.best_threshold < 1.3, r.summary()
    assert r.roc.auc() > 0.95, r.summary()
    assert r.genuine.mean() < r.impostor.mean()
    assert r.accuracy == pytest.approx(accuracy_at(r.genuine, r.impostor, 0.7))
    assert "pairs" in r.summary()
