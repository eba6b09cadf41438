"""The `facelab` command: --help everywhere, one-line errors with exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from facelab.cli import build_parser

from .conftest import ROOT


def facelab(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "facelab.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_cli_declares_every_command():
    assert subcommands() == sorted(["fetch", "demo", "verify", "who", "evaluate", "release",
                                    "strip-photos",
                                    "grade", "gradescope"])


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_has_help(command):
    proc = facelab(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: facelab {command}")
    described = build_parser()._subparsers._group_actions[0].choices[command].description
    assert described and described.split()[0] in proc.stdout


def test_top_level_help_lists_the_commands():
    proc = facelab("--help")
    assert proc.returncode == 0
    for command in subcommands():
        assert command in proc.stdout


@pytest.mark.slow
def test_verify_and_who_on_real_pictures(office):
    proc = facelab("verify", str(office / "camera" / "jerry_seinfeld_2.png"), "jerry_seinfeld")
    assert proc.returncode == 0, proc.stderr
    assert "It's jerry_seinfeld, welcome in!" in proc.stdout and "door opens" in proc.stdout
    proc = facelab("verify", str(office / "camera" / "madonna_1.png"), "elton_john", "--exit-code")
    assert proc.returncode == 2 and "please go away" in proc.stdout
    proc = facelab("who", str(office / "camera" / "mindy_kaling_3.png"), "--threshold", "1.1")
    assert proc.returncode == 0 and "it's mindy_kaling" in proc.stdout
    assert "nearest employee mindy_kaling at distance 0." in proc.stdout
    assert proc.stdout.rstrip().endswith("(threshold 1.1) -> recognised")
    proc = facelab("who", str(office / "camera" / "madonna_1.png"))
    assert proc.returncode == 0 and "Not in the database." in proc.stdout
    assert proc.stdout.rstrip().endswith("(threshold 0.7) -> not in the database")


@pytest.mark.slow
@pytest.mark.parametrize("args,code,words", [
    (["verify", "nowhere.jpg", "madonna"], 4, "picture not found: nowhere.jpg"),
    (["verify", "README.md", "madonna"], 4, "not a picture Pillow can read"),
    (["verify", "images/camera/madonna_1.png", "bono"], 4, "'bono' is not in the database; known names: ben_afflek"),
    (["who", "pyproject.toml"], 4, "not a picture"),
])
def test_bad_input_is_one_line(args, code, words, office):
    proc = facelab(*args)
    assert proc.returncode == code, proc.stderr
    assert words in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_demo_runs_the_office_door(office):
    proc = facelab("demo")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "22,808,144 parameters" in out
    assert "A genuine employee: jerry_seinfeld_2.png" in out and "welcome in!" in out
    assert "A stolen badge: madonna_1.png" in out and "please go away" in out
    assert "All 25 camera pictures: the nearest employee is the right person for 25" in out
    assert proc.stderr == ""  # no TensorFlow start-up noise
