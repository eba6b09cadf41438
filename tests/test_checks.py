"""The checks: every catalogued mistake is diagnosed and loses points; right answers keep
full marks; hidden cases reveal nothing; unfinished and broken code is named as such."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from facelab import checks
from facelab.errors import FacelabError

from .conftest import ROOT
from .wrong_answers import ORIGINAL, WRONG


def _catalogue() -> dict[tuple[str, str], str]:
    """(exercise, mistake name) -> the sentence the student must read."""
    from facelab.checks.suite import EXERCISES

    return {(name, m.name): m.says for name, ex in EXERCISES.items() for m in ex.mistakes}


def _define(exercise: str, source: str, with_numpy: bool = True, setup: bool = True):
    """The student's function, defined from its source as a notebook cell would
    (``setup=False``: in a fresh kernel, before the notebook's import cell ran)."""
    import PIL.Image

    from facelab._quiet import tf
    from facelab.model import img_to_encoding

    namespace = {"tf": tf, "img_to_encoding": img_to_encoding, "PIL": PIL} if setup else {}
    if with_numpy:
        namespace["np"] = np
    exec(compile(source, f"<{exercise} cell>", "exec"), namespace)
    return namespace[exercise]


# ----------------------------------------------------------- the catalogue


def test_every_catalogued_mistake_has_a_wrong_answer_below():
    tested = {(ex, name) for ex, name, _ in WRONG}
    missing = sorted(set(_catalogue()) - tested)
    assert not missing, f"catalogued mistakes without a wrong answer in tests: {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("exercise,mistake,source", WRONG,
                         ids=[f"{e}-{m}-{i}" for i, (e, m, _) in enumerate(WRONG)])
def test_catalogued_mistake_is_diagnosed_and_loses_points(exercise, mistake, source, office_db):
    setup = mistake != "setup_not_run"
    fn = _define(exercise, source, with_numpy=setup and mistake != "numpy_not_imported",
                 setup=setup)
    result = checks.check(exercise, fn, include_hidden=True)
    failed = [c for c in result.cases if not c.passed]
    assert failed and result.points < result.max_points, result.report()
    assert {c.mistake for c in failed} == {mistake}, result.report()
    said = checks.explain(result.cases)
    if mistake == checks.UNFINISHED:
        assert len(said) == 1 and said[0].startswith("Not finished yet: "), said
    else:
        assert said == [_catalogue()[(exercise, mistake)]], result.report()
    report = result.report()
    assert report.count("What went wrong:") == 1, report  # reported once
    assert "nan" not in report and "Traceback" not in report, report


@pytest.mark.slow
@pytest.mark.parametrize("exercise", ["pixel_distance", "triplet_loss", "verify", "who_is_it"])
def test_the_released_placeholders_are_not_finished_yet(exercise, office_db):
    """What a student gets from `facelab release`, run as is: unfinished, never nan."""
    import nbformat

    from facelab.cells import graded_name
    from facelab.release import student_source

    cell = next(c for p in sorted((ROOT / "notebooks").glob("[1-5]_*.ipynb"))
                for c in nbformat.read(p, as_version=4).cells
                if c.cell_type == "code" and graded_name(c.source) == exercise)
    result = checks.check(exercise, _define(exercise, student_source(cell.source)),
                          include_hidden=True)
    assert result.points == 0 and {c.mistake for c in result.cases} == {checks.UNFINISHED}
    said = checks.explain(result.cases)
    assert len(said) == 1 and said[0].startswith("Not finished yet: "), result.report()
    assert "nan" not in result.report()


@pytest.mark.slow
@pytest.mark.parametrize("exercise", ["pixel_distance", "triplet_loss", "verify", "who_is_it"])
def test_reference_solutions_pass_every_case(exercise, office_db):
    from facelab import exercises

    result = checks.check(exercise, getattr(exercises, exercise), include_hidden=True)
    assert result.passed and result.points == result.max_points > 0, result.report()
    assert result.report() == f"{exercise}: {len(result.cases)}/{len(result.cases)} tests passed."


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(ORIGINAL))
def test_original_assignment_solutions_keep_full_marks(key, office_db):
    exercise = key.removesuffix("_tf2")
    result = checks.check(exercise, _define(exercise, ORIGINAL[key]), include_hidden=True)
    assert result.passed and result.points == result.max_points, result.report()


@pytest.mark.slow
def test_the_threshold_case_is_exact(office_db):
    """The door-at-the-threshold case really puts the distance at THRESHOLD, in float64."""
    from facelab.expected import THRESHOLD
    from facelab.model import img_to_encoding

    case = next(c for c in checks.cases("verify") if "exactly at the threshold" in c.name)
    picture, identity, database, model = checks.resolve(case.args)
    dist = np.linalg.norm(img_to_encoding(picture, model) - database[identity])
    assert dist == THRESHOLD and not dist < THRESHOLD and dist <= THRESHOLD


# ------------------------------------------------------------ hidden cases


def _leaks(case, expected) -> list[str]:
    """Everything a hidden case must not reveal: its name, string arguments, values."""
    out = [case.name]

    def walk(o):
        if isinstance(o, checks.Resource):
            walk(o.params)
        elif isinstance(o, (tuple, list)):
            for x in o:
                walk(x)
        elif isinstance(o, str) and len(o) > 2:
            out.append(o)
        elif isinstance(o, float) and o not in (0.0, 1.0):
            out.extend([f"{o:.2f}", f"{o:.4f}", repr(o)])
    walk((case.args, expected[0]))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("exercise,mistake,source",
                         [w for w in WRONG if w[1] in ("squared", "swapped_return", "unfinished",
                                                      "not_encoded", "wrong_message", "swapped")])
def test_hidden_cases_reveal_no_value_argument_or_name(exercise, mistake, source, office_db):
    fn = _define(exercise, source)
    every = checks.cases(exercise, include_hidden=True)
    hidden = [c for c in every if not c.visible]
    assert hidden
    results = [checks.judge_case(c, checks.call_case(fn, c), c.expect()) for c in hidden]
    result = checks.CheckResult(exercise, tuple(results), graded=True)
    texts = [t for r in result.cases for t in (r.message, r.hint, r.diagnosis, r.detail, r.name
                                                if r.visible else "")]
    texts += checks.explain(result.cases) + [result.report()]
    for case in hidden:
        for secret in _leaks(case, case.expect()):
            assert not any(secret in t for t in texts), (secret, result.report())
    assert result.passed or "FAILED" in result.report()


@pytest.mark.slow
def test_a_leaking_sentence_is_dropped_for_hidden_cases(office_db):
    """Even a catalogue sentence quoting a hidden argument is not shown for a hidden case."""
    exercise = "verify"
    case = next(c for c in checks.cases(exercise, include_hidden=True) if not c.visible)
    name = checks.resolve(case.args)[1]
    leaky = checks.Mistake("leaky", f"You claimed to be {name}.", spots=lambda a: True)
    leaky_case = checks.Case(case.name, case.points, case.args, case.judge, case.expect,
                             visible=False, mistakes=(leaky,))
    result = checks.judge_case(leaky_case, checks.Outcome(error="KeyError: 'x'"), case.expect())
    assert not result.passed and name not in result.hint + result.diagnosis + result.message
    assert checks.explain([result]) == []


@pytest.mark.slow
def test_expected_data_is_json_and_judges_the_same_after_a_round_trip(office_db):
    """What the grader ships between processes: expect() as JSON; same verdicts after."""
    fn = _define("who_is_it", dict((m, s) for e, m, s in WRONG if e == "who_is_it")["squared"])
    for case in checks.cases("who_is_it", include_hidden=True):
        data = case.expect()
        again = json.loads(json.dumps(data))
        outcome = checks.call_case(fn, case)
        assert checks.judge_case(case, outcome, data) == checks.judge_case(case, outcome, again)


# ---------------------------------------------------- unfinished and broken


def test_placeholder_is_unfinished_never_nan(office):
    fn = _define("pixel_distance", "def pixel_distance(image_a, image_b):\n"
                                   "    dist = None\n    return dist\n")
    report = checks.check_pixel_distance(fn).report()
    assert "Not finished yet: `dist` is still None when your function returns." in report
    assert "nan" not in report


def _broken(image_a, image_b):
    scale = None
    best = None  # a None the failing line does not use: not named
    diff = image_a - image_b
    return float(np.linalg.norm(diff)) * scale  # the student's line


def _raises(image_a, image_b):
    return float(np.linalg.norm(image_a - image_b[:10]))


def test_none_used_in_a_line_names_the_variable_not_the_parameters(office):
    result = checks.check_pixel_distance(_broken)
    assert checks.explain(result.cases) == [
        "Not finished yet: `scale` is still None where your code uses it. Replace each `None` "
        "placeholder between ### START CODE HERE ### and ### END CODE HERE ### with your code."]


def test_an_exception_shows_the_students_own_line(office):
    report = checks.check_pixel_distance(_raises).report()
    line = next(i for i, text in enumerate(open(__file__), 1) if "image_b[:10]" in text
                and "return" in text)
    assert "your function raised ValueError: operands could not be broadcast" in report, report
    assert (f"in _raises (test_checks.py, line {line}):  return float(np.linalg.norm(image_a - "
            "image_b[:10]))") in report, report
    assert "facelab" not in report.split("raised", 1)[1], report  # no facelab internals


def test_require_finished_says_in_one_sentence_what_to_run_first(office):
    """The demo cells after an exercise start with require_finished(fn): an unfinished or
    raising function stops there with one sentence, a finished one passes silently."""
    from facelab.errors import UnfinishedError

    unfinished = _define("pixel_distance", "def pixel_distance(image_a, image_b):\n"
                                           "    dist = None\n    return dist\n")
    with pytest.raises(UnfinishedError) as info:
        checks.require_finished(unfinished)
    assert str(info.value) == (
        "pixel_distance is not finished yet: fill in its graded cell above (each None between "
        "START CODE HERE and END CODE HERE), run that cell, then run this one again")
    assert info.value._render_traceback_() == [f"UnfinishedError: {info.value}"]
    _raises.__name__ = "pixel_distance"
    try:
        with pytest.raises(UnfinishedError, match=r"^pixel_distance raised ValueError: operands "
                           r"could not be broadcast.*: fix its graded cell above \(check_pixel_"
                           r"distance\(pixel_distance\) shows the line\), run that cell"):
            checks.require_finished(_raises)
    finally:
        _raises.__name__ = "_raises"
    from facelab import exercises

    assert checks.require_finished(exercises.pixel_distance) is None
    assert checks.require_finished(lambda a, b: None) is None  # no exercise's: not judged


def test_not_a_function():
    report = checks.check_pixel_distance(None).report()
    assert "expected a function, got NoneType" in report


# ------------------------------------------------------------- the report


def test_a_passing_check_says_how_many_tests_run_at_grading(office):
    from facelab.exercises import pixel_distance

    result = checks.check_pixel_distance(pixel_distance)
    hidden = len(checks.cases("pixel_distance", True)) - len(checks.cases("pixel_distance"))
    assert hidden > 0
    want = f"pixel_distance: 3/3 visible checks passed; {hidden} more tests run when your work is graded."
    assert result.report() == want

    class Printer:
        text_out = ""

        def text(self, s):
            self.text_out += s
    printer = Printer()
    result._repr_pretty_(printer, False)  # what a notebook shows: the report, nothing else
    assert printer.text_out == want


def test_hints_on_demand_get_stronger_and_never_give_the_solution(capsys):
    import nbformat

    from facelab.cells import graded_name
    from facelab.checks.hints import HINTS

    checks.hint("verify")
    first = capsys.readouterr().out
    assert first.startswith("verify, hint 1 of 3: ") and "hint('verify', 2)" in first
    checks.hint("verify", 9)
    assert capsys.readouterr().out.startswith("verify, hint 3 of 3: ")
    assert checks.hints_asked()["verify"] == 3
    checks.hint("verfy")  # a typo: one line, no traceback
    said = capsys.readouterr().out
    assert said.count("\n") == 1 and "did you mean hint('verify')?" in said, said
    checks.hint("verify", 0)
    said = capsys.readouterr().out
    assert said.count("\n") == 1 and "hint('verify', 1)" in said, said
    assert set(HINTS) == set(checks.exercises())
    for path in sorted((ROOT / "notebooks").glob("[1-5]_*.ipynb")):  # no solution line in a hint
        for cell in nbformat.read(path, as_version=4).cells:
            name = graded_name(cell.source) if cell.cell_type == "code" else None
            if not name:
                continue
            body = cell.source.split("START CODE HERE ###")[1].split("### END CODE HERE")[0]
            lines = [ln.strip() for ln in body.splitlines() if len(ln.strip()) > 12]
            for text in HINTS[name]:
                assert not any(ln in text for ln in lines), (name, text)


# ------------------------------------------------- where the secrets live


def test_student_side_needs_no_secret_module(tmp_path, office):
    """A process that cannot import the secret modules still builds a case's arguments
    and calls the student's function: what a sandboxed grading worker needs."""
    case = checks.cases("pixel_distance")[1]
    (tmp_path / "case.pkl").write_bytes(pickle.dumps((case.args, case.kwargs)))
    secret = [m for m in checks.SECRET_MODULES if m != "facelab.expected"]
    script = textwrap.dedent(f"""
        import pickle, sys
        import facelab  # imports facelab.expected (THRESHOLD), as a worker would before lock-down

        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name in {secret!r}:
                    raise ImportError("secret module " + name)
        sys.meta_path.insert(0, Refuse())
        from facelab import checks
        args, kwargs = pickle.loads(open({str(tmp_path / 'case.pkl')!r}, "rb").read())
        case = checks.Case("x", 1, args, None, kwargs=kwargs)
        out = checks.call_case(lambda a, b: float(abs(a - b).sum()), case)
        assert out.error is None, out
        assert not [m for m in {secret!r} if m in sys.modules]
        print("ok", out.value[0])
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("ok float"), run.stderr[-2000:]


def test_secret_modules_are_the_ones_holding_secrets():
    import importlib

    assert set(checks.SECRET_MODULES) == {"facelab.checks.suite", "facelab.checks.mistakes",
                                          "facelab.exercises", "facelab.expected"}
    for name in checks.SECRET_MODULES:
        importlib.import_module(name)
    for module in ("__init__", "checking", "engine", "calling", "judging", "resources",
                   "contracts"):  # the engine and the public content: no secret at import
        engine = (ROOT / "facelab" / "checks" / f"{module}.py").read_text()
        assert not re.search(r"^from \.+(suite|mistakes|exercises) import", engine, re.M), module
        assert not re.search(r"^from \. import (suite|mistakes)", engine, re.M), module


@pytest.mark.parametrize("module", ["checks/checking", "checks/engine", "checks/calling",
                                    "checks/judging", "checks/suite", "checks/mistakes",
                                    "checks/hints", "checks/resources", "checks/contracts",
                                    "widgets"])
def test_no_module_repeats_a_number_of_expected_py(module):
    import ast

    from facelab import expected as X

    held = {X.THRESHOLD, X.ALPHA, X.NO_MATCH_DISTANCE, X.TRIPLET_SEEDED_LOSS,
            float(X.EMBEDDING_SIZE), float(X.IMAGE_SIZE)}
    tree = ast.parse((ROOT / "facelab" / f"{module}.py").read_text())
    numbers = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
               and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)}
    assert not numbers & held, f"{module}.py repeats {sorted(numbers & held)}: import them"


# ------------------------------------------------- one contract per exercise


@pytest.mark.parametrize("exercise", ["pixel_distance", "triplet_loss", "verify", "who_is_it"])
def test_the_exercise_text_states_the_contract_the_checks_enforce(exercise):
    """The exercise's markdown states its contract word for word, and the judged fields of
    every case are the contract's (so the notebook and the grader enforce what it says)."""
    import nbformat

    from facelab.checks.contracts import CONTRACTS
    from facelab.checks.suite import EXERCISES

    contract = CONTRACTS[exercise]
    number = {"pixel_distance": 1, "triplet_loss": 2, "verify": 4, "who_is_it": 5}[exercise]
    path = next((ROOT / "notebooks").glob(f"{number}_*.ipynb"))
    texts = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
    assert any(contract.markdown() in t for t in texts), f"{path.name} does not state:\n" \
        + contract.markdown()
    assert EXERCISES[exercise].returns == contract.returns
    for case in checks.cases(exercise, include_hidden=True):
        stated = {(type(f), f.name, getattr(f, "tensor", None))
                  for f in (*contract.returns, *contract.extra)}
        assert {(type(f), f.name, getattr(f, "tensor", None)) for f in case.judge.fields} <= stated


@pytest.mark.parametrize("exercise", ["pixel_distance", "triplet_loss", "verify", "who_is_it"])
def test_hidden_cases_ask_no_more_than_the_contract_states(exercise, office_db):
    """Every case's arguments, hidden ones too, are what the exercise's text says they are."""
    from facelab.checks.contracts import CONTRACTS

    contract = CONTRACTS[exercise]
    for case in checks.cases(exercise, include_hidden=True):
        args = checks.resolve(case.args)
        for arg, value in zip(contract.args, args):
            assert arg.fits(value), (case.name, arg.name)


def test_a_str_subclass_and_a_0d_tensor_are_accepted_a_shape_1_loss_is_not_one_per_triplet():
    from facelab._quiet import tf

    name, dist = checks.Text("identity"), checks.Number("dist")
    assert name.problem("str_", np.str_("madonna")) is None and name.equal(np.str_("a"), "a")
    assert dist.problem("tf.Tensor", np.asarray(tf.norm(tf.ones(3)))) is None
    assert dist.problem("ndarray", np.zeros(1)) is not None
    from facelab.checks.mistakes import TRIPLET_LOSS
    by = {m.name: m for m in TRIPLET_LOSS}
    per_triplet = checks.Answer((np.zeros(3, np.float32),), ("tf.Tensor",), np.zeros(3),
                                "tf.Tensor", "", None, checks.Expected([1.0]))
    assert by["not_reduced"].spots(per_triplet) and not by["shape_one"].spots(per_triplet)


def test_an_error_inside_facelab_shows_the_student_s_line_not_facelab_s(office):
    """A student's call that fails deep inside facelab (here: a picture that is not there)
    points at their own line, skipping facelab's frames (of the package and its subpackages)."""
    source = ("def pixel_distance(image_a, image_b):\n"
              "    from facelab.images import load_image\n"
              "    return float(load_image('no/such/picture.png').sum())\n")
    checks.keep_source("<my cell>", source)
    namespace: dict = {}
    exec(compile(source, "<my cell>", "exec"), namespace)
    result = checks.check("pixel_distance", namespace["pixel_distance"])
    detail = result.cases[0].detail
    assert detail.startswith("in pixel_distance (my cell, line 3):  return float(load_image("), detail
