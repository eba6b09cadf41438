"""Calling a graded function on a case: the part of the checks student code runs beside.

A case's arguments may hold :class:`Resource` markers (the model, a database,
a picture's path) that the calling process builds itself with
:func:`resolve`; :func:`call_case` calls the function on fresh copies,
captures what it prints, and turns what it returns (or raises) into a plain
:class:`Outcome`: no TensorFlow tensor, no arbitrary object, the student's
own offending line when it raised. This module holds no case, no expected
value and no judge: a sandboxed grading worker needs only it and
:mod:`.resources`. :mod:`facelab.checks` re-exports everything here.

A case may ask for a probe instead of the plain answer: ``kwargs[PROBE] ==
"gradient"`` calls the function under a ``tf.GradientTape`` watching every
tensor argument, and answers ``("gradient", {"status", "kind", "value"}, ())``:
whether the result has a gradient with respect to each (:func:`gradient_status`),
and the result's kind and plain value. The probe travels in the case's keyword
arguments, so the grader's worker runs it with no code of its own.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# ------------------------------------------------------------------ arguments


@dataclass(frozen=True)
class Resource:
    """A case argument the calling process builds itself: ``build(*params)``.

    ``build`` is a module-level function of :mod:`facelab.checks.resources` (so a
    marker pickles by name and the sandboxed worker can build it); params may
    hold other markers. Built values are kept once per process.
    """

    build: Callable
    params: tuple = ()

    def __repr__(self) -> str:
        inner = ", ".join(map(repr, self.params))
        return f"{getattr(self.build, '__name__', 'resource')}({inner})"


_BUILT: dict[Resource, Any] = {}


def resolve(obj):
    """``obj`` with every Resource marker (inside tuples, lists, dicts) built."""
    if isinstance(obj, Resource):
        if obj not in _BUILT:
            _BUILT[obj] = obj.build(*resolve(obj.params))
        return _BUILT[obj]
    if isinstance(obj, tuple):
        return tuple(resolve(o) for o in obj)
    if isinstance(obj, list):
        return [resolve(o) for o in obj]
    if isinstance(obj, dict):
        return {k: resolve(v) for k, v in obj.items()}
    return obj


def fresh(obj):
    """A copy of resolved arguments a student may mutate (models and tensors are shared)."""
    if isinstance(obj, dict):
        return {k: fresh(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(fresh(o) for o in obj)
    if isinstance(obj, np.ndarray):
        return obj.copy()
    return obj


# -------------------------------------------------------------------- calling

#: the keyword of a case's kwargs naming a probe (popped before the call)
PROBE = "_facelab_probe"


def keep_source(filename: str, source: str) -> None:
    """Remember the source of code compiled from a string under ``filename`` (e.g.
    "<cell 7>"), so that a traceback through it can show the student's line."""
    import linecache

    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def _tensors(obj) -> list:
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return []
    if isinstance(obj, tf.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def gradient_status(fn: Callable, args: tuple, kwargs: dict):
    """Call ``fn`` under a GradientTape watching its tensor arguments: (value, status).

    ``status`` is "ok" when the result is a TensorFlow tensor with a gradient
    (not None) with respect to every watched tensor, "no gradient" when some
    gradient is None, "not a tensor" when the result is not a TensorFlow tensor.
    """
    import tensorflow as tf

    watched = _tensors((args, kwargs))
    with tf.GradientTape(persistent=False) as tape:
        for t in watched:
            tape.watch(t)
        value = fn(*args, **kwargs)
    if not isinstance(value, tf.Tensor):
        return value, "not a tensor"
    if value.dtype not in (tf.float16, tf.float32, tf.float64, tf.bfloat16):
        return value, "no gradient"
    grads = tape.gradient(value, watched) if watched else []
    return value, "ok" if grads and all(g is not None for g in grads) else "no gradient"



@dataclass(frozen=True)
class Outcome:
    """What one call produced, made plain (picklable, JSON-able with a numpy codec).

    ``value`` is ``(kind, plain value, item kinds)``: the returned value's type
    name ("tf.Tensor" for TensorFlow tensors), the value with tensors turned
    into numpy arrays, and the type name of each item when it is a tuple or
    list. ``error`` is "ExceptionType: message" when the call raised;
    ``detail`` then shows the student's own line; ``unset`` names the
    student's variables that were still None there.
    """

    value: Any = None
    stdout: str = ""
    error: str | None = None
    detail: str = ""
    unset: tuple = ()


def plain(value, depth: int = 0):
    """A returned value as plain Python/numpy (no TF tensors, no arbitrary objects)."""
    if depth > 4:
        return repr(value)[:200]
    if hasattr(value, "numpy") and callable(value.numpy):
        try:
            return np.asarray(value.numpy())
        except Exception:  # noqa: BLE001 - a student's object with a numpy() method
            return repr(value)[:200]
    if isinstance(value, (tuple, list)):
        return type(value)(plain(v, depth + 1) for v in list(value)[:1000])
    if isinstance(value, (bool, int, float, str, type(None), np.ndarray, np.generic)):
        return value
    return repr(value)[:200]


def kind_of(value) -> str:
    """The type name the judges need ("tf.Tensor" for any TensorFlow tensor)."""
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(value, tf.Tensor):
        return "tf.Tensor"
    return type(value).__name__


def _library_dirs() -> tuple[str, ...]:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the facelab package
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return (here + os.sep, *(os.path.join(p, "lib") + os.sep for p in prefixes))


def _is_library(filename: str) -> bool:
    """True for facelab's, the standard library's and installed packages' files."""
    if filename.startswith("<"):
        return filename.startswith("<frozen")
    return os.path.abspath(filename).startswith(_library_dirs())


def _where(filename: str) -> str:
    """A readable name for the file of a frame: "Cell In[5]" in Jupyter."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        label = shell.compile.format_code_name(filename) if shell is not None else None
        if label:
            return " ".join(label)
    except Exception:  # noqa: BLE001 - outside IPython, or another IPython
        pass
    return filename.strip("<>") if filename.startswith("<") else os.path.basename(filename)


def _student_line(tb) -> tuple[str, tuple]:
    """The student's last line in a traceback (facelab and library frames skipped)
    and the names of their variables that were None there."""
    import linecache

    mine = [(f, n) for f, n in traceback.walk_tb(tb) if not _is_library(f.f_code.co_filename)]
    if not mine:
        return "", ()
    frame, lineno = mine[-1]
    code = frame.f_code
    text = linecache.getline(code.co_filename, lineno, frame.f_globals).strip()
    params = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    unset = tuple(k for k, v in frame.f_locals.items() if v is None and not k.startswith("_")
                  and k in code.co_varnames and k not in params)
    on_line = tuple(k for k in unset if re.search(rf"\b{k}\b", text))
    unset = on_line or unset
    detail = f"in {code.co_name} ({_where(code.co_filename)}, line {lineno})"
    return (detail + (f":  {text}" if text else "")), unset[:8]


def call_case(fn: Callable, case: Case, max_stdout: int = 20_000) -> Outcome:
    """Call ``fn`` on a case's arguments (built, fresh copies) here, capturing stdout.

    The student's exception is feedback, not a crash: it comes back in the
    Outcome with their own offending line. KeyboardInterrupt and SystemExit
    are not caught (a notebook user may interrupt; the grader handles exits).
    """
    buf = io.StringIO()
    try:
        args, kwargs = fresh(resolve(case.args)), fresh(resolve(case.kwargs))
        probe = kwargs.pop(PROBE, None) if isinstance(kwargs, dict) else None
        with contextlib.redirect_stdout(buf):
            if probe == "gradient":
                value, status = gradient_status(fn, args, kwargs)
                probed = {"status": status, "kind": kind_of(value), "value": plain(value)}
                return Outcome(value=("gradient", probed, ()), stdout=buf.getvalue()[:max_stdout])
            value = fn(*args, **kwargs)
        items = tuple(kind_of(v) for v in list(value)[:1000]) \
            if isinstance(value, (tuple, list)) else ()
        return Outcome(value=(kind_of(value), plain(value), items),
                       stdout=buf.getvalue()[:max_stdout])
    except Exception as exc:  # noqa: BLE001
        detail, unset = _student_line(exc.__traceback__)
        return Outcome(stdout=buf.getvalue()[:max_stdout],
                       error=f"{type(exc).__name__}: {exc}"[:500], detail=detail[:600],
                       unset=unset)
