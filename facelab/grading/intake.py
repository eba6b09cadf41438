"""The intake: one student's files read and their graded functions extracted, in a
child process of its own with a memory and a time limit.

Nothing of a submission runs here either (``submissions`` reads, ``extract``
uses ``ast``), but parsing what a student hands in costs memory and time: a
5.7 MB ``.py`` file holding a 3,000,000-element list literal takes more than
2 GB to parse. So the grader never parses a submission itself: for each
student it starts ``python -I -c "...intake import main; main()"``, sends the
entry (paths and names only) on stdin, and reads one JSON answer on stdout.
The child sets ``RLIMIT_AS`` (``memory_mb``) and ``RLIMIT_CPU`` on itself before
reading a byte of the submission; the grader kills it when the student's
time budget runs out. Its time counts against that student's budget, and any
failure (out of memory, out of time, a crash) becomes that student's
one-line reason. What comes back is bounded: the code each exercise needs is
at most :data:`MAX_CODE` bytes (it must fit one wire frame to the sandbox),
so the grader's memory does not grow with what a student hands in.
"""

from __future__ import annotations

import ast
import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from .extract import Extracted, Piece, extract_student
from .submissions import Entry, Student, read_entry

DEFAULT_MEMORY_MB = 1024.0   # address space of one intake process
MAX_CODE = 2 * 2**20         # bytes of extracted code per student, JSON-encoded (all exercises)
MAX_SIGNATURE = 4000         # characters of a parameter list
MAX_STATEMENT = 256 * 2**10  # characters of one top-level statement that is parsed at all
CONTINUES = ("elif", "else", "except", "finally")
MAX_REPLY = MAX_CODE + 2**20
ARGV = [sys.executable, "-I", "-c", "from facelab.grading.intake import main; main()"]


@dataclass
class Intake:
    """What the child answered, as the grader uses it."""

    student: Student          # problem, notes, extracted (exercise -> Extracted)
    seconds: float = 0.0


# ------------------------------------------------------------------ the child

def _bare_signature(args: ast.arguments) -> str:
    """The parameter list with every default replaced by None, without annotations:
    all the grader's signature check needs, and small."""
    def arg(a):
        return None if a is None else ast.arg(arg=a.arg)
    bare = ast.arguments(posonlyargs=[arg(a) for a in args.posonlyargs], args=[arg(a) for a in args.args],
                         vararg=arg(args.vararg), kwonlyargs=[arg(a) for a in args.kwonlyargs],
                         kw_defaults=[None if d is None else ast.Constant(None) for d in args.kw_defaults],
                         kwarg=arg(args.kwarg), defaults=[ast.Constant(None) for _ in args.defaults])
    return ast.unparse(bare)


def statements(cell: str) -> list[str] | None:
    """A cell's top-level statements as text (a decorator stays with its ``def``, an
    ``else`` with its ``if``), found with ``tokenize`` (no tree is built); None when
    the cell does not tokenize (``extract`` then says what is wrong with it)."""
    import io
    import tokenize

    lines = cell.splitlines(keepends=True)
    starts, fresh, decorated = [], True, False
    try:
        for tok in tokenize.generate_tokens(io.StringIO(cell).readline):
            if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.DEDENT):
                fresh = fresh or tok.type == tokenize.NEWLINE
                continue
            if tok.type in (tokenize.COMMENT, tokenize.INDENT, tokenize.ENCODING, tokenize.ENDMARKER):
                continue
            if fresh and tok.start[1] == 0 and not (tok.type == tokenize.NAME and tok.string in CONTINUES):
                if not decorated:
                    starts.append(tok.start[0] - 1)
                decorated = tok.string == "@"
            fresh = False
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    if not starts:
        return [cell]
    starts[0] = 0
    return ["".join(lines[a:b]) for a, b in zip(starts, starts[1:] + [len(lines)])]


def shrink(cell: str, label: str, notes: list) -> str:
    """``cell`` without its top-level statements longer than MAX_STATEMENT characters
    (a huge literal would take gigabytes to parse); each one dropped is noted."""
    if len(cell) <= MAX_STATEMENT:
        return cell
    parts = statements(cell)
    if parts is None:
        return cell
    kept = []
    for part in parts:
        if len(part) > MAX_STATEMENT:
            first = part.strip().splitlines()[0][:60] if part.strip() else ""
            notes.append(f"{label}: a statement of {len(part) / 2**20:.1f} MB ({first}...) was left out: "
                         f"statements over {MAX_STATEMENT // 2**10} KB are not graded")
        else:
            kept.append(part)
    return "".join(kept)


def answer(entry: Entry, exercises: list[str]) -> dict:
    """The child's work: read the entry, extract every exercise (bounded)."""
    student = read_entry(entry)
    for source in student.sources:
        source.cells = [shrink(c, source.label, student.notes) for c in source.cells]
    out = {"problem": student.problem, "notes": [str(n)[:300] for n in student.notes[:20]], "exercises": {}}
    if student.problem:
        return out
    budget = MAX_CODE
    for name in exercises:
        ex = extract_student(student, name)
        item = {"problem": ex.problem, "note": ex.note, "pieces": [], "signature": None}
        if ex.problem is None:
            size = sum(len(json.dumps(p.source)) for p in ex.pieces)  # as the wire carries it
            sig = _bare_signature(ex.signature)
            if size > budget:
                item["problem"] = (f"`{name}` and what it uses come to {size / 2**20:.1f} MB of code; at most "
                                   f"{MAX_CODE / 2**20:g} MB of a submission's code is run: keep large data "
                                   "out of the graded functions")
            elif len(sig) > MAX_SIGNATURE:
                item["problem"] = f"`{name}` has a parameter list of {len(sig)} characters; keep the lesson's"
            else:
                budget -= size
                item["pieces"] = [[p.label, p.source] for p in ex.pieces]
                item["signature"] = sig
        out["exercises"][name] = item
    return out


def main() -> None:
    """Entry point of the child: request on stdin, answer on stdout."""
    req = json.loads(sys.stdin.buffer.read(2**20))
    mb = float(req["memory_mb"])
    limit = int(mb * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = max(1, int(req["seconds"]) + 1)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    sys.setrecursionlimit(10_000)
    try:
        reply = answer(Entry.from_json(req["entry"]), list(req["exercises"]))
    except MemoryError:
        reply = {"problem": f"reading and parsing what was handed in needs more than {mb:g} MB of "
                 "memory (a huge notebook or .py file?); hand in the workbook's notebooks only"}
    except RecursionError:
        reply = {"problem": "what was handed in nests too deeply to be read"}
    sys.stdout.buffer.write(json.dumps(reply).encode())
    sys.stdout.flush()


# ------------------------------------------------------------------ the grader's side

def _problem(entry: Entry, why: str) -> Student:
    return Student(entry.id, entry.name, problem=why, notes=list(entry.notes))


def _student(entry: Entry, reply: dict) -> Student:
    """The child's JSON as a Student with its extractions; malformed -> a problem."""
    student = Student(entry.id, entry.name, problem=reply.get("problem") or None,
                      notes=[str(n)[:300] for n in (reply.get("notes") or [])][:20])
    if student.problem:
        student.problem = str(student.problem)[:400]
        return student
    student.extracted = {}
    for name, item in dict(reply["exercises"]).items():
        if item.get("problem"):
            student.extracted[name] = Extracted(name, problem=str(item["problem"])[:400])
            continue
        sig = str(item["signature"])
        args = ast.parse(f"def f({sig}):\n    pass").body[0].args
        pieces = [Piece(str(label), str(src)) for label, src in item["pieces"]]
        student.extracted[name] = Extracted(name, pieces, signature=args,
                                            note=str(item["note"])[:300] if item.get("note") else None)
    return student


def run(entry: Entry, exercises: list[str], seconds: float, memory_mb: float = DEFAULT_MEMORY_MB) -> Intake:
    """Read and extract ``entry`` in a limited child; always returns (a failure is the
    student's problem, one line)."""
    t0 = time.monotonic()
    request = json.dumps({"entry": entry.to_json(), "exercises": exercises, "memory_mb": memory_mb,
                          "seconds": seconds}).encode()
    try:
        proc = subprocess.Popen(ARGV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError as exc:
        return Intake(_problem(entry, f"the grader could not start its reader ({exc})"), 0.0)
    try:
        proc.stdin.write(request)
        proc.stdin.close()
    except OSError:
        pass
    chunks, size, why = [], 0, None
    deadline = t0 + seconds
    fd = proc.stdout.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            why = (f"reading what was handed in took longer than the time budget of {seconds:g} s "
                   "(a huge notebook or .py file?)")
            break
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_REPLY:
            why = "what was handed in gives more code than the grader reads"
            break
        chunks.append(chunk)
    if why:
        _kill(proc)
    code = proc.wait()
    proc.stdout.close()
    spent = time.monotonic() - t0
    if why:
        return Intake(_problem(entry, why), spent)
    try:
        return Intake(_student(entry, json.loads(b"".join(chunks))), spent)
    except (ValueError, KeyError, TypeError, AttributeError, SyntaxError, RecursionError, MemoryError):
        signal_name = f"signal {-code}" if code < 0 else f"exit code {code}"
        return Intake(_problem(entry, f"reading what was handed in stopped the reader ({signal_name}): more "
                               f"than {memory_mb:g} MB of memory or {seconds:g} s of CPU? hand in the "
                               "workbook's notebooks only"), spent)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
