# Not an attack: reports what its grading depends on (limits, nice value, scheduling,
# cgroup, open files, environment, identity) in its first visible failure, so the suite
# can compare this state before and after every hostile submission (slot numbers masked).
import json
import os
import re
import resource


def _state():
    lim = {n: resource.getrlimit(getattr(resource, n)) for n in dir(resource) if n.startswith("RLIMIT_")}
    status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
    state = {
        "limits": lim,
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "sched": [os.sched_getscheduler(0), os.sched_getparam(0).sched_priority, sorted(os.sched_getaffinity(0))],
        "cgroup": open("/proc/self/cgroup").read(),
        "fds": sorted(os.listdir("/proc/self/fd")),
        "env": dict(os.environ),
        "ids": [len(set(os.getresuid())), len(set(os.getresgid())), os.getgroups() in ([], [os.getgid()])],
        "caps": {k: v.strip() for k, v in status.items() if k.startswith("Cap") or k in ("NoNewPrivs", "Seccomp")},
        "oom": open("/proc/self/oom_score_adj").read().strip(),
        "umask": os.umask(0o022),
        "cwd": os.getcwd(),
        "parent": open(f"/proc/{os.getppid()}/status").read().split("\n")[0],
    }
    text = json.dumps(state, sort_keys=True, default=str)
    return re.sub(r"facelab-(sandbox|server)\d+|slot\d+|grading-\w+", "S", text)


# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    import hashlib
    text = _state()
    raise ValueError("STATE " + hashlib.sha256(text.encode()).hexdigest()[:16] + " " + text[:380])

# GRADED FUNCTION: triplet_loss
def triplet_loss(y_true, y_pred, alpha=0.2):
    return 0.0

# GRADED FUNCTION: verify
def verify(image_path, identity, database, model):
    return 0.0, True

# GRADED FUNCTION: who_is_it
def who_is_it(image_path, database, model):
    return 0.0, None
