"""Probing the machine and claiming the sandbox's users.

Each grading slot gets two unprivileged system accounts (created with
``useradd --system`` if missing, own group, no home, no login shell):
``facelab-sandbox<k>``, the uid student code runs as, and
``facelab-server<k>``, the uid of that slot's fork server. Different uids: a
student's process cannot signal, ``prlimit``, renice, reschedule, ptrace or
write /proc files of the server that forks the next student. Both are
claimed together with an flock held while the grader lives, so two graders
on one machine never share a user.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field

from ...errors import GradingError

MODES = ("auto", "namespaces", "user")
USER_PREFIX = "facelab-sandbox"
#: where graders claim slots (one flock per slot): a fixed folder, never the (per-run) tempdir
LOCK_DIR = "/run/facelab-sandbox" if os.path.isdir("/run") else "/var/tmp/facelab-sandbox"
SERVER_PREFIX = "facelab-server"
TOOLS = ("setpriv", "prlimit", "unshare", "mount", "umount", "pivot_root", "kill")


@dataclass
class Boundary:
    """What :func:`probe` found: ``mode`` is "namespaces", "user" or "none"."""

    mode: str
    reason: str = ""
    users: list = field(default_factory=list)      # (name, uid, gid) per slot: student code
    servers: list = field(default_factory=list)    # (name, uid, gid) per slot: the fork server
    tools: dict = field(default_factory=dict)      # name -> absolute path
    memory: str | None = None                      # cgroup folder of the memory controller
    secrets: list = field(default_factory=list)    # set by protect(): masked in namespaces mode
    locks: list = field(default_factory=list, repr=False)  # flock fds: these users are ours

    def describe(self) -> str:
        """The one line the grader prints at start-up."""
        if self.mode == "none":
            return (f"sandbox: NONE ({self.reason}); student code would run as the grader's own "
                    "user: untrusted work is refused unless --trusted-submissions")
        who = ", ".join(f"{n} (uid {u})" for n, u, _ in self.users)
        servers = ", ".join(f"{n} (uid {u})" for n, u, _ in self.servers)
        mem = "cgroup memory limit" if self.memory else "memory polled by the grader"
        if self.mode == "namespaces":
            return (f"sandbox: namespaces (pid, mount, net, ipc, uts; own filesystem view) as {who}, "
                    f"servers as {servers}, no capabilities, no_new_privs; {mem}")
        return (f"sandbox: user mode ({self.reason}) as {who}, servers as {servers}, no capabilities, "
                f"no_new_privs; secrets unreadable by file permissions; NO network isolation; {mem}")


def _run(argv, timeout=20, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


def ensure_users(slots: int) -> list:
    """``[(name, uid, gid)]`` of the sandbox users ``facelab-sandbox0..slots-1`` (and,
    created alongside, their servers' ``facelab-server0..slots-1``), created (system
    accounts, own group, no home, no login shell) when missing; needs root for that.
    Gradescope's setup.sh runs ``python -m facelab.grading.sandbox create-users N``."""
    for k in range(slots):
        _user(k, SERVER_PREFIX)
    return [_user(k) for k in range(slots)]


def _user(k: int, prefix: str = USER_PREFIX) -> tuple:
    name = f"{prefix}{k}"
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        if os.geteuid() != 0 or not os.path.exists(useradd):
            raise GradingError(f"the sandbox user {name} does not exist and cannot be created "
                               "here (expected root and useradd)") from None
        r = _run([useradd, "--system", "--user-group", "--no-create-home", "--home-dir",
                  "/nonexistent", "--shell", "/usr/sbin/nologin", name])
        try:
            pw = pwd.getpwnam(name)  # also when another grader created it meanwhile
        except KeyError:
            raise GradingError(f"could not create the sandbox user {name}: "
                               f"{r.stderr.strip()[:200]}") from None
    if pw.pw_uid == 0 or pw.pw_gid == 0:
        raise GradingError(f"the sandbox user {name} must not be root (uid {pw.pw_uid})")
    return name, pw.pw_uid, pw.pw_gid


def _claim_users(slots: int) -> tuple:
    """(student users, server users, lock files): the first ``slots`` slots no other
    grader on this machine holds (an flock each, held while this process lives),
    created if needed. Two graders sharing a user would kill each other's processes."""
    folder = LOCK_DIR
    os.makedirs(folder, mode=0o700, exist_ok=True)
    users, servers, locks = [], [], []
    for k in range(slots + 64):
        if len(users) == slots:
            break
        fd = os.open(os.path.join(folder, f"{USER_PREFIX}{k}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        users.append(_user(k))
        servers.append(_user(k, SERVER_PREFIX))
        locks.append(fd)
    if len(users) < slots:
        raise GradingError(f"only {len(users)} of {slots} sandbox users are free on this machine")
    return users, servers, locks


def _memory_cgroup() -> str | None:
    """The writable cgroup folder of the memory controller (v1 or v2), or None."""
    for base, v2 in (("/sys/fs/cgroup/memory", False), ("/sys/fs/cgroup", True)):
        if v2 and "memory" not in _read_text("/sys/fs/cgroup/cgroup.controllers"):
            continue
        if not os.path.isdir(base):
            continue
        test = os.path.join(base, f"{USER_PREFIX}-probe-{os.getpid()}")
        try:
            os.mkdir(test)
            os.rmdir(test)
            return base
        except OSError:
            continue
    return None


def probe(mode: str = "auto", slots: int = 1) -> Boundary:
    """What the machine allows. ``auto``: namespaces if they work, else ``user``, else
    ``none``. Asking for ``namespaces`` or ``user`` where it cannot hold raises
    GradingError naming what is missing; ``auto`` returns mode ``none`` instead."""
    if mode not in MODES:
        raise GradingError(f"--sandbox must be one of {', '.join(MODES)}, got {mode!r}")
    tools = {t: shutil.which(t) or shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin")
             for t in TOOLS}

    def refuse(reason: str) -> Boundary:
        if mode != "auto":
            raise GradingError(f"cannot build the '{mode}' sandbox: {reason}")
        return Boundary("none", reason)

    if os.geteuid() != 0:
        return refuse("not running as root, so student code cannot get a user of its own")
    missing = [t for t in ("setpriv", "prlimit", "kill") if not tools[t]]
    if missing:
        return refuse(f"util-linux/procps tools missing: {', '.join(missing)}")
    try:
        users, servers, locks = _claim_users(slots)
    except (GradingError, OSError) as exc:
        return refuse(str(exc))
    b = Boundary("user", users=users, servers=servers, tools=tools, memory=_memory_cgroup(), locks=locks)
    ns_tools = all(tools[t] for t in ("unshare", "mount", "umount", "pivot_root"))
    if mode in ("auto", "namespaces") and ns_tools:
        r = _run([tools["unshare"], "--pid", "--fork", "--mount", "--net", "--ipc", "--uts",
                  "--propagation", "private", "true"])
        if r.returncode == 0:
            b.mode = "namespaces"
            return b
        b.reason = f"namespaces refused: {r.stderr.strip()[:120] or 'unshare failed'}"
    else:
        b.reason = "namespaces not asked for" if mode == "user" else "namespace tools missing"
    if mode == "namespaces":
        raise GradingError(f"cannot build the 'namespaces' sandbox: {b.reason}")
    return b



def _read_text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
