"""The hostile suite: every submission in tests/hostile/ graded by `facelab grade`.

Each hostile file says in its first lines what it tries and the score it
must not exceed, per exercise: ``# bound: 0`` = what plain constants earn
(tests/hostile/_constants.py: a distance of 0.0 is right for two identical
pictures), ``# bound: pixel_distance`` = the maximum of the exercises it
solves honestly, constants' points for the others. Right after each one, in name
order, a correct student (tests/hostile/_correct.py) is graded and must get
the maximum, with one slot and with two. After the batch: the exit code is
0, no process of a sandbox user is alive, no file or IPC object of theirs is
left in the shared folders, nothing outside the output folder changed (the
repository, the package and the submissions, hashed before and after), the
outputs do not change after the grader exited, and no submission reached a
listener on 127.0.0.1 or an abstract unix socket (user mode: the seccomp filter).
Across students: no submission reports "LEAK FOUND" (what a reader of another
student's memory, files or IPC objects says when it finds any), no hidden
case's argument appears in anything a student sees, plain or encoded (hex in
the letters g-v, base64, split over lines), and a state probe graded first
and last (tests/hostile/_state.py: limits, nice value, scheduling, cgroup,
open files, environment, identity) sees the same state. A file marked
``# twice`` is graded a second time right after itself (``<name>_again``),
so the copy meets what the first one left.

Runs in both sandbox modes ("namespaces" with one slot, "user" with two;
FACELAB_HOSTILE_ALL=1 adds the other two pairs); "namespaces" is skipped where
the machine refuses namespaces. Needs root, TensorFlow and the model: slow
(about 5 minutes a run on 2 cores).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import ROOT

HOSTILE = Path(__file__).resolve().parent / "hostile"
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock")
PORT = 47613
ABSTRACT = "\0facelab-hostile-listener"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root to switch users")]


ONLY = [n for n in os.environ.get("FACELAB_HOSTILE_ONLY", "").split(",") if n]


def hostile_files() -> list[Path]:
    """Every attack, or those named in $FACELAB_HOSTILE_ONLY (comma-separated stems: for
    developing one attack; the suite's size check then skips)."""
    return sorted(p for p in HOSTILE.glob("*.py") if not p.name.startswith("_") and (not ONLY or p.stem in ONLY))


def twice(path: Path) -> bool:
    return "# twice" in path.read_text().splitlines()[:4]


def closed_folders() -> list[str]:
    """Folders above the Python installation and the package that "other" cannot search
    (Python may live in root's 0700 home here): the suite names them, as an instructor
    would, in $FACELAB_SANDBOX_SEARCHABLE; the grader opens no other."""
    from facelab.grading import sandbox
    _view_roots = getattr(sandbox, "secrets", sandbox)._view_roots
    return sorted({str(a) for r in _view_roots() for a in Path(r).parents if not os.stat(a).st_mode & 0o001})


def bound_of(path: Path) -> list[str]:
    """The exercises whose points the submission may keep ([] = it must score 0)."""
    for line in path.read_text().splitlines()[:3]:
        if line.startswith("# bound:"):
            value = line.split(":", 1)[1].strip()
            return [] if value == "0" else [v.strip() for v in value.split(",")]
    raise AssertionError(f"{path.name} declares no '# bound:' line")


def fingerprint(roots, skip) -> dict:
    """path -> (mode, size, sha256 of small files / mtime of large ones) of every file."""
    seen = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__" and os.path.join(folder, d) not in skip]
            seen[folder] = (os.stat(folder).st_mode,)
            for name in files:
                path = os.path.join(folder, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if st.st_size < 2**20 and os.path.isfile(path) and not os.path.islink(path):
                    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                else:
                    digest = st.st_mtime_ns
                seen[path] = (st.st_mode, st.st_size, digest)
    return seen


class Listener:
    """A TCP listener on 127.0.0.1:PORT and an abstract unix socket, counting connections."""

    def __init__(self):
        self.hits, self.socks = [], []
        for family, address in ((socket.AF_INET, ("127.0.0.1", PORT)), (socket.AF_UNIX, ABSTRACT)):
            s = socket.socket(family)
            try:
                s.bind(address)
            except OSError:
                continue  # busy port: that check is skipped
            s.listen()
            s.settimeout(0.2)
            self.socks.append(s)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop.is_set():
            for s in self.socks:
                try:
                    conn, _ = s.accept()
                    self.hits.append(s.family)
                    conn.close()
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def batch_uids(stderr: str) -> set[int]:
    """The sandbox users this batch claimed, from the grader's start-up line (other graders
    on the machine hold others)."""
    line = next((l for l in stderr.splitlines() if l.startswith("sandbox:")), "")
    return {int(u) for u in re.findall(r"\(uid (\d+)\)", line)}


def leftovers(uids) -> list[str]:
    """Processes, files in the shared writable folders and IPC objects of the sandbox users."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["Uid"].split()[0]) in uids and not fields["State"].strip().startswith("Z"):
            left.append(f"process {pid} {fields['Name'].strip()}")
    for folder in filter(os.path.isdir, SHARED_WRITABLE):
        for entry in os.scandir(folder):
            if entry.stat(follow_symlinks=False).st_uid in uids:
                left.append(f"file {entry.path}")
    for kind in ("shm", "sem", "msg"):
        rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        head = rows[0].split()
        left += [f"{kind} {r.split()[1]}" for r in rows[1:] if int(r.split()[head.index("uid")]) in uids]
    return left


# CI runs each mode once, one of them with two slots; FACELAB_HOSTILE_ALL=1 runs all four
RUNS = [("namespaces", 1), ("user", 2)] + ([("namespaces", 2), ("user", 1)]
                                          if os.environ.get("FACELAB_HOSTILE_ALL") else [])
if os.environ.get("FACELAB_HOSTILE_RUNS"):  # e.g. "user-1,namespaces-1"
    RUNS = [(m, int(j)) for m, j in (r.rsplit("-", 1) for r in os.environ["FACELAB_HOSTILE_RUNS"].split(","))]


@pytest.fixture(scope="module", params=RUNS, ids=lambda p: f"{p[0]}-jobs{p[1]}")
def batch(request, tmp_path_factory):
    mode, jobs = request.param
    if mode == "namespaces":
        probe = subprocess.run(["unshare", "--pid", "--fork", "--mount", "--net", "true"],
                               capture_output=True)
        if probe.returncode != 0:
            pytest.skip("this machine refuses namespaces")
    work = tmp_path_factory.mktemp(f"hostile-{mode}-{jobs}")
    subs, out = work / "submissions", work / "out"
    subs.mkdir()
    shutil.copy(HOSTILE / "_correct.py", subs / "aaa_correct.py")
    shutil.copy(HOSTILE / "_constants.py", subs / "aaa_constants.py")
    for name in ("aaa_state.py", "zzz_state.py"):
        shutil.copy(HOSTILE / "_state.py", subs / name)
    for h in hostile_files():
        shutil.copy(h, subs / h.name)
        shutil.copy(HOSTILE / "_correct.py", subs / f"{h.stem}_zcorrect.py")
        if twice(h):
            shutil.copy(h, subs / f"{h.stem}_again.py")
    import facelab
    watched = [str(ROOT), str(Path(facelab.__file__).parent), str(subs)]
    skip = {str(ROOT / n) for n in (".venv", "images", "weights", ".pytest_cache")} | {str(out)}
    before = fingerprint(watched, skip)
    listener = Listener()
    t0 = time.monotonic()
    try:
        env = dict(os.environ, FACELAB_SANDBOX_SEARCHABLE=os.pathsep.join(closed_folders()))
        r = subprocess.run([sys.executable, "-m", "facelab.cli", "grade", str(subs), "--out", str(out),
                            "--jobs", str(jobs), "--sandbox", mode, "--case-seconds", "10",
                            "--budget", "60"], capture_output=True, text=True, cwd=ROOT, timeout=1800, env=env)
        seconds = time.monotonic() - t0
        outputs = fingerprint([str(out)], set())
        time.sleep(3)  # a process waiting for the grader to exit would write now
        late = fingerprint([str(out)], set()) != outputs
    finally:
        listener.close()
    return {"mode": mode, "jobs": jobs, "run": r, "out": out, "seconds": seconds, "late": late,
            "changed": sorted(k for k, v in fingerprint(watched, skip).items() if before.get(k) != v)
            + sorted(set(before) - set(fingerprint(watched, skip))),
            "hits": listener.hits, "uids": batch_uids(r.stderr), "left": leftovers(batch_uids(r.stderr))}


def rows(batch) -> dict:
    with open(batch["out"] / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def failures(batch, student: str) -> list[str]:
    """The failed tests' names and messages in a student's results.json."""
    res = json.loads((batch["out"] / "students" / student / "results.json").read_text())
    return [f"{t.get('name')}: {t.get('output', '')[:200]}" for t in res.get("tests", [])
            if t.get("score") != t.get("max_score")]


def test_grader_finished(batch):
    r = batch["run"]
    print(f"{batch['mode']} --jobs {batch['jobs']}: {batch['seconds']:.1f} s", file=sys.stderr)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (batch["out"] / "gradebook.csv").is_file()
    if batch["mode"] == "user" and batch["jobs"] > 1:  # students graded together share /tmp
        assert "user mode grades one student at a time" in r.stderr, r.stderr[-2000:]


def test_hostile_submissions_respect_their_bounds(batch):
    book = rows(batch)
    full = book["aaa_correct"]
    exercises = [k for k in full if k not in ("student", "name", "late", "total", "max", "reason", "sandbox")]
    assert float(full["total"]) == float(full["max"]) > 0, full
    plain = book["aaa_constants"]
    assert float(plain["total"]) < float(full["max"]) / 4, plain
    over = {}
    for h in hostile_files():
        honest = bound_of(h)
        for stem in [h.stem] + ([f"{h.stem}_again"] if twice(h) else []):
            for e in exercises:
                allowed = float((full if e in honest else plain)[e])
                if float(book[stem][e]) > allowed + 1e-9:
                    over[f"{stem} {e}"] = f"{book[stem][e]} > {allowed:g}"
    assert over == {}
    assert ONLY or len(hostile_files()) >= 30


def test_correct_student_after_each_hostile_one_gets_the_maximum(batch):
    book = rows(batch)
    short = {s: f"{r['total']}/{r['max']} {r['reason'][:200]} {failures(batch, s)}"
             for s, r in book.items() if s.endswith("correct") and float(r["total"]) != float(r["max"])}
    assert short == {}


def test_nothing_outside_the_output_folder_changed(batch):
    assert batch["changed"] == []


def test_outputs_do_not_change_after_the_grader_exits(batch):
    assert not batch["late"]


def test_nothing_of_the_sandbox_users_is_left(batch):
    assert batch["uids"], "the grader names its sandbox users at start-up"
    assert batch["left"] == []


def test_no_submission_reached_the_network(batch):
    """Namespaces mode: no network interface; user mode: the seccomp filter refuses every
    new socket (fork_exec_setsid_network.py connects to both listeners)."""
    assert batch["hits"] == []


def seen_by_students(batch) -> dict:
    """Everything a student or the course site is shown: each results.json, the gradebook,
    the summary."""
    out = batch["out"]
    texts = {p.parent.name: p.read_text() for p in out.glob("students/*/results.json")}
    assert len(texts) >= 2, f"no students' results.json found under {out}/students"
    for name in ("gradebook.csv", "summary.txt"):
        if (out / name).is_file():
            texts[name] = (out / name).read_text()
    return texts


def test_no_student_found_traces_of_another(batch):
    found = {k: t[t.index("LEAK FOUND"):][:300] for k, t in seen_by_students(batch).items() if "LEAK FOUND" in t}
    assert found == {}


def hidden_argument_tokens() -> set[str]:
    """Strings of the hidden cases' arguments (as the oracle resolves them) that no
    visible case has: file names of pictures, identities, database keys."""
    from facelab import checks
    from facelab.grading import oracle, wire
    from facelab.grading.reports import _leaves

    data = oracle.load()
    seen = {True: set(), False: set()}
    for name in checks.exercises():
        for case, (a, k) in zip(checks.cases(name, include_hidden=True), data["cases"][name]):
            for leaf in _leaves([wire.decode(a), wire.decode(k)]):
                if isinstance(leaf, str) and len(leaf) >= 4:
                    seen[case.visible].update({leaf, os.path.basename(leaf)})
    return {t for t in seen[False] - seen[True] if len(t) >= 4}


def decodings(text: str) -> list[str]:
    """The text, without line breaks, and what its hex-in-g-v and base64 runs decode to."""
    import base64
    flat = re.sub(r"\s+", "", text)
    out = [text, flat]
    for t in (text, flat):
        for run in re.findall(r"[g-v]{8,}", t):
            out.append(bytes(int(run[i:i + 2].translate(str.maketrans("ghijklmnopqrstuv", "0123456789abcdef")), 16)
                             for i in range(0, len(run) - 1, 2)).decode("latin-1"))
        for run in re.findall(r"[A-Za-z0-9+/]{12,}={0,2}", t):
            for cut in range(4):
                with contextlib.suppress(ValueError):
                    piece = run[cut:]
                    out.append(base64.b64decode(piece[:len(piece) // 4 * 4]).decode("latin-1"))
    return out


def test_no_hidden_argument_in_what_students_see(batch):
    tokens = hidden_argument_tokens()
    assert tokens, "the hidden cases have arguments of their own (else this test proves nothing)"
    leaks = {}
    for where, text in seen_by_students(batch).items():
        for decoded in decodings(text):
            hit = sorted(t for t in tokens if t in decoded)
            if hit:
                leaks.setdefault(where, set()).update(hit)
    assert leaks == {}


def test_state_is_the_same_before_and_after_every_hostile_submission(batch):
    states = {}
    for who in ("aaa_state", "zzz_state"):
        text = (batch["out"] / "students" / who / "results.json").read_text()
        found = re.findall(r"STATE [0-9a-f]{16}", text)
        assert found, f"{who} reported no state: {failures(batch, who)}"
        states[who] = found[0]
    assert states["aaa_state"] == states["zzz_state"], failures(batch, "zzz_state")
