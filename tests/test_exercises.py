"""The reference solutions reproduce the lesson's expected outputs."""

from __future__ import annotations

import numpy as np
import pytest

from facelab import expected as X
from facelab._quiet import tf
from facelab.errors import EmptyDatabaseError, ShapeError, UnknownIdentityError
from facelab.exercises import load_pixels, pixel_distance, triplet_loss, verify, who_is_it


def test_triplet_loss_seeded_expected_output():
    tf.random.set_seed(X.TRIPLET_SEED)
    y_pred = tuple(tf.random.normal([3, 128], mean=m, stddev=s, seed=X.TRIPLET_SEED)
                   for m, s in X.TRIPLET_SEEDED_DRAWS)
    loss = triplet_loss((None, None, None), y_pred)
    assert isinstance(loss, tf.Tensor) and loss.shape == ()
    assert float(loss) == pytest.approx(527.2598, abs=1e-3)


@pytest.mark.parametrize("anchor,positive,negative,alpha,want", X.TRIPLET_SMALL_CASES)
def test_triplet_loss_small_cases(anchor, positive, negative, alpha, want):
    y_pred = tuple(tf.constant(v, dtype=tf.float32) for v in (anchor, positive, negative))
    assert float(triplet_loss(None, y_pred, alpha)) == pytest.approx(want)


def test_triplet_loss_empty_batch_is_zero():
    empty = tf.zeros([0, 128])
    assert float(triplet_loss(None, (empty, empty, empty))) == 0.0


def test_pixel_distance(office):
    a = load_pixels(office / "camera" / "madonna_1.png")
    assert a.shape == (160, 160, 3) and 0.0 <= a.min() and a.max() <= 1.0
    b = load_pixels(office / "camera" / "madonna_2.png")
    assert pixel_distance(a, a) == 0.0
    assert pixel_distance(a, b) == pytest.approx(np.sqrt(((a - b) ** 2).sum()))
    with pytest.raises(ShapeError, match="same shape"):
        pixel_distance(a, a[:10])


# --- the original office: numbers from the original assignment -----------------------
@pytest.mark.parametrize("camera,name", sorted(X.SEED_VERIFY))
def test_verify_reproduces_the_original_numbers(camera, name, seed_db, seed_dir, model, capsys):
    want_dist, want_open = X.SEED_VERIFY[(camera, name)]
    dist, door_open = verify(seed_dir / f"{camera}.jpg", name, seed_db, model)
    assert dist == pytest.approx(want_dist, abs=X.SEED_TOLERANCE)
    assert door_open is want_open
    said = capsys.readouterr().out.strip()
    assert said == (f"It's {name}, welcome in!" if want_open else f"It's not {name}, please go away")


def test_who_is_it_reproduces_the_original_numbers(seed_db, seed_dir, model, capsys):
    want_dist, want_name = X.SEED_WHO_IS_IT["camera_0"]
    dist, name = who_is_it(seed_dir / "camera_0.jpg", seed_db, model)
    assert name == want_name and dist == pytest.approx(want_dist, abs=X.SEED_TOLERANCE)
    assert capsys.readouterr().out.startswith(f"it's {want_name}, the distance is 0.")
    dist, name = who_is_it(seed_dir / "younes.jpg", seed_db, model)
    assert (dist, name) == (0.0, "younes")


def test_who_is_it_stranger(seed_db, seed_dir, model, capsys):
    without = {k: v for k, v in seed_db.items() if k != "younes"}
    dist, _ = who_is_it(seed_dir / "camera_0.jpg", without, model)
    assert dist > X.THRESHOLD
    assert capsys.readouterr().out.strip() == "Not in the database."


def test_unknown_identity_lists_the_known_names(office_db, office, model):
    with pytest.raises(UnknownIdentityError) as err:
        verify(office / "camera" / "madonna_1.png", "bono", office_db, model)
    assert str(err.value) == ("'bono' is not in the database; known names: ben_afflek, "
                              "elton_john, jerry_seinfeld, madonna, mindy_kaling")


def test_empty_database(office, model):
    with pytest.raises(EmptyDatabaseError, match="empty"):
        who_is_it(office / "camera" / "madonna_1.png", {}, model)


def test_office_recognition(office_db, office, model, capsys):
    """On the real photos: every camera picture's nearest employee is the right one."""
    from facelab.database import camera_pictures, person_of

    right = [who_is_it(p, office_db, model)[1] == person_of(p) for p in camera_pictures()]
    assert len(right) == 25 and all(right)
