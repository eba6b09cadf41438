"""Nothing lost when the grader dies: each student's result is on disk as soon as that
student is graded, a run again grades only the students missing, and what a killed
run left behind is removed at the next start.

- ``save(g, out, entry, key)`` writes ``OUT/students/<id>/results.json`` and then
  ``record.json`` (atomically, in that order): the record is the proof the student is
  done, with the entry's fingerprint (names, sizes and modification times of what was
  handed in, or the course zip's CRCs) and the cases' key (exercise, case names,
  points). ``finished(out, entries, key)`` gives back the results whose record matches,
  so a re-submitted file or changed cases are graded again.
- ``RunFolder``: everything a run creates in the temporary folder (the slots' scratch,
  namespace views) lives in ``<tmp>/facelab-run-XXXX/``, held by an ``flock`` for the
  life of the grader. ``clean_leftovers(out)`` removes the run folders nobody holds
  (the grader was killed), the temporary files of interrupted atomic writes in
  ``OUT``, and (when no other grader is running on the machine) the older layout's
  ``facelab-grading-*`` / ``facelab-view-*`` folders and empty ``facelab-sandbox*`` cgroups.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from .. import atomic, checks
from . import reports
from .submissions import Entry

RECORD = "record.json"
VERSION = 1
RUN_PREFIX = "facelab-run-"
LOCK = "grader.lock"
MAX_WALK = 20_000


# ------------------------------------------------------------------ records

def cases_key(cases: dict) -> str:
    """What a result depends on besides the submission: exercises, case names, points."""
    plain = [[n, [[c.name, c.points, c.visible] for c in cs]] for n, cs in cases.items()]
    return hashlib.sha256(json.dumps(plain).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _zip_index():
    cache: dict = {}

    def crc(path: str, member: str):
        if path not in cache:
            try:
                with zipfile.ZipFile(path) as z:
                    cache[path] = {i.filename: (i.CRC, i.file_size) for i in z.infolist()}
            except (zipfile.BadZipFile, OSError, ValueError):
                cache[path] = {}
        return cache[path].get(member)
    yield crc


def fingerprint(entry: Entry, crc=None) -> str:
    """A digest of what ``entry`` holds as the file system describes it (no file read,
    but a course zip's directory): names, sizes, modification times, zip CRCs."""
    h = hashlib.sha256()
    for path, member, label in entry.sources:
        h.update(f"{path}\0{member}\0{label}\0".encode("utf-8", "surrogateescape"))
        if member is not None:
            h.update(repr(crc(path, member) if crc else None).encode())
            continue
        paths = [path]
        if os.path.isdir(path) and not os.path.islink(path):
            paths = []
            for root, dirs, files in os.walk(path):
                dirs.sort()
                paths += [os.path.join(root, f) for f in sorted(files)]
                if len(paths) > MAX_WALK:
                    break
        for p in paths:
            with contextlib.suppress(OSError):
                st = os.lstat(p)
                h.update(f"{os.path.relpath(p, path)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode(
                    "utf-8", "surrogateescape"))
    return h.hexdigest()


def _case(c) -> list:
    return [c.name, c.passed, c.points, c.max_points, c.message, c.hint, c.visible]


def to_record(g: reports.Graded, fp: str, key: str) -> dict:
    return {"version": VERSION, "fingerprint": fp, "cases_key": key, "id": g.student, "entry": g.entry,
            "name": g.name, "late": g.late, "site": g.site, "seconds": g.seconds, "notes": g.notes,
            "reason": g.reason, "sandbox": g.sandbox,
            "results": [[r.exercise, [_case(c) for c in r.cases]] for r in g.results]}


def from_record(d: dict) -> reports.Graded:
    results = [checks.CheckResult(ex, tuple(checks.CaseResult(n, bool(p), float(pt), float(mx), str(m), str(h), bool(v))
                                            for n, p, pt, mx, m, h, v in cases), graded=True)
               for ex, cases in d["results"]]
    return reports.Graded(d["id"], d["entry"], results, float(d["seconds"]), list(d["notes"]), d["reason"],
                          d["sandbox"], {}, d["name"], bool(d["late"]), dict(d["site"]))


def save(g: reports.Graded, out: Path, fp: str, key: str) -> None:
    """The student's results.json, then its record (the mark that it is done)."""
    path = reports.student_results(g, out)
    atomic.write_text(path.parent / RECORD, json.dumps(to_record(g, fp, key)))


def finished(out: Path, entries: list[Entry], key: str) -> dict:
    """id -> Graded for every entry already graded into ``out`` (same fingerprint, same
    cases), results.json included; fingerprints are computed once here."""
    done = {}
    with _zip_index() as crc:
        for e in entries:
            folder = Path(out) / reports.STUDENTS / e.id
            try:
                d = json.loads((folder / RECORD).read_text())
                if (d.get("version") == VERSION and d.get("cases_key") == key and d.get("id") == e.id
                        and (folder / "results.json").is_file() and d.get("fingerprint") == fingerprint(e, crc)):
                    done[e.id] = from_record(d)
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return done


def fingerprints(entries: list[Entry]) -> dict:
    with _zip_index() as crc:
        return {e.id: fingerprint(e, crc) for e in entries}


# ------------------------------------------------------------------ leftovers

def _free(lock_path: str) -> bool:
    """True when no process holds ``lock_path`` (flock), or it does not exist."""
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _tmp() -> str:
    """The machine's temporary folder (also while a RunFolder is active)."""
    tmp = tempfile.gettempdir()
    return os.path.dirname(tmp) if os.path.basename(tmp).startswith(RUN_PREFIX) else tmp


def _graders_running() -> bool:
    """Another grader on this machine holds a sandbox user or a run folder."""
    from .sandbox.probe import LOCK_DIR
    locks = glob.glob(os.path.join(LOCK_DIR, "*.lock"))
    locks += glob.glob(os.path.join(_tmp(), RUN_PREFIX + "*", LOCK))
    return not all(_free(p) for p in locks)


def clean_leftovers(out: Path) -> list[str]:
    """Remove what killed runs left (see the module's docstring); returns what was removed."""
    removed = []
    tmp = _tmp()
    for run in glob.glob(os.path.join(tmp, RUN_PREFIX + "*")):
        if os.path.isdir(run) and not os.path.islink(run) and _free(os.path.join(run, LOCK)):
            shutil.rmtree(run, ignore_errors=True)
            removed.append(run)
    if not _graders_running():
        for old in glob.glob(os.path.join(tmp, "facelab-grading-*")):
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
        for view in glob.glob(os.path.join(tmp, "facelab-view-*")):
            with contextlib.suppress(OSError):
                os.rmdir(view)  # only an empty folder: never a mount point in use
                removed.append(view)
        for base in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup"):
            for cg in glob.glob(os.path.join(base, "facelab-sandbox*")):
                with contextlib.suppress(OSError):
                    os.rmdir(cg)  # the kernel refuses a cgroup that still has processes
                    removed.append(cg)
    out = Path(out)
    for folder in [out, *sorted((out / reports.STUDENTS).glob("*"))] if out.is_dir() else []:
        for t in glob.glob(os.path.join(glob.escape(str(folder)), ".*.tmp")):
            with contextlib.suppress(OSError):
                os.unlink(t)
                removed.append(t)
    return removed


class RunFolder:
    """``with RunFolder():`` every temporary folder the grader makes goes into a folder
    of this run, locked while it lives and removed at the end (or by the next start)."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix=RUN_PREFIX)
        os.chmod(self.path, 0o711)  # the sandbox users traverse it to their scratch
        self.fd = os.open(os.path.join(self.path, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self.saved = tempfile.tempdir
        tempfile.tempdir = self.path
        return self

    def __exit__(self, *exc):
        tempfile.tempdir = self.saved
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self.fd)
        return False
