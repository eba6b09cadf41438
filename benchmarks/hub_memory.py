"""Two students on one hub: two model notebooks run side by side, by two users, against one home.

    sudo python3 benchmarks/hub_memory.py --venv VENV --home HOME [--users 61001 61002]
                                          [NOTEBOOK_A NOTEBOOK_B]

VENV is an environment where facelab is installed from the wheel (not the
checkout), HOME a data folder filled by ``facelab fetch --home HOME``; it is
made read-only here. Each notebook (default 4_face_verification and
5_face_recognition, the solution notebooks shipped in the installed package)
is executed with ``jupyter nbconvert --execute`` by its own unprivileged uid,
in its own working folder, with ``FACELAB_HOME=HOME``, both at the same time.

Every 0.2 s it reads /proc for every process of each uid: the resident memory
(RSS: what a per-user memory limit such as JupyterHub's ``mem_limit`` or a
cgroup counts) and the proportional set size (PSS: pages shared between
processes, TensorFlow's libraries for one, counted once in total). Prints per
user: seconds, peak RSS (all its processes, and its largest one: the kernel),
peak PSS; then the peak of both users' PSS together.
Needs root (to switch uids and read other users' /proc).
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                pass
    return pids


def _memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process in MB; zeros when it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0.0, 0.0
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:"):
            values[parts[0]] = int(parts[1]) / 1024
    return values.get("Rss:", 0.0), values.get("Pss:", 0.0)


def _read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(stat.S_IMODE(path.lstat().st_mode) & ~0o222)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", required=True, type=Path)
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--users", nargs=2, type=int, default=[61001, 61002])
    parser.add_argument("notebooks", nargs="*",
                        default=["4_face_verification.ipynb", "5_face_recognition.ipynb"])
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("run as root: it switches to two unprivileged uids")
    python = args.venv / "bin" / "python"
    bundle = Path(subprocess.run([python, "-c", "from facelab import layout; print(layout.notebooks_dir())"],
                                 capture_output=True, text=True, check=True, cwd="/").stdout.strip())
    _read_only(args.home)
    scratch = Path(tempfile.mkdtemp(prefix="facelab-hub-"))
    scratch.chmod(0o755)
    jobs = []
    for uid, name in zip(args.users, args.notebooks):
        work = scratch / f"user{uid}"
        work.mkdir()
        os.chown(work, uid, uid)
        env = {"PATH": f"{args.venv / 'bin'}:/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8",
               "FACELAB_HOME": str(args.home.resolve())}
        cmd = [str(args.venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
               "--output-dir", str(work), "--ExecutePreprocessor.timeout=1200", str(bundle / name)]
        jobs.append({"uid": uid, "name": name, "cmd": cmd, "env": env, "cwd": work,
                     "rss": 0.0, "pss": 0.0, "biggest": 0.0, "seconds": None})
    total_peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            together = 0.0
            for job in jobs:
                rss = pss = 0.0
                for pid in _processes_of(job["uid"]):
                    r, p = _memory_mb(pid)
                    rss, pss = rss + r, pss + p
                    job["biggest"] = max(job["biggest"], r)
                job["rss"], job["pss"] = max(job["rss"], rss), max(job["pss"], pss)
                together += pss
            total_peak[0] = max(total_peak[0], together)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.monotonic()
    for job in jobs:
        job["proc"] = subprocess.Popen(job["cmd"], env=job["env"], cwd=job["cwd"], user=job["uid"],
                                       group=job["uid"], extra_groups=[], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
    def wait(job) -> None:
        job["err"] = job["proc"].communicate()[1]
        job["seconds"] = time.monotonic() - start

    waiters = [threading.Thread(target=wait, args=(job,)) for job in jobs]
    for waiter in waiters:
        waiter.start()
    for waiter in waiters:
        waiter.join()
    failed = 0
    for job in jobs:
        if job["proc"].returncode != 0:
            failed += 1
            print(f"{job['name']} as uid {job['uid']} failed:\n{job['err'][-2000:]}", file=sys.stderr)
    done.set()
    sampler.join()
    print(f"home {args.home} (read-only), facelab from {bundle.parent.parent}")
    for job in jobs:
        print(f"uid {job['uid']}: {job['name']:<28} {job['seconds']:6.1f} s   "
              f"peak RSS {job['rss']:5.0f} MB (kernel {job['biggest']:4.0f})   peak PSS {job['pss']:5.0f} MB")
    print(f"both users together: peak PSS {total_peak[0]:.0f} MB")
    subprocess.run(["rm", "-rf", str(scratch)])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
