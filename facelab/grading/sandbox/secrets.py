"""Secrets: what student code must never read, and the proof that it cannot.

Namespaces mode covers each secret inside its filesystem view (a mode-000
file or tmpfs over it, see :mod:`.view`). User mode clears the "other"
permission bits of each secret path (the sandbox users are neither owner nor
in the group; owners and root keep their access, git ignores these bits) and
gives "other" search permission on the folders leading to what student code
must read, but never on a folder of the machine the instructor did not name:
where the Python installation or the package lies under a private folder
(a home folder of mode 0700, say) :func:`protect` refuses, naming the folder
and how to proceed, rather than open it. ``restore()`` puts every mode back.
:func:`check_protected` proves the result by reading each path as the
sandbox user.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import glob
import json
import os
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import GradingError
from .probe import LOCK_DIR, Boundary, _read_text

#: a grader's journal of the modes it changed (in LOCK_DIR)
JOURNAL_PREFIX = "modes-"


# until facelab.checks.SECRET_MODULES exists: the modules holding hidden cases, reference
# solutions, expected values and the mistake catalogue
FALLBACK_SECRET_MODULES = ("checks", "exercises", "expected", "grader")
#: folders the instructor allows user mode to make searchable ("other" x bit), e.g. a home
#: folder holding the Python installation: os.pathsep-separated, nothing by default
OPEN_ENV = "FACELAB_SANDBOX_SEARCHABLE"

def secret_modules() -> tuple:
    """Short names of facelab's modules student code must never read:
    ``facelab.checks.SECRET_MODULES`` (dotted names), less those ``import facelab``
    itself imports (hiding them would break every import; they must hold nothing
    secret), else the fallback list."""
    try:
        from ... import checks
        names = getattr(checks, "SECRET_MODULES", FALLBACK_SECRET_MODULES)
    except Exception:  # noqa: BLE001 - checks itself may be unreadable here
        names = FALLBACK_SECRET_MODULES
    import facelab
    init = ast.parse(Path(facelab.__file__).read_text())
    eager = {n.module for n in ast.walk(init) if isinstance(n, ast.ImportFrom) and n.level == 1}
    # a module of a subpackage is its path inside the package: "checks/suite"
    return tuple(m for m in (n.split(".", 1)[-1].replace(".", "/") for n in names) if m not in eager)


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
        text = _read_text(str(git))
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
        paths.update(pkg / m.rsplit("/", 1)[0] / "__pycache__" for m in mods if "/" in m)
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
    """Modes changed by :func:`protect`; ``restore()`` puts them back (also on exit).

    Each change is also written to a journal in the slot locks' folder (root only),
    held under an flock while this grader lives: a grader killed midway leaves its
    secrets stricter, and the next grader that finds the journal unlocked, with no
    other grader protecting anything, puts the modes back (:func:`restore_dead_journals`)."""

    changed: list = field(default_factory=list)  # (path, old mode, new mode)
    journal: int | None = None
    journal_path: str = ""

    def record(self, path: str, old: int, new: int) -> None:
        self.changed.append((path, old, new))
        if self.journal is None:
            os.makedirs(LOCK_DIR, mode=0o700, exist_ok=True)
            name = os.path.join(LOCK_DIR, f"{JOURNAL_PREFIX}{os.getpid()}-{time.monotonic_ns()}.json")
            self.journal = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            fcntl.flock(self.journal, fcntl.LOCK_EX)
            self.journal_path = name
        data = json.dumps(self.changed).encode()
        os.ftruncate(self.journal, 0)
        os.pwrite(self.journal, data, 0)
        os.fsync(self.journal)

    def restore(self) -> None:
        for path, mode, _ in reversed(self.changed):
            with contextlib.suppress(OSError):
                os.chmod(path, mode)
        self.changed.clear()
        if self.journal is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.journal_path)
            os.close(self.journal)
            self.journal = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()


def _chmod(prot: Protection, path: str, mode: int) -> None:
    old = stat.S_IMODE(os.lstat(path).st_mode)
    if mode != old:
        os.chmod(path, mode)
        prot.record(path, old, mode)


def restore_dead_journals(folder: str | None = None) -> list:
    """Put back the modes that graders killed midway left stricter; the paths restored.
    Only when no living grader holds a journal (its secrets may be the same paths), and
    only where a path still has the mode the dead grader gave it."""
    folder = folder or LOCK_DIR
    names = sorted(glob.glob(os.path.join(folder, JOURNAL_PREFIX + "*.json")))
    held, dead = [], []
    try:
        for name in names:
            try:
                fd = os.open(name, os.O_RDWR)
            except OSError:
                continue
            held.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return []  # a living grader protects something now: leave everything stricter
            dead.append((name, fd))
        restored = []
        for name, fd in dead:
            with contextlib.suppress(ValueError, OSError):
                for path, old, new in reversed(json.loads(os.pread(fd, 1 << 22, 0) or b"[]")):
                    with contextlib.suppress(OSError):
                        if stat.S_IMODE(os.lstat(path).st_mode) == new and not os.path.islink(path):
                            os.chmod(path, old)
                            restored.append(path)
            with contextlib.suppress(OSError):
                os.unlink(name)
        return restored
    finally:
        for fd in held:
            os.close(fd)


def searchable_by_choice() -> list:
    """The folders the instructor named in $FACELAB_SANDBOX_SEARCHABLE (real paths)."""
    return [os.path.realpath(p) for p in os.environ.get(OPEN_ENV, "").split(os.pathsep) if p]


def _opening(r: str, allowed: list, named: bool) -> list:
    """(path, bits to add) so "other" may reach ``r``; GradingError for a closed folder
    the instructor did not name."""
    changes = []
    for a in [*reversed(Path(r).parents), Path(r)]:
        a = str(a)
        st = os.stat(a)
        want = 0o001 if a != r else (0o005 if stat.S_ISDIR(st.st_mode) else 0o004)
        if st.st_mode & want == want:
            continue
        if not (named and a == r) and a not in allowed:
            raise GradingError(
                f"student code must read {r}, but {a} (mode {stat.S_IMODE(st.st_mode):04o}) is closed "
                "to other users and the grader opens no folder of this machine it was not told to: "
                "install Python and facelab where other users may read them (e.g. /usr/local, /opt), "
                f"or allow it with {OPEN_ENV}={a}")
        changes.append((a, want))
    return changes


def protect(paths, boundary: Boundary, readable=()) -> Protection:
    """Make ``paths`` unreadable to the sandbox users and what they need reachable.

    Both modes remember ``paths`` in ``boundary.secrets`` (namespaces mode covers
    those inside its view at each launch). User mode also clears the "other" bits of
    each path (owner and group keep theirs; root reads all) and, where the folders
    leading to the Python installation, the package or ``readable`` lack "other"
    search permission, adds it only to folders named in $FACELAB_SANDBOX_SEARCHABLE
    and to the ``readable`` paths themselves; any other closed folder raises
    GradingError naming it (nothing is changed then). A readable path inside a secret
    folder raises GradingError too."""
    paths = sorted({os.path.realpath(p) for p in paths if os.path.lexists(p)})
    boundary.secrets = paths
    prot = Protection()
    if boundary.mode != "user":
        return prot
    restore_dead_journals()  # what a killed grader left stricter, before reading the modes
    needed = _view_roots(readable)
    named = {os.path.realpath(r) for r in readable}
    for r in needed:
        hidden = [p for p in paths if r == p or r.startswith(p.rstrip("/") + "/")]
        if hidden:
            raise GradingError(f"{r} must be readable by student code but lies in the secret "
                               f"{hidden[0]}")
    allowed = searchable_by_choice()
    opening = [c for r in needed for c in _opening(r, allowed, r in named)]
    try:
        for p in paths:
            if not os.path.islink(p):
                _chmod(prot, p, stat.S_IMODE(os.lstat(p).st_mode) & ~0o007)
        for a, bits in opening:
            _chmod(prot, a, stat.S_IMODE(os.stat(a).st_mode) | bits)
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
    from .launch import end, launch

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

