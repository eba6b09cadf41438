"""The door's decision: accept a face when its distance is strictly below the threshold.

The one home of the rule ``distance < threshold`` and of the words that say
it. ``verify`` opens the door, ``who_is_it`` recognises someone, the widgets,
figures, demo, checks and evaluation all decide through :func:`accepts`, so a
distance exactly at the threshold is rejected everywhere.
"""

from __future__ import annotations

import numpy as np

from .expected import THRESHOLD


def accepts(distance, threshold: float = THRESHOLD):
    """True where ``distance < threshold`` (strictly).

    ``distance`` is a number (returns a bool) or an array of any shape
    (returns a bool array of that shape; an empty array gives an empty one).
    Distances are L2 distances between unit encodings, in [0, 2]; NaN is
    never accepted.
    """
    decided = np.asarray(distance, dtype=np.float64) < threshold
    return bool(decided) if decided.ndim == 0 else decided


def comparison(distance: float, threshold: float = THRESHOLD) -> str:
    """``"<"`` when ``distance`` is accepted, else ``">="``: for sentences like "0.62 < 0.7"."""
    return "<" if accepts(distance, threshold) else ">="


def door_words(opens: bool) -> str:
    """``"door opens"`` or ``"door stays shut"``."""
    return "door opens" if opens else "door stays shut"


def verify_message(identity: str, opens: bool) -> str:
    """What the lesson's ``verify`` prints: welcome in, or please go away."""
    return f"It's {identity}, welcome in!" if opens else f"It's not {identity}, please go away"


NOT_IN_DATABASE = "Not in the database."


def who_message(identity: str, distance: float, recognised: bool) -> str:
    """What the lesson's ``who_is_it`` prints for its nearest match."""
    return f"it's {identity}, the distance is {distance}" if recognised else NOT_IN_DATABASE
