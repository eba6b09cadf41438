"""Starting a process inside the boundary, sweeping between students, ending it.

:func:`launch` runs a command as a slot's unprivileged user: every capability
dropped (bounding, inheritable and ambient sets), ``no_new_privs`` (setuid
binaries gain nothing), no supplementary group, no core dumps, at most
``nproc`` processes and ``fsize_mb`` per file, in its own session, in a
scratch folder, with only the environment and file descriptors given;
namespaces mode inside the view of :mod:`.view`. With ``server=True`` it runs
as the slot's server user instead, keeping exactly CAP_SETUID, CAP_SETGID and
CAP_SETPCAP (ambient, so they survive ``exec``): enough for the fork server
to switch each student's child to the student user and drop every
capability there, and nothing else (no CAP_KILL, no CAP_DAC_OVERRIDE).

:func:`between` is the grader's (root's) sweep after a student's child has
ended: no process of the student user may be left, and :mod:`.sweep` empties
the scratch and the shared writable folders (in namespaces mode inside the
slot's own view through /proc/<pid>/root and its IPC namespace). :func:`end`
kills both users' processes and sweeps the same way, then removes the scratch and the view.
Mechanism: util-linux ``setpriv``, ``prlimit``, ``unshare``, ``mount`` and
``pivot_root``, present on every Debian/Ubuntu image.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

from ...errors import GradingError
from . import sweep
from .probe import Boundary
from .view import view_script

#: what the fork server keeps: switching a child to the student user, then dropping all
SERVER_CAPS = ("setuid", "setgid", "setpcap")


@dataclass
class _Slot:
    slot: int
    uid: int | None             # the student user (owns the scratch)
    gid: int | None
    scratch: str
    root: str | None = None     # namespaces mode: the host folder the view is mounted on
    cgroup: str | None = None
    server: tuple | None = None  # (uid, gid) of the server user when launched as the server


def _limits(b: Boundary, nproc: int, fsize_mb: int) -> list:
    # msgqueue 0: no POSIX message queue (user mode could not list them to sweep them)
    return [b.tools["prlimit"], f"--nproc={nproc}", "--core=0", f"--fsize={fsize_mb * 2**20}",
            "--nofile=1024", "--msgqueue=0", "--"]


def _drop(b: Boundary, uid: int, gid: int, keep=()) -> list:
    caps = ",".join(["-all", *(f"+{c}" for c in keep)])
    return [b.tools["setpriv"], f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
            f"--inh-caps={caps}", f"--ambient-caps={caps}", f"--bounding-set={caps}", "--no-new-privs", "--"]


def _kill(b: Boundary, uid: int, gid: int) -> list:
    return sweep.kill_user(_drop(b, uid, gid), b.tools["kill"], uid)


def launch(argv, *, boundary: Boundary, scratch, readable=(), env=None, slot: int = 0,
           memory_mb: float | None = None, pass_fds=(), nproc: int = 256, fsize_mb: int = 1024,
           tmp_mb: int = 256, scratch_mb: int | None = 1024, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
           stderr=subprocess.DEVNULL, server: bool = False) -> subprocess.Popen:
    """Start ``argv`` inside the boundary, in ``scratch`` (created, owned by the slot's
    user, mode 0700; removed by :func:`end`). The environment is exactly ``env`` plus
    HOME, TMPDIR (the scratch) and PATH when absent: nothing of the grader's. No file
    descriptor is inherited but the pipes and ``pass_fds``. ``memory_mb`` is enforced
    by a cgroup when ``boundary.memory``; otherwise the caller polls. One process per
    slot at a time: leftovers of the slot's users are killed first. ``server``: run as
    the slot's server user with :data:`SERVER_CAPS` (the scratch still belongs to the
    student user). The returned Popen carries ``.sandbox``; always pass it to
    :func:`end`. Mode ``none``: the process runs unconfined (trusted submissions only)."""
    scratch = os.path.realpath(scratch)
    os.makedirs(scratch, exist_ok=True)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", **(env or {})}
    env.setdefault("HOME", scratch)
    env.setdefault("TMPDIR", scratch)
    if boundary.mode == "none":
        proc = subprocess.Popen(argv, cwd=scratch, env=env, stdin=stdin, stdout=stdout,
                                stderr=stderr, pass_fds=pass_fds, start_new_session=True)
        proc.sandbox = _Slot(slot, None, None, scratch)
        return proc
    if not 0 <= slot < len(boundary.users):
        raise GradingError(f"sandbox slot {slot} does not exist (probe made {len(boundary.users)})")
    name, uid, gid = boundary.users[slot]
    s = _Slot(slot, uid, gid, scratch, server=boundary.servers[slot][1:] if server else None)
    for u, g in {(uid, gid), tuple(boundary.servers[slot][1:])}:
        _kill(boundary, u, g)
        sweep.await_reaped(u)
    if boundary.mode == "user":
        sweep.empty(uid, None)
        sweep.remove_ipc(uid)
    os.chown(scratch, uid, gid)
    os.chmod(scratch, 0o700)
    who = (*s.server, SERVER_CAPS) if server else (uid, gid)
    run = _limits(boundary, nproc, fsize_mb) + _drop(boundary, *who)
    pre = []
    if boundary.memory:
        s.cgroup = os.path.join(boundary.memory, name)
        os.makedirs(s.cgroup, exist_ok=True)
        _set_memory(s.cgroup, memory_mb)
        pre.append(f"echo $$ > {shlex.quote(s.cgroup)}/cgroup.procs")
    if boundary.mode == "namespaces":
        s.root = tempfile.mkdtemp(prefix="facelab-view-")
        inner = "\n".join(view_script(boundary, s, readable, tmp_mb, scratch_mb)
                          + [" ".join(map(shlex.quote, run)) + ' "$@"'])
        unshare = [boundary.tools["unshare"], "--pid", "--fork", "--kill-child", "--mount",
                   "--net", "--ipc", "--uts", "--propagation", "private", "/bin/sh", "-c", inner, "sh"]
        script = "\n".join(pre + ["exec " + " ".join(map(shlex.quote, unshare)) + ' "$@"'])
    else:
        script = "\n".join(pre + ["exec " + " ".join(map(shlex.quote, run)) + ' "$@"'])
    proc = subprocess.Popen(["/bin/sh", "-c", script, "sh", *argv], cwd=scratch, env=env,
                            stdin=stdin, stdout=stdout, stderr=stderr, pass_fds=pass_fds,
                            close_fds=True, start_new_session=True)
    proc.sandbox = s
    return proc


def _set_memory(cgroup: str, memory_mb: float | None) -> None:
    limit = str(int(memory_mb * 2**20)) if memory_mb else "max"
    v1 = os.path.exists(os.path.join(cgroup, "memory.limit_in_bytes"))
    files = ["memory.limit_in_bytes"] if v1 else ["memory.max", "memory.swap.max"]
    for f in files:
        with contextlib.suppress(OSError), open(os.path.join(cgroup, f), "w") as fh:
            fh.write("-1" if v1 and limit == "max" else limit)


def between(proc: subprocess.Popen, boundary: Boundary) -> list:
    """After a student's child has ended in a launched server: kill whatever of the
    student user is left, then (as root) empty the scratch and remove what the
    student user owns in the shared writable folders and its IPC objects. Returns
    what could not be removed or killed (empty: the next student starts clean)."""
    s = proc.sandbox
    if s.uid is None:
        return []
    left = [f"process {p}" for p in _kill(boundary, s.uid, s.gid)]
    if boundary.mode == "namespaces":
        if proc.poll() is not None:
            return left + ["the namespace is gone"]
        root = f"/proc/{proc.pid}/root"   # the slot's own view, as root sees it
        left += sweep.empty(s.uid, os.path.realpath(s.scratch), root=root)
        left += sweep.remove_ipc(s.uid, pid=proc.pid)
        if proc.poll() is not None:  # the pid could have been reused meanwhile: say so
            left.append("the namespace ended during the sweep")
    else:
        left += sweep.empty(s.uid, s.scratch) + sweep.remove_ipc(s.uid)
    return left


def end(proc: subprocess.Popen, boundary: Boundary) -> list:
    """Kill ``proc`` and every process of its slot's users, wait for it, remove the
    scratch, the view folder and the student user's files in the shared writable
    folders and its IPC objects. Returns ``["pid name", ...]`` of the processes that
    were still alive. Its stdin is closed; what is left on stdout/stderr stays
    readable (to EOF) for the caller."""
    s = proc.sandbox
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the wrapper (and unshare: its namespace dies)
    killed = []
    if s.uid is not None:
        killed = _kill(boundary, s.uid, s.gid)
        if s.server:
            killed += _kill(boundary, *s.server)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    if s.uid is not None:
        sweep.await_reaped(s.uid)
        if s.server:
            sweep.await_reaped(s.server[0])
        for u in {s.uid, *(s.server or ())[:1]} if boundary.mode == "user" else ():
            sweep.empty(u, None)
            sweep.remove_ipc(u)
    with contextlib.suppress(Exception):
        proc.stdin and proc.stdin.close()
    shutil.rmtree(s.scratch, ignore_errors=True)
    for _ in range(100 if s.root else 0):  # busy until the namespace's mounts are gone
        try:
            os.rmdir(s.root)
            break
        except FileNotFoundError:
            break
        except OSError:
            time.sleep(0.01)
    if s.cgroup:
        with contextlib.suppress(OSError):
            os.rmdir(s.cgroup)
    return killed
