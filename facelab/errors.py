"""The one exception hierarchy of facelab.

Every error facelab raises on purpose derives from :class:`FacelabError`, so a
notebook, the CLI or the grader can catch them all in one place. Each message
says what was expected, what was received and, where it helps, what to run.
"""

from __future__ import annotations

from collections.abc import Iterable


class FacelabError(Exception):
    """Base class of every error raised by facelab on purpose."""

    #: process exit code the CLI uses for this kind of error
    exit_code = 1

    def _render_traceback_(self) -> list[str]:
        """What IPython shows in a notebook: the one-line message, not facelab's frames."""
        return [f"{type(self).__name__}: {self}"]


class AssetError(FacelabError):
    """The weights or the pictures are missing, damaged or cannot be fetched."""

    exit_code = 3


class ChecksumError(AssetError):
    """A file's sha256 does not match the committed manifest."""

    def __init__(self, path, expected: str, received: str, what_to_do: str):
        self.path, self.expected, self.received = str(path), expected, received
        super().__init__(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {received}. "
            f"{what_to_do}"
        )


class FetchError(AssetError):
    """Downloading the registry package failed (no network, registry refused...)."""


class ModelError(FacelabError):
    """The pretrained model could not be built or its weights could not be loaded."""

    exit_code = 3


class ImageError(FacelabError, ValueError):
    """A picture is missing, empty, or not a picture Pillow can decode."""

    exit_code = 4


class NoFaceError(ImageError):
    """The face detector found no face in a picture."""


class ShapeError(FacelabError, ValueError):
    """An array does not have the shape (or dtype) a function needs."""

    exit_code = 4


class UnknownIdentityError(FacelabError, KeyError):
    """A name is not in the database; the message lists the names that are."""

    exit_code = 4

    def __init__(self, name: object, known: Iterable[str]):
        self.name = name
        self.known = sorted(str(k) for k in known)
        listed = ", ".join(self.known) if self.known else "(the database is empty)"
        super().__init__(f"{name!r} is not in the database; known names: {listed}")

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class EmptyDatabaseError(FacelabError, ValueError):
    """An operation needs at least one person in the database."""

    exit_code = 4


class ArgumentError(FacelabError, ValueError):
    """An argument has a value the function does not accept (a split name, a mode...)."""

    exit_code = 4


class PairsFileError(FacelabError, ValueError):
    """A pairs file (LFW format) is missing or has a malformed line."""

    exit_code = 4


class LossError(FacelabError, ValueError):
    """A loss function cannot train yet: unfinished, not one number, or not differentiable."""

    exit_code = 4


class UnfinishedError(FacelabError, ValueError):
    """A cell uses a graded function that is not finished yet (or raises): run it first."""

    exit_code = 4


class VerifyError(FacelabError, ValueError):
    """A student's ``verify`` cannot run the door yet: it raised, or returned no decision."""

    exit_code = 4


class ReleaseError(FacelabError):
    """A solution notebook cannot be turned into a student notebook."""

    exit_code = 4


class GradingError(FacelabError):
    """A submission could not be read or graded (not a student's wrong answer)."""

    exit_code = 5
