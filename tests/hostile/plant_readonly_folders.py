# leaves a read-only (chmod 500) or unsearchable (chmod 000) folder with a payload in every folder it can write (/tmp, /var/tmp, /dev/shm, /run/lock, /var/lock, its scratch), a POSIX message queue and System V objects; a copy graded next (same slot, same user) looks for the other's payload
# bound: 0
# twice
import numpy as np

import ctypes
import os

KEY = 0x46500000 | (os.getpid() & 0xFFFF)  # System V key of this process's objects
FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", os.getcwd())
# this process's own mark (pid and start time): each exercise's cell runs this file again
MINE = f"{os.getpid()}-{open('/proc/self/stat').read().rsplit(')', 1)[1].split()[19]}"


def _look():
    """Payloads planted by another process (a marker that is not ours)."""
    seen = []
    for folder in FOLDERS:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.startswith("facelab-plant-"):
                try:
                    if os.lstat(os.path.join(folder, name)).st_uid != os.getuid():
                        continue  # another slot's student, running now: not a leftover
                except OSError:
                    continue
                try:
                    text = open(os.path.join(folder, name, "payload")).read()
                except OSError:
                    text = name
                if MINE not in text:
                    seen.append(f"{folder}/{name}")
    try:
        librt = ctypes.CDLL("librt.so.1", use_errno=True)
        if librt.mq_open(b"/facelab-plant", os.O_RDONLY, 0, None) >= 0:
            seen.append("mqueue /facelab-plant")
    except OSError:
        pass
    for kind in ("shm", "sem", "msg"):
        try:
            rows = open(f"/proc/sysvipc/{kind}").read().splitlines()[1:]
        except OSError:
            continue
        seen += [f"{kind} {r.split()[0]}" for r in rows
                 if int(r.split()[0]) >> 16 == 0x4650 and int(r.split()[0]) != KEY]
    return seen


def _plant():
    for folder in FOLDERS:
        for mode in (0o500, 0o000):
            d = os.path.join(folder, f"facelab-plant-{mode:o}-{MINE}")
            try:
                os.mkdir(d)
                with open(os.path.join(d, "payload"), "w") as f:
                    f.write(MINE)
                os.chmod(d, mode)
            except OSError:
                pass
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        librt = ctypes.CDLL("librt.so.1", use_errno=True)
        librt.mq_open(b"/facelab-plant", os.O_CREAT | os.O_RDWR, 0o444, None)
    except OSError:
        pass
    libc.shmget(KEY, 4096, 0o1444)
    libc.semget(KEY, 1, 0o1444)
    libc.msgget(KEY, 0o1444)


def _once():
    import builtins
    if not hasattr(builtins, "_facelab_plant_seen"):  # this process's first call, before it planted
        builtins._facelab_plant_seen = _look()
        _plant()
    seen = builtins._facelab_plant_seen
    if seen:
        raise ValueError("LEAK FOUND: another student's files: " + ", ".join(seen[:5]))
    return 0.0


# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    return _once()

# GRADED FUNCTION: triplet_loss
def triplet_loss(y_true, y_pred, alpha=0.2):
    return _once()

# GRADED FUNCTION: verify
def verify(image_path, identity, database, model):
    return _once(), True

# GRADED FUNCTION: who_is_it
def who_is_it(image_path, database, model):
    return _once(), None
