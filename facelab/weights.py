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
