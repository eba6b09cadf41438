"""Batch grading of student notebooks, Gradescope style.

    facelab grade submissions/ --out graded/ [--jobs N]
    facelab gradescope --out autograder.zip

How a submission is graded
--------------------------
1. *Extraction* (in the grader, nothing executed): the notebook's code cells
   (or a .py file, split at its cell markers) are parsed with :mod:`ast`, one
   cell at a time, so a broken cell elsewhere does not matter. For each
   exercise of :func:`facelab.checks.exercises` the ``def name(...)`` of the
   ``# GRADED FUNCTION: name`` cell is taken (else the last top-level
   definition of that name), plus only what it needs: the imports binding
   the global names it uses (found with :mod:`symtable`, so a parameter named
   like a notebook global, e.g. ``database``, does not count) and the
   student's own top-level helpers/constants it references (transitively).
   Nothing else of the notebook ever runs.
2. *Calling* happens in a long-lived worker process (TensorFlow, the model
   and the office database loaded once per worker): the worker receives the
   extracted source and the cases' arguments (Resource markers, no expected
   values, no judges) and answers with plain Outcomes, encoded as JSON (the
   grader never unpickles what a worker sends).
3. *Judging* happens here, in the grader process. The expected values are
   computed by a worker during its warm-up, before lock-down and before any
   student code runs in it (so this process never loads TensorFlow), and sent
   here with its hello message; student code can neither see the expected
   values nor change its score.

Safety guarantees of a worker (see :func:`_lock_down`)
-------------------------------------------------------
* time: each case (and defining the function) has ``time_limit`` seconds;
  past it the worker is killed (whole process group) and replaced; the case
  and the rest of that exercise score 0 with a message.
* memory: the grader polls the worker's resident memory (``/proc``) every
  20 ms and kills it above ``memory_limit`` MB. ``RLIMIT_AS`` is not used:
  TensorFlow reserves tens of GB of address space at start-up.
* network: when ``unshare -n`` works (root or user namespaces), the worker
  runs in an empty network namespace (no interface but a down loopback), an
  OS-level guarantee. In all cases a Python audit hook (which cannot be
  removed once added) refuses socket creation.
* files: the audit hook refuses writes outside the worker's temporary
  directory, reads outside Python's own files, the facelab package (minus
  checks/exercises/expected/grader, which hold the hidden cases and the
  reference solutions), the weights and the pictures; it also refuses
  subprocesses, fork, exec, kill, ctypes and gc introspection. The hook
  guards Python-level access only; native code already loaded (TensorFlow's
  own file ops, ``tf.io.read_file``) is not covered by it. So, when
  ``unshare -m`` works (root, or user namespaces), each worker also runs in
  a mount namespace of its own, where, before any student code runs, it
  covers the hidden cases' and reference solutions' modules, the folders the
  batch's submissions came from, the output folder and the repository's
  solution notebooks, tests and git history with empty mounts (see
  :func:`hidden_paths`), and remounts the root filesystem read-only except
  its own directory; native reads find nothing there, native writes fail.
  Where namespaces are not allowed only the hook remains: run the grader as a
  user who owns nothing secret.
* isolation between submissions: the worker removes the reference solutions
  and the hidden cases from its memory before any student code runs; each
  submission gets fresh copies of mutable arguments and a fresh namespace;
  after each exercise the worker compares numpy/TensorFlow/facelab module
  attributes and classes (changed, removed, or added to a class) with a
  snapshot, checks the shared model (its compiled forward function and its
  attributes; after a submission's last exercise, a checksum of all 22.8 M
  weights, ~10 ms) and the cached picture encodings byte for byte, and the
  grader counts the worker's threads; on any change (monkeypatching,
  set_weights, a poisoned cache, a leftover thread) the worker is retired and
  replaced before the next submission. Limit: these
  checks run in the same process as the student's code, which could in
  principle reach the reference state by frame introspection and fake it; the
  process boundary protects the scores, these checks protect the next
  submission on that worker from accidents and ordinary tampering.

Speed
-----
Each worker loads TensorFlow and the model once (~7 s on 2 cores), then grades
a submission in ~0.1 s. The encodings of the pictures the cases use (and of
the office database) are computed by the worker's trusted warm-up and kept in
an opt-in, read-only cache (:func:`facelab.model.cache_encodings`), also on
disk under the cache folder (``$FACELAB_CACHE/encodings``, keyed by the
weights, the library versions and each picture's sha256), so a later run
reads them instead of tracing and running the network (~2-3 s per worker).
Like the weights and the pictures, that folder must not be writable by
student code: the audit hook refuses Python-level writes and the read-only
mount namespace native ones (where namespaces are not allowed, run the grader
as a user who cannot write there; see *files* above).
"""

from __future__ import annotations

import ast
import base64
import collections
import contextlib
import csv
import io
import json
import os
import pickle
import queue
import re
import select
import shutil
import signal
import struct
import subprocess
import symtable
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import checks
from .errors import GradingError

DEFAULT_TIME_LIMIT = 60.0   # seconds per case
DEFAULT_MEMORY_LIMIT = 4096  # MB of resident memory per worker
MAX_MESSAGE = 64 * 2**20     # bytes: a worker's message larger than this is refused

_SECRET_MODULES = ("checks", "exercises", "expected", "grader")

# ----------------------------------------------------------------- extraction

_HEADER = re.compile(r"^\s*#\s*GRADED\s+FUNCTION\s*:\s*([A-Za-z_]\w*)", re.I | re.M)
_PY_CELL = re.compile(r"^(?=#\s*(?:GRADED\s+FUNCTION|%%|In\[))", re.I | re.M)


@dataclass
class Piece:
    label: str
    source: str


@dataclass
class Extracted:
    """What one exercise needs from a submission, or why it cannot be graded."""

    exercise: str
    pieces: list[Piece] = field(default_factory=list)  # helpers first, the function last
    problem: str | None = None
    signature: ast.arguments | None = None


@dataclass
class Submission:
    path: Path
    student: str
    exercises: dict[str, Extracted] = field(default_factory=dict)


def _clean_cell(source: str) -> str | None:
    """IPython magics and shell escapes become `pass`; a %%cell magic drops the cell."""
    if source.lstrip().startswith("%%"):
        return None
    out = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")) or (stripped.endswith("?") and not stripped.startswith("#")):
            out.append(line[: len(line) - len(stripped)] + "pass")
        else:
            out.append(line)
    return "\n".join(out)


def read_cells(path: Path) -> list[str]:
    """The code cells of a notebook or the cell-marker chunks of a .py file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise GradingError(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix == ".ipynb":
        try:
            nb = json.loads(text)
            cells = nb["cells"]
            sources = [c.get("source", "") for c in cells if c.get("cell_type") == "code"]
            sources = ["".join(s) if isinstance(s, list) else str(s) for s in sources]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise GradingError(f"{path.name} is not a valid notebook (invalid JSON or no "
                               f"'cells': {type(exc).__name__}: {str(exc)[:120]})") from None
    else:
        sources = [s for s in _PY_CELL.split(text) if s.strip()]
    return [s for s in (_clean_cell(s) for s in sources) if s is not None]


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _global_names(table: symtable.SymbolTable) -> set[str]:
    """Names a scope and its nested scopes look up in the module's globals."""
    if table.get_type() == "module":
        names = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    else:
        names = {s.get_name() for s in table.get_symbols() if s.is_global()}
    for child in table.get_children():
        names |= _global_names(child)
    return names


def _needs(stmt: ast.stmt) -> set[str]:
    """The global names a top-level statement needs when it runs (or is called).

    For a ``def`` or ``class`` this is exact (Python's own ``symtable``): a
    parameter or local variable that shares its name with a notebook global
    (``def verify(..., database, model)`` beside a ``database = ...`` cell) does
    not pull that cell in. Other statements need every name they mention.
    """
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        try:
            return _global_names(symtable.symtable(ast.unparse(stmt), "<cell>", "exec"))
        except (SyntaxError, ValueError):
            pass
    return _names_used(stmt)


def _names_bound(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names if a.name != "*"}
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and stmt.value is not None:
        targets = [stmt.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def extract(cells: list[str], exercise: str) -> Extracted:
    """Find ``def exercise`` and what it needs, without executing anything."""
    trees: list[ast.Module | None] = []
    errors: dict[int, str] = {}
    for i, src in enumerate(cells):
        try:
            trees.append(ast.parse(src))
        except (SyntaxError, ValueError) as exc:
            trees.append(None)
            line = getattr(exc, "lineno", "?")
            errors[i] = f"{type(exc).__name__} at line {line} of that cell: {getattr(exc, 'msg', exc)}"
    headed = [i for i, src in enumerate(cells)
              if any(m.group(1) == exercise for m in _HEADER.finditer(src))]
    found = None  # (cell, stmt)
    for i in headed + [i for i in range(len(cells)) if i not in headed]:
        tree = trees[i]
        if tree is None:
            continue
        defs = [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == exercise]
        if defs:
            found = (i, defs[-1])
            break
    if found is None:
        bad = [i for i in headed if i in errors]
        if bad:
            return Extracted(exercise, problem=f"the `# GRADED FUNCTION: {exercise}` cell has a "
                             f"syntax error ({errors[bad[0]]}), so {exercise} could not be graded")
        return Extracted(exercise, problem=f"no function `{exercise}` found: keep the "
                         f"`# GRADED FUNCTION: {exercise}` cell and its `def {exercise}(...)` line")
    cell, fn = found
    # every top-level statement that binds a name, in notebook order (last one wins)
    binders: dict[str, tuple[int, int, ast.stmt]] = {}
    stars: list[tuple[int, int, ast.stmt]] = []
    for i, tree in enumerate(trees):
        if tree is None:
            continue
        for k, stmt in enumerate(tree.body):
            if stmt is fn:
                continue
            if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
                stars.append((i, k, stmt))
            for name in _names_bound(stmt):
                binders[name] = (i, k, stmt)
    chosen: dict[tuple[int, int], ast.stmt] = {}
    todo = list(_needs(fn) - {exercise})
    seen = set(todo)
    while todo:
        name = todo.pop()
        if name not in binders:
            continue
        i, k, stmt = binders[name]
        if (i, k) in chosen:
            continue
        chosen[(i, k)] = stmt
        for n in _needs(stmt) - seen:
            seen.add(n)
            todo.append(n)
    for i, k, stmt in stars:
        chosen[(i, k)] = stmt
    pieces = [Piece(f"cell {i + 1}", ast.unparse(stmt)) for (i, k), stmt in sorted(chosen.items())]
    pieces.append(Piece(f"cell {cell + 1}", ast.unparse(fn)))
    return Extracted(exercise, pieces, signature=fn.args)


def load_submission(path: Path, student: str | None = None) -> Submission:
    """Extract every exercise of one file; a broken file gives problems, not an error."""
    sub = Submission(Path(path), student or Path(path).stem)
    try:
        cells = read_cells(sub.path)
    except GradingError as exc:
        for name in checks.exercises():
            sub.exercises[name] = Extracted(name, problem=str(exc))
        return sub
    for name in checks.exercises():
        sub.exercises[name] = extract(cells, name)
    return sub


def find_submissions(paths) -> list[tuple[Path, str]]:
    """(file, student id) for the .ipynb/.py files given or inside the folders given."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.suffix in (".ipynb", ".py")
                            and f.is_file() and ".ipynb_checkpoints" not in f.parts)
        elif p.is_file():
            if p.suffix not in (".ipynb", ".py"):
                raise GradingError(f"{p}: expected a .ipynb notebook or a .py file")
            found.append(p)
        else:
            raise GradingError(f"{p}: no such file or folder")
    if not found:
        raise GradingError("no .ipynb or .py submission found in " + ", ".join(map(str, paths)))
    ids: dict[str, int] = collections.Counter(f.stem for f in found)
    out, used = [], set()
    for f in found:
        sid = f.stem if ids[f.stem] == 1 else "_".join(f.with_suffix("").parts[-2:])
        while sid in used:
            sid += "_"
        used.add(sid)
        out.append((f, sid))
    return out


def signature_problem(exercise: str, args: ast.arguments, case: checks.Case) -> str | None:
    """Why the student's parameter list cannot take this case's arguments, or None."""
    import inspect

    stub = ast.arguments(posonlyargs=args.posonlyargs, args=args.args, vararg=args.vararg,
                         kwonlyargs=args.kwonlyargs,
                         kw_defaults=[None if d is None else ast.Constant(None) for d in args.kw_defaults],
                         kwarg=args.kwarg, defaults=[ast.Constant(None) for _ in args.defaults])
    for a in [*stub.posonlyargs, *stub.args, *stub.kwonlyargs, stub.vararg, stub.kwarg]:
        if a is not None:
            a.annotation = None
    mod = ast.Module([ast.FunctionDef("f", stub, [ast.Pass()], [], None)], [])
    ns: dict = {}
    exec(compile(ast.fix_missing_locations(mod), "<signature>", "exec"), {}, ns)  # only `def f(...): pass`
    try:
        inspect.signature(ns["f"]).bind(*case.args, **case.kwargs)
    except TypeError as exc:
        from . import exercises as ref
        want = inspect.signature(getattr(ref, exercise))
        have = ast.unparse(args)
        return (f"wrong signature: your {exercise}({have}) cannot be called as the tests call it "
                f"({exc}); the lesson's signature is {exercise}{want}")
    return None


# ------------------------------------------------------------- value codec (worker -> grader)

def encode(v, depth=0):
    """Plain values to JSON-able tagged lists (what a worker sends)."""
    if depth > 8:
        return ["r", repr(v)[:200]]
    if v is None or isinstance(v, (bool, str)):
        return ["v", v]
    if isinstance(v, int):
        return ["v", v] if abs(v) < 2**63 else ["r", repr(v)[:200]]
    if isinstance(v, float):
        return ["f", repr(v)]
    if isinstance(v, tuple):
        return ["t", [encode(x, depth + 1) for x in v]]
    if isinstance(v, list):
        return ["l", [encode(x, depth + 1) for x in v[:10_000]]]
    if isinstance(v, (np.ndarray, np.generic)):
        arr = np.asarray(v)
        if arr.dtype.kind in "biufc" and arr.size <= 4_000_000:
            return ["a" if isinstance(v, np.ndarray) else "g", arr.dtype.str, list(arr.shape),
                    base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode()]
    return ["r", repr(v)[:200]]


def decode(x):
    """The inverse of :func:`encode`; anything else raises ValueError (never evaluates)."""
    tag = x[0]
    if tag == "v":
        if x[1] is not None and not isinstance(x[1], (bool, int, str)):
            raise ValueError("bad value")
        return x[1]
    if tag == "f":
        return float(x[1])
    if tag == "r":
        return str(x[1])
    if tag in ("t", "l"):
        items = [decode(i) for i in x[1]]
        return tuple(items) if tag == "t" else items
    if tag in ("a", "g"):
        dtype = np.dtype(x[1])
        if dtype.kind not in "biufc":
            raise ValueError("bad dtype")
        arr = np.frombuffer(base64.b64decode(x[3]), dtype=dtype).reshape([int(s) for s in x[2]]).copy()
        return arr if tag == "a" else arr.reshape(())[()]
    raise ValueError(f"unknown tag {tag!r}")


def _outcome_to_json(o: checks.Outcome) -> dict:
    return {"value": encode(o.value), "stdout": o.stdout[:20_000], "error": o.error,
            "detail": o.detail[:2000]}


def _outcome_from_json(d: dict) -> checks.Outcome:
    err = d.get("error")
    return checks.Outcome(value=decode(d["value"]), stdout=str(d.get("stdout", ""))[:20_000],
                          error=None if err is None else str(err)[:500],
                          detail=str(d.get("detail", ""))[:2000])


# --------------------------------------------------------------------- framing

def _send(fd: int, payload: bytes) -> None:
    data = struct.pack(">Q", len(payload)) + payload
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _recv_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            raise EOFError
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def _recv(fd: int) -> bytes:
    (n,) = struct.unpack(">Q", _recv_exact(fd, 8))
    if n > MAX_MESSAGE:
        raise ValueError(f"message of {n} bytes refused")
    return _recv_exact(fd, n)


# ---------------------------------------------------------------------- worker side

def _all_case_args() -> list:
    return [(c.args, c.kwargs) for name in checks.exercises() for c in checks.cases(name, True)]


def _strings(obj):
    """The str leaves of resolved case arguments (picture paths among them)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _strings(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _strings(o)


def _expected_values() -> list:
    """[exercise, case index, encoded expected value] for every case (trusted code only)."""
    out = []
    with contextlib.redirect_stdout(io.StringIO()):
        for name in checks.exercises():
            for i, c in enumerate(checks.cases(name, include_hidden=True)):
                out.append([name, i, encode(c.expect())])
    return out


# Keras sets these on a model instance during ordinary use (model.predict); they are not
# part of what a student could swap to change later submissions' results.
_VOLATILE_MODEL_ATTRS = frozenset({"stop_predicting", "predict_function", "_jit_compile",
                                   "stop_training", "stop_evaluating", "train_function",
                                   "test_function", "make_predict_function"})


def _weights_checksum_fn(model):
    """A compiled function: per weight variable, the wrapping int32 sum of its raw bits.

    Any change to a weight (set_weights, assign, a training step) changes the sum
    of its variable, short of a deliberately compensated edit. Tracing costs ~1 s
    once per worker; a call ~10 ms for all 22.8 M weights, without copying them
    (reading them into numpy costs ~50 ms).
    """
    from ._quiet import tf

    variables = [v.value if hasattr(v, "value") else v for v in model.weights]

    @tf.function
    def checksum():
        return tf.stack([tf.reduce_sum(tf.bitcast(v, tf.int32)) for v in variables])

    return lambda: checksum().numpy().tobytes()


def _model_state(model) -> tuple:
    """What student code must not change about the shared model (cheap part):
    its weight variables, its compiled forward function, its attributes."""
    from . import encoding as m

    weights = tuple(id(v) for v in model.weights)
    compiled = tuple(sorted((k, id(e[0]), id(e[1])) for k, e in list(m._COMPILED.items())))
    attrs = tuple(sorted((k, id(v)) for k, v in vars(model).items()
                         if k not in _VOLATILE_MODEL_ATTRS))
    return weights, compiled, id(m._COMPILED), attrs


def _fresh(obj):
    """A copy of resolved arguments a student may mutate (the model and tensors are shared)."""
    if isinstance(obj, dict):
        return {k: _fresh(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fresh(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_fresh(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return obj.copy()
    return obj


def _snapshot(model) -> dict:
    import builtins
    import math

    from ._quiet import keras, tf

    mods = [builtins, math, np, np.linalg, np.random, tf, tf.math, tf.linalg, tf.random, keras, io,
            contextlib, json, os, os.path]
    mods += [m for n, m in list(sys.modules.items()) if n.startswith("facelab") and m is not None]
    import pathlib

    mods += [pathlib]
    classes = [tf.Tensor, type(tf.constant(0.0)), np.ndarray, type(model), keras.Model,
               keras.layers.Layer, dict, pathlib.Path, pathlib.PurePath]
    snap = {}
    for m in mods:
        snap[("m", getattr(m, "__name__", "?"))] = (m, {k: id(v) for k, v in vars(m).items()})
    for c in classes:
        snap[("c", c.__qualname__)] = (c, {k: id(v) for k, v in vars(c).items()})
    return snap


def _tampered(snap: dict) -> list[str]:
    """Attributes changed or removed since the snapshot (and, for classes, added:
    a new class attribute can shadow an inherited method)."""
    changed = []
    for (kind, name), (obj, attrs) in snap.items():
        now = vars(obj)
        for k, i in attrs.items():
            if k in now and id(now[k]) != i or k not in now:
                changed.append(f"{name}.{k}")
        if kind == "c":
            changed += [f"{name}.{k} (added)" for k in now if k not in attrs]
    return changed[:5]


def _lock_down(workroot: str) -> None:
    """Install the (irremovable) audit hook that confines student code."""
    import facelab

    real = os.path.realpath
    pkg = real(os.path.dirname(facelab.__file__))
    from . import assets

    reads = tuple(real(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, pkg,
                                   str(assets.images_dir()), str(assets.weights_dir()),
                                   workroot, "/dev/null", "/dev/urandom", "/proc/self",
                                   "/sys/devices/system/cpu", "/sys/fs/cgroup",
                                   "/usr/share/zoneinfo", "/etc/localtime"})
    write_root = real(workroot)
    secret = tuple(os.path.join(pkg, n + ".py") for n in _SECRET_MODULES)
    secret_pyc = tuple(os.path.join(pkg, "__pycache__", n + ".") for n in _SECRET_MODULES)
    denied = {"os.system", "os.exec", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn",
              "subprocess.Popen", "os.kill", "os.killpg", "signal.pthread_kill", "pty.spawn",
              "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
              "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
              "socket.sendto", "os.setuid", "_thread.start_new_thread", "os.chroot",
              "os.putenv", "os.unsetenv", "sys.remote_exec"}
    path_writes = {"os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
                   "os.symlink", "os.truncate", "os.utime", "os.rename", "shutil.rmtree",
                   "shutil.copyfile", "shutil.move", "os.chflags", "os.mkfifo", "os.mknod"}
    path_reads = {"os.listdir", "os.scandir", "glob.glob", "os.chdir"}
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def inside(p, roots) -> bool:
        return any(p == r or p.startswith(r.rstrip("/") + "/") for r in roots)

    def readable(path) -> bool:
        if isinstance(path, int):
            return True
        p = real(os.fsdecode(path))
        if p in secret or p.startswith(secret_pyc):
            return False
        return inside(p, reads)

    def writable(path) -> bool:
        if isinstance(path, int):
            return True
        p = real(os.fsdecode(path))
        return inside(p, (write_root, "/dev/null"))

    def hook(event, args):
        if event in denied or event.startswith("ctypes."):
            raise PermissionError(f"{event} is not allowed during grading")
        if event == "open":
            path, mode, flags = (list(args) + [None, None, None])[:3]
            wants_write = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                (isinstance(flags, int) and flags & write_flags)
            if path is None:
                return
            if wants_write and not writable(path):
                raise PermissionError(f"writing {os.fsdecode(path)!s} is not allowed during grading "
                                      "(only the working directory is writable)")
            if not wants_write and not readable(path):
                raise PermissionError(f"reading {os.fsdecode(path)!s} is not allowed during grading")
        elif event in path_writes:
            for p in args[:2]:
                if isinstance(p, (str, bytes, os.PathLike)) and not writable(p):
                    raise PermissionError(f"{event} outside the working directory is not allowed")
        elif event in path_reads:
            p = args[0] if args else None
            if isinstance(p, (str, bytes, os.PathLike)) and not readable(p):
                raise PermissionError(f"{event} of {os.fsdecode(p)} is not allowed during grading")

    sys.addaudithook(hook)


def _worker_main() -> None:
    """A worker: warm up, lock down, then run jobs from the grader until EOF."""
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    workroot = os.getcwd()

    def say(msg):
        _send(wfd, json.dumps(msg).encode())

    setup = pickle.loads(_recv(rfd))  # from the grader: what to hide
    model = checks.build_resource(checks.MODEL)
    from . import database
    from .encoding import cache_encodings, encoding_cache_digest
    # the office database's pictures, as office_database(model) encodes them (students'
    # notebooks rebuild it in the cells their functions need)
    from . import assets
    store = assets.cache_dir() / "encodings"  # kept between runs (see cache_encodings)
    cache_encodings(list(database.employee_pictures().values()), model, store=store)
    pictures = set()
    for args, kwargs in _all_case_args():
        pictures.update(_strings(checks.resolve(args)))
        pictures.update(_strings(checks.resolve(kwargs)))
    # the case pictures' encodings, computed once here (read-only, checked after each exercise)
    cache_encodings(sorted(p for p in pictures if os.path.isfile(p)), model, batch_size=None,
                    store=store)
    # the expected values, computed here while only trusted code has run; the grader judges
    try:
        expected, expected_error = _expected_values(), None
    except Exception as exc:  # noqa: BLE001
        expected, expected_error = None, f"{type(exc).__name__}: {exc}"[:500]
    # forget the hidden cases and the reference solutions before any student code runs
    from . import exercises as ref
    for name in checks.exercises():
        if hasattr(ref, name):
            delattr(ref, name)
    checks._EXERCISES.clear()
    import gc
    gc.collect()
    snap = _snapshot(model)
    encodings = encoding_cache_digest()  # (a local name: student code cannot rebind it)
    weights_checksum = _weights_checksum_fn(model)
    model_state, weights_sum = _model_state(model), weights_checksum()
    threads = threading.active_count()
    not_hidden = _confine(setup.get("hide") or {}, workroot) if setup.get("mount_namespace") else None
    del setup
    _lock_down(workroot)
    say({"t": "hello", "pid": os.getpid(), "expected": expected, "expected_error": expected_error,
         "not_hidden": not_hidden})
    del expected
    sink = io.StringIO()
    while True:
        try:
            job = pickle.loads(_recv(rfd))
        except EOFError:
            return
        with contextlib.suppress(Exception):
            os.chdir(job["workdir"])
        ns: dict[str, Any] = {"__name__": "submission", "__builtins__": __builtins__}
        notes, error = [], None
        for k, piece in enumerate(job["pieces"]):
            last = k == len(job["pieces"]) - 1
            try:
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                    exec(compile(piece["source"], f"<{piece['label']}>", "exec"), ns)
            except BaseException as exc:  # noqa: BLE001 - student code may raise anything
                msg = f"{type(exc).__name__}: {exc}"[:300]
                if last:
                    error = f"defining {job['name']} raised {msg}"
                else:
                    notes.append(f"{piece['label']} (needed by {job['name']}) raised {msg}")
            sink.seek(0)
            sink.truncate()
        fn = ns.get(job["name"])
        if error is None and not callable(fn):
            error = f"{job['name']} is not a function after running its cell"
        say({"t": "defined", "error": error, "notes": notes[:5]})
        if error is None:
            for i, args, kwargs in job["cases"]:
                case = checks.Case(str(i), 0, _fresh(checks.resolve(args)), judge=None,
                                   kwargs=_fresh(checks.resolve(kwargs)))
                try:
                    with contextlib.redirect_stderr(sink):
                        outcome = checks.call_case(fn, case)
                except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt...
                    what = "called sys.exit()" if isinstance(exc, SystemExit) else \
                        f"raised {type(exc).__name__}"
                    outcome = checks.Outcome(error=f"{type(exc).__name__}: your function {what}"[:500])
                sink.seek(0)
                sink.truncate()
                try:
                    payload = _outcome_to_json(outcome)
                except Exception as exc:  # noqa: BLE001
                    payload = _outcome_to_json(checks.Outcome(error=f"unreadable return value ({exc})"))
                say({"t": "case", "i": i, "outcome": payload})
        changed = _tampered(snap)
        try:
            if encoding_cache_digest() != encodings:
                changed.append("the cached picture encodings")
        except Exception:  # noqa: BLE001
            changed.append("the cached picture encodings")
        try:
            if _model_state(model) != model_state:
                changed.append("the model (its attributes)")
            # the weights are summed once per submission, after its last exercise
            if job.get("check_weights", True) and weights_checksum() != weights_sum:
                changed.append("the model's weights")
        except Exception:  # noqa: BLE001
            changed.append("the model")
        if threading.active_count() > threads:
            changed.append("a thread left running")
        say({"t": "end", "tainted": changed})


# ---------------------------------------------------------------------- grader side

class WorkerDied(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _unshare_flags() -> list[str]:
    """The `unshare` flags that work here: new mount + network namespaces (as root,
    or through a user namespace), else network only, else [] (no namespaces)."""
    global _UNSHARE
    if _UNSHARE is None:
        exe = shutil.which("unshare")
        _UNSHARE = []
        for flags in (["-m", "-n"], ["-r", "-m", "-n"], ["-n"]) if exe else ():
            if subprocess.run([exe, *flags, "true"], capture_output=True).returncode == 0:
                _UNSHARE = flags
                break
    return _UNSHARE


_UNSHARE: list[str] | None = None


def hidden_paths(submissions=(), out=None) -> dict:
    """What a worker hides from student code with mounts (when it has a mount namespace).

    Files (each covered by /dev/null): the modules holding the hidden cases and
    the reference solutions, and every submission of the batch. Folders (each
    covered by an empty read-only tmpfs): the folders the submissions came
    from, the package's bytecode cache, the repository's solution notebooks,
    tests and git history, and the output folder. A folder that holds what
    the worker needs (Python, the package, the pictures, the weights, the
    temporary folder) is never hidden.
    """
    import facelab
    from . import assets

    pkg = Path(facelab.__file__).resolve().parent
    subs = [Path(s).resolve() for s in submissions]
    files = [pkg / f"{n}.py" for n in _SECRET_MODULES] + subs
    dirs = [pkg / "__pycache__"]
    if (pkg.parent / "pyproject.toml").is_file():  # a source checkout, not site-packages
        dirs += [pkg.parent / n for n in (".git", "notebooks", "tests")]
    dirs += [s.parent for s in subs]  # the folders they came from (other students' files)
    if out is not None:
        dirs.append(Path(out).resolve())
    needed = [Path(p).resolve() for p in (sys.prefix, sys.base_prefix, pkg, assets.images_dir(),
                                          assets.weights_dir(), tempfile.gettempdir())]

    def keeps(d: Path) -> bool:
        return any(n == d or d in n.parents for n in needed)
    return {"files": sorted({str(f) for f in files if f.is_file()}),
            "dirs": sorted({str(d) for d in dirs if d.is_dir() and not keeps(d)})}


def _confine(paths: dict, workroot: str) -> list[str]:
    """Hide ``paths`` (see :func:`hidden_paths`) and make the filesystem read-only but
    ``workroot``, with mounts; returns what could not be done.

    Runs in the worker, in its own mount namespace, before lock-down: the
    mounts are invisible outside it and vanish with it, and they hold for
    native code too (``tf.io.read_file``, ``tf.io.write_file``). Without a
    mount namespace every mount fails and the audit hook stays the only guard.
    """
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    ms_rdonly, ms_remount, ms_bind = 1, 32, 4096
    failed = []
    for f in paths.get("files", ()):
        if libc.mount(b"/dev/null", os.fsencode(f), None, ms_bind, None) != 0:
            failed.append(f)
    for d in paths.get("dirs", ()):
        if libc.mount(b"tmpfs", os.fsencode(d), b"tmpfs", ms_rdonly, b"size=4k,mode=0555") != 0:
            failed.append(d)
    # the worker's own folder becomes a mount of its own (it stays writable), then the
    # root filesystem is remounted read-only in this namespace
    root = os.fsencode(workroot)
    if (libc.mount(root, root, None, ms_bind, None) != 0
            or libc.mount(None, b"/", None, ms_remount | ms_bind | ms_rdonly, None) != 0):
        failed.append("/ (read-only)")
    return failed


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _task_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


class Worker:
    """A long-lived sandboxed process that calls student functions."""

    def __init__(self, time_limit: float, memory_limit: float, network_isolation: bool = True,
                 on_hello=None, hide: dict | None = None):
        self.time_limit, self.memory_limit = time_limit, memory_limit
        self.on_hello = on_hello  # called with the hello message (it carries the expected values)
        self.hide = hide if hide is not None else hidden_paths()
        self.flags = _unshare_flags() if network_isolation else []
        self.isolate = bool(self.flags)
        self.not_hidden: list | None = None  # after start-up: what the mounts could not hide
        self.proc: subprocess.Popen | None = None
        self.root: str | None = None
        self.tasks = 0
        self.starts = 0

    def start(self) -> None:
        self.root = tempfile.mkdtemp(prefix="facelab-worker-")
        cmd = [sys.executable, "-c", "from facelab.grader import _worker_main; _worker_main()"]
        if self.isolate:
            cmd = [shutil.which("unshare"), *self.flags, *cmd]
        env = dict(os.environ, TMPDIR=self.root, PYTHONDONTWRITEBYTECODE="1",
                   MPLCONFIGDIR=self.root)
        from . import assets
        env["FACELAB_HOME"] = str(assets.home())
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, cwd=self.root, env=env,
                                     start_new_session=True)
        setup = {"mount_namespace": "-m" in self.flags, "hide": self.hide}
        try:  # through the pipe, not the environment: student code can read os.environ
            _send(self.proc.stdin.fileno(), pickle.dumps(setup))
        except OSError:
            pass  # the worker died at once; ready() reports it
        self.starts += 1
        self._hello = False

    def ready(self) -> None:
        """Start the worker if needed and wait for its hello (warm-up done)."""
        if self.proc is None:
            self.start()
        if not self._hello:
            msg = self._read(timeout=600, what="starting the worker")
            if msg.get("t") != "hello":
                raise WorkerDied("the worker did not start")
            self._hello = True
            self.tasks = _task_count(self.proc.pid)
            self.not_hidden = msg.get("not_hidden")
            if self.on_hello is not None:
                self.on_hello(msg)

    def kill(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=10)
            for s in (self.proc.stdin, self.proc.stdout):
                with contextlib.suppress(Exception):
                    s.close()
        self.proc = None
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _read(self, timeout: float, what: str) -> dict:
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise WorkerDied(f"took longer than {timeout:g} s ({what}): is there an "
                                 "infinite loop?")
            ready, _, _ = select.select([fd], [], [], min(left, 0.02))
            if ready:
                try:
                    return json.loads(_recv(fd))
                except EOFError:
                    self.kill()
                    raise WorkerDied(f"the process running your code stopped ({what}): did it "
                                     "call os._exit() or crash the interpreter?") from None
                except (ValueError, UnicodeDecodeError):
                    self.kill()
                    raise WorkerDied(f"the process running your code sent garbage ({what})") from None
            if self.memory_limit and _rss_mb(self.proc.pid) > self.memory_limit:
                self.kill()
                raise WorkerDied(f"used more than {self.memory_limit:g} MB of memory ({what})")

    def run(self, name: str, pieces: list[Piece], cases: list, workdir: str,
            check_weights: bool = True):
        """Yield ("defined", msg), ("case", i, Outcome) ..., ("end", tainted).

        ``check_weights``: also checksum the model's weights afterwards (the
        grader asks for it after a submission's last exercise).
        """
        self.ready()
        job = {"name": name, "pieces": [{"label": p.label, "source": p.source} for p in pieces],
               "cases": cases, "workdir": workdir, "check_weights": check_weights}
        try:
            _send(self.proc.stdin.fileno(), pickle.dumps(job))
        except OSError:
            self.kill()
            raise WorkerDied("the process running your code stopped") from None
        msg = self._read(self.time_limit, f"defining {name}")
        yield ("defined", msg)
        if msg.get("error") is None:
            for i, _a, _k in cases:
                msg = self._read(self.time_limit, f"test {i + 1} of {name}")
                if msg.get("t") != "case" or msg.get("i") != i:
                    self.kill()
                    raise WorkerDied("the process running your code sent an unexpected reply")
                try:
                    outcome = _outcome_from_json(msg["outcome"])
                except Exception:  # noqa: BLE001
                    self.kill()
                    raise WorkerDied("the process running your code sent an unreadable result") from None
                yield ("case", i, outcome)
        msg = self._read(self.time_limit, f"finishing {name}")
        tainted = list(msg.get("tainted") or [])
        if _task_count(self.proc.pid) > self.tasks:
            tainted.append("threads left running")
        yield ("end", tainted)

    def workdir(self) -> str:
        self.ready()
        d = tempfile.mkdtemp(dir=self.root, prefix="sub-")
        return d


# ------------------------------------------------------------------ results


@dataclass
class GradedSubmission:
    student: str
    path: str
    results: list[checks.CheckResult]
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(r.points for r in self.results), 6)

    @property
    def max_score(self) -> float:
        return round(sum(r.max_points for r in self.results), 6)

    def gradescope(self) -> dict:
        tests = []
        for r in self.results:
            hidden_n = 0
            for c in r.cases:
                if c.visible:
                    name, out = f"{r.exercise}: {c.name}", (
                        "passed" if c.passed else f"FAILED: {c.message}" + (f"\nHint: {c.hint}" if c.hint else ""))
                else:
                    hidden_n += 1
                    name = f"{r.exercise}: hidden test {hidden_n}"
                    out = "passed" if c.passed else "A hidden test failed."
                tests.append({"name": name, "score": c.points, "max_score": c.max_points,
                              "output": out, "visibility": "visible" if c.visible else "after_published"})
        output = "\n\n".join(r.report() for r in self.results)
        if self.notes:
            output += "\n\nNotes:\n" + "\n".join(f"- {n}" for n in self.notes)
        return {"score": self.score, "execution_time": round(self.seconds, 3),
                "output": output, "tests": tests}


def _fail_all(exercise: str, cases: list[checks.Case], message: str, hint: str = "",
              start: int = 0, done: list | None = None) -> list[checks.CaseResult]:
    out = list(done or [])
    for c in cases[start:]:
        out.append(checks.CaseResult(c.name, False, 0.0, c.points, message, hint, c.visible))
    return out


class Grader:
    """Grades submissions on a pool of long-lived workers; judges here."""

    def __init__(self, jobs: int | None = None, time_limit: float = DEFAULT_TIME_LIMIT,
                 memory_limit: float = DEFAULT_MEMORY_LIMIT, network_isolation: bool = True):
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.time_limit, self.memory_limit = time_limit, memory_limit
        self.network_isolation = network_isolation
        self.cases = {n: checks.cases(n, include_hidden=True) for n in checks.exercises()}
        self._expected: dict | None = None
        self._expected_ready = threading.Event()
        self._expected_error: BaseException | None = None
        self._expected_lock = threading.Lock()
        self.restarts = 0

    def _take_expected(self, hello: dict) -> None:
        """Keep the expected values a fresh worker computed before running any student code.

        Every worker sends them in its hello message, written during its warm-up
        (before lock-down, before any submission), so they are as trustworthy as
        values computed here, and this process never loads TensorFlow. The first
        worker's values are kept; they are decoded with :func:`decode` (no pickle).
        """
        with self._expected_lock:
            if not self._expected_ready.is_set():
                self._set_expected(hello)

    def _set_expected(self, hello: dict) -> None:
        try:
            if hello.get("expected_error") or not isinstance(hello.get("expected"), list):
                raise GradingError(str(hello.get("expected_error") or "no expected values"))
            exp = {}
            for name, i, value in hello["expected"]:
                exp[(str(name), int(i))] = decode(value)
            missing = [(n, i) for n, cs in self.cases.items() for i in range(len(cs))
                       if (n, i) not in exp]
            if missing:
                raise GradingError(f"no expected value for {missing[0]}")
            self._expected = exp
        except Exception as exc:  # noqa: BLE001
            self._expected_error = exc
        self._expected_ready.set()

    def expected(self, name: str, i: int):
        if not self._expected_ready.wait(timeout=600):
            raise GradingError("could not compute the expected values: no worker started")
        if self._expected_error is not None:
            raise GradingError(f"could not compute the expected values: {self._expected_error}")
        return self._expected[(name, i)]

    def grade_one(self, worker: Worker, sub: Submission) -> GradedSubmission:
        try:  # a worker's start-up is not this submission's execution time
            worker.ready()
        except WorkerDied:
            pass  # reported by the first exercise, which starts a fresh worker
        t0 = time.monotonic()
        results, notes = [], []
        problems = {}
        for name, cs in self.cases.items():
            ex = sub.exercises[name]
            if ex.problem:
                problems[name] = (ex.problem, "Fix the notebook, then resubmit.")
            elif bad := next((p for c in cs if (p := signature_problem(name, ex.signature, c))), None):
                problems[name] = (bad, "Keep the parameters of the lesson's `def` line unchanged.")
        last_run = ([n for n in self.cases if n not in problems] or [None])[-1]
        for name, cs in self.cases.items():
            ex = sub.exercises[name]
            if name in problems:
                results.append(checks.CheckResult(name, tuple(_fail_all(name, cs, *problems[name]))))
                continue
            done: list[checks.CaseResult] = []
            payload = [(i, c.args, c.kwargs) for i, c in enumerate(cs)]
            try:
                workdir = worker.workdir()
                for ev in worker.run(name, ex.pieces, payload, workdir, check_weights=name == last_run):
                    if ev[0] == "defined":
                        msg = ev[1]
                        notes += [str(n) for n in msg.get("notes") or []]
                        if msg.get("error"):
                            done = _fail_all(name, cs, str(msg["error"])[:500],
                                             "Run the graded cell on its own to see the error.")
                    elif ev[0] == "case":
                        _, i, outcome = ev
                        done.append(checks.judge_case(cs[i], outcome, self.expected(name, i)))
                    elif ev[0] == "end" and ev[1]:
                        worker.kill()
                        self.restarts += 1
                        notes.append(f"{name}: your code changed the grading environment "
                                     f"({', '.join(map(str, ev[1][:5]))}); it was reset after this exercise")
                shutil.rmtree(workdir, ignore_errors=True)
            except WorkerDied as exc:
                self.restarts += 1
                i = len(done)
                done.append(checks.CaseResult(cs[i].name if i < len(cs) else "?", False, 0.0,
                                              cs[i].points if i < len(cs) else 0, exc.reason,
                                              "Make sure your function returns quickly and "
                                              "uses little memory.", cs[i].visible if i < len(cs) else True))
                done = _fail_all(name, cs, f"not run: an earlier test of {name} stopped the grader "
                                 f"({exc.reason})", "", start=len(done), done=done)
            results.append(checks.CheckResult(name, tuple(done[:len(cs)])))
        return GradedSubmission(sub.student, str(sub.path), results, time.monotonic() - t0, notes)

    def grade(self, files: list[tuple[Path, str]], progress=None,
              out: Path | None = None) -> list[GradedSubmission]:
        """Grade ``files`` ((path, student) pairs); ``out``, the report folder, is hidden
        from student code like the other submissions (see :func:`hidden_paths`)."""
        n = min(self.jobs, len(files))
        hide = hidden_paths([f for f, _ in files], out)
        workers = [Worker(self.time_limit, self.memory_limit, self.network_isolation,
                          on_hello=self._take_expected, hide=hide) for _ in range(n)]
        for w in workers:  # they warm up (~7 s) while the submissions are parsed here
            w.start()
        try:
            subs = [load_submission(p, sid) for p, sid in files]
        except BaseException:
            for w in workers:
                w.kill()
            raise
        todo: queue.Queue = queue.Queue()
        for k, s in enumerate(subs):
            todo.put((k, s))
        out: list[GradedSubmission | None] = [None] * len(subs)
        lock = threading.Lock()
        errors: list[BaseException] = []

        def loop(w: Worker):
            try:
                while True:
                    try:
                        k, s = todo.get_nowait()
                    except queue.Empty:
                        return
                    out[k] = self.grade_one(w, s)
                    with lock:
                        if progress:
                            progress(sum(o is not None for o in out), len(subs))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                w.kill()

        threads = [threading.Thread(target=loop, args=(w,), daemon=True) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0] if isinstance(errors[0], GradingError) else GradingError(
                f"grading failed: {type(errors[0]).__name__}: {errors[0]}")
        return out  # type: ignore[return-value]


# ------------------------------------------------------------------ reports

def write_reports(graded: list[GradedSubmission], out: Path) -> dict:
    """results.json per submission, gradebook.csv, summary.json/.txt and the score plot."""
    out.mkdir(parents=True, exist_ok=True)
    names = checks.exercises()
    for g in graded:
        d = out / g.student
        d.mkdir(parents=True, exist_ok=True)
        (d / "results.json").write_text(json.dumps(g.gradescope(), indent=2))
    with open(out / "gradebook.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "submission", *names, "total", "max"])
        for g in graded:
            w.writerow([g.student, g.path, *[f"{r.points:g}" for r in g.results],
                        f"{g.score:g}", f"{g.max_score:g}"])
    fails: collections.Counter = collections.Counter()
    per_ex = {}
    for n_i, name in enumerate(names):
        full = sum(g.results[n_i].passed for g in graded)
        per_ex[name] = {"full_marks_rate": round(full / max(1, len(graded)), 4),
                        "mean_points": round(sum(g.results[n_i].points for g in graded) / max(1, len(graded)), 4),
                        "max_points": graded[0].results[n_i].max_points if graded else 0}
    for g in graded:
        for r in g.results:
            for c in r.cases:
                if not c.passed:
                    fails[f"{r.exercise} / {c.name}: {c.message}"[:200]] += 1
    scores = [g.score for g in graded]
    summary = {"submissions": len(graded), "mean_score": round(float(np.mean(scores)), 4) if scores else 0,
               "max_score": graded[0].max_score if graded else 0,
               "scores": {g.student: g.score for g in graded}, "exercises": per_ex,
               "common_failures": fails.most_common(10)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    lines = [f"{len(graded)} submissions, mean score {summary['mean_score']:g} / {summary['max_score']:g}",
             "", "Per exercise (share with full marks, mean points):"]
    lines += [f"  {n}: {v['full_marks_rate']:.0%}, {v['mean_points']:g}/{v['max_points']:g}"
              for n, v in per_ex.items()]
    lines += ["", "Most common failures:"] + [f"  {k}x {m}" for m, k in fails.most_common(10)]
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(scores, bins=min(20, max(5, len(set(scores)))), range=(0, summary["max_score"] or 1),
                color="#4a7ab5", edgecolor="white")
        ax.set_xlabel("score")
        ax.set_ylabel("submissions")
        ax.set_title("Score distribution")
        fig.tight_layout()
        fig.savefig(out / "score_distribution.png", dpi=100)
        plt.close(fig)
    except ImportError:  # pragma: no cover
        pass
    return summary


def grade(paths, out, jobs: int | None = None, time_limit: float = DEFAULT_TIME_LIMIT,
          memory_limit: float = DEFAULT_MEMORY_LIMIT, progress=None,
          network_isolation: bool = True) -> list[GradedSubmission]:
    """Grade the submissions found in ``paths``; write the reports into ``out``."""
    files = find_submissions(paths)
    grader = Grader(jobs, time_limit, memory_limit, network_isolation)
    Path(out).mkdir(parents=True, exist_ok=True)
    graded = grader.grade(files, progress, out=Path(out))
    write_reports(graded, Path(out))
    return graded


def _bar(done: int, total: int) -> None:
    width = 30
    fill = int(width * done / max(1, total))
    sys.stderr.write(f"\rgrading [{'#' * fill}{'.' * (width - fill)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


# ------------------------------------------------------------------ gradescope

_RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope entry point: grade /autograder/submission into /autograder/results.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${FACELAB_PYTHON:-python3}"
cd "$ROOT/source"
export PYTHONPATH="$ROOT/source${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -c "from facelab.grader import autograder_main; autograder_main()" "$ROOT"
"""

_SETUP_SH = """#!/usr/bin/env bash
# Gradescope image setup: Python deps, facelab from source/, then weights and photos.
set -eux
ROOT="${AUTOGRADER_ROOT:-/autograder}"
apt-get update && apt-get install -y python3 python3-pip util-linux
python3 -m pip install "$ROOT/source"
cd "$ROOT/source" && python3 -m facelab.cli fetch
# one worker warm-up leaves the test pictures' encodings in the on-disk store of the image
python3 -c "from facelab.grader import prepare; prepare()"
"""


def build_autograder_zip(out: Path) -> Path:
    """The zip Gradescope wants: setup.sh, run_autograder, source/ (facelab + hidden cases)."""
    import facelab

    pkg = Path(facelab.__file__).resolve().parent
    root = pkg.parent
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("run_autograder", _RUN_AUTOGRADER), ("setup.sh", _SETUP_SH)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            z.writestr(info, text)
        for f in sorted(pkg.glob("*.py")):
            z.write(f, f"source/facelab/{f.name}")
        for extra in ("pyproject.toml", "weights/MANIFEST.json", "images/MANIFEST.json"):
            if (root / extra).exists():
                z.write(root / extra, f"source/{extra}")
        z.writestr("source/AUTOGRADER.txt",
                   "The hidden cases live in facelab/checks.py (cases(name, include_hidden=True)); "
                   "assets are fetched by setup.sh into source/weights and source/images.\n")
    return out


def prepare() -> None:
    """Warm one worker up and stop it: what it computes once (the test pictures'
    encodings) is then in the on-disk store, so later runs start faster."""
    w = Worker(time_limit=DEFAULT_TIME_LIMIT, memory_limit=0)
    try:
        w.ready()
    finally:
        w.kill()


def autograder_main(argv=None) -> None:
    """run_autograder's body: grade the one submission, write results/results.json."""
    root = Path((argv or sys.argv[1:] or [os.environ.get("AUTOGRADER_ROOT", "/autograder")])[0])
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    try:
        files = find_submissions([root / "submission"])[:1]
        g = Grader(jobs=1, time_limit=float(os.environ.get("FACELAB_TIME_LIMIT", DEFAULT_TIME_LIMIT))
                   ).grade(files)[0]
        data = g.gradescope()
    except GradingError as exc:
        data = {"score": 0, "output": f"Could not grade: {exc}", "tests": []}
    (results / "results.json").write_text(json.dumps(data, indent=2))


# ---------------------------------------------------------------------- CLI

def _cmd_grade(args) -> int:
    progress = _bar if sys.stderr.isatty() else None
    graded = grade(args.submissions, args.out, jobs=args.jobs, time_limit=args.time_limit,
                   memory_limit=args.memory_limit, progress=progress)
    for g in graded:
        print(f"{g.student}: {g.score:g}/{g.max_score:g}")
    print(f"reports in {args.out} (gradebook.csv, summary.txt, score_distribution.png, "
          "<student>/results.json)")
    return 0


def _cmd_gradescope(args) -> int:
    path = build_autograder_zip(Path(args.out))
    print(f"wrote {path}: upload it as the assignment's autograder")
    return 0


def register_cli(sub) -> None:
    p = sub.add_parser("grade", help="grade student notebooks (.ipynb) or .py files",
                       description="Grade each submission's graded functions with the visible and "
                       "hidden cases in sandboxed worker processes. Writes <out>/<student>/"
                       "results.json (Gradescope format), gradebook.csv, summary.txt/json and "
                       "score_distribution.png.")
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION_OR_FOLDER",
                   help="notebooks, .py files, or folders holding them")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the reports")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes (default: one per core)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="S",
                   help=f"seconds per test case (default {DEFAULT_TIME_LIMIT:g})")
    p.add_argument("--memory-limit", type=float, default=DEFAULT_MEMORY_LIMIT, metavar="MB",
                   help=f"resident memory per worker (default {DEFAULT_MEMORY_LIMIT})")
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("gradescope", help="build the Gradescope autograder zip",
                       description="Write the zip Gradescope expects: setup.sh, run_autograder "
                       "and source/ (facelab with its hidden cases; assets fetched at setup).")
    p.add_argument("--out", required=True, metavar="ZIP", help="path of the zip to write")
    p.set_defaults(func=_cmd_gradescope)
