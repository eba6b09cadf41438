"""Who the students are and what they handed in: nothing of it runs here.

One student = one entry: each entry directly under a folder given to
``facelab grade`` and each file given is one student, named after the entry
without its extension (sanitised, so a report can never land outside the
output folder). An entry is a notebook, a ``.py`` file, a folder of them (any
depth) or a ``.zip`` of them. Students come back sorted by id, so a run is
reproducible.

Every file is read with caps (size, zip entries and ratio, JSON depth), so
any input gives that student a clear one-line reason instead of stopping the
batch: a :class:`Student` carries its code cells per file, plus ``problem``
when nothing could be read and ``notes`` for what was skipped.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import GradingError

MAX_FILE = 32 * 2**20        # bytes of one notebook or .py file
MAX_TOTAL = 64 * 2**20       # bytes of all of a student's files together
MAX_FILES = 200              # notebooks and .py files per student
MAX_ZIP_ENTRIES = 2000
MAX_ZIP_RATIO = 200          # uncompressed / compressed size of one zip member
CODE_SUFFIXES = (".ipynb", ".py")

_PY_CELL = re.compile(r"^(?=#\s*(?:GRADED\s+FUNCTION|%%|In\[))", re.I | re.M)


@dataclass
class Source:
    """One file of a student's: its label (path inside the entry) and code cells."""

    label: str
    cells: list[str]


@dataclass
class Student:
    id: str
    entry: str                      # what was handed in (path as given)
    sources: list[Source] = field(default_factory=list)
    problem: str | None = None      # why nothing could be graded
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ ids

def student_id(name: str, is_file: bool = True) -> str:
    """A safe folder name for an entry: a file's name without its extension, a folder's
    name; only ``[A-Za-z0-9._-]``, no leading dot."""
    suffix = next((s for s in (*CODE_SUFFIXES, ".zip") if name.lower().endswith(s)), "")
    if is_file and not suffix:
        suffix = Path(name).suffix
    stem = name[: len(name) - len(suffix)]
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).lstrip(".")[:80]
    return clean if clean.strip("_") else "student"


def _unique(ids: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        n = seen.get(i.lower(), 0)
        seen[i.lower()] = n + 1
        out.append(i if n == 0 else f"{i}-{n + 1}")
    return out


def find_students(paths) -> list[tuple[str, Path]]:
    """(student id, entry) for every entry under the folders given and every file given,
    sorted by id. Links and hidden entries (``.name``, unless a submission file such as
    ``...ipynb``) are skipped."""
    entries: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            entries += [e for e in p.iterdir() if not e.is_symlink() and (not e.name.startswith(".") or (
                e.is_file() and e.name.lower().endswith((*CODE_SUFFIXES, ".zip"))))]
        elif p.is_file():
            entries.append(p)
        else:
            raise GradingError(f"{p}: no such file or folder (expected a notebook, a .py file, "
                               "a .zip or a folder of students)")
    if not entries:
        raise GradingError("no submission found in " + ", ".join(map(str, paths)))
    entries.sort(key=lambda e: (student_id(e.name, e.is_file()).lower(), e.name))
    ids = _unique([student_id(e.name, e.is_file()) for e in entries])
    return sorted(zip(ids, entries), key=lambda t: t[0].lower())


# ------------------------------------------------------------------ reading

def cells_of(name: str, data: bytes) -> tuple[list[str], list[str]]:
    """The code cells of a notebook or .py file's bytes, and notes; GradingError if unreadable."""
    notes = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        notes.append(f"{name} is not valid UTF-8: the undecodable bytes were replaced")
    if name.lower().endswith(".py"):
        return [s for s in _PY_CELL.split(text) if s.strip()], notes
    return _notebook_cells(name, text), notes


def _notebook_cells(name: str, text: str) -> list[str]:
    try:
        nb = json.loads(text)
    except RecursionError:
        raise GradingError(f"{name}: its JSON nests too deeply to be a notebook") from None
    except MemoryError:
        raise GradingError(f"{name}: too large to read as a notebook") from None
    except ValueError as exc:
        raise GradingError(f"{name} is not a notebook: invalid JSON ({str(exc)[:80]})") from None
    if not isinstance(nb, dict):
        raise GradingError(f"{name} is not a notebook: expected a JSON object, got {type(nb).__name__}")
    if nb.get("nbformat") == 3 or "worksheets" in nb:
        raise GradingError(f"{name} is an nbformat 3 notebook (IPython 2 or older); open it in a "
                           "current Jupyter and save it again to convert it to nbformat 4")
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise GradingError(f"{name} is not a notebook: expected a 'cells' list, got "
                           f"{'nothing' if cells is None else type(cells).__name__}")
    out = []
    for c in cells:
        if isinstance(c, dict) and c.get("cell_type") == "code":
            src = c.get("source", "")
            out.append("".join(map(str, src)) if isinstance(src, list) else str(src))
    return out


def _too_big(name: str, size: int) -> str | None:
    if size > MAX_FILE:
        return (f"{name} is {size / 2**20:.1f} MB; files over {MAX_FILE // 2**20} MB are not graded "
                "(clear the notebook's outputs and resubmit)")
    return None


def _from_files(student: Student, files: list[tuple[str, callable, int]]) -> None:
    """Read (label, read(), size) triples into ``student`` with the caps."""
    code = sorted((f for f in files if f[0].lower().endswith(CODE_SUFFIXES)), key=lambda f: f[0])
    if len(code) > MAX_FILES:
        student.notes.append(f"only the first {MAX_FILES} of {len(code)} files were read")
        code = code[:MAX_FILES]
    total = 0
    for label, read, size in code:
        if (why := _too_big(label, size)) or (total + size > MAX_TOTAL and (why := (
                f"{label} skipped: more than {MAX_TOTAL // 2**20} MB handed in altogether"))):
            student.notes.append(why)
            continue
        total += size
        try:
            cells, notes = cells_of(label, read())
        except GradingError as exc:
            student.notes.append(str(exc))
            continue
        student.notes += notes
        student.sources.append(Source(label, cells))
    if not student.sources:
        reasons = "; ".join(student.notes[:2])
        student.problem = reasons or "no notebook (.ipynb) or .py file found in what was handed in"


def _folder_files(root: Path, notes: list) -> list[tuple[str, callable, int]]:
    """The files under ``root`` (any depth; a .zip inside is opened too), never following links."""
    out = []
    for f in sorted(root.rglob("*")):
        rel = f.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or f.is_symlink() or not f.is_file():
            continue  # hidden folders (.ipynb_checkpoints), links (they could point anywhere)
        if any(p.is_symlink() for p in (root / rel).parents if root in p.parents):
            continue
        if f.suffix.lower() == ".zip":
            try:
                out += [(f"{rel.as_posix()}/{label}", read, size) for label, read, size in _zip_files(f)]
            except GradingError as exc:
                notes.append(str(exc))
        else:
            out.append((rel.as_posix(), f.read_bytes, f.stat().st_size))
        if len(out) > MAX_ZIP_ENTRIES:
            break
    return out


def _zip_files(path: Path) -> list[tuple[str, callable, int]]:
    try:
        z = zipfile.ZipFile(path)
        infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise GradingError(f"{path.name} is not a readable zip ({str(exc)[:80]})") from None
    if len(infos) > MAX_ZIP_ENTRIES:
        raise GradingError(f"{path.name} has {len(infos)} entries; at most {MAX_ZIP_ENTRIES} are read")
    out = []
    for info in infos:
        parts = PurePosixPath(info.filename).parts
        if info.is_dir() or any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        if info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1) and info.file_size > 2**20:
            raise GradingError(f"{path.name}: {info.filename} expands {info.file_size // max(info.compress_size, 1)}"
                               f" times (a zip bomb?); at most {MAX_ZIP_RATIO} times is read")
        out.append(("/".join(parts), lambda info=info: _read_member(z, info), info.file_size))
    return out


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes, never more than its declared size (headers can lie)."""
    try:
        with z.open(info) as fh:
            data = fh.read(min(info.file_size, MAX_FILE) + 1)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise GradingError(f"{info.filename}: cannot be unpacked ({str(exc)[:80]})") from None
    if len(data) > MAX_FILE:
        raise GradingError(f"{info.filename}: larger than {MAX_FILE // 2**20} MB once unpacked")
    return data


def read_student(sid: str, entry: Path) -> Student:
    """What ``entry`` holds, as code cells per file; never raises for a bad entry."""
    student = Student(sid, str(entry))
    try:
        if entry.is_dir():
            files = _folder_files(entry, student.notes)
        elif entry.suffix.lower() == ".zip":
            files = _zip_files(entry)
        elif entry.suffix.lower() in CODE_SUFFIXES:
            files = [(entry.name, entry.read_bytes, entry.stat().st_size)]
        else:
            student.problem = (f"{entry.name}: expected a notebook (.ipynb), a .py file, a .zip or "
                               "a folder of them")
            return student
        _from_files(student, files)
    except GradingError as exc:
        student.problem = str(exc)
    except (OSError, MemoryError, RecursionError) as exc:
        student.problem = f"{entry.name} could not be read ({type(exc).__name__}: {str(exc)[:80]})"
    return student
