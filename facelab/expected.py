"""Thresholds and the lesson's expected values: their one home.

Notebooks, checks, tests, the grader and the demo all read these names; none
of them repeats a number. Distances are Euclidean (L2) distances between
L2-normalised 128-d FaceNet encodings, so they lie in [0, 2].
"""

from __future__ import annotations

from types import MappingProxyType

#: a face matches when its L2 distance to the reference is strictly below this
THRESHOLD = 0.7
#: the margin of the triplet loss
ALPHA = 0.2
#: the value `who_is_it` starts its search from (any value above 2 works)
NO_MATCH_DISTANCE = 100.0

#: model facts
IMAGE_SIZE = 160
EMBEDDING_SIZE = 128
PARAMETER_COUNT = 22_808_144

#: `triplet_loss` on the seeded draws of the lesson (TensorFlow 2.21)
TRIPLET_SEEDED_LOSS = 527.2598
TRIPLET_SEEDED_DRAWS = (  # (mean, stddev) of the anchor, positive, negative draws
    (6.0, 0.1),
    (1.0, 1.0),
    (3.0, 4.0),
)
TRIPLET_SEED = 1

#: the lesson's five small triplet cases: (anchor, positive, negative, alpha, loss)
TRIPLET_SMALL_CASES = (
    (((1.0, 1.0),), ((1.0, 1.0),), ((1.0, 1.0),), 5.0, 5.0),
    (((1.0, 1.0),), ((1.0, 1.0),), ((0.0, 0.0),), 3.0, 1.0),
    (((1.0, 1.0),), ((0.0, 0.0),), ((1.0, 1.0),), 0.0, 2.0),
    (((0.0, 0.0),), ((0.0, 0.0),), ((0.0, 0.0),), -2.0, 0.0),
    (((1.0, 0.0), (1.0, 0.0)), ((1.0, 0.0), (1.0, 0.0)), ((0.0, 1.0), (0.0, 1.0)), 3.0, 2.0),
)

#: the original assignment's office pictures: (camera picture, claimed name) -> (distance, door opens)
SEED_VERIFY = MappingProxyType({
    ("camera_0", "younes"): (0.5992949, True),
    ("camera_2", "kian"): (1.0259346, False),
    ("camera_1", "bertrand"): (0.54364836, True),
    ("camera_3", "bertrand"): (0.38616243, True),
    ("camera_1", "younes"): (1.3963861, False),
    ("camera_3", "younes"): (1.3872949, False),
})
#: picture -> (smallest distance, identity) of `who_is_it` on the original database
SEED_WHO_IS_IT = MappingProxyType({
    "camera_0": (0.5992946, "younes"),
    "younes": (0.0, "younes"),
})
#: the original employees and the file each was enrolled from
SEED_EMPLOYEES = (
    "danielle", "younes", "tian", "andrew", "kian", "dan",
    "sebastiano", "bertrand", "kevin", "felix", "benoit", "arnaud",
)
#: how close our pipeline must land to the original numbers (the seed pictures
#: are an earlier copy of the files the original numbers were computed on)
SEED_TOLERANCE = 0.015
#: two encodings of the same picture agree to this much, batch or one by one
ENCODING_TOLERANCE = 1e-5

#: OpenFace's nn4.small2, the first edition's network (built in facelab.training)
NN4_SMALL2_INPUT_SIZE = 96
NN4_SMALL2_PARAMETER_COUNT = 3_743_280
