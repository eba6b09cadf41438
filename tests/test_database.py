"""Databases (one encoding per person) and galleries (several), on the office photos."""

from __future__ import annotations

import numpy as np
import pytest

from facelab import database as D
from facelab.errors import ArgumentError, EmptyDatabaseError, ShapeError, UnknownIdentityError


def test_office_database_has_one_unit_encoding_per_employee(office_db, office, model):
    from facelab.encoding import img_to_encoding

    assert list(office_db) == D.employees() == ["ben_afflek", "elton_john", "jerry_seinfeld",
                                                 "madonna", "mindy_kaling"]
    for name, enc in office_db.items():
        assert enc.shape == (1, 128)
        assert np.abs(enc - img_to_encoding(office / "database" / f"{name}.png", model)).max() < 1e-5


def test_camera_pictures_and_people(office):
    pictures = D.camera_pictures()
    assert len(pictures) == 25
    assert [p.name for p in D.camera_pictures("madonna")] == [f"madonna_{i}.png" for i in range(1, 6)]
    assert D.person_of(pictures[0]) == "ben_afflek"
    with pytest.raises(UnknownIdentityError, match="known names: ben_afflek"):
        D.camera_pictures("bono")


def test_face_pictures_splits(office):
    assert len(D.face_pictures("train")) == 93 and len(D.face_pictures("val")) == 25
    raw = D.face_pictures("val", "elton_john", cropped=False)
    assert len(raw) == 5 and all(p.suffix == ".jpg" for p in raw)
    with pytest.raises(ArgumentError, match="'train' or 'val'"):
        D.face_pictures("test")


def test_gallery_takes_the_nearest_picture(model):
    from facelab.encoding import img_to_encoding

    pictures = {"madonna": D.face_pictures("train", "madonna")[:3],
                "elton_john": D.face_pictures("train", "elton_john")[:2]}
    gallery = D.build_gallery(pictures, model)
    assert gallery["madonna"].shape == (3, 128) and gallery["elton_john"].shape == (2, 128)
    probe = img_to_encoding(pictures["madonna"][1], model)
    dists = D.distances_to(probe, gallery)
    assert dists["madonna"] == pytest.approx(0.0, abs=1e-5)
    assert dists["elton_john"] > 0.5


def test_several_pictures_per_person_bring_genuine_visitors_closer(model):
    """Measured on the real photos: the nearest of all training photos beats one badge photo."""
    from facelab.encoding import img_to_encoding

    badge = D.build_database(D.employee_pictures(), model)
    gallery = D.build_gallery({p: D.face_pictures("train", p) for p in D.employees()}, model)
    one, many = [], []
    for picture in D.camera_pictures():
        enc = img_to_encoding(picture, model)
        person = D.person_of(picture)
        one.append(D.distances_to(enc, badge)[person])
        many.append(D.distances_to(enc, gallery)[person])
    assert np.mean(many) < np.mean(one) - 0.05


def test_empty_and_bad_inputs(model):
    assert D.build_database({}, model) == {}
    with pytest.raises(EmptyDatabaseError):
        D.distances_to(np.zeros(128), {})
    with pytest.raises(ShapeError, match="'nobody' has no pictures"):
        D.build_gallery({"nobody": []}, model)
    with pytest.raises(UnknownIdentityError):
        D.lookup({"a": 1}, "b")


def test_flat_public_api():
    import facelab

    for name in ("load_image", "img_to_encoding", "encode_images", "verify", "who_is_it",
                 "triplet_loss", "pixel_distance", "build_database", "fetch", "load_pretrained"):
        assert callable(getattr(facelab, name)), name
    assert facelab.THRESHOLD == 0.7 and facelab.ALPHA == 0.2
    with pytest.raises(AttributeError):
        facelab.nothing_here
