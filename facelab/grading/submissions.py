"""Who the students are and what they handed in: nothing of it runs here.

One student = one :class:`Entry`: in a plain folder, each entry directly under
it and each file given is one student, named after the entry without its
extension; a course site's download is grouped by ``sites`` (Canvas, Moodle,
nbgrader). An entry's sources are notebooks, ``.py`` files, folders of them
(any depth), ``.zip`` files or members of a course zip. Every student gets an
id (:func:`assign_ids`) made of ``[A-Za-z0-9._-]`` only, unique in the batch
also when case and accents are ignored, and the same on every run of the same
class; the original name is kept beside it. Students come back sorted by id.

Every file is read with caps (size, zip entries and ratio, JSON depth), so
any input gives that student a clear one-line reason instead of stopping the
batch: a :class:`Student` carries its code cells per file, plus ``problem``
when nothing could be read and ``notes`` for what was skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import unicodedata
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
    extracted: dict | None = None   # exercise -> extract.Extracted, when read by the intake


@dataclass
class Entry:
    """One student as found on disk, before anything of it is read.

    ``sources``: (path, zip member or None, label) triples: a notebook, .py, folder or
    .zip at ``path``, or the member ``member`` of the course zip ``path``; ``label``
    prefixes what the student sees of each file ("" for the entry itself). ``site``
    holds the course site's own fields (Canvas user id, Moodle participant id...)."""

    id: str
    name: str                                   # the original name (file, folder, site's name)
    sources: list[tuple[str, str | None, str]]
    late: bool = False
    site: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "sources": [list(s) for s in self.sources],
                "late": self.late, "site": self.site, "notes": self.notes}

    @classmethod
    def from_json(cls, d: dict) -> "Entry":
        return cls(d["id"], d["name"], [tuple(s) for s in d["sources"]], bool(d.get("late")),
                   dict(d.get("site") or {}), list(d.get("notes") or []))


# ------------------------------------------------------------------ ids

MAX_ID = 80


def ascii_fold(text: str) -> str:
    """``"José Müller"`` -> ``"Jose Muller"``: accents dropped (NFKD), other non-ASCII too."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def student_id(name: str, is_file: bool = True) -> str:
    """A safe folder name for an entry: a file's name without its extension, a folder's
    name, accents folded; only ``[A-Za-z0-9._-]``, no leading dot, at most 80 characters."""
    suffix = next((s for s in (*CODE_SUFFIXES, ".zip") if name.lower().endswith(s)), "")
    if is_file and not suffix:
        suffix = Path(name).suffix
    return safe_id(name[: len(name) - len(suffix)])


def safe_id(text: str) -> str:
    """``text`` reduced to ``[A-Za-z0-9._-]`` (accents folded), no leading dot or dash; "student"
    when nothing is left."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_fold(text)).lstrip(".-")[:MAX_ID]
    return clean if clean.strip("_.-") else "student"


def _key(i: str) -> str:
    return i.casefold()


def assign_ids(wanted: list[tuple[str, str]]) -> list[str]:
    """One id per (wanted id, original name), in order: the wanted id (made safe) when no
    other student's id equals it ignoring case and accents, else the wanted id plus
    ``-`` and the first hex digits of the original name's sha256, so an id depends only
    on the names in the class (stable across runs), never on the order of grading.
    Equal original names (the same file name in two folders given) are told apart by
    their rank in the order given."""
    base = [safe_id(w) for w, _ in wanted]
    count: dict[str, int] = {}
    for b in base:
        count[_key(b)] = count.get(_key(b), 0) + 1
    rank: dict[str, int] = {}
    salts = []
    for _, name in wanted:
        rank[name] = rank.get(name, 0) + 1
        salts.append(name if rank[name] == 1 else f"{name}\0{rank[name]}")
    ids = list(base)
    for digits in (6, 12, 64):
        taken: dict[str, int] = {}
        for i in ids:
            taken[_key(i)] = taken.get(_key(i), 0) + 1
        clash = [k for k, i in enumerate(ids) if taken[_key(i)] > 1 or (count[_key(base[k])] > 1 and i == base[k])]
        if not clash:
            break
        for k in clash:
            tag = hashlib.sha256(salts[k].encode("utf-8", "surrogateescape")).hexdigest()[:digits]
            ids[k] = f"{base[k][:MAX_ID - 1 - digits]}-{tag}"
    return ids


def folder_entries(paths) -> list[Entry]:
    """The students of plain folders: every entry under the folders given and every file
    given is one student, sorted by id. Links and hidden entries (``.name``, unless a
    submission file such as ``...ipynb``) are skipped."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += [e for e in p.iterdir() if not e.is_symlink() and (not e.name.startswith(".") or (
                e.is_file() and e.name.lower().endswith((*CODE_SUFFIXES, ".zip"))))]
        elif p.is_file():
            found.append(p)
        else:
            raise GradingError(f"{p}: no such file or folder (expected a notebook, a .py file, "
                               "a .zip or a folder of students)")
    if not found:
        raise GradingError("no submission found in " + ", ".join(map(str, paths)))
    found.sort(key=lambda e: (e.name, str(e)))
    ids = assign_ids([(student_id(e.name, e.is_file()), e.name) for e in found])
    entries = [Entry(i, e.name, [(str(e), None, "")]) for i, e in zip(ids, found)]
    return sorted(entries, key=lambda e: (e.id.lower(), e.id))


def find_students(paths) -> list[tuple[str, Path]]:
    """(student id, entry path) for every student of plain folders (see folder_entries)."""
    return [(e.id, Path(e.sources[0][0])) for e in folder_entries(paths)]


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


def _zip_files(path, name: str | None = None) -> list[tuple[str, callable, int]]:
    """The files of the zip at ``path`` (a path or a file object; ``name`` says it)."""
    name = name or Path(path).name
    try:
        z = zipfile.ZipFile(path)
        infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise GradingError(f"{name} is not a readable zip ({str(exc)[:80]})") from None
    if len(infos) > MAX_ZIP_ENTRIES:
        raise GradingError(f"{name} has {len(infos)} entries; at most {MAX_ZIP_ENTRIES} are read")
    out = []
    for info in infos:
        parts = PurePosixPath(info.filename).parts
        if info.is_dir() or any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        if info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1) and info.file_size > 2**20:
            raise GradingError(f"{name}: {info.filename} expands {info.file_size // max(info.compress_size, 1)}"
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


def _member_files(course_zip: Path, member: str, label: str) -> list[tuple[str, callable, int]]:
    """One member of a course site's zip (a student's notebook, .py or .zip)."""
    try:
        z = zipfile.ZipFile(course_zip)
        info = z.getinfo(member)
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, NotImplementedError) as exc:
        raise GradingError(f"{label}: cannot be read from {course_zip.name} ({str(exc)[:80]})") from None
    if info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1) and info.file_size > 2**20:
        raise GradingError(f"{label} expands {info.file_size // max(info.compress_size, 1)} times "
                           f"(a zip bomb?); at most {MAX_ZIP_RATIO} times is read")
    if label.lower().endswith(".zip"):
        if info.file_size > MAX_TOTAL:
            raise GradingError(f"{label} is {info.file_size / 2**20:.1f} MB once unpacked; at most "
                               f"{MAX_TOTAL // 2**20} MB is read")
        with z.open(info) as fh:
            data = fh.read(MAX_TOTAL + 1)
        return [(f"{label}/{n}", r, s) for n, r, s in _zip_files(io.BytesIO(data), label)]
    return [(label, lambda: _read_member(z, info), info.file_size)]


def read_entry(entry: Entry) -> Student:
    """What ``entry`` holds, as code cells per file; never raises for a bad entry.
    Runs in the intake process (``intake``), where memory and time are limited."""
    student = Student(entry.id, entry.name, notes=list(entry.notes))
    files: list = []
    for path, member, label in entry.sources:
        p = Path(path)
        where = label or p.name
        try:
            if member is not None:
                files += _member_files(p, member, label)
            elif p.is_dir():
                files += [(f"{label}/{n}" if label else n, r, s) for n, r, s in _folder_files(p, student.notes)]
            elif p.suffix.lower() == ".zip":
                files += [(f"{label}/{n}" if label else n, r, s) for n, r, s in _zip_files(p)]
            elif p.suffix.lower() in CODE_SUFFIXES:
                files.append((where, p.read_bytes, p.stat().st_size))
            else:
                student.notes.append(f"{where}: expected a notebook (.ipynb), a .py file, a .zip or "
                                     "a folder of them")
        except GradingError as exc:
            student.notes.append(str(exc))
        except OSError as exc:
            student.notes.append(f"{where} could not be read ({type(exc).__name__}: {str(exc)[:80]})")
    try:
        _from_files(student, files)
    except (OSError, MemoryError, RecursionError) as exc:
        student.problem = f"{entry.name} could not be read ({type(exc).__name__}: {str(exc)[:80]})"
    return student


def read_student(sid: str, entry: Path) -> Student:
    """What the notebook, .py, folder or .zip at ``entry`` holds (one student, read in
    this process: Gradescope's single submission); never raises for a bad entry."""
    student = read_entry(Entry(sid, Path(entry).name, [(str(entry), None, "")]))
    student.entry = str(entry)
    return student
