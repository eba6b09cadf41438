"""Turn the solution notebooks into student notebooks (`facelab release`).

What changes, and only that:

* In every graded cell (a ``# GRADED FUNCTION: name`` line, see
  :mod:`facelab.cells`), each statement
  between ``### START CODE HERE ###`` and ``### END CODE HERE ###`` becomes
  the lesson's placeholder, keeping its indentation:

  - ``x = expr`` -> ``x = None`` (also ``a, b = ...``, ``x += ...``, ``x: T = ...``);
  - ``if/elif/while cond:`` -> ``if None:``; ``for t in it:`` -> ``for t in None:``;
  - ``return expr`` -> ``return None``;
  - any other expression (a ``print(...)`` call...) -> ``None``;
  - ``else:``, ``try:``, ``except ...:``, ``finally:``, ``with ...:``, ``pass``,
    comments and blank lines are kept.

  A statement spanning several lines becomes one placeholder line.
* Outputs: every code cell has its outputs and execution count cleared, so a
  released notebook looks unrun (nothing of the instructor's run, no answer
  shown by a saved output). Students see what to expect in the markdown
  "Expected output" blocks. A cell the lesson wants shown before running
  carries the tag ``keep-output`` (cell metadata ``tags``): it keeps its
  outputs (photos stripped, see :func:`strip_photos`), not its count.
* Saved widget state (``metadata.widgets``) is dropped, as by :func:`strip_photos`.
* Everything else (markdown, metadata, other code) is kept as is.

Each student notebook is written atomically (temporary file, then rename).
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from collections.abc import Iterable, Sequence
from pathlib import Path

from .cells import graded_name
from .errors import ReleaseError
from .plots import PHOTO_NOTE

#: the mime type of a live widget view (facelab.widgets.WIDGET_VIEW, without importing it)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

START = re.compile(r"^\s*#+\s*START\s+CODE\s+HERE\s*#*\s*$", re.I)
END = re.compile(r"^\s*#+\s*END\s+CODE\s+HERE\s*#*\s*$", re.I)

_KEEP_HEADERS = ("else", "try", "finally", "except", "with", "async", "def", "class")
_KEEP_SIMPLE = ("pass", "break", "continue")


# ------------------------------------------------------------ one graded cell
def _logical_lines(source: str, where: str) -> list[tuple[int, int]]:
    """(first_row, last_row) of every statement line, 0-based, in ``source``."""
    spans, start = [], None
    skip = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENCODING, tokenize.ENDMARKER}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NEWLINE:
                if start is not None:
                    spans.append((start, tok.start[0] - 1))
                start = None
            elif tok.type not in skip and start is None:
                start = tok.start[0] - 1
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise ReleaseError(f"{where}: the graded cell is not valid Python ({exc})") from None
    if start is not None:
        spans.append((start, source.count("\n")))
    return spans


def _placeholder(statement: str, indent: str) -> str:
    """The student's placeholder for one statement (its text without indentation)."""
    word = re.match(r"[A-Za-z_]\w*", statement)
    word = word.group(0) if word else ""
    if word in ("if", "elif", "while"):
        return f"{indent}{word} None:"
    if word == "for":
        m = re.match(r"for\s+(.+?)\s+in\s", statement, re.S)
        target = m.group(1) if m else "_"
        return f"{indent}for {target} in None:"
    if word in _KEEP_HEADERS or word in _KEEP_SIMPLE or word in ("import", "from", "global",
                                                                   "nonlocal"):
        return indent + statement
    if word == "return":
        return f"{indent}return None"
    try:
        node = ast.parse(statement).body[0]
    except (SyntaxError, IndexError):
        return f"{indent}None"
    if isinstance(node, ast.Assign):
        targets = " = ".join(ast.get_source_segment(statement, t) for t in node.targets)
        return f"{indent}{targets} = None"
    if isinstance(node, ast.AnnAssign):
        target = ast.get_source_segment(statement, node.target)
        annotation = ast.get_source_segment(statement, node.annotation)
        return f"{indent}{target}: {annotation} = None"
    if isinstance(node, ast.AugAssign):
        return f"{indent}{ast.get_source_segment(statement, node.target)} = None"
    return f"{indent}None"


def student_source(source: str, where: str = "graded cell") -> str:
    """The student version of one graded cell's source (see the module docstring).

    Raises ReleaseError when the markers are missing, unbalanced or nested,
    or when the cell (before or after) is not valid Python.
    """
    lines = source.split("\n")
    regions, open_at = [], None
    for i, line in enumerate(lines):
        if START.match(line):
            if open_at is not None:
                raise ReleaseError(f"{where}: line {i + 1}: START CODE HERE inside another "
                                   "START/END block")
            open_at = i
        elif END.match(line):
            if open_at is None:
                raise ReleaseError(f"{where}: line {i + 1}: END CODE HERE without a "
                                   "START CODE HERE above it")
            regions.append((open_at, i))
            open_at = None
    if open_at is not None:
        raise ReleaseError(f"{where}: line {open_at + 1}: START CODE HERE is never closed by "
                           "### END CODE HERE ###")
    if not regions:
        raise ReleaseError(f"{where}: no ### START CODE HERE ### / ### END CODE HERE ### "
                           "block: nothing to hide from students")
    try:
        compile(source, where, "exec")
    except SyntaxError as exc:
        raise ReleaseError(f"{where}: the solution is not valid Python: {exc}") from None

    out: list[str | None] = list(lines)
    for first, last in _logical_lines(source, where):
        if not any(s < first and last < e for s, e in regions):
            continue
        text = "\n".join(lines[first:last + 1])
        indent = re.match(r"\s*", lines[first]).group(0)
        out[first] = _placeholder(text.strip(), indent)
        for k in range(first + 1, last + 1):
            out[k] = None
    result = "\n".join(line for line in out if line is not None)
    try:
        compile(result, where, "exec")
    except SyntaxError as exc:  # pragma: no cover - the rules above keep blocks valid
        raise ReleaseError(f"{where}: the student version would not be valid Python ({exc}); "
                           "simplify the solution's statements") from None
    return result


# ------------------------------------------------------------- one notebook
def release_notebook(nb, where: str = "notebook"):
    """A student copy of a notebook object (nbformat NotebookNode); ``nb`` is not changed."""
    import copy

    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        name = graded_name(cell.source)
        if name:
            cell.source = student_source(cell.source, f"{where}, cell {index + 1} "
                                                      f"(GRADED FUNCTION: {name})")
        if name or KEEP_OUTPUT not in (cell.get("metadata", {}).get("tags") or []):
            cell.outputs = []
        cell.execution_count = None
        for output in cell.get("outputs", []):  # a kept result shows no count either
            if output.get("output_type") == "execute_result":
                output["execution_count"] = None
    strip_photos(nb)
    return nb


#: the cell tag that keeps a cell's saved outputs in the student's copy
KEEP_OUTPUT = "keep-output"


def is_photo_output(output) -> bool:
    """True for a display output marked by facelab.plots as showing photos of people."""
    meta = output.get("metadata") or {}
    return bool((meta.get("facelab") or {}).get("photo"))


def strip_photos(nb) -> int:
    """Remove photos and widget state in place; return how many outputs (or states) changed.

    The photos of the celebrity set are never committed, not even inside a
    notebook's saved outputs. The output itself stays, its text being
    :data:`facelab.plots.PHOTO_NOTE` ("[photo: it appears when you run this
    cell]") followed by the figure's words (what it shows, no pixels), the
    same text a fresh run gives, so nbval (which does not compare images)
    still matches it. Widgets leave two things in an
    executed notebook: the saved widget state (``metadata.widgets``, which
    holds what their Output areas showed, photos included) is removed, and
    each widget view (a random model id) is removed from its output, whose
    text fallback stays (what nbval compares; see :mod:`facelab.widgets`).
    """
    changed = 0
    if "widgets" in nb.get("metadata", {}):
        del nb.metadata["widgets"]
        changed += 1
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                del output["data"][WIDGET_VIEW]
                changed += 1
            if not is_photo_output(output):
                continue
            data = output.setdefault("data", {})
            images = [m for m in data if m.startswith("image/")]
            text = "".join(data.get("text/plain", ""))
            if images or not text.startswith(PHOTO_NOTE):
                changed += 1
            for mime in images:
                del data[mime]
            if not text.startswith(PHOTO_NOTE):  # the note, then the photo's words, stay
                data["text/plain"] = PHOTO_NOTE
    return changed


def strip_photos_files(paths: Sequence[str | os.PathLike]) -> dict:
    """Apply :func:`strip_photos` to notebook files (written atomically); {path: count}."""
    done = {}
    for path in _expand(paths):
        nb = _read(path)
        count = strip_photos(nb)
        if count:
            _write_atomic(nb, path)
        done[path] = count
    return done


def _read(path: Path):
    import nbformat

    if not path.is_file():
        raise ReleaseError(f"notebook not found: {path}")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several kinds for a bad file
        raise ReleaseError(f"{path} is not a readable notebook ({type(exc).__name__}: "
                           f"{str(exc)[:200]})") from None


def _write_atomic(nb, path: Path) -> None:
    import nbformat

    from .atomic import atomic_write

    with atomic_write(path, text=True) as handle:
        nbformat.write(nb, handle)


def default_sources() -> Path:
    """The workbook's solution notebooks: the checkout's ``notebooks/``, or the copy
    inside an installed wheel (see :func:`facelab.layout.notebooks_dir`)."""
    from .layout import notebooks_dir

    return notebooks_dir()


def _expand(sources: Iterable[str | os.PathLike]) -> list[Path]:
    found = []
    for src in sources:
        path = Path(src)
        if path.is_dir():
            found += sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
        elif path.suffix == ".ipynb" or path.exists():
            if not path.exists():
                raise ReleaseError(f"notebook not found: {path}")
            if path.suffix != ".ipynb":
                raise ReleaseError(f"expected a .ipynb notebook or a folder, got {path}")
            found.append(path)
        else:
            raise ReleaseError(f"no such notebook or folder: {path}")
    if not found:
        raise ReleaseError("no notebooks to release (the folders hold no .ipynb files)")
    return found


def release(sources: Sequence[str | os.PathLike], out_dir: str | os.PathLike) -> list[Path]:
    """Write the student version of each source notebook into ``out_dir``.

    ``sources`` are notebooks or folders of notebooks. Refuses to write into
    a folder holding one of the sources (it would overwrite the solutions).
    All notebooks are transformed before any is written. Returns the paths
    written.
    """
    paths = _expand(sources)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ReleaseError(f"output {out} exists and is not a folder")
    for path in paths:
        if out.exists() and path.parent.resolve() == out.resolve():
            raise ReleaseError(f"output folder {out} holds the solution notebook {path.name}: "
                               "choose another folder, the release would overwrite it")
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise ReleaseError("two source notebooks have the same file name: "
                           + ", ".join(sorted({n for n in names if names.count(n) > 1})))
    released = [(path, release_notebook(_read(path), path.name)) for path in paths]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, nb in released:
        target = out / path.name
        _write_atomic(nb, target)
        written.append(target)
    return written
