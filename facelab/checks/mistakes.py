"""The mistake catalogue: what students get wrong in each graded exercise.

Each :class:`~facelab.checks.Mistake` says, in one or two sentences without
any value (they are shown for hidden tests too), what the student probably
did and what to change, and how to recognise it from the answer:

* by value: ``returns`` is the mistaken function itself (same signature as
  the exercise). ``case.expect()`` runs it, in a trusted process, on every
  case; a failed answer that matches what it returns is that mistake;
* by form: ``spots(answer)`` looks at the answer's types, shape, order,
  printed text or error.

The first entry of an exercise's tuple that recognises a failed answer is
reported; unrecognised failures keep the case's own message. A None in the
answer that no entry explains is reported by the engine as unfinished work.
This module is secret (listed in ``facelab.checks.SECRET_MODULES``).
"""

from __future__ import annotations

import re

import numpy as np

from .engine import Answer, Mistake
from ..decision import NOT_IN_DATABASE, accepts, verify_message
from ..expected import ALPHA, NO_MATCH_DISTANCE, THRESHOLD

# ---------------------------------------------------------------- recognisers


def _error(*patterns: str):
    """Spots an error whose text matches one of ``patterns`` (regular expressions)."""
    def spots(a: Answer) -> bool:
        return a.error is not None and any(re.search(p, a.error) for p in patterns)
    return spots


def _kind(i: int, *kinds: str):
    """Spots item ``i`` being one of ``kinds`` (type names)."""
    return lambda a: a.items is not None and a.kinds[i] in kinds


def _array(i: int, tensors: bool = False):
    """Spots item ``i`` being an array of one or more dimensions (a tensor too if ``tensors``)."""
    def spots(a: Answer) -> bool:
        if a.items is None or (a.kinds[i] == "tf.Tensor" and not tensors):
            return False
        return isinstance(a.items[i], np.ndarray) and a.items[i].ndim >= 1
    return spots


def _near(a: Answer, i: int, tol: float = 1e-3) -> bool:
    got = a.number(i)
    return got is not None and abs(got - float(a.want.value[i])) <= tol


def _values_right_message_wrong(a: Answer) -> bool:
    """The returned pair is right, the printed text is not."""
    return (a.items is not None and a.error is None and _near(a, 0)
            and not isinstance(a.items[1], np.ndarray) and a.items[1] == a.want.value[1]
            and a.want.prints is not None and a.want.prints not in a.stdout)


def _swapped(first: tuple):
    """Spots a pair returned in the wrong order: its first item of a ``first`` kind."""
    return lambda a: (a.items is not None and len(a.items) == 2 and a.kinds[0] in first
                      and a.number(1) is not None)


# ---------------------------------------------------------- shared mistakes

NOT_ENCODED = Mistake(
    "not_encoded",
    "You computed a distance from the picture itself (its path or its pixels), not from its "
    "encoding: encode it first with img_to_encoding(image_path, model), then compare the two "
    "(1, 128) encodings.",
    spots=_error(r"dtype\('<U", r"'str'", r"'PosixPath'", r"Cannot convert '", r"160, ?160, ?3"))
NUMPY_MISSING = Mistake(
    "numpy_not_imported",
    "This notebook does not import numpy (np): write the loss with TensorFlow operations "
    "(tf.square, tf.reduce_sum, tf.maximum), which also keeps it differentiable.",
    spots=_error(r"^NameError: name 'np' is not defined"))


def _one_number(field: str, how: str) -> tuple[Mistake, ...]:
    """A distance returned as an array (or a tensor of one or more dimensions) or a list
    instead of one number (a 0-d tensor is one number: the contract accepts it)."""
    return (
        Mistake(f"{field}_array",
                f"{field} is an array, not one number (np.linalg.norm with an axis gives one "
                f"value per row, e.g. shape (1,)). {how} The cells after the exercise format "
                "and compare it as a number, and an array breaks them.",
                spots=lambda a: _array(0, tensors=True)(a) or _error(r"truth value of an array")(a)),
        Mistake(f"{field}_list",
                f"{field} is a list or a tuple: a distance is one number. {how}",
                spots=lambda a: _kind(0, "list", "tuple")(a)
                or _error(r"'(list|tuple)' and '(float|int)'")(a)),
    )


#: names the notebooks' set-up cells define: a NameError on one means the cells above
#: (the imports) did not run in this kernel
_SETUP_NAMES = ("np", "tf", "img_to_encoding", "load_pretrained", "office_database",
                "load_pixels", "camera_pictures", "employee_pictures", "THRESHOLD")


def setup_not_run(*names: str) -> Mistake:
    return Mistake(
        "setup_not_run",
        "A name the notebook's first cells define is not defined in this kernel: run the cells "
        "above first, from the top (the import cell), then this cell and its check again.",
        spots=_error(*(rf"^NameError: name '{n}' is not defined" for n in names)))


# ------------------------------------------------------------ pixel_distance


def _pixel_squared(image_a, image_b):
    return float(np.sum((np.asarray(image_a) - np.asarray(image_b)) ** 2))


def _pixel_l1(image_a, image_b):
    return float(np.sum(np.abs(np.asarray(image_a) - np.asarray(image_b))))


def _pixel_raw_sum(image_a, image_b):
    return float(np.sum(np.asarray(image_a) - np.asarray(image_b)))


def _pixel_rms(image_a, image_b):
    return float(np.sqrt(np.mean((np.asarray(image_a) - np.asarray(image_b)) ** 2)))


def _pixel_mean_square(image_a, image_b):
    return float(np.mean((np.asarray(image_a) - np.asarray(image_b)) ** 2))


_MEAN = ("You averaged the squared differences (np.mean) where the distance adds them up "
         "(np.sum), then takes the square root.")

PIXEL_DISTANCE = (
    setup_not_run(*_SETUP_NAMES),
    Mistake("squared",
            "You returned the squared distance, the sum of squares without its square root: "
            "take the square root too (np.linalg.norm does all three steps).",
            returns=_pixel_squared),
    Mistake("abs_sum",
            "You added up absolute differences (the L1 distance): square the differences "
            "instead, add them up, and take the square root.",
            returns=_pixel_l1),
    Mistake("raw_sum",
            "You added up the raw differences, so positive and negative ones cancel out: "
            "square each difference before adding them up, then take the square root.",
            returns=_pixel_raw_sum),
    Mistake("mean", _MEAN, returns=_pixel_rms),
    Mistake("mean_squared", _MEAN, returns=_pixel_mean_square),
    *_one_number("dist", "Call np.linalg.norm(image_a - image_b) without an axis and return "
                         "float(...) of it."),
)


# -------------------------------------------------------------- triplet_loss


def _triplet(swap=False, clip_after=False, clip=True, margin=True, fixed_alpha=False,
             power=2, axis=-1, mean_batch=False, mean_dist=False):
    """A triplet loss written with one of the catalogued mistakes."""
    def loss(y_true, y_pred, alpha=ALPHA):
        from .._quiet import tf

        anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
        if swap:
            positive, negative = negative, positive
        reduce = tf.reduce_mean if mean_dist else tf.reduce_sum

        def dist(u, v):
            d = tf.subtract(u, v)
            if power == 1:
                return tf.norm(d, axis=axis)
            return reduce(tf.square(d) if power == 2 else d, axis=axis)
        basic = dist(anchor, positive) - dist(anchor, negative)
        if margin:
            basic = basic + (ALPHA if fixed_alpha else alpha)
        total = tf.reduce_mean if mean_batch else tf.reduce_sum
        if clip_after:
            return tf.maximum(total(basic), 0.0)
        return total(tf.maximum(basic, 0.0) if clip else basic)
    return loss


def _right_value_not_tensor(a: Answer) -> bool:
    return a.kind != "tf.Tensor" and _near(a, 0, 1e-2)


def _not_one_loss(a: Answer) -> bool:
    """One loss per triplet: an array of one dimension (a batch of one gives shape (1,),
    like keepdims=True: both fit there, and the engine names the one that fits the
    most failed cases, shape_one first on a tie)."""
    v = a.items[0] if a.items is not None else None
    return isinstance(v, np.ndarray) and v.ndim == 1


def _shape_one(a: Answer) -> bool:
    """One value, but with dimensions (keepdims=True, a list around it): shape (1,), (1, 1)."""
    v = a.items[0] if a.items is not None else None
    return isinstance(v, np.ndarray) and v.ndim >= 1 and v.size == 1


def _no_gradient(a: Answer) -> bool:
    return a.probe == "no gradient"


TRIPLET_LOSS = (
    NUMPY_MISSING,
    setup_not_run(*(n for n in _SETUP_NAMES if n != "np")),
    Mistake("swapped",
            "You swapped the positive and the negative: pos_dist compares the anchor with the "
            "positive (y_pred[1]), neg_dist with the negative (y_pred[2]), and basic_loss is "
            "pos_dist - neg_dist + alpha.",
            returns=_triplet(swap=True)),
    Mistake("clip_after_sum",
            "You took the maximum with 0 after summing over the batch: clip each triplet's "
            "loss first, tf.maximum(basic_loss, 0.0), then sum with tf.reduce_sum.",
            returns=_triplet(clip_after=True)),
    Mistake("no_clip",
            "You did not take the maximum with 0: a triplet that already satisfies the margin "
            "must cost 0, not a negative amount. Use tf.maximum(basic_loss, 0.0) before summing.",
            returns=_triplet(clip=False)),
    Mistake("no_alpha",
            "You did not add the margin alpha: basic_loss is pos_dist - neg_dist + alpha.",
            returns=_triplet(margin=False)),
    Mistake("fixed_alpha",
            f"You used {ALPHA} instead of the alpha argument: write `+ alpha`, so that the "
            "margin the caller passes is used.",
            returns=_triplet(fixed_alpha=True)),
    Mistake("not_squared",
            "Your distances are not squared: the triplet loss uses squared distances, the "
            "sum of tf.square(...) over axis=-1, not their square root (tf.norm).",
            returns=_triplet(power=1)),
    Mistake("raw_sum",
            "You added up the raw differences, so they cancel out: square them first "
            "(tf.square), then sum over axis=-1.",
            returns=_triplet(power=0)),
    Mistake("wrong_axis",
            "You summed the squared differences over the wrong axis: each row is one triplet, "
            "so sum over the last axis (axis=-1) to get one distance per triplet.",
            returns=_triplet(axis=0)),
    Mistake("no_axis",
            "You summed the squared differences of the whole batch at once: sum over the last "
            "axis only (axis=-1), one distance per triplet, and clip each triplet's loss.",
            returns=_triplet(axis=None)),
    Mistake("mean_batch",
            "You averaged over the batch (tf.reduce_mean): the loss of a batch is the sum of "
            "its triplets' losses (tf.reduce_sum).",
            returns=_triplet(mean_batch=True)),
    Mistake("mean_distance",
            "You averaged the squared differences (tf.reduce_mean) where a squared distance "
            "adds them up (tf.reduce_sum over axis=-1).",
            returns=_triplet(mean_dist=True)),
    Mistake("shape_one",
            "Your loss has the shape (1,) or (1, 1), not a scalar (0-d) one: "
            "drop keepdims=True (or the list around it) so that tf.reduce_sum gives a 0-d tensor.",
            spots=_shape_one),
    Mistake("not_reduced",
            "You returned one loss per triplet: add them up over the batch with tf.reduce_sum "
            "so that the loss is one number.",
            spots=_not_one_loss),
    Mistake("no_gradient",
            "Your loss has no gradient with respect to y_pred: a step through numpy, float(...) "
            "or tf.constant(...) cuts TensorFlow's record of how the loss was computed. "
            "Notebook 7 trains a network with this loss, and without a gradient it cannot "
            "learn: write every step with TensorFlow operations.",
            spots=_no_gradient),
    Mistake("not_tensor",
            "Your loss has the right value but is not a TensorFlow tensor: build it with "
            "TensorFlow operations only (no numpy, no float(...)), so that training can "
            "differentiate it.",
            spots=_right_value_not_tensor),
)


# -------------------------------------------------------------------- verify


def _verify(distance, opens):
    """A verify written with one catalogued mistake: its distance and its door rule."""
    def verify(image_path, identity, database, model):
        from ..encoding import img_to_encoding

        diff = img_to_encoding(image_path, model) - np.asarray(database[identity])
        dist = float(distance(diff))
        door_open = bool(opens(dist))
        print(verify_message(identity, door_open))
        return dist, door_open
    return verify


def _verify_first_entry(image_path, identity, database, model):
    from ..encoding import img_to_encoding

    first = np.asarray(next(iter(database.values())))
    dist = float(np.linalg.norm(img_to_encoding(image_path, model) - first))
    door_open = accepts(dist)
    print(verify_message(identity, door_open))
    return dist, door_open


_NORM = lambda d: np.linalg.norm(d)  # noqa: E731

VERIFY = (
    setup_not_run(*_SETUP_NAMES),
    NOT_ENCODED,
    Mistake("door_open_unset",
            "door_open is set only in one branch: when the other branch runs it has no value "
            "(UnboundLocalError). Set door_open = True where the door opens and "
            "door_open = False in the `else` branch.",
            spots=_error(r"^UnboundLocalError: .*'door_open'")),
    Mistake("identity_as_text",
            "You looked up the word 'identity' in the database: use the variable, "
            "database[identity], without quotes.",
            spots=_error(r"^KeyError: 'identity'")),
    Mistake("swapped_return",
            "You returned (door_open, dist): the lesson's order is `return dist, door_open`.",
            spots=_swapped(("bool", "bool_"))),
    *_one_number("dist", "Use np.linalg.norm(...) without an axis, or float(...) of it."),
    Mistake("door_not_bool",
            "door_open is not True or False: set it to the booleans True or False (no quotes).",
            spots=lambda a: a.items is not None and a.kinds[1] not in ("bool", "bool_")
            and a.number(0) is not None),
    Mistake("squared",
            "You used the squared distance: the lesson's distance is the L2 norm of the "
            "difference, np.linalg.norm(...), which takes the square root.",
            returns=_verify(lambda d: np.sum(np.square(d)), accepts)),
    Mistake("abs_sum",
            "You added up absolute differences (the L1 distance): use the L2 norm of the "
            "difference, np.linalg.norm(...).",
            returns=_verify(lambda d: np.sum(np.abs(d)), accepts)),
    Mistake("wrong_entry",
            "You compared the picture with the wrong database entry: use the claimed person's "
            "encoding, database[identity].",
            returns=_verify_first_entry),
    Mistake("at_threshold",
            f"Your door opened at a distance of exactly {THRESHOLD}: it opens strictly below "
            f"the threshold, so compare with `dist < {THRESHOLD}`, not `<=`.",
            returns=_verify(_NORM, lambda d: d <= THRESHOLD)),
    Mistake("wrong_sign",
            "Your door opens when the distance is large: it must open when the picture is "
            f"close to the badge photo, when dist < {THRESHOLD}.",
            returns=_verify(_NORM, lambda d: d >= THRESHOLD)),
    Mistake("wrong_message",
            "Your function decides right but prints another message: print exactly "
            "\"It's <identity>, welcome in!\" when the door opens and "
            "\"It's not <identity>, please go away\" otherwise.",
            spots=_values_right_message_wrong),
)


# ----------------------------------------------------------------- who_is_it


def _who(distance=_NORM, keep=lambda d, best: d < best, start=NO_MATCH_DISTANCE,
         update_dist=True, identity_inside=True):
    """A who_is_it written with one catalogued mistake in its search."""
    def who_is_it(image_path, database, model):
        from ..encoding import img_to_encoding

        encoding = img_to_encoding(image_path, model)
        min_dist, identity = start, None
        for name, db_enc in database.items():
            dist = float(distance(encoding - np.asarray(db_enc)))
            if keep(dist, min_dist):
                if update_dist:
                    min_dist = dist
                if identity_inside:
                    identity = name
            if not identity_inside:
                identity = name
        print(f"it's {identity}" if accepts(min_dist) else NOT_IN_DATABASE)
        return min_dist, identity
    return who_is_it


WHO_IS_IT = (
    setup_not_run(*_SETUP_NAMES),
    NOT_ENCODED,
    Mistake("swapped_return",
            "You returned (identity, min_dist): the lesson's order is "
            "`return min_dist, identity`.",
            spots=_swapped(("str",))),
    *_one_number("min_dist", "Use np.linalg.norm(...) without an axis, or float(...) of it."),
    Mistake("never_updated",
            "min_dist never changed from its start value, so identity was never set: update "
            "both when `dist < min_dist` (check the direction of the comparison).",
            spots=lambda a: a.number(0) == NO_MATCH_DISTANCE and a.items[1] is None),
    Mistake("kept_largest",
            "You kept the largest distance: keep the smallest one, updating when "
            f"`dist < min_dist`, from a start value larger than any distance "
            f"({NO_MATCH_DISTANCE:g}).",
            returns=_who(keep=lambda d, best: d > best, start=0.0)),
    Mistake("squared",
            "Your distances are squared: use the L2 norm of the difference, "
            "np.linalg.norm(encoding - db_enc), which takes the square root.",
            returns=_who(distance=lambda d: np.sum(np.square(d)))),
    Mistake("identity_outside_if",
            "You set identity outside the `if`, so it ends as the last name of the loop: "
            "update identity together with min_dist, inside `if dist < min_dist:`.",
            returns=_who(identity_inside=False)),
    Mistake("min_dist_not_updated",
            "min_dist is not updated inside the `if`: set min_dist = dist together with "
            "identity = name, so that later names are compared with the best so far.",
            returns=_who(update_dist=False)),
    Mistake("stranger_without_name",
            "You returned None as the identity of a stranger: return the nearest name either "
            "way; the message 'Not in the database.' already tells that it is a stranger.",
            spots=lambda a: a.items[1] is None and _near(a, 0)
            and not accepts(a.want.value[0])),
    Mistake("wrong_message",
            "Your function finds the right person but prints another message: print "
            f"'Not in the database.' when min_dist > {THRESHOLD}, else \"it's <identity>, "
            "the distance is <min_dist>\".",
            spots=_values_right_message_wrong),
)
