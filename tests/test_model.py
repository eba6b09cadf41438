"""The pretrained FaceNet: architecture, weights, encodings."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from facelab.errors import ImageError, ModelError
from facelab.expected import ENCODING_TOLERANCE, PARAMETER_COUNT
from facelab.encoding import encode_images, img_to_encoding
from facelab.model import build_facenet, load_pretrained
from facelab.weights import load_weights

from .conftest import TEST_IMAGES, need
from .test_images import exif_rotated_copy

pytestmark = pytest.mark.slow  # every test here needs TensorFlow (most the model)


def test_shapes_and_parameter_count(model):
    assert model.count_params() == PARAMETER_COUNT == 22_808_144
    assert tuple(model.input_shape) == (None, 160, 160, 3)
    assert tuple(model.output_shape) == (None, 128)


def test_load_pretrained_is_cached(model):
    assert load_pretrained() is model


def test_every_weighted_layer_got_the_files_weights(model):
    import h5py
    from facelab import assets

    with h5py.File(assets.weights_path(), "r") as fh:
        group = fh["model_weights"]["Block17_4_Branch_1_Conv2d_0b_1x7"]
        kernel = np.asarray(group["Block17_4_Branch_1_Conv2d_0b_1x7/kernel:0"])
        mean = np.asarray(fh["model_weights"]["Bottleneck_BatchNorm"]["Bottleneck_BatchNorm/moving_mean:0"])
    assert np.array_equal(model.get_layer("Block17_4_Branch_1_Conv2d_0b_1x7").get_weights()[0], kernel)
    assert np.array_equal(model.get_layer("Bottleneck_BatchNorm").moving_mean.numpy(), mean)


def test_encoding_is_unit_length(model, office):
    enc = img_to_encoding(office / "camera" / "madonna_1.png", model)
    assert enc.shape == (1, 128) and enc.dtype == np.float32
    assert np.linalg.norm(enc) == pytest.approx(1.0, abs=1e-5)


def test_batch_equals_loop(model, office):
    pictures = sorted((office / "camera").glob("*.png"))[:12]
    loop = np.concatenate([img_to_encoding(p, model) for p in pictures])
    batch = encode_images(pictures, model, batch_size=5)
    assert batch.shape == (12, 128)
    assert np.abs(loop - batch).max() < ENCODING_TOLERANCE


def test_empty_batch(model):
    assert encode_images([], model).shape == (0, 128)


def test_odd_formats_encode(model, tmp_path):
    pgm = need(TEST_IMAGES / "pgm_gray" / "s1" / "1.pgm")
    rgba = need(TEST_IMAGES / "identities" / "obama" / "obama2_32bit_rgba.png")
    jpg = TEST_IMAGES / "identities" / "obama" / "obama_small.jpg"
    exif_rotated_copy(jpg, tmp_path / "turned.png")
    for path in (pgm, rgba, tmp_path / "turned.png"):
        enc = img_to_encoding(path, model)
        assert enc.shape == (1, 128) and np.isfinite(enc).all()
    assert np.abs(img_to_encoding(tmp_path / "turned.png", model)
                  - img_to_encoding(jpg, model)).max() < ENCODING_TOLERANCE


def test_bad_picture_is_an_image_error_not_a_tensorflow_trace(model, tmp_path):
    (tmp_path / "x.jpg").write_text("nope")
    with pytest.raises(ImageError, match="not a picture"):
        img_to_encoding(tmp_path / "x.jpg", model)
    with pytest.raises(ImageError, match="not found"):
        encode_images([tmp_path / "missing.png"], model)


def test_wrong_or_truncated_weights_file(tmp_path, office):
    model = build_facenet()
    (tmp_path / "w.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ModelError, match="run `facelab fetch`"):
        load_weights(model, tmp_path / "w.h5")
    with pytest.raises(ModelError, match="not found"):
        load_pretrained(tmp_path / "missing.h5")
    import h5py
    with h5py.File(tmp_path / "other.h5", "w") as fh:
        fh.create_group("model_weights")
    with pytest.raises(ModelError, match="no weights for layer 'Conv2d_1a_3x3'"):
        load_weights(model, tmp_path / "other.h5")


def test_encoding_cache_is_exact_read_only_and_keyed_by_file(model, office, tmp_path):
    from facelab import encoding as m
    from facelab.encoding import cache_encodings, clear_encoding_cache, encoding_cache_digest

    pictures = sorted((office / "camera").glob("*.png"))[:6]
    fresh_one = img_to_encoding(pictures[0], model)
    fresh_batch = encode_images(pictures, model, batch_size=4)
    copy = tmp_path / "copy.png"
    shutil.copy(pictures[1], copy)
    try:
        assert cache_encodings(pictures + [copy], model, batch_size=4) == 7
        digest = encoding_cache_digest()
        hit = img_to_encoding(pictures[0], model)
        assert np.array_equal(hit, fresh_one)  # the same code computed it: bit-identical
        assert np.array_equal(encode_images(pictures, model, batch_size=4), fresh_batch)
        hit[:] = 0  # callers get copies: the cache is unchanged
        assert encoding_cache_digest() == digest
        assert np.array_equal(img_to_encoding(pictures[0], model), fresh_one)
        for _model, arr in m._ENCODINGS.values():
            with pytest.raises(ValueError):
                arr.flags.writeable = True
        # an edited file is encoded afresh, not served from the cache
        shutil.copy(pictures[2], copy)
        st = copy.stat()
        os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        assert np.array_equal(img_to_encoding(copy, model), img_to_encoding(pictures[2], model))
        # another model (a stand-in callable) never gets this model's encodings
        calls = []

        def other(x):
            calls.append(1)
            return np.ones((x.shape[0], 128), np.float32)
        assert not np.array_equal(img_to_encoding(pictures[0], other), fresh_one) and calls
    finally:
        clear_encoding_cache()
    assert encoding_cache_digest() == encoding_cache_digest() != digest


def test_encoding_store_is_reused_across_processes_and_survives_damage(model, office, tmp_path,
                                                                       monkeypatch):
    from facelab import encoding as m
    from facelab.encoding import cache_encodings, clear_encoding_cache

    pictures = sorted((office / "camera").glob("*.png"))[:3]
    store = tmp_path / "store"
    fresh_one = np.concatenate([img_to_encoding(p, model) for p in pictures])
    fresh_batch = encode_images(pictures, model, batch_size=2)
    try:
        assert cache_encodings(pictures, model, batch_size=2, store=store) == 3
        (stored,) = store.glob("encodings-*.npz")
        clear_encoding_cache()  # as in a new process: only the file remains

        def no_model(*_a, **_k):
            raise AssertionError("encoded again instead of reading the store")
        with monkeypatch.context() as mp:
            mp.setattr(m, "_embed", no_model)
            cache_encodings(pictures, model, batch_size=2, store=store)
            loop = np.concatenate([img_to_encoding(p, model) for p in pictures])
            batch = encode_images(pictures, model, batch_size=2)
        assert np.array_equal(loop, fresh_one) and np.array_equal(batch, fresh_batch)
        # a damaged store file is ignored, encoded afresh and rewritten whole
        clear_encoding_cache()
        stored.write_bytes(b"not an npz")
        cache_encodings(pictures, model, batch_size=2, store=store)
        assert np.array_equal(np.concatenate([img_to_encoding(p, model) for p in pictures]), fresh_one)
        assert list(store.glob("encodings-*.npz")) == [stored] and not list(store.glob("*.tmp"))
        assert len(np.load(stored).files) == 3 + 2  # 3 pictures, 2 batches
    finally:
        clear_encoding_cache()


def test_only_the_last_weights_file_stays_in_memory(tmp_path, monkeypatch):
    from facelab import model as m

    built = []
    monkeypatch.setattr(m, "_LOADED", {})
    monkeypatch.setattr(m, "build_facenet", lambda: built.append(1) or m.keras.Sequential())
    monkeypatch.setattr(m, "load_weights", lambda model, path: None)
    monkeypatch.setattr(m.keras.Sequential, "count_params", lambda self: PARAMETER_COUNT)
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    first = m.load_pretrained(a)
    assert m.load_pretrained(a) is first and len(built) == 1
    m.load_pretrained(b)
    assert len(m._LOADED) == 1 and len(built) == 2
    assert m.load_pretrained(a) is not first and len(built) == 3  # a was let go, built again


def test_compiled_forward_functions_are_bounded(monkeypatch):
    from collections import OrderedDict

    from facelab import encoding as e

    monkeypatch.setattr(e, "_COMPILED", OrderedDict())
    models = [e.keras.Sequential([e.keras.Input((4,)), e.keras.layers.Dense(2)]) for _ in range(6)]
    fns = [e._forward(mdl) for mdl in models]
    assert len(e._COMPILED) == e._MAX_COMPILED
    assert [entry[0] for entry in e._COMPILED.values()] == models[-e._MAX_COMPILED:]
    assert e._forward(models[-1]) is fns[-1]  # the same model gets its traced function back


def test_a_wrong_shape_in_the_last_layer_assigns_nothing(tmp_path, office):
    import h5py
    from facelab import assets

    bad = tmp_path / "bad.h5"
    shutil.copy(assets.weights_path(), bad)
    with h5py.File(bad, "r+") as fh:
        group = fh["model_weights"]["Bottleneck"]
        name = next(n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"])
        del group[name]
        group.create_dataset(name, data=np.zeros((1792, 64), np.float32))
    model = build_facenet()
    first = model.get_layer("Conv2d_1a_3x3")
    before = first.get_weights()[0].copy()
    with pytest.raises(ModelError, match=r"'Bottleneck' kernel has shape \(1792, 64\), the model "
                                         r"expects \(1792, 128\)"):
        load_weights(model, bad)
    assert np.array_equal(first.get_weights()[0], before)  # checked before anything is assigned
