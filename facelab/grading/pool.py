"""The pool: one sandboxed fork server per slot, students fed to the slots in name order.

Each slot is a :mod:`facelab.grading.student` server started with
:func:`facelab.grading.sandbox.launch` as that slot's server user, on a
control socket that carries only the server's setup (the pictures'
encodings), one-byte requests and its ``hello``/``done`` answers. For each
child (a student's visible cases, then its hidden cases) the grader makes a
socket pair, passes one end to the server (SCM_RIGHTS), which forks a child
on it, and talks to that child directly on the other end: code and case
arguments go out, answers come back, nothing passes through the server.
After each child the grader empties, as root, what the student user left
(:func:`facelab.grading.sandbox.between`) before the slot's next child. The
grader judges each outcome against the expected values it holds (they never
leave this process). Limits:
``case_seconds`` per case, ``budget`` seconds per student (then the remaining
cases score 0 and the results are written), memory per child. A server that
stops answering, dies or sends anything but the protocol is ended (every
process of its user killed) and started afresh; the student loses only the
cases that did not run.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from .. import checks
from ..errors import GradingError
from . import sandbox, wire

DEFAULT_CASE_SECONDS = 30.0
DEFAULT_BUDGET = 240.0       # seconds per student: fits Gradescope's default 10-minute limit
DEFAULT_MEMORY_MB = 1500.0   # per student child (resident)
START_SECONDS = 600.0
STUDENT_ARGV = [sys.executable, "-I", "-c", "from facelab.grading.student import main; main()"]


@dataclass
class Limits:
    case_seconds: float = DEFAULT_CASE_SECONDS
    budget: float = DEFAULT_BUDGET
    memory_mb: float = DEFAULT_MEMORY_MB


@dataclass
class Context:
    """What every slot shares: the boundary, the server's setup, cases and expected values."""

    boundary: sandbox.Boundary
    setup: dict                       # sent to each server once (the pictures' encodings, limits)
    cases: dict                       # exercise -> [checks.Case] (hidden included)
    expected: dict                    # exercise -> [expected value]
    limits: Limits = field(default_factory=Limits)
    args: dict = field(default_factory=dict)  # exercise -> [[args, kwargs] wire-encoded] per case
    frames: dict = field(default_factory=dict, repr=False)  # (exercise, i) -> the args frame's bytes
    readable: tuple = ()
    env: dict = field(default_factory=dict)
    hidden: dict = field(default_factory=dict)  # (exercise, case name) -> secret tokens
    restarts: int = 0


class SlotDied(Exception):
    """The server of a slot is gone or broke the protocol; it has been ended."""


class Slot:
    """One fork server in the sandbox; restarted on demand."""

    def __init__(self, index: int, ctx: Context):
        self.index, self.ctx = index, ctx
        self.proc = None
        self.reader: wire.FrameReader | None = None

    def ensure(self, attempts: int = 3) -> None:
        """Start the server if it is not running (a failed start is retried)."""
        for k in range(attempts):
            if self.proc is not None:
                return
            try:
                self._start()
            except SlotDied:
                if k == attempts - 1:
                    raise SlotDied("the grading process could not start (see the instructor's log)") from None

    def _start(self) -> None:
        import tempfile

        # a root-owned parent (search-only for others): sweeps of the shared /tmp by a
        # sandbox user's files never reach the scratch folder inside it
        parent = tempfile.mkdtemp(prefix="facelab-grading-")
        os.chmod(parent, 0o711)
        scratch = os.path.join(parent, f"facelab-slot{self.index}")
        self.parent = parent
        ctl, theirs = socket.socketpair()
        try:
            self.proc = sandbox.launch(STUDENT_ARGV, boundary=self.ctx.boundary, scratch=scratch,
                                       readable=self.ctx.readable, env=self.ctx.env, slot=self.index,
                                       memory_mb=self.ctx.limits.memory_mb + 1024, server=True,
                                       stdin=theirs.fileno(), stdout=subprocess.DEVNULL, stderr=_debug_log())
        except (OSError, GradingError) as exc:
            ctl.close()
            raise SlotDied(f"the grading process could not start ({exc})") from None
        finally:
            theirs.close()
        self.ctl = ctl
        self.reader = wire.FrameReader(ctl.fileno())
        self.scratch = os.path.realpath(scratch)
        users = self.ctx.boundary.users
        student = list(users[self.index][1:]) if self.ctx.boundary.mode != "none" else None
        self.send(dict(self.ctx.setup, scratch=self.scratch, student=student,
                       no_network=self.ctx.boundary.mode == "user"))
        hello = self.next(time.monotonic() + START_SECONDS, "starting the grading process")
        if hello.get("t") != "hello":
            self.stop(failed=True)
            raise SlotDied("the grading process did not start")

    def send(self, msg) -> None:
        try:
            wire.send(self.ctl.fileno(), msg)
        except OSError:
            self.stop(failed=True)
            raise SlotDied("the process running your code stopped") from None

    def child(self) -> socket.socket:
        """A new child of the server on a socket of its own: the grader's end."""
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self.ctl, [b"s"], [theirs.fileno()])
        except OSError:
            ours.close()
            self.stop(failed=True)
            raise SlotDied("the grading process stopped") from None
        finally:
            theirs.close()
        return ours

    def next(self, deadline: float, what: str, poll=None) -> dict:
        """The server's next frame, or TimeoutError; SlotDied (slot ended) if it broke."""
        try:
            frame = self.reader.next(deadline, poll)
        except EOFError:
            self.stop(failed=True)
            raise SlotDied(f"the process running your code stopped ({what}): did it call os._exit(), "
                           "kill its parent or crash the interpreter?") from None
        except wire.WireError:
            self.stop(failed=True)
            raise SlotDied(f"the grading process sent garbage ({what})") from None
        if not isinstance(frame, dict):
            self.stop(failed=True)
            raise SlotDied(f"the grading process sent garbage ({what})")
        return frame

    def done(self, seconds: float = 60) -> dict:
        """The server's ``done`` for the current child, then the root sweep of what the
        student user left; a slot that cannot be swept clean is ended (restarted on
        the next ``ensure``). The ``done`` frame (``why``, ``clean``)."""
        deadline = time.monotonic() + seconds
        try:
            while (frame := self.next(deadline, "ending your code's process")).get("t") != "done":
                pass
        except TimeoutError:
            self.stop(failed=True)
            return {"t": "done", "why": "died", "clean": False}
        left = sandbox.between(self.proc, self.ctx.boundary) if self.proc is not None else []
        if left or frame.get("clean") is False:
            self.stop(failed=True)
        return frame

    def interrupt(self) -> dict:
        """Ask the server to kill the running child; end the slot if it does not answer."""
        try:
            self.ctl.send(b"x")
            return self.done(15)
        except (SlotDied, OSError, AttributeError):
            self.stop(failed=True)
            return {"t": "done", "why": "stopped", "clean": False}

    def stop(self, failed: bool = False) -> None:
        """End the server and every process of the slot's users (``failed``: count a restart)."""
        if self.proc is not None:
            sandbox.end(self.proc, self.ctx.boundary)
            self.proc = None
            self.ctx.restarts += failed
            with contextlib.suppress(OSError):
                self.ctl.close()
            with contextlib.suppress(OSError):
                os.rmdir(self.parent)


def _debug_log():
    """Where the student side's stderr goes: $FACELAB_GRADING_LOG (appended) or nowhere."""
    import subprocess

    path = os.environ.get("FACELAB_GRADING_LOG")
    return open(path, "a") if path else subprocess.DEVNULL


def run_pool(jobs: list, ctx: Context, n_slots: int, grade_one, progress=None) -> list:
    """``grade_one(slot, job)`` for every job on ``n_slots`` slots; results in job order.
    A failure of the grader on one job is that job's result (``grade_one`` handles it)."""
    todo: queue.Queue = queue.Queue()
    for k, job in enumerate(jobs):
        todo.put((k, job))
    out: list = [None] * len(jobs)
    lock = threading.Lock()

    def work(slot: Slot) -> None:
        try:
            while True:
                try:
                    k, job = todo.get_nowait()
                except queue.Empty:
                    return
                out[k] = grade_one(slot, job)
                with lock:
                    if progress:
                        progress(sum(o is not None for o in out), len(out))
        finally:
            slot.stop()

    slots = [Slot(i, ctx) for i in range(max(1, min(n_slots, len(jobs))))]
    threads = [threading.Thread(target=work, args=(s,), daemon=True) for s in slots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    missing = [k for k, o in enumerate(out) if o is None]
    if missing:  # a slot thread died: grade what is left on a fresh slot, one by one
        slot = Slot(len(slots) - 1, ctx)
        try:
            for k in missing:
                out[k] = grade_one(slot, jobs[k])
        finally:
            slot.stop()
    return out


def check_ready(ctx: Context, trusted: bool) -> None:
    """Refuse untrusted work when the machine gives no boundary."""
    if ctx.boundary.mode == "none" and not trusted:
        raise GradingError(f"{ctx.boundary.describe()}; refusing to grade (pass "
                           "--trusted-submissions to grade work you trust without a sandbox)")
    if ctx.boundary.mode == "user" and not trusted:
        from . import seccomp
        why = seccomp.unavailable_reason()
        if why:
            raise GradingError(f"user mode gives student code no network namespace and the seccomp "
                               f"filter that closes the network cannot work here ({why}); refusing to "
                               "grade (pass --trusted-submissions to grade work you trust)")
    if not checks.exercises():
        raise GradingError("no graded exercise is defined")
