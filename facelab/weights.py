"""Copying the weights of ``facenet_keras.h5`` into a model, by layer name.

The file was written by Keras 2.1: each layer's arrays sit in an HDF5 group
named after the layer, listed by its ``weight_names`` attribute. They are
matched to the model's variables by layer name and short variable name
(``kernel``, ``bias``, ``beta``, ``moving_mean``...), never by position.
Needs h5py and numpy only (the model is passed in).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import ModelError


def load_weights(model, path: str | os.PathLike) -> None:
    """Copy weights from a Keras-2 ``facenet_keras.h5`` into ``model``, by layer name.

    Every layer of ``model`` that has weights must find a group of the same
    name with arrays of the same shapes; otherwise :class:`ModelError` says
    which layer and what was expected, and nothing is assigned (names and
    shapes are all checked first, from the file's metadata). Then each layer's
    arrays are read and assigned in turn, so only one layer's arrays are in
    memory at a time, not a second copy of all 22.8 M weights. A file whose
    data cannot be read half-way raises ModelError too; ``model`` is then
    partly assigned and should be dropped (``load_pretrained`` does).
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
    with handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        plan = [(layer, _datasets(root, layer, path)) for layer in model.layers if layer.weights]
        for layer, datasets in plan:
            try:
                values = [np.asarray(ds) for ds in datasets]
            except OSError as exc:
                raise ModelError(f"{path}: weights of layer {layer.name!r} are unreadable "
                                 f"({exc}); run `facelab fetch` again") from None
            layer.set_weights(values)


def _datasets(root, layer, path: Path) -> list:
    """The file's datasets for ``layer``'s variables, in the variables' order.

    Checks names and shapes only (no weight data is read); ModelError otherwise.
    """
    if layer.name not in root:
        raise ModelError(f"{path} has no weights for layer {layer.name!r}; "
                         "is it facenet_keras.h5? run `facelab fetch`")
    group = root[layer.name]
    try:
        found = {}
        for wname in group.attrs["weight_names"]:
            wname = wname.decode() if isinstance(wname, bytes) else wname
            found[wname.rsplit("/", 1)[-1].split(":", 1)[0]] = group[wname]
    except (KeyError, OSError) as exc:
        raise ModelError(f"{path}: weights of layer {layer.name!r} are unreadable "
                         f"({exc}); run `facelab fetch` again") from None
    datasets = []
    for var in layer.weights:
        short = var.path.rsplit("/", 1)[-1]
        if short not in found:
            raise ModelError(f"{path}: layer {layer.name!r} has no {short!r} weights: expected "
                             f"{', '.join(v.path.rsplit('/', 1)[-1] for v in layer.weights)}, "
                             f"the file has {', '.join(found) or 'none'}")
        if tuple(found[short].shape) != tuple(var.shape):
            raise ModelError(f"{path}: layer {layer.name!r} {short} has shape "
                             f"{tuple(found[short].shape)}, the model expects {tuple(var.shape)}")
        datasets.append(found[short])
    return datasets
