"""facelab.evaluation and facelab.lfw: synthetic cases with known answers, LFW DevTest pairs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from facelab.errors import FacelabError, ImageError, PairsFileError, ShapeError
from facelab.evaluation import (accuracy_at, best_threshold, genuine_impostor, kfold_evaluation,
                                pairwise_distances, roc_curve, split_folds, threshold_at_far)
from facelab.lfw import evaluate_pairs, pair_folds, read_pairs

from .conftest import LFW, need


# ------------------------------------------------------------------ synthetic
def test_pairwise_distances_known_values():
    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    d = pairwise_distances(a)
    assert d.shape == (2, 2)
    np.testing.assert_allclose(d, [[0, 5], [5, 0]])
    np.testing.assert_allclose(pairwise_distances(a, np.array([[0.0, 1.0]])), [[1.0], [np.sqrt(18)]])
    assert pairwise_distances(np.zeros((0, 2))).shape == (0, 0)
    with pytest.raises(ShapeError):
        pairwise_distances(np.zeros((2, 2)), np.zeros((2, 3)))


def test_genuine_impostor_split():
    enc = np.array([[0.0], [1.0], [3.0], [7.0]])
    gen, imp = genuine_impostor(enc, ["a", "a", "b", "b"])
    np.testing.assert_allclose(sorted(gen), [1.0, 4.0])
    np.testing.assert_allclose(sorted(imp), [2.0, 3.0, 6.0, 7.0])
    gen, imp = genuine_impostor(enc[:1], ["a"])
    assert gen.size == 0 and imp.size == 0
    with pytest.raises(ShapeError):
        genuine_impostor(enc, ["a"])


def test_roc_perfect_separation():
    roc = roc_curve([0.1, 0.2], [0.8, 0.9, 1.0])
    assert roc.n_genuine == 2 and roc.n_impostor == 3
    assert np.all(np.diff(roc.thresholds) > 0)
    assert roc.false_accept_rate[0] == 0 and roc.false_reject_rate[0] == 1
    assert roc.false_accept_rate[-1] == 1 and roc.false_reject_rate[-1] == 0
    np.testing.assert_allclose(roc.true_accept_rate, 1 - roc.false_reject_rate)
    assert roc.auc() == pytest.approx(1.0)
    t, acc = best_threshold([0.1, 0.2], [0.8, 0.9, 1.0])
    assert acc == 1.0 and 0.2 < t <= 0.8
    assert t == pytest.approx(0.5)
    assert accuracy_at([0.1, 0.2], [0.8, 0.9, 1.0], t) == 1.0


def test_accuracy_at_uses_strictly_below():
    # a genuine pair exactly at the threshold is rejected, like `verify`
    assert accuracy_at([0.7], [], 0.7) == 0.0
    assert accuracy_at([0.69], [0.7], 0.7) == 1.0
    assert accuracy_at([0.1, 0.9], [0.5, 1.5], 0.7) == 0.5
    assert accuracy_at([], [], 0.7) == 0.0


def test_roc_overlap_and_chance():
    rng = np.random.default_rng(0)
    same = rng.uniform(0, 1, 2000)
    roc = roc_curve(same, rng.uniform(0, 1, 2000))
    assert roc.auc() == pytest.approx(0.5, abs=0.03)
    # inverted: impostors closer than genuine pairs
    t, acc = best_threshold([0.9, 1.0], [0.1, 0.2])
    assert acc == 0.5  # rejecting everything gets the impostors right


def test_roc_empty_sides():
    roc = roc_curve([], [])
    assert roc.thresholds.shape == (1,)
    assert best_threshold([], []) == (0.0, 0.0)
    roc = roc_curve([0.3], [])
    assert np.all(roc.false_accept_rate == 0)
    with pytest.raises(ShapeError):
        roc_curve([np.nan], [1.0])


def test_threshold_at_far():
    gen, imp = [0.1, 0.3, 0.5], [0.4, 0.9]
    t = threshold_at_far(gen, imp, 0.0)
    assert t == pytest.approx(0.4)  # accepting < 0.4 lets no impostor in
    assert accuracy_at(gen, imp, t) == pytest.approx(4 / 5)


# -------------------------------------------------------------------- k folds
def test_split_folds_stratified_and_contiguous():
    same = [True] * 20 + [False] * 30
    folds = split_folds(same, 10)
    assert folds.tolist()[:20] == [k for k in range(10) for _ in range(2)]
    assert folds.tolist()[20:] == [k for k in range(10) for _ in range(3)]
    # uneven counts: run lengths differ by at most one, every fold gets both kinds
    folds = split_folds([True] * 13 + [False] * 11, 4)
    gen, imp = np.bincount(folds[:13]), np.bincount(folds[13:])
    assert gen.tolist() in ([3, 3, 3, 4], [3, 3, 4, 3], [3, 4, 3, 3], [4, 3, 3, 3])
    assert imp.max() - imp.min() <= 1 and imp.sum() == 11
    with pytest.raises(ShapeError, match="at least 10 two-person pairs, got 9"):
        split_folds([True] * 10 + [False] * 9, 10)
    with pytest.raises(ShapeError, match="at least 2 folds"):
        split_folds([True, False], 1)
    with pytest.raises(ShapeError):
        split_folds([], 2)


def _two_folds():
    """Fold 0 separates at 0.35, fold 1 at 0.9: each threshold fails the other fold."""
    dist = [0.1, 0.2, 0.5, 0.6, 0.7, 0.8, 1.0, 1.1]
    same = [True, True, False, False, True, True, False, False]
    folds = [0, 0, 0, 0, 1, 1, 1, 1]
    return dist, same, folds


def test_kfold_threshold_comes_from_the_other_folds():
    dist, same, folds = _two_folds()
    r = kfold_evaluation(dist, same, folds)
    # fold 0 is scored at fold 1's best threshold (midway 0.8 | 1.0) and vice versa
    np.testing.assert_allclose(r.thresholds, [0.9, 0.35])
    np.testing.assert_allclose(r.accuracies, [0.5, 0.5])
    assert r.k == 2 and r.accuracy == 0.5 and r.accuracy_std == 0.0
    # tuning on all the pairs it scores would claim 6 of 8 right
    gen = [d for d, s in zip(dist, same) if s]
    imp = [d for d, s in zip(dist, same) if not s]
    assert best_threshold(gen, imp)[1] == 0.75


def test_kfold_mean_and_std_over_folds():
    # fold 0 is separable at any threshold in (0.3, 0.5); fold 1's genuine 0.8 sits
    # above fold 0's threshold; folds 2 and 3 repeat folds 0 and 1
    dist = [0.2, 0.3, 0.5, 0.6] * 2 + [0.2, 0.8, 0.5, 0.6] * 2
    same = [True, True, False, False] * 4
    folds = [0] * 4 + [2] * 4 + [1] * 4 + [3] * 4
    r = kfold_evaluation(dist, same, folds)
    assert r.k == 4
    # folds 1 and 3 lose their 0.8 genuine pair (3/4); folds 0 and 2 are all right
    np.testing.assert_allclose(r.accuracies, [1.0, 0.75, 1.0, 0.75])
    assert r.accuracy == pytest.approx(0.875)
    assert r.accuracy_std == pytest.approx(0.125)  # population std, as FaceNet's code


def test_kfold_validation_rate_at_far():
    # fold labels need not be 0..k-1
    dist = [0.1, 0.3, 0.6, 0.4, 0.2, 0.7, 0.5, 0.45]
    same = [True, True, True, False, True, True, True, False]
    folds = [7, 7, 7, 7, 3, 3, 3, 3]
    r = kfold_evaluation(dist, same, folds, far_target=0.0)
    # fold 3 (sorted first) is scored at fold 7's "no impostor" threshold 0.4: 0.2 < 0.4
    # passes, 0.7 and 0.5 do not, impostor 0.45 stays out; fold 7 at fold 3's 0.45:
    # 0.1 and 0.3 pass, 0.6 does not, impostor 0.4 gets in
    np.testing.assert_allclose(r.val_thresholds, [0.4, 0.45])
    np.testing.assert_allclose(r.val_rates, [1 / 3, 2 / 3])
    np.testing.assert_allclose(r.far_rates, [0.0, 1.0])
    assert r.val == pytest.approx(0.5) and r.far == pytest.approx(0.5)
    assert r.far_target == 0.0


def test_kfold_perfect_separation_and_errors():
    rng = np.random.default_rng(3)
    gen, imp = rng.uniform(0.1, 0.6, 50), rng.uniform(0.9, 1.5, 50)
    dist = np.concatenate([gen, imp])
    same = np.arange(100) < 50
    r = kfold_evaluation(dist, same, split_folds(same, 10))
    assert r.accuracy == 1.0 and r.accuracy_std == 0.0 and r.val == 1.0
    assert np.all((r.thresholds > 0.6) & (r.thresholds < 0.9))
    # at FAR 0.1% of 45 training impostors, the threshold is the smallest of them
    for k in range(10):
        others = (split_folds(same, 10) != k) & ~same
        assert r.val_thresholds[k] == dist[others].min()
    with pytest.raises(ShapeError, match="as many"):
        kfold_evaluation(dist, same[:10], split_folds(same, 10))
    with pytest.raises(ShapeError, match="at least 2 folds"):
        kfold_evaluation(dist, same, np.zeros(100))
    with pytest.raises(ShapeError, match="at least 2 folds"):
        kfold_evaluation([], [], [])
    with pytest.raises(ShapeError, match="fold 1 has 0 same-person"):
        kfold_evaluation([0.1, 0.9, 0.8, 0.7], [True, False, False, True], [0, 0, 1, 1][::-1][::-1]
                         if False else [0, 0, 1, 0])
    with pytest.raises(ShapeError, match="NaN"):
        kfold_evaluation([np.nan, 1.0], [True, False], [0, 1])


# ---------------------------------------------------------------- pairs file
def _write(path, text):
    path.write_text(text)
    return path


def test_read_pairs_single_set(tmp_path):
    pairs = _write(tmp_path / "pairs.txt", "2\nAnn\t1\t2\nBob\t1\t3\n\nAnn\t1\tBob\t3\nCy\t2\tAnn\t1\n")
    got = read_pairs(pairs, tmp_path / "img")
    assert [p.same for p in got] == [True, True, False, False]
    assert [p.line for p in got] == [2, 3, 5, 6]
    assert {p.set for p in got} == {0}
    assert got[0].first == tmp_path / "img" / "Ann" / "Ann_0001.jpg"
    assert got[2].second == tmp_path / "img" / "Bob" / "Bob_0003.jpg"
    assert pair_folds(got, 2).tolist() == [0, 1, 0, 1]
    with pytest.raises(ShapeError, match="3 folds need at least 3"):
        pair_folds(got, 3)


def test_read_pairs_sets_are_the_folds(tmp_path):
    lines = ["3 1"]
    for k in range(3):
        lines += [f"P{k}\t1\t2", f"P{k}\t1\tQ{k}\t1"]
    got = read_pairs(_write(tmp_path / "pairs.txt", "\n".join(lines) + "\n"), tmp_path)
    assert [p.set for p in got] == [0, 0, 1, 1, 2, 2]
    assert pair_folds(got).tolist() == [0, 0, 1, 1, 2, 2]
    assert pair_folds(got, 3).tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(PairsFileError, match="defines 3 folds; asked for 10"):
        pair_folds(got, 10)


@pytest.mark.parametrize("text, message", [
    ("1\nAnn\t1\n", r"pairs.txt:2: expected 'Name i j'"),
    ("1\nAnn\tone\t2\nAnn\t1\tBob\t1\n", r"pairs.txt:2: picture number 'one' is not an integer"),
    ("1\nAnn\t0\t2\nAnn\t1\tBob\t1\n", r"pairs.txt:2: expected a name and a picture number >= 1"),
    ("ten\nAnn\t1\t2\n", r"pairs.txt:1: expected a header"),
    ("", r"pairs.txt:1: expected a header"),
    ("2\nAnn\t1\t2\nAnn\t1\tBob\t1\n", r"pairs.txt:1: the header announces 2 same-person .* lists 1 and 1"),
    ("1\nAnn\t1\t2\nAnn\t1\tBob\t1\nCy\t1\t2\n", r"pairs.txt:4: the header announces 2 pairs"),
    ("2 1\nAnn\t1\t2\nAnn\t1\tBob\t1\nCy\t1\tAnn\t2\nCy\t1\t2\n",
     r"pairs.txt:4: set 2 should list 1 same-person pairs.*pair 1 of the set and a two-person"),
])
def test_read_pairs_errors_name_the_line(tmp_path, text, message):
    pairs = _write(tmp_path / "pairs.txt", text)
    with pytest.raises(PairsFileError, match=message):
        read_pairs(pairs, tmp_path)


def test_read_pairs_missing_file(tmp_path):
    with pytest.raises(PairsFileError, match="not found"):
        read_pairs(tmp_path / "nope.txt", tmp_path)
    assert issubclass(PairsFileError, FacelabError)


def test_devtest_file_gives_ten_stratified_folds():
    root = need(LFW)
    pairs = read_pairs(root / "pairsDevTest.txt", root / "images")
    assert len(pairs) == 1000 and sum(p.same for p in pairs) == 500
    folds = pair_folds(pairs)
    same = np.array([p.same for p in pairs])
    assert np.bincount(folds[same]).tolist() == [50] * 10
    assert np.bincount(folds[~same]).tolist() == [50] * 10


def test_evaluate_pairs_missing_image(tmp_path):
    pairs = _write(tmp_path / "pairs.txt", "2\nAnn\t1\t2\nBob\t1\t2\nAnn\t1\tBob\t1\n"
                   "Bob\t2\tAnn\t2\n")
    with pytest.raises(ImageError, match=r"Ann_0001.jpg.*line 2"):
        evaluate_pairs(pairs, tmp_path, model=lambda x: x, folds=2)


# ----------------------------------------------------------------------- LFW
@pytest.fixture(scope="module")
def lfw_result(model):
    root = need(LFW)
    return evaluate_pairs(root / "pairsDevTest.txt", root / "images", model, limit=100, crop=160)


@pytest.mark.slow
def test_lfw_subset_well_above_chance(lfw_result):
    r = lfw_result
    assert r.roc.n_genuine == 100 and r.roc.n_impostor == 100
    assert r.folds.k == 10
    assert r.folds.accuracy >= 0.9, r.summary()
    assert np.all((r.folds.thresholds > 0.8) & (r.folds.thresholds < 1.3)), r.summary()
    assert r.roc.auc() > 0.95, r.summary()
    assert r.genuine.mean() < r.impostor.mean()
    assert r.accuracy == pytest.approx(accuracy_at(r.genuine, r.impostor, 0.7))
    assert r.preprocessing == "assignment" and r.crop == 160
    assert "10-fold accuracy" in r.summary()


# ------------------------------------------------------------ facelab evaluate
def _devtest_subset(tmp_path, n):
    """The first n same and first n different DevTest pairs, as a single-set file."""
    root = need(LFW)
    lines = (root / "pairsDevTest.txt").read_text().splitlines()
    text = "\n".join([str(n), *lines[1:1 + n], *lines[501:501 + n]]) + "\n"
    return _write(tmp_path / "pairs.txt", text), root / "images"


@pytest.mark.slow
def test_evaluate_pairs_encodes_each_distinct_picture_once(tmp_path):
    pairs, images = _devtest_subset(tmp_path, 10)
    rows, calls = [], []

    def model(batch):  # any callable model: the mean of each pixel row, 128 numbers
        arr = np.asarray(batch)
        rows.append(arr.shape[0])
        return arr.mean(axis=(2, 3))[:, :128] + 1.0

    r = evaluate_pairs(pairs, images, model, folds=5, crop=128, batch_size=8,
                       progress=lambda done, total: calls.append((done, total)))
    distinct = {pic for p in read_pairs(pairs, images) for pic in (p.first, p.second)}
    assert len(distinct) < 40  # some pictures appear in several pairs
    assert sum(rows) == len(distinct) == r.pictures
    assert calls[-1] == (len(distinct), len(distinct)) and len(calls) == -(-len(distinct) // 8)
    assert r.folds.k == 5 and r.roc.n_genuine == 10


def _facelab(*args):
    return subprocess.run([sys.executable, "-m", "facelab.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def test_evaluate_command_reports_bad_input_by_line(tmp_path):
    pairs = _write(tmp_path / "pairs.txt", "2\nAnn\t1\t2\nBob\t1\nAnn\t1\tBob\t1\nBob\t2\tAnn\t2\n")
    proc = _facelab("evaluate", pairs, tmp_path)
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.startswith(f"facelab evaluate: {pairs}:3: expected 'Name i j'")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    pairs = _write(tmp_path / "pairs.txt", "2\nAnn\t1\t2\nBob\t1\t2\nAnn\t1\tBob\t1\n"
                   "Bob\t2\tAnn\t2\n")
    proc = _facelab("evaluate", pairs, tmp_path)
    assert proc.returncode == 4 and "10 folds need at least 10 same-person pairs" in proc.stderr
    proc = _facelab("evaluate", pairs, tmp_path, "--folds", "2")
    assert proc.returncode == 4 and "Ann_0001.jpg (named on line 2 of" in proc.stderr
    assert proc.stderr.count("\n") == 1
    proc = _facelab("evaluate", pairs, tmp_path, "--crop", "0")
    assert proc.returncode == 2 and "expected a side in pixels (>= 1) or 'face'" in proc.stderr
    proc = _facelab("evaluate", tmp_path / "none.txt", tmp_path)
    assert proc.returncode == 4 and "pairs file not found" in proc.stderr


@pytest.mark.slow
def test_evaluate_command_on_real_pictures(tmp_path):
    pairs, images = _devtest_subset(tmp_path, 20)
    proc = _facelab("evaluate", pairs, images, "--crop", "150", "--preprocessing", "facenet")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("20 same + 20 different pairs, ") and "preprocessing facenet, crop 150" in lines[0]
    assert "10-fold accuracy" in lines[1] and "AUC" in lines[2] and "VAL" in lines[2]
    accuracy = float(lines[1].split("accuracy ")[1].split("%")[0])
    assert accuracy >= 90.0, proc.stdout
    assert "encoding pictures [" in proc.stderr and proc.stderr.rstrip().endswith("/" + lines[0].split(", ")[1].split()[0])


# ------------------------------------------- test-time flip, face crop options
def _lfw_faces(n):
    """n real DevTest pictures, centred 160 crops (no resize: mirroring commutes exactly)."""
    from facelab.images import load_image
    from facelab.preprocessing import center_crop

    root = need(LFW)
    pics = [p.first for p in read_pairs(root / "pairsDevTest.txt", root / "images")[:n]]
    return [center_crop(load_image(pic), 160) for pic in pics]


@pytest.mark.slow
def test_flip_averages_the_encoding_with_the_mirrors(model):
    from facelab.encoding import encode_images, img_to_encoding

    faces = _lfw_faces(3)
    mirrors = [np.ascontiguousarray(f[:, ::-1]) for f in faces]
    plain = encode_images(faces, model, preprocessing="facenet")
    mirrored = encode_images(mirrors, model, preprocessing="facenet")
    flipped = encode_images(faces, model, preprocessing="facenet", flip=True)
    mean = (plain + mirrored) / np.linalg.norm(plain + mirrored, axis=1, keepdims=True)
    np.testing.assert_allclose(flipped, mean, atol=1e-5)
    assert np.linalg.norm(flipped - plain, axis=1).min() > 1e-3  # the option changes something
    np.testing.assert_allclose(np.linalg.norm(flipped, axis=1), 1.0, atol=1e-6)
    # a picture and its mirror get one encoding
    np.testing.assert_allclose(encode_images(mirrors, model, preprocessing="facenet", flip=True),
                               flipped, atol=1e-5)
    np.testing.assert_allclose(img_to_encoding(faces[0], model, "facenet", flip=True),
                               flipped[:1], atol=1e-5)
    # off by default: the default encoding is untouched
    np.testing.assert_array_equal(encode_images(faces, model, preprocessing="facenet"), plain)


def _schumacher_subset(tmp_path):
    """Two same-person pairs (line 132 names Elisabeth_Schumacher_0001.jpg, where the
    detector finds no face) and two two-person pairs, as a single-set file."""
    root = need(LFW)
    lines = (root / "pairsDevTest.txt").read_text().splitlines()
    assert lines[131].startswith("Elisabeth_Schumacher\t1\t")
    text = "\n".join(["2", lines[130], lines[131], lines[501], lines[502]]) + "\n"
    return _write(tmp_path / "pairs.txt", text), root / "images"


@pytest.mark.slow
def test_face_crop_falls_back_to_a_centred_crop_and_counts_it(tmp_path, model):
    from facelab.errors import NoFaceError

    pairs, images = _schumacher_subset(tmp_path)
    with pytest.raises(NoFaceError, match=r"Elisabeth_Schumacher_0001.jpg \(named on line 3 "):
        evaluate_pairs(pairs, images, model, folds=2, crop="face", preprocessing="facenet")
    r = evaluate_pairs(pairs, images, model, folds=2, crop="face", fallback=160,
                       preprocessing="facenet")
    assert [p.name for p in r.fallbacks] == ["Elisabeth_Schumacher_0001.jpg"]
    assert r.margin == 0.1 and r.fallback == 160 and r.pictures == 8
    assert "no face found in 1 of 8 pictures (centred 160 crop instead: " \
           "Elisabeth_Schumacher_0001.jpg)" in r.summary()
    assert r.genuine.max() < r.impostor.min()  # real faces, real model: the pairs separate
    # the margin reaches the detector's crop: other crops, other distances
    wide = evaluate_pairs(pairs, images, model, folds=2, crop="face", fallback=160, margin=0.3,
                          preprocessing="facenet")
    assert wide.margin == 0.3 and "crop face (margin 0.3)" in wide.summary()
    assert np.abs(wide.genuine - r.genuine).max() > 1e-3


def test_face_crop_options_are_checked(tmp_path):
    pairs = _write(tmp_path / "pairs.txt", "2\nAnn\t1\t2\nBob\t1\t2\nAnn\t1\tBob\t1\n"
                   "Bob\t2\tAnn\t2\n")
    for pic in ("Ann/Ann_0001.jpg", "Ann/Ann_0002.jpg", "Bob/Bob_0001.jpg", "Bob/Bob_0002.jpg"):
        (tmp_path / pic).parent.mkdir(exist_ok=True)
        (tmp_path / pic).write_bytes(b"")
    with pytest.raises(ShapeError, match="crop 'face' only; got crop 160"):
        evaluate_pairs(pairs, tmp_path, model=lambda x: x, folds=2, crop=160, margin=0.2)
    with pytest.raises(ShapeError, match="margin between 0 and 1.*got -0.1"):
        evaluate_pairs(pairs, tmp_path, model=lambda x: x, folds=2, crop="face", margin=-0.1)
    with pytest.raises(ShapeError, match="fallback crop side in pixels.*got 0"):
        evaluate_pairs(pairs, tmp_path, model=lambda x: x, folds=2, crop="face", fallback=0)
    proc = _facelab("evaluate", pairs, tmp_path, "--folds", "2", "--margin", "0.2")
    assert proc.returncode == 4 and "apply to crop 'face' only; got crop None" in proc.stderr
    assert proc.stderr.count("\n") == 1
    proc = _facelab("evaluate", pairs, tmp_path, "--crop", "face", "--fallback", "face")
    assert proc.returncode == 2 and "expected a side in pixels (>= 1), got 'face'" in proc.stderr


@pytest.mark.slow
def test_flip_is_never_served_from_the_encoding_cache(model):
    from facelab.encoding import (cache_encodings, clear_encoding_cache, encode_images,
                                  img_to_encoding)

    root = need(LFW)
    pics = [p.first for p in read_pairs(root / "pairsDevTest.txt", root / "images")[:2]]
    clear_encoding_cache()
    try:
        cache_encodings(pics, model, batch_size=2)
        plain = encode_images(pics, model, batch_size=2)
        assert np.linalg.norm(img_to_encoding(pics[0], model, flip=True) - plain[:1]) > 1e-3
        assert np.linalg.norm(encode_images(pics, model, batch_size=2, flip=True) - plain,
                              axis=1).min() > 1e-3
    finally:
        clear_encoding_cache()
