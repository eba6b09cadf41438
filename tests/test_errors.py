"""Every error facelab raises is a FacelabError that says what was expected and what came."""

from __future__ import annotations

import ast
import builtins

import numpy as np
import pytest

from facelab import errors
from facelab.errors import ArgumentError, EmptyDatabaseError, FacelabError

from .conftest import ROOT

#: modules left out of the scan (none)
PENDING: set[str] = set()
#: raises Python's protocols require: a module __getattr__ raises AttributeError; the
#: grader's wire says "closed" and "nothing yet" the way files and queues do
PROTOCOL = {("__init__.py", "AttributeError"), ("graded_model.py", "AttributeError"),  # __getattr__
            ("wire.py", "EOFError"), ("wire.py", "TimeoutError")}


def raised_names(path):
    """The class names a module raises with ``raise Name(...)`` or ``raise Name``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name):
                yield target.id, node.lineno


def test_the_package_raises_only_facelab_errors():
    wrong = []
    for path in sorted((ROOT / "facelab").rglob("*.py")):
        if path.name in PENDING:
            continue
        for name, line in raised_names(path):
            cls = getattr(errors, name, None) or getattr(builtins, name, None)
            if isinstance(cls, type) and issubclass(cls, BaseException) \
                    and not issubclass(cls, FacelabError) and (path.name, name) not in PROTOCOL:
                wrong.append(f"{path.relative_to(ROOT)}:{line} raises {name}")
    assert wrong == []


def test_every_error_class_is_in_the_one_hierarchy():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert all(issubclass(c, FacelabError) for c in classes)
    assert all(isinstance(c.exit_code, int) and c.exit_code > 0 for c in classes)


def test_an_empty_database_in_the_widgets_is_said_plainly():
    from facelab import widgets

    for door in (widgets.front_door, widgets.upload_door):
        with pytest.raises(EmptyDatabaseError, match="expected a database with at least one "
                                                     "person, got an empty one"):
            door({}, model=None, interactive=False)


def test_an_empty_database_everywhere_else():
    from facelab import database

    with pytest.raises(EmptyDatabaseError, match="got an empty one"):
        database.distances_to(np.zeros(128), {})
    with pytest.raises(EmptyDatabaseError, match="got an empty one"):
        database.require_people({})


def test_an_unknown_split_names_the_choices(office):
    from facelab import database

    with pytest.raises(ArgumentError, match="expected the split 'train' or 'val', got 'test'"):
        database.face_pictures("test")


@pytest.mark.slow
def test_a_model_that_is_not_callable_is_a_model_error():
    from facelab.encoding import img_to_encoding

    with pytest.raises(errors.ModelError, match="expected a Keras model .* got str"):
        img_to_encoding(np.zeros((160, 160, 3), np.uint8), "facenet")
