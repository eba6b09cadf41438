"""The one graded-cell rule, shared by `facelab release` and the grader."""

from __future__ import annotations

import pytest

from facelab.cells import graded_name


@pytest.mark.parametrize("source,name", [
    ("# GRADED FUNCTION: verify\ndef verify(): pass", "verify"),
    ("\n\n  #graded function:who_is_it\n", "who_is_it"),
    ("import numpy as np\n# GRADED FUNCTION: pixel_distance\ndef pixel_distance(a, b): ...",
     "pixel_distance"),  # a line added above the header still counts
    ("# GRADED FUNCTION: triplet_loss  (3 points)\n", "triplet_loss"),
    ("# GRADED FUNCTION: a\n# GRADED FUNCTION: b\n", "a"),
    ("", None),
    ("def verify(): pass", None),
    ("x = 1  # GRADED FUNCTION: verify", None),   # a trailing comment is no header
    ("# GRADED FUNCTION: 9lives\n", None),          # not a Python name
    ("# GRADED FUNCTIONS: verify\n", None),
])
def test_graded_name(source, name):
    assert graded_name(source) == name


def test_release_uses_the_same_rule():
    from facelab import cells, release

    assert release.graded_name is cells.graded_name
