"""Versions of the four graded functions, written the ways students write them.

Each version is ``Version(name, exercise, correct, source, helper)``: ``source`` is
the whole graded cell (the header is added), ``helper`` an optional cell the
student wrote above it (their own helper function, their own img_to_encoding).
Correct versions follow each exercise's contract (:mod:`facelab.checks.contracts`)
by another road: the original assignment's code, numpy, loops, float32 and
float64, TensorFlow operations, the model called directly, `model.predict(x,
verbose=0)`, `np.str_` names, 0-d tensors. Wrong versions each break a rule the
exercise states. tests/test_corpus.py hands each in as the four solution
notebooks with one graded cell replaced, grades them all in one `facelab grade`
batch, checks each in-process with `check_*`, and compares.
"""

from __future__ import annotations

from typing import NamedTuple


class Version(NamedTuple):
    name: str
    exercise: str
    correct: bool
    source: str
    helper: str = ""


def _fn(sig: str, body: str) -> str:
    return f"def {sig}:\n" + "".join(f"    {line}\n" for line in body.strip("\n").splitlines())


PD = "pixel_distance(image_a, image_b)"
TL = "triplet_loss(y_true, y_pred, alpha=0.2)"
VF = "verify(image_path, identity, database, model)"
WH = "who_is_it(image_path, database, model)"

# what a verify does after its distance, the lesson's way
_DOOR = """
if dist < 0.7:
    print("It's " + str(identity) + ", welcome in!")
    door_open = True
else:
    print("It's not " + str(identity) + ", please go away")
    door_open = False
return dist, door_open
"""


def _verify(dist_lines: str, door: str = _DOOR) -> str:
    return _fn(VF, dist_lines.strip("\n") + "\n" + door.strip("\n"))


_WHO_END = """
if min_dist > 0.7:
    print("Not in the database.")
else:
    print("it's " + str(identity) + ", the distance is " + str(min_dist))
return min_dist, identity
"""


def _who(search: str, end: str = _WHO_END) -> str:
    return _fn(WH, search.strip("\n") + "\n" + end.strip("\n"))


_LOOP = """
encoding = img_to_encoding(image_path, model)
min_dist = 100
identity = None
for name, db_enc in database.items():
    dist = np.linalg.norm(encoding - db_enc)
    if dist < min_dist:
        min_dist = dist
        identity = name
"""

# the original assignment's own img_to_encoding, in a cell of the student's notebook
ORIGINAL_ENCODER = _fn("img_to_encoding(image_path, model)", """
from PIL import Image
img = Image.open(image_path).convert("RGB").resize((160, 160), Image.NEAREST)
img = np.around(np.array(img) / 255.0, decimals=12)
x_train = np.expand_dims(img, axis=0)
embedding = model.predict_on_batch(x_train)
return embedding / np.linalg.norm(embedding, ord=2)
""")
PREDICT_ENCODER = _fn("img_to_encoding(image_path, model)", """
from facelab.images import load_image, to_model_input
x = np.expand_dims(to_model_input(load_image(image_path)), axis=0)
embedding = model.predict(x, verbose=0)
return embedding / np.linalg.norm(embedding, axis=1, keepdims=True)
""")
# pixels scaled by multiplying with 1 / 255 in float32: other bits than the lesson's
# division, so the grader's model answers from the real model, loaded for this student
RECIPROCAL_ENCODER = _fn("img_to_encoding(image_path, model)", """
from PIL import Image
img = np.asarray(Image.open(image_path).convert("RGB"), dtype=np.float32) * (1 / 255)
emb = model.predict(img[np.newaxis], verbose=0)
return emb / np.linalg.norm(emb)
""")
# pixels rounded to 4 decimals: up to 5e-5 from the lesson's input, more than rounding, so
# the grader's model loads the real model in this student's process (and judges its answer)
ROUNDED_ENCODER = _fn("img_to_encoding(image_path, model)", """
from PIL import Image
img = np.round(np.asarray(Image.open(image_path).convert("RGB")) / 255.0, 4)
emb = model.predict_on_batch(np.expand_dims(img, axis=0))
return emb / np.linalg.norm(emb)
""")
CALL_ENCODER = _fn("encode(image_path, model)", """
from facelab.images import load_image, to_model_input
x = to_model_input(load_image(image_path))[None]
out = model(x, training=False).numpy()
return out / np.linalg.norm(out)
""")
FLOAT64_ENCODER = _fn("encode64(image_path, model)", """
from PIL import Image
x = np.asarray(Image.open(image_path).convert("RGB"), dtype=np.float64) / 255.0
out = np.asarray(model(x[None]))
return out / np.sqrt(np.sum(out ** 2))
""")

CORRECT = [
    # ------------------------------------------------------------ pixel_distance
    Version("pd-norm", "pixel_distance", True, _fn(PD, "return float(np.linalg.norm(image_a - image_b))")),
    Version("pd-sqrt-sum", "pixel_distance", True, _fn(PD, "return np.sqrt(np.sum((image_a - image_b) ** 2))")),
    Version("pd-loop", "pixel_distance", True, _fn(PD, """
total = 0.0
for x, y in zip(image_a.ravel(), image_b.ravel()):
    total += (x - y) ** 2
return total ** 0.5
""")),
    Version("pd-float32", "pixel_distance", True,
            _fn(PD, "return np.linalg.norm(image_a.astype(np.float32) - image_b.astype(np.float32))")),
    Version("pd-reshape-76800", "pixel_distance", True,
            _fn(PD, "return np.linalg.norm(image_a.reshape(76800) - image_b.reshape(76800))")),
    Version("pd-math-dist", "pixel_distance", True,
            _fn(PD, "import math\nreturn math.dist(image_a.ravel(), image_b.ravel())")),
    Version("pd-ord2", "pixel_distance", True,
            _fn(PD, "return np.linalg.norm((image_a - image_b).flatten(), ord=2)")),
    Version("pd-helper", "pixel_distance", True, _fn(PD, "return np.sqrt(squared(image_a - image_b).sum())"),
            helper=_fn("squared(x)", "return x * x")),
    Version("pd-dot", "pixel_distance", True, _fn(PD, "d = (image_a - image_b).ravel()\nreturn np.sqrt(d @ d)")),
    Version("pd-tf-norm", "pixel_distance", True,
            _fn(PD, "import tensorflow as tf\nreturn tf.norm(image_a - image_b)")),
    Version("pd-np-float32", "pixel_distance", True,
            _fn(PD, "dist = np.float32(np.linalg.norm(image_a - image_b))\nreturn dist")),
    # -------------------------------------------------------------- triplet_loss
    Version("tl-original", "triplet_loss", True, _fn(TL, """
anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
pos_dist = tf.reduce_sum(tf.square(tf.subtract(anchor, positive)), axis=-1)
neg_dist = tf.reduce_sum(tf.square(tf.subtract(anchor, negative)), axis=-1)
basic_loss = tf.add(tf.subtract(pos_dist, neg_dist), alpha)
loss = tf.reduce_sum(tf.maximum(basic_loss, 0.0))
return loss
""")),
    Version("tl-squared-difference", "triplet_loss", True, _fn(TL, """
anchor, positive, negative = y_pred
pos = tf.math.reduce_sum(tf.math.squared_difference(anchor, positive), axis=-1)
neg = tf.math.reduce_sum(tf.math.squared_difference(anchor, negative), axis=-1)
return tf.math.reduce_sum(tf.math.maximum(pos - neg + alpha, 0))
""")),
    Version("tl-operators-axis1", "triplet_loss", True, _fn(TL, """
a, p, n = y_pred[0], y_pred[1], y_pred[2]
pos_dist = tf.reduce_sum((a - p) ** 2, axis=1)
neg_dist = tf.reduce_sum((a - n) ** 2, axis=1)
return tf.reduce_sum(tf.maximum(pos_dist - neg_dist + alpha, 0.0))
""")),
    Version("tl-relu", "triplet_loss", True, _fn(TL, """
a, p, n = y_pred
basic = tf.reduce_sum(tf.square(a - p), -1) - tf.reduce_sum(tf.square(a - n), -1) + alpha
return tf.reduce_sum(tf.nn.relu(basic))
""")),
    Version("tl-norm-squared", "triplet_loss", True, _fn(TL, """
a, p, n = y_pred
pos = tf.square(tf.norm(a - p, axis=-1))
neg = tf.square(tf.norm(a - n, axis=-1))
return tf.reduce_sum(tf.maximum(pos - neg + alpha, 0.0))
""")),
    Version("tl-multiply", "triplet_loss", True, _fn(TL, """
a, p, n = y_pred
dp, dn = a - p, a - n
basic = tf.reduce_sum(tf.multiply(dp, dp), axis=-1) - tf.reduce_sum(tf.multiply(dn, dn), axis=-1)
return tf.reduce_sum(tf.maximum(basic + alpha, 0.0))
""")),
    Version("tl-loop", "triplet_loss", True, _fn(TL, """
anchor, positive, negative = y_pred
loss = tf.constant(0.0)
for i in range(anchor.shape[0]):
    pos = tf.reduce_sum(tf.square(anchor[i] - positive[i]))
    neg = tf.reduce_sum(tf.square(anchor[i] - negative[i]))
    loss = loss + tf.maximum(pos - neg + alpha, 0.0)
return loss
""")),
    Version("tl-helper", "triplet_loss", True, _fn(TL, """
anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
basic_loss = sq_dist(anchor, positive) - sq_dist(anchor, negative) + alpha
return tf.reduce_sum(tf.maximum(basic_loss, 0.0))
"""), helper=_fn("sq_dist(u, v)", "return tf.reduce_sum(tf.square(u - v), axis=-1)")),
    Version("tl-float64", "triplet_loss", True, _fn(TL, """
a, p, n = (tf.cast(t, tf.float64) for t in y_pred)
pos = tf.reduce_sum(tf.square(a - p), axis=-1)
neg = tf.reduce_sum(tf.square(a - n), axis=-1)
return tf.reduce_sum(tf.maximum(pos - neg + alpha, 0.0))
""")),
    Version("tl-keepdims-squeezed", "triplet_loss", True, _fn(TL, """
a, p, n = y_pred
pos = tf.reduce_sum(tf.square(a - p), axis=-1)
neg = tf.reduce_sum(tf.square(a - n), axis=-1)
return tf.squeeze(tf.reduce_sum(tf.maximum(pos - neg + alpha, 0.0), keepdims=True))
""")),
    Version("tl-clip-by-value", "triplet_loss", True, _fn(TL, """
a, p, n = y_pred
basic_loss = tf.reduce_sum(tf.square(a - p), axis=-1) - tf.reduce_sum(tf.square(a - n), axis=-1) + alpha
return tf.reduce_sum(tf.clip_by_value(basic_loss, 0.0, float("inf")))
""")),
    # -------------------------------------------------------------------- verify
    Version("vf-original", "verify", True, _verify("""
encoding = img_to_encoding(image_path, model)
dist = np.linalg.norm(encoding - database[identity])
""")),
    Version("vf-original-tf2", "verify", True, _verify("""
import tensorflow as tf
encoding = img_to_encoding(image_path, model)
dist = np.linalg.norm(tf.subtract(database[identity], encoding))
""")),
    Version("vf-assignment-encoder", "verify", True, _verify("""
encoding = img_to_encoding(image_path, model)
dist = np.linalg.norm(encoding - database[identity])
"""), helper=ORIGINAL_ENCODER),
    Version("vf-predict-verbose0", "verify", True, _verify("""
encoding = img_to_encoding(image_path, model)
dist = np.linalg.norm(encoding - database[identity])
"""), helper=PREDICT_ENCODER),
    Version("vf-model-called", "verify", True, _verify("""
encoding = encode(image_path, model)
dist = float(np.linalg.norm(encoding - database[identity]))
"""), helper=CALL_ENCODER),
    Version("vf-tf-norm", "verify", True, _verify("""
import tensorflow as tf
encoding = img_to_encoding(image_path, model)
dist = tf.norm(encoding - database[identity])
""")),
    Version("vf-float32", "verify", True, _verify("""
encoding = img_to_encoding(image_path, model).astype(np.float32)
dist = np.linalg.norm(encoding - database[identity].astype(np.float32))
""")),
    Version("vf-loop", "verify", True, _verify("""
encoding = img_to_encoding(image_path, model)[0]
ref = database[identity][0]
total = 0.0
for k in range(len(ref)):
    total += (encoding[k] - ref[k]) ** 2
dist = total ** 0.5
""")),
    Version("vf-math-dist", "verify", True, _verify("""
import math
dist = math.dist(img_to_encoding(image_path, model)[0], database[identity][0])
""")),
    Version("vf-bool-expression", "verify", True, _fn(VF, """
dist = float(np.linalg.norm(img_to_encoding(image_path, model) - database[identity]))
door_open = bool(dist < 0.7)
if door_open:
    print(f"It's {identity}, welcome in!")
else:
    print(f"It's not {identity}, please go away")
return dist, door_open
""")),
    Version("vf-helper", "verify", True, _verify("""
dist = distance(img_to_encoding(image_path, model), database[identity])
"""), helper=_fn("distance(a, b)", "return np.linalg.norm(a - b)")),
    Version("vf-ord2-flat", "verify", True, _verify("""
encoding = img_to_encoding(image_path, model)
dist = np.linalg.norm((encoding - database[identity]).ravel(), ord=2)
""")),
    Version("vf-reciprocal-scaling", "verify", True, _verify("""
encoding = img_to_encoding(image_path, model)
dist = np.linalg.norm(encoding - database[identity])
"""), helper=RECIPROCAL_ENCODER),
    Version("vf-rounded-pixels", "verify", True, _verify("""
encoding = img_to_encoding(image_path, model)
dist = np.linalg.norm(encoding - database[identity])
"""), helper=ROUNDED_ENCODER),
    Version("vf-float64-input", "verify", True, _verify("""
encoding = encode64(image_path, model)
dist = np.sqrt(np.sum(np.square(encoding - database[identity])))
"""), helper=FLOAT64_ENCODER),
    # ----------------------------------------------------------------- who_is_it
    Version("wh-original", "who_is_it", True, _fn(WH, """
encoding = img_to_encoding(image_path, model)
min_dist = 100
for (name, db_enc) in database.items():
    dist = np.linalg.norm(encoding - db_enc)
    if dist < min_dist:
        min_dist = dist
        identity = name
if min_dist > 0.7:
    print("Not in the database.")
else:
    print ("it's " + str(identity) + ", the distance is " + str(min_dist))
return min_dist, identity
""")),
    Version("wh-original-tf2", "who_is_it", True, _who(_LOOP.replace(
        "np.linalg.norm(encoding - db_enc)", "np.linalg.norm(tf.subtract(db_enc, encoding))")
        .replace("encoding = img", "import tensorflow as tf\nencoding = img"))),
    Version("wh-argmin-np-str", "who_is_it", True, _who("""
encoding = img_to_encoding(image_path, model)
names = np.array(list(database))
gallery = np.vstack([database[n] for n in names])
dists = np.linalg.norm(gallery - encoding, axis=1)
i = np.argmin(dists)
min_dist, identity = dists[i], names[i]
""")),
    Version("wh-min-key", "who_is_it", True, _who("""
encoding = img_to_encoding(image_path, model)
identity, db_enc = min(database.items(), key=lambda kv: np.linalg.norm(encoding - kv[1]))
min_dist = float(np.linalg.norm(encoding - db_enc))
""")),
    Version("wh-dict-of-distances", "who_is_it", True, _who("""
encoding = img_to_encoding(image_path, model)
distances = {name: np.linalg.norm(encoding - enc) for name, enc in database.items()}
identity = min(distances, key=distances.get)
min_dist = distances[identity]
""")),
    Version("wh-tf-norm", "who_is_it", True, _who(_LOOP.replace(
        "np.linalg.norm(encoding - db_enc)", "tf.norm(encoding - db_enc)")
        .replace("encoding = img", "import tensorflow as tf\nencoding = img"))),
    Version("wh-model-called", "who_is_it", True, _who(_LOOP.replace(
        "img_to_encoding(image_path, model)", "encode(image_path, model)")), helper=CALL_ENCODER),
    Version("wh-predict-verbose0", "who_is_it", True, _who(_LOOP), helper=PREDICT_ENCODER),
    Version("wh-assignment-encoder", "who_is_it", True, _who(_LOOP), helper=ORIGINAL_ENCODER),
    Version("wh-reciprocal-scaling", "who_is_it", True, _who(_LOOP), helper=RECIPROCAL_ENCODER),
    Version("wh-inf-start", "who_is_it", True, _who(_LOOP.replace("min_dist = 100", "min_dist = float('inf')"))),
    Version("wh-float32", "who_is_it", True, _who(_LOOP.replace(
        "np.linalg.norm(encoding - db_enc)",
        "np.sqrt(np.sum(np.square(encoding.astype(np.float32) - db_enc.astype(np.float32))))"))),
    Version("wh-helper", "who_is_it", True, _who("""
encoding = img_to_encoding(image_path, model)
min_dist, identity = closest(encoding, database)
"""), helper=_fn("closest(encoding, database)", """
best, who = 100.0, None
for name, enc in database.items():
    d = np.linalg.norm(encoding - enc)
    if d < best:
        best, who = d, name
return best, who
""")),
    Version("wh-fstring", "who_is_it", True, _who(_LOOP, end="""
if min_dist < 0.7:
    print(f"it's {identity}, the distance is {min_dist:.3f}")
else:
    print("Not in the database.")
return min_dist, identity
""")),
]

WRONG = [
    Version("pd-squared", "pixel_distance", False, _fn(PD, "return np.sum((image_a - image_b) ** 2)")),
    Version("pd-abs", "pixel_distance", False, _fn(PD, "return float(np.abs(image_a - image_b).sum())")),
    Version("pd-axis", "pixel_distance", False, _fn(PD, "return np.linalg.norm(image_a - image_b, axis=-1)")),
    Version("pd-mean", "pixel_distance", False, _fn(PD, "return np.sqrt(np.mean((image_a - image_b) ** 2))")),
    Version("tl-no-gradient", "triplet_loss", False, _fn(TL, """
import numpy as np
a, p, n = y_pred
basic = tf.reduce_sum(tf.square(a - p), axis=-1) - tf.reduce_sum(tf.square(a - n), axis=-1) + alpha
return tf.constant(np.sum(np.maximum(basic, 0.0)))
""")),
    Version("tl-keepdims", "triplet_loss", False, _fn(TL, """
a, p, n = y_pred
basic = tf.reduce_sum(tf.square(a - p), axis=-1) - tf.reduce_sum(tf.square(a - n), axis=-1) + alpha
return tf.reduce_sum(tf.maximum(basic, 0.0), keepdims=True)
""")),
    Version("tl-mean", "triplet_loss", False, _fn(TL, """
a, p, n = y_pred
basic = tf.reduce_sum(tf.square(a - p), axis=-1) - tf.reduce_sum(tf.square(a - n), axis=-1) + alpha
return tf.reduce_mean(tf.maximum(basic, 0.0))
""")),
    Version("tl-no-clip", "triplet_loss", False, _fn(TL, """
a, p, n = y_pred
return tf.reduce_sum(tf.reduce_sum(tf.square(a - p), axis=-1) - tf.reduce_sum(tf.square(a - n), axis=-1) + alpha)
""")),
    Version("tl-float", "triplet_loss", False, _fn(TL, """
a, p, n = y_pred
basic = tf.reduce_sum(tf.square(a - p), axis=-1) - tf.reduce_sum(tf.square(a - n), axis=-1) + alpha
return float(tf.reduce_sum(tf.maximum(basic, 0.0)))
""")),
    Version("vf-at-threshold-opens", "verify", False, _verify("""
dist = np.linalg.norm(img_to_encoding(image_path, model) - database[identity])
""", door=_DOOR.replace("dist < 0.7", "dist <= 0.7"))),
    Version("vf-squared", "verify", False, _verify("""
dist = np.sum((img_to_encoding(image_path, model) - database[identity]) ** 2)
""")),
    Version("vf-door-never-shut", "verify", False, _fn(VF, """
dist = np.linalg.norm(img_to_encoding(image_path, model) - database[identity])
if dist < 0.7:
    print("It's " + str(identity) + ", welcome in!")
    door_open = True
else:
    print("It's not " + str(identity) + ", please go away")
return dist, door_open
""")),
    Version("vf-wrong-message", "verify", False, _verify("""
dist = np.linalg.norm(img_to_encoding(image_path, model) - database[identity])
""", door=_DOOR.replace("welcome in!", "come in!"))),
    Version("vf-swapped", "verify", False, _verify("""
dist = np.linalg.norm(img_to_encoding(image_path, model) - database[identity])
""", door=_DOOR.replace("return dist, door_open", "return door_open, dist"))),
    Version("wh-largest", "who_is_it", False, _who(_LOOP.replace("min_dist = 100", "min_dist = 0")
                                                    .replace("dist < min_dist", "dist > min_dist"))),
    Version("wh-squared", "who_is_it", False, _who(_LOOP.replace(
        "np.linalg.norm(encoding - db_enc)", "np.sum(np.square(encoding - db_enc))"))),
    Version("wh-identity-outside", "who_is_it", False, _who("""
encoding = img_to_encoding(image_path, model)
min_dist = 100
for name, db_enc in database.items():
    dist = np.linalg.norm(encoding - db_enc)
    if dist < min_dist:
        min_dist = dist
    identity = name
""")),
    Version("wh-swapped", "who_is_it", False, _who(_LOOP, end=_WHO_END.replace(
        "return min_dist, identity", "return identity, min_dist"))),
]

VERSIONS = CORRECT + WRONG
