"""Pictures to encodings: (N, 128) float32 rows of unit L2 length.

:func:`img_to_encoding` (one picture, as the lesson does) and
:func:`encode_images` (batches) load pictures with :mod:`facelab.images`,
turn them into model input by a named preprocessing (:mod:`facelab.preprocessing`;
the assignment's by default), run the model through one graph-compiled
function per model and normalise. The
opt-in cache (:func:`cache_encodings`, used by the grader's workers) keeps
encodings in memory and, optionally, in an npz store shared by processes
under a file lock; :func:`encoding_cache_digest` lets a caller detect a
tampered cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ._quiet import keras, tf
from .atomic import atomic_write
from .errors import ModelError, ShapeError
from .expected import EMBEDDING_SIZE, IMAGE_SIZE
from .images import ImageLike, load_image
from .preprocessing import DEFAULT_PREPROCESSING, check_preprocessing, prepare


def _check_model(model) -> None:
    if not callable(model):
        raise ModelError(f"expected a Keras model (or a callable) as `model`, got "
                         f"{type(model).__name__}")


#: id(model) -> (model, compiled function), the most recent _MAX_COMPILED models only
#: (each entry keeps its model alive)
_COMPILED: "OrderedDict[int, tuple]" = OrderedDict()
_MAX_COMPILED = 4


def _forward(model):
    """A graph-compiled inference function for ``model`` (traced once per model).

    Calling a 400-layer Keras model eagerly costs hundreds of milliseconds of
    Python dispatch per call; the traced function skips that, for one picture
    as for a batch.
    """
    key = id(model)
    entry = _COMPILED.get(key)
    if entry is not None and entry[0] is model:
        _COMPILED.move_to_end(key)
    else:
        spec = tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32)
        fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        entry = (model, fn)
        _COMPILED[key] = entry
        while len(_COMPILED) > _MAX_COMPILED:
            _COMPILED.popitem(last=False)
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
    """Write atomically (see facelab.atomic); a failure leaves no partial file."""
    try:
        with atomic_write(path) as handle:
            np.savez(handle, **entries)
    except OSError:
        pass  # a read-only cache folder only costs speed


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


def _encode_batch(items: Sequence[ImageLike], model,
                  preprocessing: str = DEFAULT_PREPROCESSING, flip: bool = False) -> np.ndarray:
    """Load, preprocess and encode ``items`` as one batch: (len(items), 128), unit rows.

    ``flip``: each row is the mean of the picture's encoding and its mirror's
    (the model input reversed left to right), L2-normalised again.
    """
    batch = np.stack([prepare(load_image(item), preprocessing) for item in items])
    codes = _embed(model, batch)
    if not flip:
        return codes
    both = codes + _embed(model, np.ascontiguousarray(batch[:, :, ::-1]))
    return both / np.linalg.norm(both, axis=1, keepdims=True)


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


def img_to_encoding(image: ImageLike, model, preprocessing: str = DEFAULT_PREPROCESSING,
                    flip: bool = False) -> np.ndarray:
    """Encode one picture as the lesson does: shape (1, 128), unit L2 norm.

    ``image`` is a path (any format Pillow reads: JPEG, PNG with alpha, PGM,
    grayscale; EXIF rotation is applied) or an (H, W, 3) / (H, W) uint8 array.
    By default (``preprocessing="assignment"``) the picture is resized to
    160x160 with nearest-neighbour and scaled by 1/255, as the lesson's
    expected outputs were computed; ``"facenet"`` (bilinear, standardised) is
    the checkpoint's own, see :mod:`facelab.preprocessing` for all names. It
    is then run through ``model`` and divided by its L2 norm. Raises
    ImageError for a missing, empty or undecodable file, FacelabError for an
    unknown preprocessing. ``flip=True`` (test-time flip, off by default)
    averages the encoding with that of the horizontal mirror of the model
    input and L2-normalises the mean: two model runs. Pictures passed to
    :func:`cache_encodings` are not encoded again with the default
    preprocessing and no flip (a fresh copy is returned).
    """
    _check_model(model)
    check_preprocessing(preprocessing)
    default = preprocessing == DEFAULT_PREPROCESSING and not flip
    hit = _cached(_picture_key(image, model), model) if _ENCODINGS and default else None
    return hit.copy() if hit is not None else _encode_batch([image], model, preprocessing, flip)


def encode_images(images: Iterable[ImageLike], model, batch_size: int = 32,
                  preprocessing: str = DEFAULT_PREPROCESSING, flip: bool = False) -> np.ndarray:
    """Encode many pictures at once: shape (N, 128), each row unit L2 norm.

    Gives the same rows as calling :func:`img_to_encoding` on each picture
    with the same ``preprocessing`` and ``flip`` (to 1e-5) but runs the model
    on batches of ``batch_size``, which is many times faster. ``flip=True``
    (off by default) is the test-time flip of :func:`img_to_encoding`. An
    empty input returns an array of shape (0, 128).
    """
    _check_model(model)
    check_preprocessing(preprocessing)
    if batch_size < 1:
        raise ShapeError(f"batch_size must be at least 1, got {batch_size}")
    default = preprocessing == DEFAULT_PREPROCESSING and not flip
    items: Sequence[ImageLike] = list(images)
    out = np.empty((len(items), EMBEDDING_SIZE), dtype=np.float32)
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        hit = _cached(_chunk_key(chunk, model), model) if _ENCODINGS and default else None
        out[start:start + len(chunk)] = (hit if hit is not None
                                         else _encode_batch(chunk, model, preprocessing, flip))
    return out
