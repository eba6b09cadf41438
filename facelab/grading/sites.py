"""A course site's download, as students: Canvas, Moodle, nbgrader, or a plain folder.

``find_entries(paths, fmt)`` returns ``(format, entries)``, one
:class:`~facelab.grading.submissions.Entry` per student, sorted by id.
Nothing of a file is read here but names (and, for a zip, its directory);
the files themselves are read later in the limited intake process.

- **canvas**: "Download Submissions" (a zip, or the folder it unzips to): files
  side by side, each ``<login>_<user id>_<submission id>_<original name>``, or
  ``<login>_LATE_<user id>_...`` when late. A re-submitted file carries ``-1``,
  ``-2``... before its extension; of one original name the newest is taken
  (the largest suffix, then the largest submission id) and the student is
  told which were left. Id ``<login>_<user id>``; the user id is what
  ``canvas.csv`` is matched by.
- **moodle**: "Download all submissions" (a zip or its folder): one folder per
  student and plugin, ``<Full Name>_<participant id>_assignsubmission_file_``
  (or, without "download submissions in folders", files named
  ``<Full Name>_<id>_assignsubmission_file_<original name>``). Id
  ``<Full_Name>_<id>``; ``moodle.csv`` names the student "Participant <id>",
  as Moodle's grading worksheet does.
- **nbgrader**: the course's ``submitted/`` folder (what ``nbgrader collect`` and
  ``nbgrader zip_collect`` fill): ``submitted/<student id>/<assignment>/``;
  every notebook of the student's folder is read, ``timestamp.txt`` is kept.
- **folder**: each entry of the folders given, and each file given, is one student.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import GradingError
from .submissions import Entry, assign_ids, folder_entries

FORMATS = ("auto", "folder", "canvas", "moodle", "nbgrader")
CANVAS = re.compile(r"^(?P<login>.+?)_(?:(?P<late>LATE)_)?(?P<uid>\d+)_(?P<sub>\d+)_(?P<name>.+)$")
MOODLE = re.compile(r"^(?P<full>.+)_(?P<pid>\d+)_assign(?:submission|feedback)_(?P<plugin>[A-Za-z0-9]+)_(?P<rest>.*)$")
RESUBMITTED = re.compile(r"^(?P<base>.+)-(?P<n>\d+)(?P<ext>\.[^./]+)$")
MAX_COURSE_ZIP_ENTRIES = 200_000


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _items(root: Path) -> list[tuple[str, bool, tuple]]:
    """(top-level name, is a folder, source) for every file of a download, a folder's
    files directly under it or a zip's members. A file inside a top folder is one
    source labelled by its path inside that folder."""
    out = []
    if root.is_dir():
        for e in sorted(root.iterdir()):
            if _hidden(e.name) or e.is_symlink():
                continue
            out.append((e.name, e.is_dir(), (str(e), None, "" if e.is_dir() else e.name)))
        return out
    try:
        with zipfile.ZipFile(root) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise GradingError(f"{root.name} is not a readable zip ({str(exc)[:80]})") from None
    if len(infos) > MAX_COURSE_ZIP_ENTRIES:
        raise GradingError(f"{root.name} has {len(infos)} entries; at most {MAX_COURSE_ZIP_ENTRIES} are read")
    for info in infos:
        parts = PurePosixPath(info.filename).parts
        if info.is_dir() or not parts or any(_hidden(p) for p in parts):
            continue
        rest = "/".join(parts[1:])
        out.append((parts[0], bool(rest), (str(root), info.filename, rest or parts[0])))
    return out


def detect(root: Path) -> str:
    """The format of one path given: nbgrader, canvas, moodle or folder."""
    if root.is_dir() and (root.name == "submitted" or (root / "submitted").is_dir()):
        return "nbgrader"
    if not (root.is_dir() or root.suffix.lower() == ".zip"):
        return "folder"
    try:
        tops = {name: is_dir for name, is_dir, _ in _items(root)}
    except GradingError:
        return "folder"
    if tops and all(not d and CANVAS.match(n) for n, d in tops.items()):
        return "canvas"
    if tops and all(MOODLE.match(n) for n in tops):
        return "moodle"
    return "folder"


def find_entries(paths, fmt: str = "auto") -> tuple[str, list[Entry]]:
    """(format, students) of the paths given; a site's format takes exactly one path."""
    paths = [Path(p) for p in paths]
    if fmt not in FORMATS:
        raise GradingError(f"expected a format among {', '.join(FORMATS)}, got {fmt!r}")
    for p in paths:
        if not p.exists():
            raise GradingError(f"{p}: no such file or folder (expected a notebook, a .py file, "
                               "a .zip, a folder of students or a course site's download)")
    if fmt == "auto":
        fmt = detect(paths[0]) if len(paths) == 1 else "folder"
    if fmt == "folder":
        return fmt, folder_entries(paths)
    if len(paths) != 1:
        raise GradingError(f"expected one {fmt} download (a zip or a folder), got {len(paths)} paths")
    root = paths[0]
    entries = {"canvas": canvas_entries, "moodle": moodle_entries, "nbgrader": nbgrader_entries}[fmt](root)
    if not entries:
        raise GradingError(f"no {fmt} submission found in {root}")
    return fmt, entries


def _finish(found: list[tuple[str, Entry]]) -> list[Entry]:
    """Give each (wanted id, entry) its unique id; sorted by id."""
    ids = assign_ids([(w, e.name) for w, e in found])
    for i, (_w, e) in zip(ids, found):
        e.id = i
    return sorted((e for _w, e in found), key=lambda e: (e.id.lower(), e.id))


def _newest(files: list[tuple[str, int, tuple]]) -> tuple[list[tuple], list[str]]:
    """Of (original name, submission id, source), the newest file of each original name
    (``name-2.ipynb`` over ``name-1.ipynb`` over ``name.ipynb``) and notes on the rest."""
    groups: dict[str, list] = {}
    for name, sub, src in files:
        m = RESUBMITTED.match(name)
        base, n = (m["base"] + m["ext"], int(m["n"])) if m else (name, 0)
        groups.setdefault(base.lower(), []).append((n, sub, name, src))
    kept, notes = [], []
    for _base, group in sorted(groups.items()):
        group.sort(key=lambda g: (g[0], g[1], g[2]))
        kept.append(group[-1])
        if len(group) > 1:
            notes.append(f"{group[-1][2]} was graded, the newest of "
                         + ", ".join(g[2] for g in group[:-1]) + " (re-submitted)")
    return kept, notes


def canvas_entries(root: Path) -> list[Entry]:
    by_user: dict[str, list] = {}
    for top, is_dir, src in _items(root):
        m = CANVAS.match(top)
        if m is None or is_dir:
            raise GradingError(f"{root.name}: {top!r} is not named as Canvas names a submission "
                               "(<login>_<user id>_<submission id>_<file name>)")
        by_user.setdefault(m["uid"], []).append((m, src))
    found = []
    for uid, files in by_user.items():
        kept, notes = _newest([(m["name"], int(m["sub"]), (src[0], src[1], m["name"])) for m, src in files])
        late = {m["name"] for m, _ in files if m["late"]}
        login = files[0][0]["login"]
        entry = Entry("", login, [k[3] for k in kept], late=any(k[2] in late for k in kept),
                      site={"canvas_id": uid, "login": login,
                            "submission_id": str(max(k[1] for k in kept))}, notes=notes)
        found.append((f"{login}_{uid}", entry))
    return _finish(found)


def moodle_entries(root: Path) -> list[Entry]:
    by_id: dict[str, list] = {}
    for top, is_dir, src in _items(root):
        m = MOODLE.match(top)
        if m is None:
            raise GradingError(f"{root.name}: {top!r} is not named as Moodle names a submission "
                               "(<Full Name>_<id>_assignsubmission_file_)")
        if m["plugin"] != "file":
            continue  # online text, comments: no code
        if not is_dir:  # flat: the original name follows the plugin's name
            src = (src[0], src[1], m["rest"] or top)
        by_id.setdefault(m["pid"], []).append((m["full"], src))
    found = []
    for pid, files in by_id.items():
        full = files[0][0]
        entry = Entry("", full, [s for _f, s in files], site={"moodle_id": pid, "full_name": full})
        found.append((f"{full}_{pid}", entry))
    return _finish(found)


def nbgrader_entries(root: Path) -> list[Entry]:
    sub = root if root.name == "submitted" else root / "submitted"
    found = []
    for d in sorted(sub.iterdir()):
        if _hidden(d.name) or d.is_symlink() or not d.is_dir():
            continue
        assignments = sorted(a.name for a in d.iterdir() if a.is_dir() and not _hidden(a.name))
        stamps = []
        for a in assignments:
            with_stamp = d / a / "timestamp.txt"
            if with_stamp.is_file() and not with_stamp.is_symlink():
                with open(with_stamp, "rb") as fh:
                    stamps.append(fh.read(64).decode("utf-8", "replace").strip())
        entry = Entry("", d.name, [(str(d), None, "")],
                      site={"nbgrader_id": d.name, "assignments": assignments[:20],
                            "timestamp": max(stamps) if stamps else ""})
        found.append((d.name, entry))
    return _finish(found)
