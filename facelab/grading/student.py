"""The student side: a fork server that runs each student's code in a child of its own.

    python -m facelab.grading.student      (started by the pool, inside the sandbox)

The server imports numpy, TensorFlow and facelab's encoder once, receives the
cases' arguments (plain data; the model is a marker) and the test pictures'
encodings, then, for each student, forks one child that runs that student's
exercises and exits. No TensorFlow operation runs in the server, so no
TensorFlow thread pool exists when it forks (``start()`` checks that the
process has a single thread). When a child ends, or the grader says
``stop``, the server kills every process the child left (``kill(-1)``: all
processes of its unprivileged user, or of its PID namespace, but itself)
before it answers ``done``, so nothing of one student outlives its grading.

Nothing here imports the modules holding secrets: the child gets no expected
value, no judge, no hidden case name; it answers with plain outcomes.
The ``model`` a student function receives is :class:`~facelab.grading.graded_model.GradedModel`:
it answers like the notebook's model, from the stored outputs of the test pictures
(the real model, loaded lazily, for any other input).
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import sys
import threading
import time

import numpy as np

from . import wire
from .graded_model import GradedModel
from ..errors import GradingError

MAX_STDOUT = 20_000


class TensorArg:
    """A tensor argument, kept as numpy in the server (no TF op before fork)."""

    def __init__(self, array: np.ndarray):
        self.array = array


# ------------------------------------------------------------------ the child

def _fresh(obj, model, tf):
    """A student's own copy of the arguments: tensors built here, arrays copied."""
    if isinstance(obj, TensorArg):
        return tf.constant(obj.array)
    if isinstance(obj, dict):
        return {k: _fresh(v, model, tf) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_fresh(v, model, tf) for v in obj)
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if obj is ModelMarker:
        return model
    return obj


def call(fn, args, kwargs) -> dict:
    """Call a student function with facelab's own :func:`facelab.checks.calling.call_case`;
    the Outcome as a JSON-able dict (an exit or interrupt is an error like any other)."""
    from types import SimpleNamespace

    from ..checks.calling import call_case

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            o = call_case(fn, SimpleNamespace(args=args, kwargs=kwargs), MAX_STDOUT)
        return {"value": wire.encode(o.value), "stdout": o.stdout, "error": o.error,
                "detail": o.detail, "unset": [str(u) for u in o.unset]}
    except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, a hostile repr
        what = "called sys.exit()" if isinstance(exc, SystemExit) else type(exc).__name__
        return {"value": ["v", None], "stdout": "", "error": f"{type(exc).__name__}: your function {what}"[:500],
                "detail": "", "unset": []}


def _define(pieces: list[dict], name: str):
    """Run the extracted pieces in a fresh namespace: (function or None, error, notes)."""
    from ..checks.calling import keep_source

    ns = {"__name__": "submission", "__builtins__": __builtins__}
    notes, error = [], None
    for k, piece in enumerate(pieces):
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                keep_source(f"<{piece['label']}>", piece["source"])  # the line in feedback
                exec(compile(piece["source"], f"<{piece['label']}>", "exec"), ns)  # noqa: S102
        except BaseException as exc:  # noqa: BLE001
            msg = f"{type(exc).__name__}: {exc}"[:300]
            if k == len(pieces) - 1:
                error = f"defining {name} raised {msg}"
            else:
                notes.append(f"{piece['label']} (needed by {name}) raised {msg}")
    fn = ns.get(name)
    if error is None and not callable(fn):
        error = f"{name} is not a function after running its cell"
    return (fn if error is None else None), error, notes


def run_child(job: dict, cases: dict, table: dict, wfd: int) -> None:
    """One student's exercises, case by case; each answer is a frame on ``wfd``."""
    from .._quiet import tf

    model = GradedModel(table)
    for ex in job["exercises"]:
        name = ex["name"]
        fn, error, notes = _define(ex["pieces"], name)
        wire.send(wfd, {"t": "defined", "ex": name, "error": error, "notes": notes[:5]})
        if fn is None:
            continue
        for i in ex["cases"]:
            args, kwargs = cases[name][i]
            outcome = call(fn, _fresh(args, model, tf), _fresh(kwargs, model, tf))
            wire.send(wfd, {"t": "case", "ex": name, "i": i, "outcome": outcome})
    wire.send(wfd, {"t": "end"})


# ------------------------------------------------------------------ the server

def _sweep(dedicated_user: bool, child: int, seconds: float = 30.0) -> bool:
    """Kill what a student's child left behind: every process we may signal but us
    (our user is the slot's own), again and again until we have no child left. As the
    child subreaper we inherit every orphan of the child, so "no child" means gone, and
    each one is reaped (a fork bomb's zombies would otherwise use up the process limit).
    True when nothing is left; False when children remain after ``seconds`` (the grader
    then replaces this server rather than run the next student beside them)."""
    if child > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGKILL)
    deadline = time.monotonic() + seconds
    while True:
        if dedicated_user:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(-1, signal.SIGKILL)
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


CHILD_FRAMES = ("defined", "case", "end")


class _Relay:
    """The child's own pipe, read here: only well-formed child frames reach the grader,
    so nothing a student writes can pass for this server's ``done`` or for the next
    student's answers."""

    def __init__(self, fd: int, wfd: int):
        self.reader, self.wfd, self.broken = wire.FrameReader(fd), wfd, False

    def pump(self) -> None:
        """Forward every complete frame waiting in the pipe (never blocks)."""
        while not self.broken:
            try:
                frame = self.reader.next(0.0)
            except (TimeoutError, EOFError):
                return
            except wire.WireError:
                self.broken = True
                return
            if isinstance(frame, dict) and frame.get("t") in CHILD_FRAMES:
                wire.send(self.wfd, frame)
            else:
                self.broken = True


def _watch(child: int, rfd: int, relay: _Relay, memory_mb: float) -> str:
    """Relay the child's frames until it exits, the grader says ``stop``, the child
    breaks the protocol or passes the memory limit."""
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            relay.pump()
            return "exited" if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else "died"
        ready, _, _ = select.select([rfd, relay.reader.fd], [], [], 0.02)
        if relay.reader.fd in ready:
            relay.pump()
            if relay.broken:
                return "garbage"
        if rfd in ready:
            try:
                msg = wire.recv(rfd)
            except (EOFError, wire.WireError):
                return "grader gone"
            if msg.get("t") == "stop":
                return "stopped"
        if memory_mb and _rss_mb(child) > memory_mb:
            return "memory"


def _fresh_workdir(base: str, dedicated_user: bool) -> str:
    """An empty ``work`` folder in the server's scratch (its cwd); the rest of the scratch
    and, for a user of our own, our files in the shared temporary folders are removed."""
    import shutil

    if not os.path.basename(base).startswith("facelab-slot"):
        raise GradingError(f"refusing to empty {base}: expected a grading slot's scratch folder")
    for entry in os.listdir(base):
        path = os.path.join(base, entry)
        with contextlib.suppress(OSError):
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
    for shared in (("/tmp", "/var/tmp", "/dev/shm") if dedicated_user else ()):
        with contextlib.suppress(OSError), os.scandir(shared) as it:
            for e in it:
                with contextlib.suppress(OSError):
                    if e.stat(follow_symlinks=False).st_uid == os.getuid() and \
                            not (base + "/").startswith(os.path.realpath(e.path) + "/"):
                        shutil.rmtree(e.path) if e.is_dir(follow_symlinks=False) else os.unlink(e.path)
    work = os.path.join(base, "work")
    os.mkdir(work, 0o700)
    return work


def _fork_one(job: dict, cases: dict, table: dict, keep: tuple, work: str) -> tuple[int, int]:
    """Fork the student's child; (its pid, the read end of its own answer pipe)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: own process group, no way to the grader's pipes
        code = 1
        try:
            os.setpgid(0, 0)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            for fd in (r, *keep):
                os.close(fd)
            os.chdir(work)
            os.environ.update(HOME=work, TMPDIR=work, MPLCONFIGDIR=work)
            run_child(job, cases, table, w)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def serve(rfd: int, wfd: int) -> None:
    """The server's loop: hello, then one child per ``student`` message until EOF."""
    from .. import model  # noqa: F401 - imported once, before any fork
    from ..checks import calling  # noqa: F401
    from .._quiet import tf  # noqa: F401

    setup = wire.recv(rfd)
    cases = {name: [(wire.decode(a, TensorArg, ModelMarker), wire.decode(k, TensorArg, ModelMarker))
                     for a, k in per] for name, per in setup["cases"].items()}
    table = {k: wire.decode(v) for k, v in setup["table"]}
    dedicated, memory_mb = bool(setup.get("dedicated_user")), float(setup.get("memory_mb") or 0)
    scratch = os.path.realpath(str(setup["scratch"]))
    del setup
    if sys.path and sys.path[0] in ("", "."):
        sys.path.pop(0)  # never import from a student's working folder
    wire.send(wfd, {"t": "hello", "threads": len(os.listdir("/proc/self/task")),
                    "py_threads": threading.active_count()})
    while True:
        try:
            job = wire.recv(rfd)
        except EOFError:
            return
        if not isinstance(job, dict) or job.get("t") != "student":
            continue  # a late `stop` for a child that had already ended
        t0 = time.monotonic()
        try:
            child, answers = _fork_one(job, cases, table, (rfd, wfd), _fresh_workdir(scratch, dedicated))
        except OSError:  # no process left to fork (a limit): clean, then ask for a fresh server
            _sweep(dedicated, 0, 2.0)
            wire.send(wfd, {"t": "done", "why": "died", "seconds": 0, "clean": False})
            continue
        relay = _Relay(answers, wfd)
        why = _watch(child, rfd, relay, memory_mb)
        clean = _sweep(dedicated, child)
        relay.pump()  # what the child wrote before it died, then nothing more
        os.close(answers)
        with contextlib.suppress(OSError):
            _fresh_workdir(scratch, dedicated)
        wire.send(wfd, {"t": "done", "why": why, "seconds": round(time.monotonic() - t0, 3),
                        "clean": clean})
        if why == "grader gone":
            return


class ModelMarker:
    """Where the model goes in a case's arguments (replaced by the stand-in in the child)."""


def main() -> None:
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    with contextlib.suppress(Exception):
        import ctypes
        libc = ctypes.CDLL(None)
        libc.prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE 0: no ptrace, no /proc/<pid>/mem from a child
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of a child come to us, reaped
    serve(rfd, wfd)


if __name__ == "__main__":
    main()
