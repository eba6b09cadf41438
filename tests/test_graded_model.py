"""The grader's model answers like the notebook's: the same types, shapes and values for
everything a student does with it, from the stored outputs for the tests' pictures and
from the real model (loaded on first need) for any other input."""

from __future__ import annotations

import numpy as np
import pytest

from facelab.grading.graded_model import GradedModel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pictures(office):
    from facelab.database import camera_pictures
    from facelab.images import load_image, to_model_input

    return np.stack([to_model_input(load_image(p)) for p in camera_pictures()[:3]])


@pytest.fixture(scope="module")
def table(model, pictures, tmp_path_factory):
    from facelab.grading import oracle, wire

    paths = []
    from facelab.database import camera_pictures

    paths = [str(p) for p in camera_pictures()[:2]]  # the third picture is not a test's
    return {k: wire.decode(v) for k, v in oracle.raw_outputs(paths, model)}


def _graded(table, model):
    loads = []

    def load():
        loads.append(1)
        return model
    return GradedModel(table, load=load), loads


def test_every_way_of_calling_it_gives_the_notebook_model_s_types_and_values(table, model, pictures):
    from facelab._quiet import tf
    from facelab.encoding import _forward

    graded, loads = _graded(table, model)
    two = pictures[:2]
    real = np.asarray(_forward(model)(tf.constant(two)))
    for out in (graded(two), graded(two, training=False), graded(tf.constant(two))):
        assert isinstance(out, tf.Tensor) and out.dtype == tf.float32 and out.shape == (2, 128)
        np.testing.assert_allclose(out.numpy(), real, atol=1e-5)  # batch of 2 vs stored singles
    for out in (graded.predict(two, verbose=0), graded.predict(two, batch_size=1, verbose=0),
                graded.predict_on_batch(two), graded.predict(two.astype(np.float64))):
        assert isinstance(out, np.ndarray) and out.dtype == np.float32
        np.testing.assert_allclose(out, real, atol=1e-5)
    assert graded(two[0]).shape == (1, 128)  # one picture without its batch axis
    assert graded.input_shape == model.input_shape and graded.output_shape == model.output_shape
    assert graded.count_params() == model.count_params()
    assert loads == []  # the tests' pictures never need the real model


def test_a_test_picture_up_to_float_rounding_is_that_picture(table, model, pictures):
    """x * (1 / 255) in float32 differs from the lesson's x / 255 in the last bit of many
    values: still that picture, answered from the stored outputs (no model loaded)."""
    from PIL import Image

    from facelab.database import camera_pictures

    graded, loads = _graded(table, model)
    theirs = np.asarray(Image.open(camera_pictures()[0]).convert("RGB"), np.float32) * (1 / 255)
    assert (theirs != pictures[0]).any() and np.abs(theirs - pictures[0]).max() < 1e-6
    np.testing.assert_array_equal(graded.predict(theirs[None], verbose=0),
                                  graded.predict(pictures[:1], verbose=0))
    assert loads == []
    graded(pictures[:1] + 2e-5)  # more than rounding: the real model is asked
    assert loads == [1]


def test_another_input_gets_the_real_model_s_output_loaded_once(table, model, pictures):
    from facelab.errors import ShapeError

    graded, loads = _graded(table, model)
    mixed = np.stack([pictures[0], pictures[2], pictures[1][:, ::-1]])  # a stored one, two others
    want = np.asarray(model(mixed, training=False))
    got = graded.predict(mixed, verbose=0)
    np.testing.assert_allclose(got, want, atol=1e-5)
    graded(pictures[2:3] * 1.0)
    assert loads == [1] and graded.loaded_real_model
    assert [layer.name for layer in graded.layers] == [layer.name for layer in model.layers]
    with pytest.raises(ShapeError, match=r"\(N, 160, 160, 3\), got \(2, 3\)"):
        graded(np.zeros((2, 3)))


def test_a_model_that_cannot_load_says_so_in_one_line(table, pictures):
    from facelab.errors import ModelError

    def broken():
        raise OSError("weights unreadable")
    graded = GradedModel(table, load=broken)
    with pytest.raises(ModelError, match="could not load the model"):
        graded(pictures[2])
