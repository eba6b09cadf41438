"""The operating-system boundary around student code.

Student code runs as a sandbox user (``facelab-sandbox<k>``, one per grading
slot, created with ``useradd --system`` if missing: see
:func:`ensure_users`, ``python -m facelab.grading.sandbox create-users N``)
that owns nothing, in no supplementary group, with every capability dropped
(bounding, inheritable and ambient sets), ``no_new_privs`` (setuid binaries
gain nothing), no core dumps, at most ``nproc`` processes and ``fsize_mb``
per file, in its own session. Mechanism: util-linux ``setpriv``, ``prlimit``,
``unshare``, ``mount`` and ``pivot_root``, present on every Debian/Ubuntu
(Gradescope's images included), so nothing needs installing; bubblewrap would
do the same but is not installed by default, and system calls through ctypes
would be home-made.

Two modes (:func:`probe` picks the strongest the machine allows):

* ``namespaces`` (root with CAP_SYS_ADMIN, e.g. CI or a lab machine): new
  pid, mount, network, IPC and UTS namespaces. The filesystem view is a fresh
  read-only tmpfs holding only the system (/usr, /etc, /bin, /lib...), the
  Python installation, the facelab package and the ``readable`` paths (all
  read-only, nosuid); secrets inside them (``boundary.secrets``, set by
  :func:`protect`) are covered by a mode-000 file or tmpfs. The scratch, /tmp
  and /dev/shm are private size-limited tmpfs; /dev holds null, zero, full,
  random, urandom; /proc is the namespace's own. No network interface but a
  down loopback (so no abstract unix socket of the host either). The
  namespace's init is a root shell; when the main process ends, or ``end``
  kills ``unshare``, the kernel kills every process left in the namespace.
* ``user`` (root without CAP_SYS_ADMIN, as in Gradescope's Docker containers,
  or ``--sandbox user``): the same user, capabilities and limits, but the
  whole machine is visible, so secrets are made unreadable by permissions:
  :func:`protect` clears the "other" permission bits of each secret path
  (the sandbox user is neither owner nor in the group: owners and root keep
  their access, git ignores these bits) and gives "other" search permission
  on the folders leading to what student code must read; ``restore()`` puts
  every mode back. :func:`check_protected` proves it by reading each path
  as the sandbox user. ``end`` kills every process of the slot's user, then
  removes its files from /tmp, /var/tmp, /dev/shm, /dev/mqueue and its System
  V IPC objects.

Guaranteed, as root, in both modes: student code cannot read a protected
path (the grader refuses to grade when :func:`check_protected` finds one
readable), cannot write anywhere but its scratch, /tmp and /dev/shm, cannot
signal, ptrace or open /proc/<pid>/{mem,environ,root,fd,ns} of the grader or
of another slot (another uid), cannot gain privileges (no capabilities,
no_new_privs, setuid bits ignored), gets only the environment and file
descriptors ``launch`` passes, and nothing it starts outlives ``end``
(kill(-1) as the slot's user, which a fork bomb cannot outrun; RLIMIT_NPROC
bounds the bomb). Namespaces mode also: no network, no other file of the
machine visible, no disk filled (tmpfs), memory bounded by a cgroup where
/sys/fs/cgroup is writable. Not guaranteed: in user mode, the network, disk
space (only each file is capped at ``fsize_mb``) and secrets the grader does
not know of (another world-readable checkout: keep it in a 0700 folder); in
both modes, anything between two students run by ONE launch (a fork server):
they share the uid, /tmp, /dev/shm and the scratch until ``end``, so the
server must kill and clean between them. Not root: no boundary at all (mode
``none``); the grader must refuse untrusted work.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import json
import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GradingError

MODES = ("auto", "namespaces", "user")
USER_PREFIX = "facelab-sandbox"
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
               "/sys/devices/system/cpu")
DEVICES = ("null", "zero", "full", "random", "urandom")
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue")
TOOLS = ("setpriv", "prlimit", "unshare", "mount", "umount", "pivot_root", "kill", "ipcrm")
# until facelab.checks.SECRET_MODULES exists: the modules holding hidden cases, reference
# solutions, expected values and the mistake catalogue
FALLBACK_SECRET_MODULES = ("checks", "exercises", "expected", "grader")


@dataclass
class Boundary:
    """What :func:`probe` found: ``mode`` is "namespaces", "user" or "none"."""

    mode: str
    reason: str = ""
    users: list = field(default_factory=list)      # (name, uid, gid) per slot
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
        mem = "cgroup memory limit" if self.memory else "memory polled by the grader"
        if self.mode == "namespaces":
            return (f"sandbox: namespaces (pid, mount, net, ipc, uts; own filesystem view) as {who}, "
                    f"no capabilities, no_new_privs; {mem}")
        return (f"sandbox: user mode ({self.reason}) as {who}, no capabilities, no_new_privs; "
                f"secrets unreadable by file permissions; NO network isolation; {mem}")


# ------------------------------------------------------------------- probing

def _run(argv, timeout=20, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


def ensure_users(slots: int) -> list:
    """``[(name, uid, gid)]`` of the sandbox users ``facelab-sandbox0..slots-1``, created
    (system accounts, own group, no home, no login shell) when missing; needs root for
    that. Gradescope's setup.sh runs ``python -m facelab.grading.sandbox create-users N``."""
    return [_user(k) for k in range(slots)]


def _user(k: int) -> tuple:
    name = f"{USER_PREFIX}{k}"
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
    """(users, lock files): the first ``slots`` sandbox users no other grader on this
    machine holds (an flock each, held while this process lives), created if needed.
    Two graders sharing a user would kill each other's processes in ``end``."""
    folder = "/run/facelab-sandbox" if os.path.isdir("/run") else tempfile.gettempdir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    users, locks = [], []
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
        locks.append(fd)
    if len(users) < slots:
        raise GradingError(f"only {len(users)} of {slots} sandbox users are free on this machine")
    return users, locks


def _memory_cgroup() -> str | None:
    """The writable cgroup folder of the memory controller (v1 or v2), or None."""
    for base, v2 in (("/sys/fs/cgroup/memory", False), ("/sys/fs/cgroup", True)):
        if v2 and "memory" not in _read("/sys/fs/cgroup/cgroup.controllers"):
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
        users, locks = _claim_users(slots)
    except (GradingError, OSError) as exc:
        return refuse(str(exc))
    b = Boundary("user", users=users, tools=tools, memory=_memory_cgroup(), locks=locks)
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


# ------------------------------------------------------------------- secrets

def secret_modules() -> tuple:
    """Short names of facelab's modules student code must never read:
    ``facelab.checks.SECRET_MODULES`` (dotted names), less those ``import facelab``
    itself imports (hiding them would break every import; they must hold nothing
    secret), else the fallback list."""
    try:
        from .. import checks
        names = getattr(checks, "SECRET_MODULES", FALLBACK_SECRET_MODULES)
    except Exception:  # noqa: BLE001 - checks itself may be unreadable here
        names = FALLBACK_SECRET_MODULES
    import facelab
    init = ast.parse(Path(facelab.__file__).read_text())
    eager = {n.module for n in ast.walk(init) if isinstance(n, ast.ImportFrom) and n.level == 1}
    return tuple(m for m in (n.rsplit(".", 1)[-1] for n in names) if m not in eager)


def package_copies() -> list:
    """Every folder holding a copy of the facelab package: the imported one, each
    ``facelab`` found on ``sys.path`` and ``build/lib/facelab`` beside a checkout."""
    import facelab
    pkgs = {Path(facelab.__file__).resolve().parent}
    for entry in sys.path + [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]:
        cand = Path(entry or ".") / "facelab"
        if (cand / "__init__.py").is_file():
            pkgs.add(cand.resolve())
    for p in list(pkgs):
        build = p.parent / "build" / "lib" / "facelab"
        if build.is_dir():
            pkgs.add(build.resolve())
    return sorted(pkgs)


def _git_dirs(checkout: Path) -> list:
    git = checkout / ".git"
    if git.is_file():  # a worktree: ".git" names its own folder inside the main .git
        text = _read(str(git))
        if text.startswith("gitdir:"):
            own = (checkout / text.split(":", 1)[1].strip()).resolve()
            return [git, own.parent.parent] if own.parent.name == "worktrees" else [git, own]
    return [git]


def secret_paths(submissions=(), out=None) -> list:
    """Paths student code must not read: in every package copy, the secret modules
    (files or folders), the bytecode cache and the solution notebooks an installed wheel
    carries (``_data/notebooks``); a ``build/lib`` copy whole; in a source
    checkout its .git (a worktree's too), notebooks, tests and build folders; each
    submission and the folder it came from; the output folder. Existing paths only."""
    paths = set()
    mods = secret_modules()
    for pkg in package_copies():
        if pkg.parent.name == "lib" and pkg.parent.parent.name == "build":
            paths.add(pkg)
            continue
        paths.add(pkg / "__pycache__")
        paths.add(pkg / "_data" / "notebooks")  # an installed wheel's solution notebooks
        for m in mods:
            paths.update({pkg / f"{m}.py", pkg / m})
        checkout = pkg.parent
        if (checkout / "pyproject.toml").is_file():
            paths.update(_git_dirs(checkout))
            paths.update(checkout / n for n in ("notebooks", "tests", "build"))
    for s in submissions:
        s = Path(s).resolve()
        paths.update({s, s.parent} if s.is_file() else {s})
    if out is not None:
        paths.add(Path(out).resolve())
    return sorted(str(p) for p in paths if os.path.lexists(p))


def _view_roots(readable=()) -> list:
    """What namespaces mode shows (read-only) and user mode must let the user reach."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}
    roots.update(sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib"))
    import facelab
    roots.add(os.path.dirname(facelab.__file__))
    roots.update(os.fspath(r) for r in readable)
    return sorted({os.path.realpath(r) for r in roots if os.path.exists(r)})


@dataclass
class Protection:
    """Modes changed by :func:`protect`; ``restore()`` puts them back (also on exit)."""

    changed: list = field(default_factory=list)  # (path, old mode)

    def restore(self) -> None:
        for path, mode in reversed(self.changed):
            with contextlib.suppress(OSError):
                os.chmod(path, mode)
        self.changed.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()


def _chmod(prot: Protection, path: str, mode: int) -> None:
    old = stat.S_IMODE(os.lstat(path).st_mode)
    if mode != old:
        os.chmod(path, mode)
        prot.changed.append((path, old))


def protect(paths, boundary: Boundary, readable=()) -> Protection:
    """Make ``paths`` unreadable to the sandbox users and what they need reachable.

    Both modes remember ``paths`` in ``boundary.secrets`` (namespaces mode covers
    those inside its view at each launch). User mode also clears the "other" bits of
    each path (owner and group keep theirs; root reads all), adds "other" search
    permission to the folders leading to the Python installation, the package and
    ``readable``, and "other" read permission to those paths themselves (not to
    what a readable folder holds). A readable path inside a secret folder raises GradingError."""
    paths = sorted({os.path.realpath(p) for p in paths if os.path.lexists(p)})
    boundary.secrets = paths
    prot = Protection()
    if boundary.mode != "user":
        return prot
    needed = _view_roots(readable)
    for r in needed:
        hidden = [p for p in paths if r == p or r.startswith(p.rstrip("/") + "/")]
        if hidden:
            raise GradingError(f"{r} must be readable by student code but lies in the secret "
                               f"{hidden[0]}")
    try:
        for p in paths:
            if not os.path.islink(p):
                _chmod(prot, p, stat.S_IMODE(os.lstat(p).st_mode) & ~0o007)
        for r in needed:
            for a in reversed(Path(r).parents):
                _chmod(prot, str(a), stat.S_IMODE(os.stat(a).st_mode) | 0o001)
            st = os.stat(r)
            _chmod(prot, r, stat.S_IMODE(st.st_mode) | (0o005 if stat.S_ISDIR(st.st_mode) else 0o004))
    except OSError as exc:
        prot.restore()
        raise GradingError(f"cannot change the permissions of {exc.filename}: {exc.strerror}") from None
    return prot


_PROBE = """
import json, os, sys
out = {}
for p in json.loads(sys.argv[1]):
    try:
        if os.path.isdir(p):
            os.listdir(p)
        else:
            with open(p, 'rb') as f:
                f.read(1)
        out[p] = 'writable' if os.access(p, os.W_OK) else 'read'
    except OSError:
        out[p] = 'no'
print(json.dumps(out))
"""


def check_protected(paths, boundary: Boundary, readable=()) -> list:
    """Problems found by a process launched in the sandbox (slot 0) that tries to read
    every path of ``paths`` (each must fail) and of ``readable`` (each must work and
    not be writable). Empty list: the boundary holds. Mode ``none``: one problem."""
    if boundary.mode == "none":
        return ["no sandbox: student code can read everything the grader can"]
    paths, readable = [os.fspath(p) for p in paths], [os.fspath(p) for p in readable]
    scratch = tempfile.mkdtemp(prefix="facelab-probe-")
    proc = launch([sys.executable, "-I", "-S", "-c", _PROBE, json.dumps(paths + readable)],
                  boundary=boundary, scratch=scratch, readable=readable, stderr=subprocess.PIPE)
    try:
        got, err = proc.communicate(timeout=60)
        seen = json.loads(got)
    except (subprocess.TimeoutExpired, ValueError):
        return [f"the sandbox probe failed: {(locals().get('err') or b'')[-300:]!r}"]
    finally:
        end(proc, boundary)
    problems = [f"{p} is readable by the sandbox user" for p in paths if seen.get(p) != "no"]
    problems += [f"{p} is not readable by the sandbox user" for p in readable if seen.get(p) == "no"]
    problems += [f"{p} is writable by the sandbox user" for p in readable if seen.get(p) == "writable"]
    return problems


# ------------------------------------------------------------------- launching

@dataclass
class _Slot:
    slot: int
    uid: int | None
    gid: int | None
    scratch: str
    root: str | None = None     # namespaces mode: the host folder the view is mounted on
    cgroup: str | None = None


def _limits(b: Boundary, nproc: int, fsize_mb: int) -> list:
    return [b.tools["prlimit"], f"--nproc={nproc}", "--core=0", f"--fsize={fsize_mb * 2**20}",
            "--nofile=1024", "--"]


def _drop(b: Boundary, uid: int, gid: int) -> list:
    return [b.tools["setpriv"], f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
            "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def _view_script(b: Boundary, s: _Slot, readable, tmp_mb: int, scratch_mb: int | None) -> list:
    """Shell lines (run as root inside the new namespaces) that build the view."""
    q = shlex.quote
    mount = q(b.tools["mount"])
    R = q(s.root)
    lines = ["set -e", f"{mount} -t tmpfs -o mode=0755,size=8m,nosuid,nodev facelab-root {R}"]
    tmpfs = f"{mount} -t tmpfs -o mode=1777,size={tmp_mb}m,nosuid,nodev"
    lines += [f": > {R}/.secret", f"chmod 000 {R}/.secret",  # first: binds may lie in /tmp
              f"mkdir -p {R}/tmp {R}/dev {R}/proc", f"{tmpfs} tmp {R}/tmp",
              f"{mount} -t tmpfs -o mode=0755,size=64k,nosuid dev {R}/dev"]
    for d in DEVICES:
        lines += [f"touch {R}/dev/{d}", f"{mount} --bind /dev/{d} {R}/dev/{d}"]
    shown: list = []

    def bind(src: str, writable: bool = False) -> None:
        if any(src == d or src.startswith(d.rstrip("/") + "/") for d in shown):
            return
        dst = q(s.root + src)
        make = f"mkdir -p {dst}" if os.path.isdir(src) else f"mkdir -p {q(os.path.dirname(s.root + src))} && touch {dst}"
        opts = "remount,bind,nosuid,nodev" + ("" if writable else ",ro")
        lines.extend([make, f"{mount} --bind {q(src)} {dst}", f"{mount} -o {opts} {dst}"])
        shown.append(src)

    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            lines.append(f"ln -s {q(os.readlink(d))} {q(s.root + d)}")
        elif os.path.isdir(d):
            bind(d)
    for r in _view_roots(readable):
        bind(r)
    for p in b.secrets:  # secrets inside what is shown are covered
        if not any(p == d or p.startswith(d.rstrip("/") + "/") for d in shown):
            continue
        if os.path.isdir(p):  # mode 000: reading fails as in user mode, not "empty"
            lines.append(f"{mount} -t tmpfs -o ro,size=4k,mode=000 hidden {q(s.root + p)}")
        else:
            lines.append(f"{mount} --bind {R}/.secret {q(s.root + p)}")
    if scratch_mb:  # a tmpfs of its own: filling it fills neither the disk nor the host
        dst = q(s.root + os.path.realpath(s.scratch))
        lines += [f"mkdir -p {dst}", f"{mount} -t tmpfs -o mode=0700,uid={s.uid},gid={s.gid},"
                  f"size={scratch_mb}m,nosuid,nodev scratch {dst}"]
    else:
        bind(os.path.realpath(s.scratch), writable=True)
    lines += [f"mkdir {R}/dev/shm", f"{tmpfs} shm {R}/dev/shm", f"ln -s /proc/self/fd {R}/dev/fd",
              f"{mount} -t proc -o nosuid,nodev,noexec proc {R}/proc",
              f"mkdir {R}/.old", f"cd {R}", f"{q(b.tools['pivot_root'])} . .old",
              f"{q(b.tools['umount'])} -l /.old", "rmdir /.old", f"{mount} -o remount,ro,bind /",
              f"cd {q(os.path.realpath(s.scratch))}", "unset OLDPWD"]
    return lines


def _pids_of(uid: int, zombies: bool = False) -> list:
    """Processes whose real uid is ``uid``, zombies only if asked: ``[(pid, name)]``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        text = _read(f"/proc/{entry.name}/status")
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        dead = fields.get("State", "").strip().startswith("Z")
        if fields.get("Uid", "").split()[:1] == [str(uid)] and (zombies or not dead):
            found.append((int(entry.name), fields.get("Name", "?").strip()))
    return found


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _await_reaped(uid: int, seconds: float = 20) -> None:
    """Zombies still count against RLIMIT_NPROC: wait until init (or the namespace) has
    reaped every process of ``uid``, so the slot's next launch can start processes."""
    deadline = time.monotonic() + seconds
    while _pids_of(uid, zombies=True) and time.monotonic() < deadline:
        time.sleep(0.02)


def _sweep(b: Boundary, uid: int, gid: int) -> list:
    """Kill every process of ``uid`` (kill(-1) as that user: atomic against fork bombs),
    remove its files from the shared writable folders and its IPC objects."""
    victims = _pids_of(uid)
    for _ in range(100):
        if not _pids_of(uid):
            break
        _run([*_drop(b, uid, gid), b.tools["kill"], "-KILL", "-1"])
        time.sleep(0.01)
    for d in SHARED_WRITABLE:
        with contextlib.suppress(OSError), os.scandir(d) as it:
            for e in it:
                with contextlib.suppress(OSError):
                    if e.stat(follow_symlinks=False).st_uid == uid:
                        if e.is_dir(follow_symlinks=False):
                            shutil.rmtree(e.path, ignore_errors=True)
                        else:
                            os.unlink(e.path)
    for kind, flag in (("shm", "-m"), ("sem", "-s"), ("msg", "-q")):
        rows = _read(f"/proc/sysvipc/{kind}").split("\n")
        head = rows[0].split()
        for row in rows[1:]:
            cols = row.split()
            if len(cols) == len(head) and cols[head.index("uid")] == str(uid) and b.tools.get("ipcrm"):
                _run([b.tools["ipcrm"], flag, cols[1]])
    return [f"{pid} {name}" for pid, name in victims]


def launch(argv, *, boundary: Boundary, scratch, readable=(), env=None, slot: int = 0,
           memory_mb: float | None = None, pass_fds=(), nproc: int = 256, fsize_mb: int = 1024,
           tmp_mb: int = 256, scratch_mb: int | None = 1024, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
           stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """Start ``argv`` inside the boundary, in ``scratch`` (created, owned by the slot's
    user, mode 0700; removed by :func:`end`). The environment is exactly ``env`` plus
    HOME, TMPDIR (the scratch) and PATH when absent: nothing of the grader's. No file
    descriptor is inherited but the pipes and ``pass_fds``. ``memory_mb`` is enforced
    by a cgroup when ``boundary.memory``; otherwise the caller polls. One process per
    slot at a time: leftovers of the slot's user are killed first. The returned Popen
    carries ``.sandbox``; always pass it to :func:`end`. Mode ``none``: the process
    runs unconfined (trusted submissions only)."""
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
    s = _Slot(slot, uid, gid, scratch)
    _sweep(boundary, uid, gid)
    _await_reaped(uid)
    os.chown(scratch, uid, gid)
    os.chmod(scratch, 0o700)
    run = _limits(boundary, nproc, fsize_mb) + _drop(boundary, uid, gid)
    pre = []
    if boundary.memory:
        s.cgroup = os.path.join(boundary.memory, name)
        os.makedirs(s.cgroup, exist_ok=True)
        _set_memory(s.cgroup, memory_mb)
        pre.append(f"echo $$ > {shlex.quote(s.cgroup)}/cgroup.procs")
    if boundary.mode == "namespaces":
        s.root = tempfile.mkdtemp(prefix="facelab-view-")
        inner = "\n".join(_view_script(boundary, s, readable, tmp_mb, scratch_mb)
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


def end(proc: subprocess.Popen, boundary: Boundary) -> list:
    """Kill ``proc`` and every process its slot's user runs, wait for it, remove the
    scratch, the view folder and the user's files in the shared writable folders.
    Returns ``["pid name", ...]`` of the processes that were still alive. Its stdin is
    closed; what is left on stdout/stderr stays readable (to EOF) for the caller."""
    s = proc.sandbox
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the wrapper (and unshare: its namespace dies)
    killed = _sweep(boundary, s.uid, s.gid) if s.uid is not None else []
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    if s.uid is not None:
        _await_reaped(s.uid)
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


def _main(argv=None) -> int:
    """``python -m facelab.grading.sandbox create-users N | probe [MODE]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["create-users"] and len(args) == 2 and args[1].isdigit():
            for name, uid, _ in ensure_users(int(args[1])):
                print(f"{name} uid {uid}")
            return 0
        if args[:1] == ["probe"] and len(args) <= 2:
            print(probe(*(args[1:] or ["auto"])).describe())
            return 0
    except GradingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print("usage: python -m facelab.grading.sandbox create-users N | probe [auto|namespaces|user]",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main())
