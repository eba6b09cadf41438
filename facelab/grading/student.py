"""The student side: a fork server that forks one child per student and phase.

    python -m facelab.grading.student      (started by the pool as the slot's server user)

Who holds what:

* The server runs as the slot's server user (``facelab-server<k>``), keeping
  only CAP_SETUID, CAP_SETGID and CAP_SETPCAP, not dumpable. It imports numpy,
  TensorFlow and facelab's encoder once and holds the test pictures'
  encodings (the graded model's table), nothing else: it never receives a
  student's code, a case's arguments or an answer. For each child the grader
  sends it one byte and a socket (SCM_RIGHTS); it forks, closes its copy and
  watches the child (exit, memory, the grader's ``stop``). No TensorFlow
  operation runs in the server, so no thread pool exists when it forks.
* The child switches to the student user (``facelab-sandbox<k>``) and drops
  every capability before anything else, then reads its job (the pieces of
  code to run and the arguments of one phase's cases) from its own socket and
  answers there, straight to the grader: no other student's code or answers
  ever pass through the memory it inherits. A student process cannot signal,
  limit, renice, reschedule or ptrace the server (another uid).
* In user mode (no network namespace) the child also installs
  :func:`facelab.grading.seccomp.deny_sockets` before any student code: no
  socket can be made, so nothing can be sent away.
* When the child ends, or the grader says stop, the server kills every
  process of the student user (``kill(-1)`` from a helper that becomes the
  student user: a fork bomb cannot outrun it), reaps them all as the child
  subreaper and answers ``done``; the grader then empties, as root, what the
  student user left in the scratch and the shared folders.

Nothing here imports the modules holding secrets: the child gets no expected
value, no judge, no hidden case name; it answers with plain outcomes.
The ``model`` a student function receives is :class:`~facelab.grading.graded_model.GradedModel`:
it answers like the notebook's model, from the stored outputs of the test pictures
(the real model, loaded lazily, for any other input).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import select
import signal
import socket
import sys
import threading
import time

import numpy as np

from . import wire
from .graded_model import GradedModel
from ..errors import GradingError

MAX_STDOUT = 20_000
STOP, CHILD = b"x", b"s"   # the grader's one-byte requests on the control socket


# ------------------------------------------------------------------ the child

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


def read_job(fd: int) -> tuple[list, dict]:
    """The job on the child's own socket: a ``job`` frame (exercises: name, pieces, case
    indices), then one ``args`` frame per case. (exercises, {(name, i): (args, kwargs)})."""
    job = wire.recv(fd, wire.GRADER_FRAME)
    if not isinstance(job, dict) or job.get("t") != "job":
        raise wire.WireError("expected a job")
    args = {}
    for _ in range(sum(len(ex["cases"]) for ex in job["exercises"])):
        a = wire.recv(fd, wire.GRADER_FRAME)
        args[(a["ex"], a["i"])] = (a["args"], a["kwargs"])
    return job["exercises"], args


def run_child(fd: int, table: dict) -> None:
    """One student's phase, case by case; each answer is a frame on ``fd``."""
    from .._quiet import tf

    exercises, args = read_job(fd)
    model = GradedModel(table)
    for ex in exercises:
        name = ex["name"]
        fn, error, notes = _define(ex["pieces"], name)
        wire.send(fd, {"t": "defined", "ex": name, "error": error, "notes": notes[:5]})
        if fn is None:
            continue
        for i in ex["cases"]:
            a, k = args.pop((name, i))
            outcome = call(fn, wire.decode(a, tf.constant, model), wire.decode(k, tf.constant, model))
            wire.send(fd, {"t": "case", "ex": name, "i": i, "outcome": outcome})
    wire.send(fd, {"t": "end"})


_CAP_HEADER, _CAP_V3 = 0x20080522, 2


def become_student(student) -> None:
    """In the child, before any student code: the student user (no group but its own),
    then no capability in any set (permitted, effective, inheritable, ambient,
    bounding). Raises OSError when any of it does not hold."""
    if student is None:  # mode none: trusted submissions, nothing to switch
        return
    uid, gid = student
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(47, 4, 0, 0, 0)              # PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL
    for cap in range(64):
        libc.prctl(24, cap, 0, 0, 0)        # PR_CAPBSET_DROP (needs CAP_SETPCAP: still held)
    header = (ctypes.c_uint32 * 2)(_CAP_HEADER, 0)
    if libc.capset(header, (ctypes.c_uint32 * 6)()) != 0:
        raise GradingError(f"could not drop the student process's capabilities (capset: errno {ctypes.get_errno()})")
    with open("/proc/self/status") as f:
        caps = {k: v.strip() for k, v in (line.split(":", 1) for line in f if line.startswith("Cap"))}
    if any(int(v, 16) for v in caps.values()) or os.getresuid() != (uid, uid, uid):
        raise GradingError("the student process kept a capability or a uid: refusing to run student code")


def _fork_one(chan: int, ctl: int, table: dict, student, scratch: str, no_network: bool) -> int:
    """Fork the student's child on its own socket ``chan``; its pid. ``no_network``
    (user mode: no network namespace): the child installs the seccomp filter that
    refuses every new socket before any student code runs."""
    pid = os.fork()
    if pid == 0:  # the child: student user, no capability, own process group
        code = 1
        try:
            os.close(ctl)
            become_student(student)
            if no_network:
                from .seccomp import deny_sockets
                deny_sockets()  # raises: the child exits before any student code
            os.setpgid(0, 0)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(null)
            os.chdir(scratch)
            os.environ.update(HOME=scratch, TMPDIR=scratch, MPLCONFIGDIR=scratch)
            run_child(chan, table)
            code = 0
        finally:
            os._exit(code)
    return pid


# ------------------------------------------------------------------ the server

def _kill_student(student, child: int) -> None:
    """Kill every process of the student user: a helper becomes that user and runs
    ``kill(-1, SIGKILL)`` (every process it may signal but itself). Mode none: the
    child's process group."""
    if student is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGKILL)
        return
    helper = os.fork()
    if helper == 0:
        try:
            os.setgroups([])
            os.setresgid(student[1], student[1], student[1])
            os.setresuid(student[0], student[0], student[0])
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)


def _sweep(student, child: int, seconds: float = 30.0) -> bool:
    """Kill what a student's child left behind, again and again until we have no child
    left. As the child subreaper we inherit every orphan of the child, so "no child"
    means gone, and each one is reaped (a fork bomb's zombies would otherwise use up
    the process limit). True when nothing is left; False when children remain after
    ``seconds`` (the grader then replaces this server)."""
    if child > 0:  # fast path: the child has exited and nothing is left: every orphan of
        # the child is ours (the subreaper's), so no child of ours means no process left
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, os.WNOHANG)
        try:
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
    deadline = time.monotonic() + seconds
    last = 0.0
    while True:
        if time.monotonic() - last > 0.05:
            with contextlib.suppress(OSError):
                _kill_student(student, child)
            last = time.monotonic()
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


def _request(ctl: socket.socket) -> tuple[bytes, list]:
    """One request of the grader: (byte, fds); (b"", []) when the grader is gone."""
    try:
        msg, fds, _, _ = socket.recv_fds(ctl, 1, 4)
    except OSError:
        return b"", []
    return msg, fds


def _watch(child: int, ctl: socket.socket, memory_mb: float) -> str:
    """Wait until the child exits, the grader says stop (or goes) or the child passes
    the memory limit."""
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            return "exited" if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else "died"
        ready, _, _ = select.select([ctl], [], [], 0.02)
        if ready:
            msg, fds = _request(ctl)
            for fd in fds:
                os.close(fd)
            if not msg:
                return "grader gone"
            if msg == STOP:
                return "stopped"
        if memory_mb and _rss_mb(child) > memory_mb:
            return "memory"


def serve(ctl: socket.socket) -> None:
    """The server's loop: hello, then one child per request until the grader is gone."""
    from .. import model  # noqa: F401 - imported once, before any fork
    from ..checks import calling  # noqa: F401
    from .._quiet import tf  # noqa: F401

    cfd = ctl.fileno()
    setup = wire.recv(cfd, wire.GRADER_FRAME)
    table = {k: wire.decode(v) for k, v in setup["table"]}
    student = tuple(setup["student"]) if setup.get("student") else None
    memory_mb = float(setup.get("memory_mb") or 0)
    scratch = os.path.realpath(str(setup["scratch"]))
    no_network = bool(setup.get("no_network"))
    if no_network:
        from . import seccomp
        seccomp.available()  # builds the filter once, before any fork
    del setup
    if sys.path and sys.path[0] in ("", "."):
        sys.path.pop(0)  # never import from a student's working folder
    wire.send(cfd, {"t": "hello", "threads": len(os.listdir("/proc/self/task")),
                    "py_threads": threading.active_count()})
    while True:
        msg, fds = _request(ctl)
        if not msg:
            return
        if msg != CHILD or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            continue  # a late `stop` for a child that had already ended
        t0 = time.monotonic()
        try:
            child = _fork_one(fds[0], cfd, table, student, scratch, no_network)
        except OSError:  # no process left to fork (a limit): clean, then ask for a fresh server
            os.close(fds[0])
            _sweep(student, 0, 2.0)
            wire.send(cfd, {"t": "done", "why": "died", "seconds": 0, "clean": False})
            continue
        os.close(fds[0])
        why = _watch(child, ctl, memory_mb)
        clean = _sweep(student, child)
        wire.send(cfd, {"t": "done", "why": why, "seconds": round(time.monotonic() - t0, 3),
                        "clean": clean})
        if why == "grader gone":
            return


def main() -> None:
    ctl = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None)
        libc.prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE 0: no ptrace, no /proc/<pid>/mem
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of a child come to us, reaped
    serve(ctl)


if __name__ == "__main__":
    main()
