"""Loading pictures of every kind, and cutting out faces, on real photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facelab.errors import ImageError, NoFaceError, ShapeError
from facelab.images import crop_face, detect_faces, load_image, to_model_input

from .conftest import TEST_IMAGES, need


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ImageError, match="picture not found: .*ghost.jpg"):
        load_image(tmp_path / "ghost.jpg")


def test_empty_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(tmp_path / "empty.jpg")


def test_text_file_is_not_a_picture(tmp_path):
    (tmp_path / "notes.jpg").write_text("these are not pixels")
    with pytest.raises(ImageError, match="not a picture"):
        load_image(tmp_path / "notes.jpg")


def test_truncated_jpeg(tmp_path):
    src = need(TEST_IMAGES / "identities" / "obama" / "obama_small.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(src[:200])
    with pytest.raises(ImageError, match="cut.jpg"):
        load_image(tmp_path / "cut.jpg")


def test_folder_is_not_a_picture(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_rgba_png_loses_alpha():
    path = need(TEST_IMAGES / "identities" / "obama" / "obama2_32bit_rgba.png")
    pixels = load_image(path)
    assert pixels.shape == (1200, 626, 3) and pixels.dtype == np.uint8


def test_grayscale_pgm_becomes_three_equal_channels():
    path = need(TEST_IMAGES / "pgm_gray" / "s1" / "1.pgm")
    pixels = load_image(path)
    assert pixels.shape == (112, 92, 3)
    assert np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 1], pixels[..., 2])


def exif_rotated_copy(src, dest):
    """Save ``src`` rotated 90 degrees with an EXIF tag saying how to undo it."""
    with Image.open(src) as pic:
        turned = pic.convert("RGB").transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90 CW to display"
        turned.save(dest, format="PNG", exif=exif.tobytes())


def test_exif_orientation_is_applied(tmp_path):
    src = need(TEST_IMAGES / "identities" / "obama" / "obama_small.jpg")
    exif_rotated_copy(src, tmp_path / "turned.png")
    with Image.open(tmp_path / "turned.png") as raw:
        assert raw.size == (240, 320)  # stored sideways
    assert np.array_equal(load_image(tmp_path / "turned.png"), load_image(src))


def test_arrays_of_odd_shapes():
    assert load_image(np.zeros((5, 7), np.uint8)).shape == (5, 7, 3)
    assert load_image(np.zeros((5, 7, 4), np.uint8)).shape == (5, 7, 3)
    assert load_image(np.full((2, 2, 3), 300.0)).max() == 255
    with pytest.raises(ShapeError, match=r"got an array of shape \(5, 7, 2\)"):
        load_image(np.zeros((5, 7, 2)))
    with pytest.raises(ShapeError, match="NaN"):
        load_image(np.full((2, 2, 3), np.nan))
    with pytest.raises(ImageError, match="got int"):
        load_image(42)


def test_model_input_is_160_nearest_and_scaled():
    pixels = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3) * 20
    x = to_model_input(pixels)
    assert x.shape == (160, 160, 3) and x.dtype == np.float32
    assert x[0, 0, 0] == pytest.approx(0.0) and x[159, 159, 2] == pytest.approx(220 / 255)
    assert set(np.unique(x * 255).round().astype(int)) == set(pixels.ravel().tolist())  # no blending


@pytest.mark.slow
def test_no_face_pictures_raise_no_face_error():
    folder = need(TEST_IMAGES / "no_face")
    for path in sorted(folder.iterdir()):
        with pytest.raises(NoFaceError, match=path.name):
            crop_face(path)


@pytest.mark.slow
def test_largest_of_several_faces_is_cropped():
    path = need(TEST_IMAGES / "multi_face" / "two_people.jpg")
    faces = detect_faces(path)
    assert len(faces) == 2 and faces[0].area >= faces[1].area
    crop = crop_face(path)
    assert crop.shape == (160, 160, 3) and crop.dtype == np.uint8


@pytest.mark.slow
def test_face_found_in_grayscale_and_large_photos():
    for path in (TEST_IMAGES / "pgm_gray" / "s2" / "1.pgm",
                 TEST_IMAGES / "identities" / "obama" / "obama-1080p.jpg"):
        assert len(detect_faces(need(path))) == 1
