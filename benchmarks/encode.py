"""Encoding speed: one call per picture vs the batch API, measured side by side.

    .venv/bin/python benchmarks/encode.py [N]

Prints the model load time, then for N pictures (default 100, cycled from
images/faces) the seconds taken by
  1. the original workbook's way: one ``model.predict_on_batch`` per picture,
  2. facelab's ``img_to_encoding`` in a loop (graph-compiled, one picture a call),
  3. facelab's ``encode_images`` (batches of 32),
and the ratios, after checking the three give the same encodings (to 1e-5).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from facelab import layout, office
from facelab.expected import ENCODING_TOLERANCE
from facelab.images import load_image, to_model_input
from facelab.model import encode_images, img_to_encoding, timed_load


def main(n: int = 100) -> None:
    office.require()
    model, seconds = timed_load()
    print(f"model load (build + weights, TensorFlow already imported): {seconds:.2f} s")
    pool = sorted((layout.images_dir() / layout.FACES).rglob("*.png"))
    pictures = [pool[i % len(pool)] for i in range(n)]

    def original(path):
        x = to_model_input(load_image(path))[np.newaxis]
        out = np.asarray(model.predict_on_batch(x))
        return out / np.linalg.norm(out)

    # warm up every path once (graph tracing) so that only steady state is timed
    original(pictures[0]), img_to_encoding(pictures[0], model), encode_images(pictures[:2], model)

    timings, results = {}, {}
    for name, fn in (("predict_on_batch per picture (original)", lambda: np.concatenate([original(p) for p in pictures])),
                     ("img_to_encoding per picture", lambda: np.concatenate([img_to_encoding(p, model) for p in pictures])),
                     ("encode_images, batch 32", lambda: encode_images(pictures, model, batch_size=32))):
        start = time.perf_counter()
        results[name] = fn()
        timings[name] = time.perf_counter() - start
    names = list(timings)
    for name in names[1:]:
        diff = np.abs(results[name] - results[names[0]]).max()
        assert diff < ENCODING_TOLERANCE, f"{name} differs by {diff}"
    batch = timings[names[2]]
    print(f"{n} pictures:")
    for name in names:
        print(f"  {name:42s} {timings[name]:7.2f} s  ({1000 * timings[name] / n:6.1f} ms/picture)"
              f"  batch is {timings[name] / batch:5.1f}x faster")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
