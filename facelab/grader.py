"""Compatibility name: the grader now lives in :mod:`facelab.grading`."""

from __future__ import annotations

from .grading.cli import register_cli  # noqa: F401 - `facelab grade` / `facelab gradescope`
from .grading.gradescope import build_zip as build_autograder_zip  # noqa: F401
