"""Extraction: a student's graded functions and only what they need, found with ``ast``.

Nothing of a notebook runs here. For each exercise the ``def name(...)`` of
the ``# GRADED FUNCTION: name`` cell is taken (else the last top-level
definition of that name), plus the imports binding the global names it uses
(found with :mod:`symtable`, so a parameter named like a notebook global does
not count) and the student's own top-level helpers and constants it
references, transitively, all from the same file.

Across a student's files, one rule: the files whose ``# GRADED FUNCTION:
name`` cell defines ``name`` are the candidates (else every file defining
it); when several candidates define it differently, the first file in path
order is graded and the student is told so. A cell that cannot be parsed, or
an expression too deep for Python's own compiler, is that exercise's problem,
never the batch's.
"""

from __future__ import annotations

import ast
import inspect
import symtable
from dataclasses import dataclass, field

from ..cells import GRADED_HEADER
from .submissions import Student


@dataclass
class Piece:
    label: str
    source: str


@dataclass
class Extracted:
    """What one exercise needs from a submission, or why it cannot be graded."""

    exercise: str
    pieces: list[Piece] = field(default_factory=list)  # helpers first, the function last
    problem: str | None = None
    signature: ast.arguments | None = None
    note: str | None = None
    headed: bool = False


def clean_cell(source: str) -> str | None:
    """IPython magics and shell escapes become ``pass``; a ``%%cell`` magic drops the cell."""
    if source.lstrip().startswith("%%"):
        return None
    out = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")) or (stripped.endswith("?") and not stripped.startswith("#")):
            out.append(line[: len(line) - len(stripped)] + "pass")
        else:
            out.append(line)
    return "\n".join(out)


def _global_names(table: symtable.SymbolTable) -> set[str]:
    if table.get_type() == "module":
        names = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    else:
        names = {s.get_name() for s in table.get_symbols() if s.is_global()}
    for child in table.get_children():
        names |= _global_names(child)
    return names


def _needs(stmt: ast.stmt) -> set[str]:
    """The global names a top-level statement needs (exact for def/class, via symtable)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        try:
            return _global_names(symtable.symtable(ast.unparse(stmt), "<cell>", "exec"))
        except (SyntaxError, ValueError):
            pass
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}


def _names_bound(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names if a.name != "*"}
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and stmt.value is not None:
        targets = [stmt.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _parse(cells: list[str]) -> tuple[list[ast.Module | None], dict[int, str]]:
    trees, errors = [], {}
    for i, src in enumerate(cells):
        try:
            trees.append(ast.parse(src))
        except (SyntaxError, ValueError) as exc:
            trees.append(None)
            errors[i] = (f"{type(exc).__name__} at line {getattr(exc, 'lineno', '?')} of that cell: "
                         f"{getattr(exc, 'msg', exc)}")
    return trees, errors


def _find(cells, trees, exercise):
    """(headed cell indices, (cell, def) or None)."""
    headed = [i for i, src in enumerate(cells) if any(m.group(1) == exercise for m in GRADED_HEADER.finditer(src))]
    for i in headed + [i for i in range(len(cells)) if i not in headed]:
        if trees[i] is not None:
            defs = [s for s in trees[i].body if isinstance(s, ast.FunctionDef) and s.name == exercise]
            if defs:
                return headed, (i, defs[-1])
    return headed, None


def _closure(trees, fn, exercise) -> dict:
    """The top-level statements ``fn`` needs, keyed by (cell, index); last binding wins."""
    binders, stars = {}, []
    for i, tree in enumerate(trees):
        for k, stmt in enumerate(tree.body if tree is not None else ()):
            if stmt is fn:
                continue
            if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
                stars.append((i, k, stmt))
            for name in _names_bound(stmt):
                binders[name] = (i, k, stmt)
    chosen = {}
    todo = list(_needs(fn) - {exercise})
    seen = set(todo)
    while todo:
        entry = binders.get(todo.pop())
        if entry is None or (entry[0], entry[1]) in chosen:
            continue
        chosen[(entry[0], entry[1])] = entry[2]
        for n in _needs(entry[2]) - seen:
            seen.add(n)
            todo.append(n)
    for i, k, stmt in stars:
        chosen[(i, k)] = stmt
    return chosen


def extract(cells: list[str], exercise: str, label: str = "") -> Extracted:
    """Find ``def exercise`` in one file's cells and what it needs, executing nothing."""
    cells = [c for c in (clean_cell(c) for c in cells) if c is not None]
    where = f" of {label}" if label else ""
    try:
        trees, errors = _parse(cells)
        headed, found = _find(cells, trees, exercise)
        if found is None:
            bad = [i for i in headed if i in errors]
            if bad:
                return Extracted(exercise, problem=f"the `# GRADED FUNCTION: {exercise}` cell{where} has a "
                                 f"syntax error ({errors[bad[0]]}), so {exercise} could not be graded")
            return Extracted(exercise, problem=f"no function `{exercise}` found: keep the "
                             f"`# GRADED FUNCTION: {exercise}` cell and its `def {exercise}(...)` line")
        cell, fn = found
        chosen = _closure(trees, fn, exercise)
        pieces = [Piece(f"{label} cell {i + 1}".strip(), ast.unparse(s)) for (i, _k), s in sorted(chosen.items())]
        pieces.append(Piece(f"{label} cell {cell + 1}".strip(), ast.unparse(fn)))
        for p in pieces:  # Python's own compiler must take it (deep expressions do not)
            compile(p.source, "<check>", "exec", dont_inherit=True)
    except (RecursionError, MemoryError) as exc:
        return Extracted(exercise, problem=f"`{exercise}`{where} is too deeply nested or too large for "
                         f"Python to compile ({type(exc).__name__}); simplify the expression")
    except (SyntaxError, ValueError) as exc:
        return Extracted(exercise, problem=f"`{exercise}`{where} cannot be compiled ({type(exc).__name__}: "
                         f"{str(exc)[:100]})")
    return Extracted(exercise, pieces, signature=fn.args, headed=cell in headed)


def extract_student(student: Student, exercise: str) -> Extracted:
    """The exercise across all of a student's files (see the module's rule)."""
    found = [(s, extract(s.cells, exercise, s.label if len(student.sources) > 1 else "")) for s in student.sources]
    ok = [(s, e) for s, e in found if e.problem is None]
    pool = [(s, e) for s, e in ok if e.headed] or ok
    if not pool:
        problems = [e for _s, e in found if not e.problem.startswith("no function")]
        return (problems or [e for _s, e in found] or [Extracted(exercise, problem=f"no function `{exercise}` found")])[0]
    source, chosen = pool[0]
    others = [s.label for s, e in pool[1:] if [p.source for p in e.pieces] != [p.source for p in chosen.pieces]]
    if others:
        chosen.note = (f"`{exercise}` is defined differently in {source.label} and {', '.join(others)}; "
                       f"{source.label} (the first in name order) was graded: keep one definition")
    return chosen


def signature_problem(exercise: str, args: ast.arguments, call_args: tuple, call_kwargs: dict,
                      reference=None) -> str | None:
    """Why the student's parameter list cannot take these arguments, or None (a case's
    probe keyword is the checks' own, popped before the call: not an argument)."""
    from ..checks.calling import PROBE

    call_kwargs = {k: v for k, v in call_kwargs.items() if k != PROBE}
    params = []
    for a in args.posonlyargs:
        params.append(inspect.Parameter(a.arg, inspect.Parameter.POSITIONAL_ONLY))
    n_pos = len(args.posonlyargs) + len(args.args)
    first_default = n_pos - len(args.defaults)
    for k, a in enumerate(args.args, start=len(args.posonlyargs)):
        default = None if k >= first_default else inspect.Parameter.empty
        params.append(inspect.Parameter(a.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default))
    for k, a in enumerate(args.posonlyargs):
        if k >= first_default:
            params[k] = params[k].replace(default=None)
    if args.vararg:
        params.append(inspect.Parameter(args.vararg.arg, inspect.Parameter.VAR_POSITIONAL))
    for a, d in zip(args.kwonlyargs, args.kw_defaults):
        params.append(inspect.Parameter(a.arg, inspect.Parameter.KEYWORD_ONLY,
                                        default=inspect.Parameter.empty if d is None else None))
    if args.kwarg:
        params.append(inspect.Parameter(args.kwarg.arg, inspect.Parameter.VAR_KEYWORD))
    try:
        inspect.Signature(params).bind(*call_args, **call_kwargs)
    except (TypeError, ValueError) as exc:
        want = f"; the lesson's signature is {exercise}{inspect.signature(reference)}" if reference else ""
        return (f"wrong signature: your {exercise}({ast.unparse(args)}) cannot be called as the "
                f"tests call it ({exc}){want}")
    return None
