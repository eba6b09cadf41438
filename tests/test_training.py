"""facelab.training: nn4.small2, batch-hard mining, batches, training with the lesson's loss."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facelab.errors import FacelabError, ShapeError
from facelab.expected import (NN4_SMALL2_INPUT_SIZE, NN4_SMALL2_PARAMETER_COUNT,
                              TRIPLET_SEED, TRIPLET_SEEDED_DRAWS, TRIPLET_SEEDED_LOSS)

from .conftest import ROOT

pytestmark = pytest.mark.slow  # every test here imports TensorFlow


@pytest.fixture(scope="module")
def training():
    from facelab import training

    return training


def test_nn4_small2_has_the_first_editions_parameter_count(training):
    model = training.build_nn4_small2()
    assert model.count_params() == NN4_SMALL2_PARAMETER_COUNT == 3_743_280
    assert model.input_shape == (None, NN4_SMALL2_INPUT_SIZE, NN4_SMALL2_INPUT_SIZE, 3)
    assert model.output_shape == (None, 128)
    # the 7 inception blocks end in 736 channels at 3x3, as in OpenFace
    assert model.get_layer("inception_5b").output.shape[1:] == (3, 3, 736)
    out = np.asarray(model(np.random.default_rng(0).random((2, 96, 96, 3), dtype=np.float32)))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_batch_hard_picks_farthest_positive_and_nearest_negative(training):
    # points on a line; labels a a a b b
    emb = np.array([[0.0], [1.0], [3.0], [3.5], [10.0]], dtype=np.float32)
    labels = np.array([0, 0, 0, 1, 1])
    a, p, n = np.asarray(training.batch_hard_triplets(emb, labels))
    np.testing.assert_array_equal(a[:, 0], emb[:, 0])
    np.testing.assert_array_equal(p[:, 0], [3.0, 3.0, 0.0, 10.0, 3.5])
    np.testing.assert_array_equal(n[:, 0], [3.5, 3.5, 3.5, 3.0, 3.0])
    # a picture alone in its label is its own positive; one label only: own negative
    a, p, n = np.asarray(training.batch_hard_triplets(emb[:2], np.array([0, 1])))
    np.testing.assert_array_equal(p, a)
    a, p, n = np.asarray(training.batch_hard_triplets(emb[:2], np.array([4, 4])))
    np.testing.assert_array_equal(n, a)


def test_person_batches_cover_every_picture_with_every_person(training):
    labels = np.array([0] * 7 + [1] * 3 + [2] * 4)
    rng = np.random.default_rng(1)
    batches = training.person_batches(labels, 2, rng)
    assert len(batches) == 4  # person 0 needs ceil(7 / 2) deals
    for b in batches:
        assert np.bincount(labels[b], minlength=3).tolist() == [2, 2, 2]
        assert len(set(b.tolist())) == len(b)
    assert set(np.concatenate(batches).tolist()) == set(range(14))
    again = training.person_batches(labels, 2, np.random.default_rng(1))
    assert all(np.array_equal(x, y) for x, y in zip(batches, again))
    with pytest.raises(ShapeError, match="person 1 has 1"):
        training.person_batches(np.array([0, 0, 1]), 2, rng)
    with pytest.raises(ShapeError, match="per_person is 1"):
        training.person_batches(labels, 1, rng)


def test_head_starts_as_the_identity(training):
    x = np.random.default_rng(2).normal(size=(5, 128)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(training.embedding_head()(x)), x, atol=1e-6)


def _clusters(seed=0, people=4, each=6, noise=3.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 128))
    x = np.repeat(centres, each, axis=0) + noise * rng.normal(size=(people * each, 128))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), np.repeat(np.arange(people), each)


def test_training_with_the_lessons_loss_lowers_it_deterministically(training):
    from facelab import triplet_loss

    x, labels = _clusters()
    curves, outputs = [], []
    for _ in range(2):
        training.deterministic(0)
        head = training.embedding_head()
        curves.append(training.train_triplets(head, x, labels, triplet_loss, epochs=8,
                                              per_person=3, learning_rate=0.01))
        outputs.append(np.asarray(head(x)))
    curve = curves[0]
    assert curve.shape == (16,)  # 8 epochs of 2 batches (6 pictures each, 3 per person)
    assert curve[:2].mean() > 1.0 and curve[-2:].mean() < 0.5 * curve[:2].mean(), curve
    np.testing.assert_array_equal(curves[0], curves[1])
    np.testing.assert_array_equal(outputs[0], outputs[1])
    with pytest.raises(ShapeError, match="24 inputs but 3 labels"):
        training.train_triplets(head, x, labels[:3], triplet_loss, epochs=1)


def test_a_loss_that_ignores_the_triplets_trains_nothing(training):
    """The trainer's loss is what the student passes: a zero loss leaves the head as it was."""
    from facelab._quiet import tf

    x, labels = _clusters()
    head = training.embedding_head()
    curve = training.train_triplets(head, x, labels, lambda y_true, y_pred: tf.reduce_sum(
        y_pred) * 0.0, epochs=2, per_person=3)
    assert curve.shape == (4,) and np.all(curve == 0)
    np.testing.assert_allclose(np.asarray(head(x)), x, atol=1e-6)


def test_notebook_function_takes_triplet_loss_from_notebook_2(training):
    from facelab._quiet import tf

    fn = training.notebook_function(ROOT / "notebooks" / "2_triplet_loss.ipynb", "triplet_loss")
    tf.random.set_seed(TRIPLET_SEED)
    draws = [tf.random.normal([3, 128], mean=m, stddev=s, seed=TRIPLET_SEED)
             for m, s in TRIPLET_SEEDED_DRAWS]
    assert float(fn(None, draws)) == pytest.approx(TRIPLET_SEEDED_LOSS, abs=1e-3)


def _notebook(path, *sources):
    cells = [{"cell_type": "code", "id": f"c{k}", "metadata": {}, "source": s, "outputs": [],
              "execution_count": None} for k, s in enumerate(sources)]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def test_notebook_function_errors_are_facelab_errors(training, tmp_path):
    with pytest.raises(FacelabError, match="expected a readable notebook"):
        training.notebook_function(tmp_path / "missing.ipynb", "triplet_loss")
    nb = _notebook(tmp_path / "a.ipynb", "import math", "x = 1")
    with pytest.raises(FacelabError, match="'# GRADED FUNCTION: triplet_loss' cell"):
        training.notebook_function(nb, "triplet_loss")
    nb = _notebook(tmp_path / "b.ipynb", "# GRADED FUNCTION: triplet_loss\nraise ValueError('no')")
    with pytest.raises(FacelabError, match="failed: ValueError: no"):
        training.notebook_function(nb, "triplet_loss")
    nb = _notebook(tmp_path / "c.ipynb", "import math",
                   "# GRADED FUNCTION: triplet_loss\ndef triplet_loss(y_true, y_pred):\n"
                   "    return math.tau\n")
    assert training.notebook_function(nb, "triplet_loss")(None, None) == pytest.approx(6.2832, 1e-4)


def test_loss_curve_draws_every_step_and_each_epochs_mean():
    from facelab.plots import loss_curve

    fig = loss_curve([4.0, 3.0, 2.0, 2.0, 1.0, 0.0], steps_per_epoch=2)
    ax = fig.axes[0]
    steps, means = ax.lines
    assert list(steps.get_ydata()) == [4.0, 3.0, 2.0, 2.0, 1.0, 0.0]
    assert list(means.get_xdata()) == [2, 4, 6] and list(means.get_ydata()) == [3.5, 2.0, 0.5]
    assert ax.get_xlabel() == "training step" and "triplet loss" in ax.get_ylabel()


# ------------------------------------------------ the loss is checked before training
def _released_loss(tmp_path):
    """notebook 2's triplet_loss as released: the placeholders, through notebook_function."""
    import nbformat

    from facelab.release import release_notebook

    nb = release_notebook(nbformat.read(ROOT / "notebooks" / "2_triplet_loss.ipynb",
                                        as_version=4))
    path = tmp_path / "2_triplet_loss.ipynb"
    nbformat.write(nb, path)
    from facelab.training import notebook_function

    return notebook_function(path, "triplet_loss")


def _numpy_loss(y_true, y_pred, alpha=0.2):  # a right value TensorFlow cannot differentiate
    a, p, n = (np.asarray(t) for t in (y_pred[0], y_pred[1], y_pred[2]))
    return np.sum(np.maximum(np.sum((a - p) ** 2, -1) - np.sum((a - n) ** 2, -1) + alpha, 0))


def _per_triplet_loss(y_true, y_pred, alpha=0.2):  # forgot the sum: shape (m,)
    from facelab._quiet import tf

    pos = tf.reduce_sum(tf.square(y_pred[0] - y_pred[1]), -1)
    neg = tf.reduce_sum(tf.square(y_pred[0] - y_pred[2]), -1)
    return tf.maximum(pos - neg + alpha, 0.0)


def _raising_loss(y_true, y_pred):
    return y_pred[0] @ y_pred[1]  # (m, 128) @ (m, 128): a shape error inside TensorFlow


@pytest.mark.parametrize("make, says", [
    (_released_loss, r"^your triplet_loss from 2_triplet_loss\.ipynb \(notebook 2\) returns "
                     r"None, so it is not finished yet: finish it there"),
    (lambda _: _numpy_loss, r"^the loss _numpy_loss returns a number TensorFlow cannot "
                            r"differentiate"),
    (lambda _: _per_triplet_loss, r"returns shape \(4,\), expected one number \(sum the "),
    (lambda _: _raising_loss, r"^the loss _raising_loss raised InvalidArgumentError \("),
])
def test_an_unready_loss_stops_training_with_one_sentence(training, tmp_path, make, says):
    from facelab.errors import LossError

    loss = make(tmp_path)
    x, labels = _clusters()
    with pytest.raises(LossError, match=says) as caught:
        training.train_triplets(training.embedding_head(), x, labels, loss, epochs=1)
    assert "\n" not in str(caught.value)
    assert caught.value._render_traceback_() == [f"LossError: {caught.value}"]
    with pytest.raises(LossError, match=says):
        training.collapsed_loss(loss, 10)


def test_the_lessons_loss_and_its_correct_variants_pass_the_check(training):
    from facelab._quiet import tf
    from facelab.exercises import triplet_loss

    def loop_float32(y_true, y_pred, alpha=0.2):  # a loop over the batch, as students write
        total = tf.constant(0.0)
        for i in range(y_pred.shape[1]):
            pos = tf.reduce_sum(tf.square(y_pred[0][i] - y_pred[1][i]))
            neg = tf.reduce_sum(tf.square(y_pred[0][i] - y_pred[2][i]))
            total += tf.maximum(pos - neg + alpha, 0.0)
        return tf.reshape(total, (1,))  # a (1,) tensor is one number too

    for loss in (triplet_loss, loop_float32):
        training.require_loss(loss)


def test_the_collapsed_networks_loss_is_anchors_times_alpha(training):
    from facelab.exercises import triplet_loss
    from facelab.expected import ALPHA

    assert training.collapsed_loss(triplet_loss, 10) == pytest.approx(10 * ALPHA)
    assert training.collapsed_loss(lambda t, p: triplet_loss(t, p, alpha=0.5), 4) == \
        pytest.approx(2.0)
    labels = np.repeat(np.arange(5), [14, 22, 17, 20, 20])  # the office's train crops
    assert training.batch_anchors(labels, 2) == 10 and training.batch_anchors(labels, 4) == 20


def test_encoding_spread_is_zero_for_one_point_and_near_one_on_the_sphere(training):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(500, 128))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    assert training.encoding_spread(np.tile(rows[:1], (7, 1))) == pytest.approx(0.0, abs=1e-12)
    assert 0.95 < training.encoding_spread(rows) < 1.05
    assert training.encoding_spread(np.zeros((0, 128))) == 0.0


def test_on_epoch_is_called_before_and_after_each_epoch(training):
    from facelab.exercises import triplet_loss

    x, labels = _clusters()
    head = training.embedding_head()
    seen = []
    training.train_triplets(head, x, labels, triplet_loss, epochs=3, per_person=3,
                            on_epoch=lambda k: seen.append((k, training.encoding_spread(head(x)))))
    assert [k for k, _ in seen] == [0, 1, 2, 3]
