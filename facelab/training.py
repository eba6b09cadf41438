"""Training with the triplet loss: nn4.small2 from scratch, or a head on FaceNet.

The first edition of the assignment built OpenFace's nn4.small2 (96x96
input, 3,743,280 parameters, written channels-first there). Its trained
weights are not obtainable, so here it is built channels-last and trained
from scratch on the office's 93 train crops: the loss falls, the visitors
barely separate better, which is why the assignment loads FaceNet. A small
head (a dense layer, then L2 normalisation) on top of FaceNet's frozen
encodings is trained with the same loss instead.

Training batches hold ``per_person`` pictures of each of ``people`` persons;
each picture of the batch is an anchor whose triplet takes, among the
batch's embeddings, its farthest positive and its nearest negative
("batch-hard" mining). Any loss with the signature of the lesson's
``triplet_loss(y_true, y_pred)`` (``y_pred[0..2]`` = anchor, positive,
negative, each (m, 128)) works as the Keras loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ._quiet import keras, tf
from .errors import ShapeError
from .expected import EMBEDDING_SIZE, NN4_SMALL2_INPUT_SIZE

layers = keras.layers

# nn4.small2's inception blocks: (name, stride, 3x3 branch (reduce, out), 5x5 branch
# (reduce, out) or None, pool branch (kind, 1x1 projection or None), 1x1 branch or None).
# OpenFace pools with an L2 norm where "avg" is written; the parameter count is the same.
_INCEPTION = (
    ("3a", 1, (96, 128), (16, 32), ("max", 32), 64),      # 12x12 -> 256 channels
    ("3b", 1, (96, 128), (32, 64), ("avg", 64), 64),      # 320
    ("3c", 2, (128, 256), (32, 64), ("max", None), None),  # 6x6 -> 640
    ("4a", 1, (96, 192), (32, 64), ("avg", 128), 256),    # 640
    ("4e", 2, (160, 256), (64, 128), ("max", None), None),  # 3x3 -> 1024
    ("5a", 1, (96, 384), None, ("avg", 96), 256),         # 736
    ("5b", 1, (96, 384), None, ("max", 96), 256),         # 736
)


def _conv(x, filters: int, kernel: int, name: str, strides: int = 1):
    """Conv (with bias) -> BatchNorm -> ReLU, 'same' padding."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", name=name)(x)
    x = layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _pool(x, kind: str, strides: int, name: str):
    pool = layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D
    return pool(3, strides=strides, padding="same", name=name)(x)


def _inception(x, name, stride, b3, b5, pool, b1):
    """One inception block: parallel branches concatenated along the channels."""
    p = f"inception_{name}"
    out = [_conv(_conv(x, b3[0], 1, f"{p}_3x3_reduce"), b3[1], 3, f"{p}_3x3", stride)]
    if b5 is not None:
        out.append(_conv(_conv(x, b5[0], 1, f"{p}_5x5_reduce"), b5[1], 5, f"{p}_5x5", stride))
    pooled = _pool(x, pool[0], stride, f"{p}_pool")
    out.append(pooled if pool[1] is None else _conv(pooled, pool[1], 1, f"{p}_pool_proj"))
    if b1 is not None:
        out.append(_conv(x, b1, 1, f"{p}_1x1"))
    return layers.Concatenate(name=p)(out)


def build_nn4_small2(size: int = NN4_SMALL2_INPUT_SIZE) -> "keras.Model":
    """OpenFace's nn4.small2, untrained: (N, 96, 96, 3) -> (N, 128) unit-length rows.

    3,743,280 parameters (BatchNorm moving statistics included), as the first
    edition of the assignment printed. Input pixels in [0, 1].
    """
    inputs = keras.Input((size, size, 3), name="pixels")
    x = _conv(inputs, 64, 7, "conv1", strides=2)                 # 48x48
    x = _pool(x, "max", 2, "pool1")                              # 24x24
    x = _conv(x, 64, 1, "conv2")
    x = _conv(x, 192, 3, "conv3")
    x = _pool(x, "max", 2, "pool2")                              # 12x12
    for spec in _INCEPTION:
        x = _inception(x, *spec)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)        # 736
    x = layers.Dense(EMBEDDING_SIZE, name="dense")(x)
    x = layers.UnitNormalization(name="l2_normalize")(x)
    return keras.Model(inputs, x, name="nn4_small2")


def embedding_head(size: int = EMBEDDING_SIZE) -> "keras.Model":
    """A dense layer then L2 normalisation, (N, size) -> (N, size), starting as the identity.

    On unit-length FaceNet encodings its untrained output equals its input,
    so "before training" is exactly the pretrained model.
    """
    inputs = keras.Input((size,), name="encoding")
    x = layers.Dense(size, use_bias=False, kernel_initializer="identity", name="head")(inputs)
    return keras.Model(inputs, layers.UnitNormalization(name="l2_normalize")(x), name="head")


# --------------------------------------------------------------------- mining
def batch_hard_triplets(embeddings, labels):
    """For each row: itself, its farthest same-label row, its nearest other-label row.

    ``embeddings`` (B, d) float tensor, ``labels`` (B,) ints. Returns a
    (3, B, d) tensor: anchors, positives, negatives (rows of
    ``embeddings``). A row with no other row of its label gets itself as
    positive; a batch of one label gets the anchor as negative.
    """
    emb = tf.convert_to_tensor(embeddings)
    labels = tf.reshape(tf.convert_to_tensor(labels), [-1])
    sq = tf.reduce_sum(tf.square(emb), axis=1)
    dist = sq[:, None] - 2.0 * tf.matmul(emb, emb, transpose_b=True) + sq[None, :]
    same = tf.equal(labels[:, None], labels[None, :])
    big = tf.reduce_max(dist) + 1.0
    positive = tf.argmax(tf.where(same, dist, -1.0), axis=1)     # self (0) when alone
    negative = tf.argmin(tf.where(same, big, dist), axis=1)
    negative = tf.where(tf.reduce_all(same, axis=1), tf.range(tf.shape(emb)[0], dtype=negative.dtype),
                        negative)
    return tf.stack([emb, tf.gather(emb, positive), tf.gather(emb, negative)])


@keras.saving.register_keras_serializable(package="facelab")
class BatchHardTriplets(layers.Layer):
    """Keras layer: (embeddings (B, d), labels (B,)) -> (3, B, d), see batch_hard_triplets."""

    def call(self, embeddings, labels):
        return batch_hard_triplets(embeddings, tf.cast(labels, tf.int32))

    def compute_output_shape(self, embeddings_shape, labels_shape):
        return (3, *embeddings_shape)


def triplet_trainer(embedder: "keras.Model", loss: Callable, learning_rate: float = 1e-3):
    """A model (pictures, labels) -> mined triplets (3, B, d), compiled with ``loss``.

    Training it trains ``embedder`` (shared layers). ``loss`` is called as
    ``loss(y_true, y_pred)`` with ``y_pred`` the (3, B, d) triplets: the
    lesson's ``triplet_loss`` as it is.
    """
    pictures = keras.Input(embedder.input_shape[1:], name="pictures")
    labels = keras.Input((), dtype="int32", name="labels")
    triplets = BatchHardTriplets(name="batch_hard")(embedder(pictures), labels)
    model = keras.Model([pictures, labels], triplets, name=f"{embedder.name}_triplets")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, jit_compile=False)
    return model


def person_batches(labels: Sequence[int], per_person: int, rng: np.random.Generator):
    """One epoch of batches: index arrays, each with ``per_person`` pictures of every person.

    Pictures of each person are shuffled and dealt ``per_person`` at a time
    (the last deal of a person is topped up with pictures of their earlier
    deals, so no batch holds a picture twice); a person with fewer pictures
    than that comes whole. Every picture appears in the epoch and every
    batch has every person; persons with fewer deals start theirs again.
    A person with fewer than 2 pictures, or ``per_person`` < 2, raises
    ShapeError.
    """
    labels = np.asarray(labels)
    groups = []
    for person in np.unique(labels):
        where = rng.permutation(np.nonzero(labels == person)[0])
        if where.size < 2 or per_person < 2:
            raise ShapeError(f"triplets need at least 2 pictures of each person per batch; "
                             f"person {person} has {where.size}, per_person is {per_person}")
        n = -(-where.size // per_person)
        if n == 1:
            groups.append([where])
            continue
        extra = rng.choice(where[:(n - 1) * per_person], n * per_person - where.size,
                           replace=False)
        groups.append(list(np.concatenate([where, extra]).reshape(n, per_person)))
    rounds = max(len(g) for g in groups)
    return [np.concatenate([g[r % len(g)] for g in groups]) for r in range(rounds)]


def train_triplets(embedder: "keras.Model", inputs: np.ndarray, labels, loss: Callable,
                   epochs: int, per_person: int = 4, learning_rate: float = 1e-3,
                   seed: int = 0, on_epoch: Callable[[int], None] | None = None) -> np.ndarray:
    """Train ``embedder`` on ``inputs`` (N, ...) with batch-hard triplets and ``loss``.

    ``loss`` is checked first (:func:`require_loss`): an unfinished or
    non-differentiable loss raises LossError naming where it came from,
    before Keras sees it. Each epoch is one pass of :func:`person_batches`
    (every picture at least once). ``on_epoch(k)`` is called before the
    first epoch (k = 0) and after each epoch k = 1..epochs (to measure the
    encodings as they train). Returns the loss of every training step, in
    order: shape (epochs * batches per epoch,). Deterministic for a fixed
    ``seed`` once :func:`deterministic` was called.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    labels = np.asarray(labels)
    if inputs.shape[0] != labels.shape[0]:
        raise ShapeError(f"{inputs.shape[0]} inputs but {labels.shape[0]} labels")
    require_loss(loss, int(embedder.output_shape[-1]))
    trainer = triplet_trainer(embedder, loss, learning_rate)
    rng = np.random.default_rng(seed)
    curve = []
    if on_epoch is not None:
        on_epoch(0)
    for epoch in range(epochs):
        curve += [float(trainer.train_on_batch([inputs[b], labels[b].astype(np.int32)],
                                               np.zeros(len(b), np.float32)))  # y_true: unused
                  for b in person_batches(labels, per_person, rng)]
        if on_epoch is not None:
            on_epoch(epoch + 1)
    return np.array(curve)


# ---------------------------------------------------- the loss, checked first
def _origin(loss: Callable) -> str:
    """Where ``loss`` was written, in words: notebook 2 for :func:`notebook_function`'s."""
    code = getattr(loss, "__code__", None)
    where = code.co_filename if code is not None else ""
    name = getattr(loss, "__name__", "the loss")
    if where.endswith(f": {name}") and ".ipynb" in where:  # compiled by notebook_function
        notebook = where.split(":", 1)[0]
        return f"your {name} from {notebook} (notebook {notebook.split('_', 1)[0]})"
    return f"the loss {name}"


def require_loss(loss: Callable, size: int = EMBEDDING_SIZE, anchors: int = 4) -> None:
    """Check that ``loss(y_true, y_pred)`` is finished before training with it.

    Calls it on a small random (3, anchors, size) batch of unit rows under a
    gradient tape: it must return one finite number (a scalar tensor, or a
    (1,)-shaped one) whose gradient with respect to ``y_pred`` exists.
    Otherwise raises LossError, one sentence naming where the loss comes
    from (notebook 2 for :func:`notebook_function`'s) and what to do there.
    """
    from .errors import LossError

    who = _origin(loss)
    fix = ("finish it there (its START CODE HERE block), save that notebook, then run "
           "this notebook again from the top")
    rows = np.random.default_rng(0).normal(size=(3, anchors, size)).astype(np.float32)
    y_pred = tf.Variable(rows / np.linalg.norm(rows, axis=-1, keepdims=True))
    try:
        with tf.GradientTape() as tape:
            value = loss(tf.zeros((anchors,)), y_pred)
    except Exception as exc:  # noqa: BLE001 - the student's code: say it in one sentence
        said = str(exc).splitlines()[0][:120] if str(exc).strip() else "no message"
        raise LossError(f"{who} raised {type(exc).__name__} ({said}) on a batch of {anchors} "
                        f"triplets: {fix}") from None
    if value is None:
        raise LossError(f"{who} returns None, so it is not finished yet: {fix}")
    try:
        tensor = tf.convert_to_tensor(value, dtype=tf.float32)
    except (TypeError, ValueError):
        raise LossError(f"{who} returns {type(value).__name__}, not a number: {fix}") from None
    if tensor.shape.num_elements() != 1:
        raise LossError(f"{who} returns shape {tuple(tensor.shape)}, expected one number "
                        f"(sum the triplets' losses over the batch): {fix}")
    if not np.isfinite(float(tf.reshape(tensor, []))):
        raise LossError(f"{who} returns {float(tf.reshape(tensor, []))}, not a finite number: "
                        f"{fix}")
    if tape.gradient(tensor, y_pred) is None:
        raise LossError(f"{who} returns a number TensorFlow cannot differentiate (computed "
                        f"with numpy or float()?), so training cannot follow it: write it "
                        f"with TensorFlow operations (tf.reduce_sum, tf.square, tf.maximum...), "
                        f"save notebook 2, then run this notebook again from the top")


def collapsed_loss(loss: Callable, anchors: int, size: int = EMBEDDING_SIZE) -> float:
    """``loss`` on a batch of ``anchors`` triplets whose encodings are all the same point.

    What a network that maps every picture to one point scores: every
    distance is 0, so each triplet costs alpha (``anchors * alpha`` for the
    lesson's loss, summed over the batch). Computed with ``loss`` itself,
    after :func:`require_loss` (an unfinished loss raises LossError).
    """
    require_loss(loss, size)
    point = np.zeros((3, anchors, size), np.float32)
    point[..., 0] = 1.0
    return float(tf.reshape(tf.convert_to_tensor(loss(tf.zeros((anchors,)), tf.constant(point)),
                                                 dtype=tf.float32), []))


def batch_anchors(labels, per_person: int) -> int:
    """How many pictures (anchors) a training batch of :func:`person_batches` holds."""
    return len(person_batches(labels, per_person, np.random.default_rng(0))[0])


def encoding_spread(codes) -> float:
    """Mean distance of the (N, d) rows ``codes`` from their mean row: 0 when they collapsed.

    Unit rows spread evenly over the sphere give about 1; an empty array gives 0.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.size == 0:
        return 0.0
    return float(np.linalg.norm(codes - codes.mean(axis=0), axis=1).mean())


def deterministic(seed: int = 0) -> None:
    """Seed Python, numpy and TensorFlow, and make TensorFlow's ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def load_inputs(pictures: Sequence, size: int = NN4_SMALL2_INPUT_SIZE) -> np.ndarray:
    """Pictures -> (N, size, size, 3) float32 in [0, 1], bilinear resize (nn4.small2's input)."""
    from .images import load_image
    from .preprocessing import resize

    return np.stack([resize(load_image(p), size, "bilinear") for p in pictures]).astype(
        np.float32) / np.float32(255.0) if len(pictures) else np.zeros((0, size, size, 3),
                                                                       np.float32)


def notebook_function(notebook, name: str) -> Callable:
    """The function ``name`` as defined in the ``# GRADED FUNCTION: name`` cell of ``notebook``.

    Runs the notebook's import statements (those of the code cells up to that
    cell) and then that cell, in a fresh namespace, so notebook 7 trains with
    the student's own ``triplet_loss`` from notebook 2. Raises FacelabError
    when the notebook cannot be read, has no such cell, or the cell does not
    define ``name``.
    """
    import ast
    from pathlib import Path

    import nbformat

    from .cells import graded_name
    from .errors import FacelabError

    path = Path(notebook)
    try:
        cells = nbformat.read(path, as_version=4).cells
    except Exception as exc:  # noqa: BLE001 - missing, not JSON, not a notebook
        raise FacelabError(f"expected a readable notebook at {path}, got: {exc}") from None
    imports, source = [], None
    for cell in cells:
        if cell.cell_type != "code":
            continue
        if graded_name(cell.source) == name:
            source = cell.source
            break
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        imports += [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    if source is None:
        raise FacelabError(f"expected a '# GRADED FUNCTION: {name}' cell in {path}; found none")
    namespace: dict = {"__name__": f"notebook_{name}"}
    try:
        exec(compile("\n".join(imports), f"{path.name} imports", "exec"), namespace)
        exec(compile(source, f"{path.name}: {name}", "exec"), namespace)
    except Exception as exc:  # noqa: BLE001 - the student's cell: say where it failed
        raise FacelabError(f"running the {name} cell of {path} failed: "
                           f"{type(exc).__name__}: {exc}") from None
    fn = namespace.get(name)
    if not callable(fn):
        raise FacelabError(f"expected the {name} cell of {path} to define a function {name}; "
                           f"it does not")
    return fn
