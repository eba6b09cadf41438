"""The pretrained FaceNet: its architecture in code, and loading it.

The registry file ``facenet_keras.h5`` was saved by Keras 2.1 with ``Lambda``
layers that Keras 3 cannot deserialize. So the Inception-ResNet-v1 graph is
written out here, layer for layer with the file's names, and
:mod:`facelab.weights` copies the weights into it by layer name. Input:
(N, 160, 160, 3) float32 pixels in [0, 1]. Output: (N, 128) embeddings, not
yet normalised (:mod:`facelab.encoding` turns pictures into unit-length
encodings; its ``img_to_encoding`` and ``encode_images`` are re-exported here
because the notebooks import them from ``facelab.model``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from . import assets
from ._quiet import keras
from .encoding import encode_images, img_to_encoding
from .errors import ModelError
from .expected import EMBEDDING_SIZE, IMAGE_SIZE, PARAMETER_COUNT
from .weights import load_weights

__all__ = ["build_facenet", "load_pretrained", "timed_load", "ScaledResidual",
           "img_to_encoding", "encode_images"]

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
    Layer names match ``facenet_keras.h5`` so that
    :func:`facelab.weights.load_weights` can
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


#: the last weights file loaded -> its model; one entry, so a changed or another
#: weights file replaces the model in memory (~90 MB of weights) instead of adding one
_LOADED: "dict[tuple, keras.Model]" = {}


def load_pretrained(weights_path: str | os.PathLike | None = None) -> "keras.Model":
    """Return the pretrained FaceNet (cached: the second call in a process is free).

    ``weights_path`` defaults to ``weights/facenet_keras.h5`` of the workbook
    (see :func:`facelab.assets.weights_path`). Raises :class:`ModelError`
    naming the command to run when the file is missing or damaged. The file is
    not re-hashed on every call; `facelab fetch` verified it when writing it,
    and a changed file (size or mtime) is loaded afresh. Only the model of the
    last file loaded is kept.
    """
    path = Path(weights_path) if weights_path is not None else assets.weights_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ModelError(f"model weights not found at {path}; run `facelab fetch` first") from None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    model = _LOADED.get(key)
    if model is None:
        _LOADED.clear()  # let the previous model go before building the next one
        model = build_facenet()
        load_weights(model, path)
        model.trainable = False
        _LOADED[key] = model
    if model.count_params() != PARAMETER_COUNT:  # pragma: no cover - guards the code above
        raise ModelError(f"model has {model.count_params()} parameters, expected {PARAMETER_COUNT}")
    return model


def timed_load(weights_path=None) -> tuple["keras.Model", float]:
    """Load the model uncached and return it with the seconds it took (for benchmarks)."""
    _LOADED.clear()
    start = time.perf_counter()
    model = load_pretrained(weights_path)
    return model, time.perf_counter() - start
