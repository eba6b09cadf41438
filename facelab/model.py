"""The pretrained FaceNet: architecture in code, weights by layer name.

The registry file ``facenet_keras.h5`` was saved by Keras 2.1 with ``Lambda``
layers that Keras 3 cannot deserialize. So the Inception-ResNet-v1 graph is
written out here, layer for layer with the file's names, and the weights are
copied from the HDF5 groups by name. Input: (N, 160, 160, 3) float32 pixels
in [0, 1]. Output: (N, 128) embeddings (not yet normalised; the encoding
functions below normalise them to unit L2 length).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from . import assets
from ._quiet import keras, tf
from .errors import FacelabError, ModelError, ShapeError
from .expected import EMBEDDING_SIZE, IMAGE_SIZE, PARAMETER_COUNT
from .images import ImageLike, load_image, to_model_input

layers = keras.layers


@keras.saving.register_keras_serializable(package="facelab")
class ScaledResidual(layers.Layer):
    """``shortcut + scale * residual``: the residual join of Inception-ResNet."""

    def __init__(self, scale: float, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        shortcut, residual = inputs
        return shortcut + self.scale * residual

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _conv_bn(x, filters: int, kernel, name: str, strides=1, padding="same", relu=True):
    """Conv (no bias) -> BatchNorm (no gamma) -> ReLU, named as in the h5 file."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding,
                      use_bias=False, name=name)(x)
    x = layers.BatchNormalization(axis=3, momentum=0.995, epsilon=0.001,
                                  scale=False, name=f"{name}_BatchNorm")(x)
    if relu:
        x = layers.Activation("relu", name=f"{name}_Activation")(x)
    return x


# Each residual block: branches of (filters, kernel) convolutions run in parallel,
# are concatenated, projected back to the input width with a biased 1x1 conv,
# scaled and added to the input.
_BLOCKS = {
    "Block35": (0.17, (
        (("Conv2d_1x1", 32, 1),),
        (("Conv2d_0a_1x1", 32, 1), ("Conv2d_0b_3x3", 32, 3)),
        (("Conv2d_0a_1x1", 32, 1), ("Conv2d_0b_3x3", 32, 3), ("Conv2d_0c_3x3", 32, 3)),
    )),
    "Block17": (0.10, (
        (("Conv2d_1x1", 128, 1),),
        (("Conv2d_0a_1x1", 128, 1), ("Conv2d_0b_1x7", 128, (1, 7)),
         ("Conv2d_0c_7x1", 128, (7, 1))),
    )),
    "Block8": (0.20, (
        (("Conv2d_1x1", 192, 1),),
        (("Conv2d_0a_1x1", 192, 1), ("Conv2d_0b_1x3", 192, (1, 3)),
         ("Conv2d_0c_3x1", 192, (3, 1))),
    )),
}


def _residual_block(x, kind: str, index: int, scale: float | None = None, relu=True):
    default_scale, branches = _BLOCKS[kind]
    prefix = f"{kind}_{index}"
    outputs = []
    for b, convs in enumerate(branches):
        y = x
        for conv_name, filters, kernel in convs:
            y = _conv_bn(y, filters, kernel, f"{prefix}_Branch_{b}_{conv_name}")
        outputs.append(y)
    mixed = layers.Concatenate(axis=3, name=f"{prefix}_Concatenate")(outputs)
    up = layers.Conv2D(x.shape[-1], 1, padding="same", use_bias=True,
                       name=f"{prefix}_Conv2d_1x1")(mixed)
    x = ScaledResidual(default_scale if scale is None else scale,
                       name=f"{prefix}_ScaleSum")([x, up])
    if relu:
        x = layers.Activation("relu", name=f"{prefix}_Activation")(x)
    return x


def build_facenet() -> "keras.Model":
    """Build the untrained Inception-ResNet-v1 FaceNet graph (22,808,144 parameters).

    Returns a Keras functional model mapping (N, 160, 160, 3) to (N, 128).
    Layer names match ``facenet_keras.h5`` so that :func:`load_weights` can
    copy the weights by name.
    """
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), name="input_1")
    # stem
    x = _conv_bn(inputs, 32, 3, "Conv2d_1a_3x3", strides=2, padding="valid")
    x = _conv_bn(x, 32, 3, "Conv2d_2a_3x3", padding="valid")
    x = _conv_bn(x, 64, 3, "Conv2d_2b_3x3")
    x = layers.MaxPooling2D(3, strides=2, name="MaxPool_3a_3x3")(x)
    x = _conv_bn(x, 80, 1, "Conv2d_3b_1x1", padding="valid")
    x = _conv_bn(x, 192, 3, "Conv2d_4a_3x3", padding="valid")
    x = _conv_bn(x, 256, 3, "Conv2d_4b_3x3", strides=2, padding="valid")
    # 5 x Inception-ResNet-A (17x17x256)
    for i in range(1, 6):
        x = _residual_block(x, "Block35", i)
    # Reduction-A -> 8x8x896
    b0 = _conv_bn(x, 384, 3, "Mixed_6a_Branch_0_Conv2d_1a_3x3", strides=2, padding="valid")
    b1 = _conv_bn(x, 192, 1, "Mixed_6a_Branch_1_Conv2d_0a_1x1")
    b1 = _conv_bn(b1, 192, 3, "Mixed_6a_Branch_1_Conv2d_0b_3x3")
    b1 = _conv_bn(b1, 256, 3, "Mixed_6a_Branch_1_Conv2d_1a_3x3", strides=2, padding="valid")
    b2 = layers.MaxPooling2D(3, strides=2, name="Mixed_6a_Branch_2_MaxPool_1a_3x3")(x)
    x = layers.Concatenate(axis=3, name="Mixed_6a")([b0, b1, b2])
    # 10 x Inception-ResNet-B
    for i in range(1, 11):
        x = _residual_block(x, "Block17", i)
    # Reduction-B -> 3x3x1792
    b0 = _conv_bn(x, 256, 1, "Mixed_7a_Branch_0_Conv2d_0a_1x1")
    b0 = _conv_bn(b0, 384, 3, "Mixed_7a_Branch_0_Conv2d_1a_3x3", strides=2, padding="valid")
    b1 = _conv_bn(x, 256, 1, "Mixed_7a_Branch_1_Conv2d_0a_1x1")
    b1 = _conv_bn(b1, 256, 3, "Mixed_7a_Branch_1_Conv2d_1a_3x3", strides=2, padding="valid")
    b2 = _conv_bn(x, 256, 1, "Mixed_7a_Branch_2_Conv2d_0a_1x1")
    b2 = _conv_bn(b2, 256, 3, "Mixed_7a_Branch_2_Conv2d_0b_3x3")
    b2 = _conv_bn(b2, 256, 3, "Mixed_7a_Branch_2_Conv2d_1a_3x3", strides=2, padding="valid")
    b3 = layers.MaxPooling2D(3, strides=2, name="Mixed_7a_Branch_3_MaxPool_1a_3x3")(x)
    x = layers.Concatenate(axis=3, name="Mixed_7a")([b0, b1, b2, b3])
    # 5 x Inception-ResNet-C, then a last one with no scaling and no ReLU
    for i in range(1, 6):
        x = _residual_block(x, "Block8", i)
    x = _residual_block(x, "Block8", 6, scale=1.0, relu=False)
    # head
    x = layers.GlobalAveragePooling2D(name="AvgPool")(x)
    x = layers.Dropout(0.2, name="Dropout")(x)
    x = layers.Dense(EMBEDDING_SIZE, use_bias=False, name="Bottleneck")(x)
    x = layers.BatchNormalization(momentum=0.995, epsilon=0.001, scale=False,
                                  name="Bottleneck_BatchNorm")(x)
    return keras.Model(inputs, x, name="inception_resnet_v1_facenet")


_WEIGHT_ORDER = {  # Keras 3 variable order per layer type
    "Conv2D": ("kernel", "bias"),
    "Dense": ("kernel", "bias"),
    "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
}


def load_weights(model: "keras.Model", path: str | os.PathLike) -> None:
    """Copy weights from a Keras-2 ``facenet_keras.h5`` into ``model``, by layer name.

    Every layer of ``model`` that has weights must find a group of the same
    name with arrays of the same shapes; otherwise :class:`ModelError` says
    which layer and what was expected. Nothing is assigned unless all match.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model weights not found at {path}; run `facelab fetch` first")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ModelError(
            f"{path} is not a readable HDF5 weights file ({exc}); it may be truncated or "
            "the wrong file: run `facelab fetch` to download and verify it again"
        ) from None
    pending = []
    with handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        for layer in model.layers:
            if not layer.weights:
                continue
            if layer.name not in root:
                raise ModelError(f"{path} has no weights for layer {layer.name!r}; "
                                 "is it facenet_keras.h5? run `facelab fetch`")
            group = root[layer.name]
            arrays = {}
            try:
                for wname in group.attrs["weight_names"]:
                    wname = wname.decode() if isinstance(wname, bytes) else wname
                    short = wname.rsplit("/", 1)[-1].split(":", 1)[0]
                    arrays[short] = np.asarray(group[wname])
            except (KeyError, OSError) as exc:
                raise ModelError(f"{path}: weights of layer {layer.name!r} are unreadable "
                                 f"({exc}); run `facelab fetch` again") from None
            values = []
            for var in layer.weights:
                short = var.path.rsplit("/", 1)[-1]
                if short == "gamma" and short not in arrays:
                    raise ModelError(f"layer {layer.name!r} expects a gamma the file lacks")
                if short not in arrays:
                    raise ModelError(f"{path}: layer {layer.name!r} has no {short!r} weights")
                if tuple(arrays[short].shape) != tuple(var.shape):
                    raise ModelError(
                        f"{path}: layer {layer.name!r} {short} has shape "
                        f"{arrays[short].shape}, the model expects {tuple(var.shape)}")
                values.append(arrays[short])
            pending.append((layer, values))
    for layer, values in pending:
        layer.set_weights(values)


@functools.lru_cache(maxsize=None)
def _load_cached(weights_path: str, mtime_ns: int, size: int) -> "keras.Model":
    model = build_facenet()
    load_weights(model, weights_path)
    model.trainable = False
    return model


def load_pretrained(weights_path: str | os.PathLike | None = None) -> "keras.Model":
    """Return the pretrained FaceNet (cached: the second call in a process is free).

    ``weights_path`` defaults to ``weights/facenet_keras.h5`` of the workbook
    (see :func:`facelab.assets.weights_path`). Raises :class:`ModelError`
    naming the command to run when the file is missing or damaged. The file is
    not re-hashed on every call; `facelab fetch` verified it when writing it,
    and a changed file (size or mtime) is loaded afresh.
    """
    path = Path(weights_path) if weights_path is not None else assets.weights_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ModelError(f"model weights not found at {path}; run `facelab fetch` first") from None
    model = _load_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if model.count_params() != PARAMETER_COUNT:  # pragma: no cover - guards the code above
        raise ModelError(f"model has {model.count_params()} parameters, expected {PARAMETER_COUNT}")
    return model


def _check_model(model) -> None:
    if not callable(model):
        raise FacelabError(f"expected a Keras model as `model`, got {type(model).__name__}")


_COMPILED: "dict[int, object]" = {}


def _forward(model):
    """A graph-compiled inference function for ``model`` (traced once per model).

    Calling a 400-layer Keras model eagerly costs hundreds of milliseconds of
    Python dispatch per call; the traced function skips that, for one picture
    as for a batch.
    """
    key = id(model)
    entry = _COMPILED.get(key)
    if entry is None or entry[0] is not model:
        spec = tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32)
        fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        entry = (model, fn)
        _COMPILED[key] = entry
    return entry[1]


def _embed(model, batch: np.ndarray) -> np.ndarray:
    """Run the model on a float32 batch (N, 160, 160, 3) and L2-normalise each row."""
    if isinstance(model, keras.Model):
        out = _forward(model)(tf.constant(batch, dtype=tf.float32))
    else:  # a plain callable (tests, students' stand-ins)
        out = model(tf.constant(batch, dtype=tf.float32))
    out = np.asarray(out, dtype=np.float32)
    if out.ndim != 2 or out.shape[0] != batch.shape[0]:
        raise ShapeError(f"the model returned shape {out.shape}; expected "
                         f"({batch.shape[0]}, {EMBEDDING_SIZE})")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / norms


# Opt-in cache of picture encodings (see cache_encodings). Nothing is cached unless
# cache_encodings is called: a notebook that retrains or edits the model's weights
# would otherwise get stale encodings. Key: (resolved path, st_mtime_ns, st_size,
# id(model)); value: (model, read-only (1, 128) array backed by immutable bytes). A
# batch of encode_images is cached too, under ("batch", its pictures' keys, id(model)),
# since a batch's rows may differ from single encodings in the last bits.
_ENCODINGS: "dict[tuple, tuple[object, np.ndarray]]" = {}


def _picture_key(image, model):
    """The cache key of a picture path, or None (arrays, unreadable paths)."""
    if not isinstance(image, (str, os.PathLike)):
        return None
    try:
        path = Path(image).resolve()
        st = path.stat()
    except (OSError, ValueError, RuntimeError):
        return None
    return (str(path), st.st_mtime_ns, st.st_size, id(model))


def _frozen(arr: np.ndarray) -> np.ndarray:
    """A read-only copy whose WRITEABLE flag cannot be turned back on (bytes-backed)."""
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    return np.frombuffer(arr.tobytes(), dtype=np.float32).reshape(arr.shape)


def _chunk_key(chunk, model):
    keys = [_picture_key(item, model) for item in chunk]
    if not keys or any(k is None for k in keys):
        return None
    return ("batch", tuple(k[:3] for k in keys), id(model))


# Bump when anything that changes an encoding's bits changes (preprocessing, _embed).
_STORE_VERSION = 1


def _store_file(store: Path, model) -> Path:
    """The store file for this model's current weights, TensorFlow and numpy."""
    h = hashlib.sha256(f"{_STORE_VERSION} {tf.__version__} {np.__version__}".encode())
    for v in model.weights:  # the weights' bits, summed per variable (~50 ms)
        h.update(np.asarray(v).reshape(-1).view(np.uint32).sum(dtype=np.uint64).tobytes())
        h.update(repr(tuple(v.shape)).encode())
    return Path(store) / f"encodings-{h.hexdigest()[:24]}.npz"


def _read_store(path: Path) -> dict:
    """The stored encodings, or {} when the file is missing or unreadable (then rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.array(data[k], dtype=np.float32) for k in data.files}
    except Exception:  # noqa: BLE001 - missing, truncated, not an npz: encode afresh
        return {}


def _write_store(path: Path, entries: dict) -> None:
    """Write atomically (temporary file, then rename); a failure leaves no partial file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez(fh, **entries)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache folder only costs speed
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def _store_lock(path: Path | None):
    """Hold the store's lock: processes starting together (the grader's workers)
    encode once, the others wait and then read what the first one stored."""
    if path is None:
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path.parent / ".lock", "a")
    except OSError:  # a read-only cache folder: no sharing, no harm
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes (or the process dies)
        yield


def _encode_batch(items: Sequence[ImageLike], model) -> np.ndarray:
    """Load, resize and encode ``items`` as one batch: (len(items), 128), unit rows."""
    return _embed(model, np.stack([to_model_input(load_image(item)) for item in items]))


def _cached(key, model) -> np.ndarray | None:
    """The cached encoding under ``key`` if it was computed with this very ``model``."""
    entry = _ENCODINGS.get(key) if key is not None else None
    return entry[1] if entry is not None and entry[0] is model else None


def _content_id(image) -> str:
    return hashlib.sha256(Path(image).read_bytes()).hexdigest()


def cache_encodings(images: Iterable[ImageLike], model, batch_size: int | None = 32,
                    store: str | os.PathLike | None = None) -> int:
    """Encode these picture files now; later calls on them are free.

    Later :func:`img_to_encoding` calls on any of these files, and (unless
    ``batch_size`` is None) :func:`encode_images` calls on this same list with
    this ``batch_size`` (e.g. rebuilding a database from these pictures),
    return copies of the cached encodings. Opt-in (the autograder's workers
    use it): only call it while ``model``'s weights stay fixed. Entries are
    keyed by the resolved path, the file's mtime and size and the model, so an
    edited file or another model is encoded afresh. Encodings are computed by
    the same code as uncached calls, so cached and uncached results are
    bit-identical.

    ``store``: a folder where the encodings are also kept between processes,
    in one file per (weights, TensorFlow, numpy) version, keyed by each
    picture's sha256; what is found there is not computed again, what is
    missing is computed and added (atomic rename; an unreadable file is
    ignored and rewritten). Returns the number of pictures cached (arrays and
    unreadable paths are skipped).
    """
    _check_model(model)
    if batch_size is not None and batch_size < 1:
        raise ShapeError(f"batch_size must be at least 1, got {batch_size}")
    items = list(images)
    path = _store_file(Path(store), model) if store is not None else None
    with _store_lock(path):
        return _fill_cache(items, model, batch_size, path)


def _fill_cache(items: list, model, batch_size: int | None, path: Path | None) -> int:
    stored = _read_store(path) if path is not None else {}
    added = {}

    def get(name, compute):
        if path is None:
            return compute()
        if name not in stored:
            added[name] = stored[name] = np.asarray(compute(), dtype=np.float32)
        return stored[name]

    n = 0
    for image in items:
        key = _picture_key(image, model)
        if key is None:
            continue
        if key not in _ENCODINGS:
            name = f"one-{_content_id(image)}" if path is not None else ""
            arr = get(name, lambda image=image: _encode_batch([image], model))
            _ENCODINGS[key] = (model, _frozen(arr))
        n += 1
    for start in range(0, len(items) if batch_size else 0, batch_size or 1):
        chunk = items[start:start + batch_size]
        key = _chunk_key(chunk, model)
        if key is not None and key not in _ENCODINGS:
            name = ""
            if path is not None:
                name = "batch-" + hashlib.sha256(
                    " ".join(_content_id(item) for item in chunk).encode()).hexdigest()
            arr = get(name, lambda chunk=chunk: _encode_batch(chunk, model))
            _ENCODINGS[key] = (model, _frozen(arr))
    if added:
        _write_store(path, stored)
    return n


def clear_encoding_cache() -> None:
    """Forget every cached encoding (see :func:`cache_encodings`)."""
    _ENCODINGS.clear()


def encoding_cache_digest() -> str:
    """A checksum of everything about the cache that must not change once filled.

    The keys, the identity of the dict, of each entry's model and array, each
    array's type, dtype, shape, flags and whether it is still backed by
    immutable bytes, and its exact bytes. The grader's workers compare it after
    each exercise to catch a poisoned cache.
    """
    h = hashlib.sha256(repr(id(_ENCODINGS)).encode())
    for key in sorted(_ENCODINGS, key=repr):
        owner, arr = _ENCODINGS[key]
        h.update(repr((key, id(owner), id(arr), type(arr).__qualname__, arr.dtype.str, arr.shape,
                       arr.flags.writeable, isinstance(arr.base, bytes))).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def img_to_encoding(image: ImageLike, model) -> np.ndarray:
    """Encode one picture as the lesson does: shape (1, 128), unit L2 norm.

    ``image`` is a path (any format Pillow reads: JPEG, PNG with alpha, PGM,
    grayscale; EXIF rotation is applied) or an (H, W, 3) / (H, W) uint8 array.
    The picture is resized to 160x160 with nearest-neighbour, scaled by 1/255,
    run through ``model`` and divided by its L2 norm. Raises ImageError for a
    missing, empty or undecodable file. Pictures passed to
    :func:`cache_encodings` are not encoded again (a fresh copy is returned).
    """
    _check_model(model)
    hit = _cached(_picture_key(image, model), model) if _ENCODINGS else None
    return hit.copy() if hit is not None else _encode_batch([image], model)


def encode_images(images: Iterable[ImageLike], model, batch_size: int = 32) -> np.ndarray:
    """Encode many pictures at once: shape (N, 128), each row unit L2 norm.

    Gives the same rows as calling :func:`img_to_encoding` on each picture
    (to 1e-5) but runs the model on batches of ``batch_size``, which is many
    times faster. An empty input returns an array of shape (0, 128).
    """
    _check_model(model)
    if batch_size < 1:
        raise ShapeError(f"batch_size must be at least 1, got {batch_size}")
    items: Sequence[ImageLike] = list(images)
    out = np.empty((len(items), EMBEDDING_SIZE), dtype=np.float32)
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        hit = _cached(_chunk_key(chunk, model), model) if _ENCODINGS else None
        out[start:start + len(chunk)] = hit if hit is not None else _encode_batch(chunk, model)
    return out


def timed_load(weights_path=None) -> tuple["keras.Model", float]:
    """Load the model uncached and return it with the seconds it took (for benchmarks)."""
    _load_cached.cache_clear()
    start = time.perf_counter()
    model = load_pretrained(weights_path)
    return model, time.perf_counter() - start
