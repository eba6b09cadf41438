"""Students' answers, as they would type them in the graded cells: one per catalogued
mistake, and the original assignment's own solutions (which must keep full marks).

Each wrong answer is ``(exercise, mistake it must be diagnosed as, source)``. The
sources are written independently of facelab/checks/mistakes.py, the way students write
(other operations, other variable names), so a test on them checks the catalogue
recognises the mistake from the answers alone. tests/test_checks.py runs them all
in-process ("setup_not_run" ones in a kernel where the notebook's first cells did not
run: no numpy, TensorFlow or img_to_encoding); tests/test_release.py pastes a few into
released notebooks.
"""

from __future__ import annotations


def _pd(body: str) -> str:
    return "def pixel_distance(image_a, image_b):\n" + body


def _tl(body: str) -> str:
    return ("def triplet_loss(y_true, y_pred, alpha=0.2):\n"
            "    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]\n" + body)


def _verify(dist: str = "np.linalg.norm(encoding - database[identity])",
            test: str = "dist < 0.7", welcome: str = '"It\'s " + str(identity) + ", welcome in!"',
            ret: str = "dist, door_open", opened: str = "True",
            encoding: str = "img_to_encoding(image_path, model)") -> str:
    return (
        "def verify(image_path, identity, database, model):\n"
        f"    encoding = {encoding}\n"
        f"    dist = {dist}\n"
        f"    if {test}:\n"
        f"        print({welcome})\n"
        f"        door_open = {opened}\n"
        "    else:\n"
        "        print(\"It's not \" + str(identity) + \", please go away\")\n"
        "        door_open = False\n"
        f"    return {ret}\n")


def _who(dist: str = "np.linalg.norm(encoding - db_enc)", start: str = "100",
         test: str = "dist < min_dist", update: str = "min_dist = dist\n            identity = name",
         after: str = "", ret: str = "min_dist, identity", outside: str = "",
         stranger: str = 'print("Not in the database.")',
         encoding: str = "img_to_encoding(image_path, model)") -> str:
    return (
        "def who_is_it(image_path, database, model):\n"
        f"    encoding = {encoding}\n"
        f"    min_dist = {start}\n"
        "    identity = None\n"
        "    for name, db_enc in database.items():\n"
        f"        dist = {dist}\n"
        f"        if {test}:\n"
        f"            {update}\n"
        + (f"        {outside}\n" if outside else "")
        + (f"    {after}\n" if after else "")
        + "    if min_dist > 0.7:\n"
        f"        {stranger}\n"
        "    else:\n"
        "        print(\"it's \" + str(identity) + \", the distance is \" + str(min_dist))\n"
        f"    return {ret}\n")


_AP = "tf.reduce_sum(tf.square(anchor - positive), axis=-1)"
_AN = "tf.reduce_sum(tf.square(anchor - negative), axis=-1)"


def _loss(pos: str = _AP, neg: str = _AN, basic: str = "pos_dist - neg_dist + alpha",
          loss: str = "tf.reduce_sum(tf.maximum(basic_loss, 0.0))") -> str:
    return _tl(f"    pos_dist = {pos}\n    neg_dist = {neg}\n    basic_loss = {basic}\n"
               f"    loss = {loss}\n    return loss\n")


WRONG = [
    # pixel_distance --------------------------------------------------------
    ("pixel_distance", "squared", _pd("    return np.sum((image_a - image_b) ** 2)\n")),
    ("pixel_distance", "abs_sum", _pd("    return float(np.abs(image_a - image_b).sum())\n")),
    ("pixel_distance", "raw_sum", _pd("    return float(np.sum(image_a - image_b))\n")),
    ("pixel_distance", "mean", _pd("    return float(np.sqrt(np.mean(np.square(image_a - image_b))))\n")),
    ("pixel_distance", "mean_squared", _pd("    return ((image_a - image_b) ** 2).mean()\n")),
    ("pixel_distance", "dist_array", _pd("    return np.linalg.norm(image_a - image_b, axis=-1)\n")),
    ("pixel_distance", "dist_array", _pd("    return np.array([np.linalg.norm(image_a - image_b)])\n")),
    ("pixel_distance", "dist_list", _pd("    return [float(np.linalg.norm(image_a - image_b))]\n")),
    ("pixel_distance", "setup_not_run", _pd("    return float(np.linalg.norm(image_a - image_b))\n")),
    ("pixel_distance", "unfinished", _pd("    dist = None\n    return dist\n")),
    ("pixel_distance", "unfinished", _pd("    dist = float(np.linalg.norm(image_a - image_b))\n")),
    # triplet_loss ----------------------------------------------------------
    ("triplet_loss", "numpy_not_imported", _loss(pos="np.sum(np.square(anchor - positive), axis=-1)")),
    ("triplet_loss", "swapped", _loss(basic="neg_dist - pos_dist + alpha")),
    ("triplet_loss", "clip_after_sum", _loss(loss="tf.maximum(tf.reduce_sum(basic_loss), 0.0)")),
    ("triplet_loss", "no_clip", _loss(loss="tf.reduce_sum(basic_loss)")),
    ("triplet_loss", "no_alpha", _loss(basic="pos_dist - neg_dist")),
    ("triplet_loss", "fixed_alpha", _loss(basic="pos_dist - neg_dist + 0.2")),
    ("triplet_loss", "not_squared", _loss(pos="tf.norm(anchor - positive, axis=-1)",
                                          neg="tf.sqrt(tf.reduce_sum(tf.square(anchor - negative), axis=-1))")),
    ("triplet_loss", "raw_sum", _loss(pos="tf.reduce_sum(anchor - positive, axis=-1)",
                                      neg="tf.reduce_sum(anchor - negative, axis=-1)")),
    ("triplet_loss", "wrong_axis", _loss(pos="tf.reduce_sum(tf.square(anchor - positive), axis=0)",
                                         neg="tf.reduce_sum(tf.square(anchor - negative), axis=0)")),
    ("triplet_loss", "no_axis", _loss(pos="tf.reduce_sum(tf.square(anchor - positive))",
                                      neg="tf.reduce_sum(tf.square(anchor - negative))")),
    ("triplet_loss", "mean_batch", _loss(loss="tf.reduce_mean(tf.maximum(basic_loss, 0.0))")),
    ("triplet_loss", "mean_distance", _loss(pos="tf.reduce_mean(tf.square(anchor - positive), axis=-1)",
                                            neg="tf.reduce_mean(tf.square(anchor - negative), axis=-1)")),
    ("triplet_loss", "not_reduced", _loss(loss="tf.maximum(basic_loss, 0.0)")),
    ("triplet_loss", "shape_one", _loss(loss="tf.reduce_sum(tf.maximum(basic_loss, 0.0), keepdims=True)")),
    ("triplet_loss", "no_gradient", _loss(
        loss="tf.constant(tf.reduce_sum(tf.maximum(basic_loss, 0.0)).numpy())")),
    ("triplet_loss", "setup_not_run", _loss()),
    ("triplet_loss", "not_tensor", _loss(loss="float(tf.reduce_sum(tf.maximum(basic_loss, 0.0)))")),
    ("triplet_loss", "unfinished", _loss(pos="None", neg="None", basic="None", loss="None")),
    ("triplet_loss", "unfinished", _loss(neg="None")),
    # verify ----------------------------------------------------------------
    ("verify", "not_encoded", _verify(dist="np.linalg.norm(image_path - database[identity])")),
    ("verify", "not_encoded", _verify(
        encoding="np.asarray(PIL.Image.open(image_path).convert('RGB').resize((160, 160))) / 255")),
    ("verify", "identity_as_text", _verify(dist="np.linalg.norm(encoding - database['identity'])")),
    ("verify", "swapped_return", _verify(ret="door_open, dist")),
    ("verify", "dist_array", _verify(dist="np.linalg.norm(encoding - database[identity], axis=1)")),
    ("verify", "dist_array", _verify(dist="np.sqrt(np.square(encoding - database[identity]).sum(axis=0))")),
    ("verify", "door_open_unset", _verify(opened="True").replace(
        "        door_open = False\n", "")),
    ("verify", "setup_not_run", _verify()),
    ("verify", "dist_list", _verify(dist="np.linalg.norm(encoding - database[identity], axis=1).tolist()")),
    ("verify", "door_not_bool", _verify(opened="'yes'")),
    ("verify", "squared", _verify(dist="np.sum((encoding - database[identity]) ** 2)")),
    ("verify", "abs_sum", _verify(dist="np.abs(encoding - database[identity]).sum()")),
    ("verify", "wrong_entry", _verify(dist="np.linalg.norm(encoding - list(database.values())[0])")),
    ("verify", "at_threshold", _verify(test="dist <= 0.7")),
    ("verify", "wrong_sign", _verify(test="dist > 0.7")),
    ("verify", "wrong_message", _verify(welcome='"Welcome in, " + identity + "!"')),
    ("verify", "unfinished", _verify(dist="None", test="None", opened="None", encoding="None")),
    # who_is_it -------------------------------------------------------------
    ("who_is_it", "not_encoded", _who(dist="np.linalg.norm(image_path - db_enc)")),
    ("who_is_it", "not_encoded", _who(
        encoding="np.asarray(PIL.Image.open(image_path).resize((160, 160)), dtype=float)")),
    ("who_is_it", "swapped_return", _who(ret="identity, min_dist")),
    ("who_is_it", "min_dist_list", _who(dist="[np.linalg.norm(encoding - db_enc)]")),
    ("who_is_it", "min_dist_array", _who(dist="np.linalg.norm(encoding - db_enc, axis=-1)")),
    ("who_is_it", "setup_not_run", _who()),
    ("who_is_it", "never_updated", _who(test="dist > min_dist")),
    ("who_is_it", "kept_largest", _who(start="0", test="dist > min_dist")),
    ("who_is_it", "squared", _who(dist="np.sum(np.square(encoding - db_enc))")),
    ("who_is_it", "identity_outside_if", _who(update="min_dist = dist", outside="identity = name")),
    ("who_is_it", "min_dist_not_updated", _who(update="identity = name")),
    ("who_is_it", "stranger_without_name", _who(stranger='print("Not in the database.")\n        identity = None')),
    ("who_is_it", "wrong_message", _who(stranger='print("Stranger!")')),
    ("who_is_it", "unfinished", _who(dist="None", start="None", test="None", update="None")),
]

#: the original assignment's solutions (numpy and TensorFlow 2 versions): full marks
ORIGINAL = {
    "triplet_loss": _tl(
        "    pos_dist = tf.reduce_sum(tf.square(tf.subtract(anchor, positive)), axis=-1)\n"
        "    neg_dist = tf.reduce_sum(tf.square(tf.subtract(anchor, negative)), axis=-1)\n"
        "    basic_loss = tf.add(tf.subtract(pos_dist, neg_dist), alpha)\n"
        "    loss = tf.reduce_sum(tf.maximum(basic_loss, 0.0))\n"
        "    return loss\n"),
    "verify": _verify(),
    "verify_tf2": _verify(dist="np.linalg.norm(tf.subtract(database[identity], encoding))"),
    "who_is_it": (  # no `identity = None` before the loop
        "def who_is_it(image_path, database, model):\n"
        "    encoding = img_to_encoding(image_path, model)\n"
        "    min_dist = 100\n"
        "    for (name, db_enc) in database.items():\n"
        "        dist = np.linalg.norm(encoding - db_enc)\n"
        "        if dist < min_dist:\n"
        "            min_dist = dist\n"
        "            identity = name\n"
        "    if min_dist > 0.7:\n"
        "        print(\"Not in the database.\")\n"
        "    else:\n"
        "        print (\"it's \" + str(identity) + \", the distance is \" + str(min_dist))\n"
        "    return min_dist, identity\n"),
    "who_is_it_tf2": _who(dist="np.linalg.norm(tf.subtract(db_enc, encoding))"),
}
