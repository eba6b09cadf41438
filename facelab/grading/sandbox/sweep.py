"""Emptying what a student could write, as root, whatever the modes it set.

Between two students of a slot, and when a slot ends, the grader (root)
removes every file, folder, symlink, POSIX message queue and System V IPC
object the student uid owns (or created) in the folders student code may
write: /tmp, /var/tmp, /dev/shm, /dev/mqueue, /run/lock, /var/lock (those that
exist: namespaces mode looks into the slot's own view through
``/proc/<pid>/root`` and enters its IPC namespace with ``setns`` in a thread
of its own), and everything in the scratch folder. Root
ignores permission bits, so a folder made read-only (``chmod 500``) or
unsearchable (``chmod 000``) is removed like any other. Below the top of each
folder it looks into world-writable folders only (the only places a student
can create something in a folder it does not own). Processes are not
touched here: the fork server has killed the student's (``kill(-1)`` as the
student uid) before it answers, and the grader checks none is left.

POSIX message queues cannot be listed where /dev/mqueue is not mounted (user
mode): student code gets RLIMIT_MSGQUEUE 0, so it cannot make one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import time

SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock", "/var/lock")
IPC = (("shm", "-m"), ("sem", "-s"), ("msg", "-q"))
DEPTH = 6


def _remove(path: str) -> None:
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _owned(folder: str, uid: int, depth: int, found: list) -> None:
    """Collect what ``uid`` owns in ``folder``, looking into world-writable folders."""
    with contextlib.suppress(OSError), os.scandir(folder) as it:
        for e in it:
            with contextlib.suppress(OSError):
                st = e.stat(follow_symlinks=False)
                if st.st_uid == uid:
                    found.append(e.path)
                elif stat.S_ISDIR(st.st_mode) and st.st_mode & 0o002 and depth < DEPTH:
                    _owned(e.path, uid, depth + 1, found)


def empty(uid: int, scratch: str | None, folders=SHARED_WRITABLE, root: str = "") -> list:
    """Remove what ``uid`` owns in ``folders`` and everything inside ``scratch`` (kept
    itself), all seen below ``root`` (namespaces mode: ``/proc/<pid>/root``, the slot's
    filesystem view; a folder that is a symlink there is skipped, its target is listed
    too). Returns the paths that could not be removed (empty: all gone)."""
    targets: list = []
    seen = set()
    for f in folders:
        real = root + f if root else os.path.realpath(f)
        if real in seen or os.path.islink(real) or not os.path.isdir(real):
            continue
        seen.add(real)
        _owned(real, uid, 0, targets)
    scratch = root + scratch if scratch and root else scratch
    if scratch and os.path.isdir(scratch):
        with contextlib.suppress(OSError):
            targets += [os.path.join(scratch, n) for n in os.listdir(scratch)]
    left = []
    for path in targets:
        try:
            _remove(path)
        except FileNotFoundError:
            pass
        except OSError:
            left.append(path)
    return left


def ipc_objects(uid: int) -> list:
    """``[(ipcrm flag, id)]`` of the System V IPC objects ``uid`` owns or created."""
    found = []
    for kind, flag in IPC:
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                rows = f.read().split("\n")
        except OSError:
            continue
        head = rows[0].split()
        for row in rows[1:]:
            cols = row.split()
            if len(cols) == len(head) and str(uid) in (cols[head.index("uid")], cols[head.index("cuid")]):
                found.append((flag, cols[1]))
    return found


def _rmid(flag: str, ident: str) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    i = int(ident)
    if flag == "-m":
        libc.shmctl(i, 0, None)    # IPC_RMID
    elif flag == "-s":
        libc.semctl(i, 0, 0)
    else:
        libc.msgctl(i, 0, None)


def remove_ipc(uid: int, ipcrm: str | None = None, pid: int | None = None) -> list:
    """Remove ``uid``'s System V IPC objects (root: whatever their modes); those left
    over. ``pid``: in the IPC namespace of that process (entered by a thread of ours
    for the purpose, with ``setns``; namespaces mode)."""
    if pid is None:
        for flag, ident in ipc_objects(uid):
            _rmid(flag, ident)
        return [f"ipc {flag} {ident}" for flag, ident in ipc_objects(uid)]
    import ctypes
    import threading

    out: list = []

    def inside() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/ipc", os.O_RDONLY)
        except OSError as exc:
            out.append(f"ipc namespace of {pid}: {exc.strerror}")
            return
        try:
            if ctypes.CDLL(None, use_errno=True).setns(fd, 0x08000000) != 0:  # CLONE_NEWIPC
                out.append("ipc namespace: setns refused")
                return
        finally:
            os.close(fd)
        out.extend(remove_ipc(uid))

    t = threading.Thread(target=inside)  # the thread's namespace changes, then it ends
    t.start()
    t.join()
    return out


def pids_of(uid: int, zombies: bool = False) -> list:
    """Processes whose real uid is ``uid``, zombies only if asked: ``[(pid, name)]``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as f:
                text = f.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        dead = fields.get("State", "").strip().startswith("Z")
        if fields.get("Uid", "").split()[:1] == [str(uid)] and (zombies or not dead):
            found.append((int(entry.name), fields.get("Name", "?").strip()))
    return found


def kill_user(as_user: list, kill: str, uid: int) -> list:
    """Kill every process of ``uid``: ``kill -KILL -1`` run as that user (``as_user``:
    the setpriv prefix), atomic against a fork bomb. ``["pid name"]`` of the victims."""
    victims = pids_of(uid)
    for _ in range(100):
        if not pids_of(uid):
            break
        subprocess.run([*as_user, kill, "-KILL", "-1"], capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=20)
        time.sleep(0.01)
    return [f"{pid} {name}" for pid, name in victims]


def await_reaped(uid: int, seconds: float = 20) -> None:
    """Zombies still count against RLIMIT_NPROC: wait until their parent (or init) has
    reaped every process of ``uid``."""
    deadline = time.monotonic() + seconds
    while pids_of(uid, zombies=True) and time.monotonic() < deadline:
        time.sleep(0.02)
