"""The operating-system boundary around student code (one file per part).

    probe.py    what the machine allows; the slot's two users (student, server)
    secrets.py  what student code must not read; protect() and its proof
    view.py     namespaces mode's filesystem view
    launch.py   launch() as a slot's user, between() students, end()
    sweep.py    emptying what a student user left, as root, whatever its modes

Each grading slot has two unprivileged users: the fork server runs as
``facelab-server<k>`` keeping only CAP_SETUID, CAP_SETGID and CAP_SETPCAP;
each student's child switches to ``facelab-sandbox<k>`` and drops every
capability before any student code runs. Both are in no supplementary group,
with ``no_new_privs``, no core dumps, no POSIX message queue, at most
``nproc`` processes and ``fsize_mb`` per file, in their own session.

Two modes (:func:`probe` picks the strongest the machine allows):

* ``namespaces`` (root with CAP_SYS_ADMIN, e.g. CI or a lab machine): new
  pid, mount, network, IPC and UTS namespaces per slot and the view of
  :mod:`.view` (only the system, Python, the package and the pictures, read
  only; private tmpfs for the scratch, /tmp, /dev/shm; own /dev/mqueue and
  System V IPC; no network interface but a down loopback).
* ``user`` (root without CAP_SYS_ADMIN, as in Gradescope's Docker containers,
  or ``--sandbox user``): the same users, capabilities and limits, the whole
  machine visible, secrets made unreadable by permissions (:mod:`.secrets`).

Guaranteed, as root, in both modes: student code cannot read a protected
path (the grader refuses to grade when :func:`check_protected` finds one
readable); cannot write anywhere but its scratch and the shared temporary
folders, which the grader empties as root after every student
(:func:`between`); cannot signal, ``prlimit``, renice, reschedule, ptrace or
open /proc/<pid> files of the fork server, of the grader or of another slot
(other uids; the server is also not dumpable); cannot gain privileges; gets
only the environment and file descriptors it is given; and nothing it starts
outlives its student (``kill(-1)`` as the student user, which a fork bomb
cannot outrun; RLIMIT_NPROC bounds the bomb). Namespaces mode also: no
network, no other file of the machine visible, no disk filled (tmpfs),
memory bounded by a cgroup where /sys/fs/cgroup is writable. Not guaranteed:
in user mode, disk space (only each file is capped at ``fsize_mb``), secrets
the grader does not know of (another world-readable checkout: keep it in a
0700 folder). Two students are never graded at the same time in user mode
(they would share /tmp: ``batch.grade`` runs one slot there), and its network
is closed by the seccomp filter of :mod:`facelab.grading.seccomp`. User mode never opens a folder of the
machine nobody named: see :mod:`.secrets`. Not root: no
boundary at all (mode ``none``); the grader must refuse untrusted work.
"""

from __future__ import annotations

from .launch import SERVER_CAPS, between, end, launch
from .probe import MODES, SERVER_PREFIX, USER_PREFIX, Boundary, ensure_users, probe
from .secrets import (OPEN_ENV, Protection, check_protected, package_copies, protect, secret_modules,
                      secret_paths)
from .sweep import SHARED_WRITABLE, pids_of
from .view import DEVICES, SYSTEM_DIRS

_pids_of = pids_of  # the tests' name for it

__all__ = ["MODES", "OPEN_ENV", "SERVER_CAPS", "SERVER_PREFIX", "SHARED_WRITABLE", "USER_PREFIX",
           "DEVICES", "SYSTEM_DIRS", "Boundary", "Protection", "between", "check_protected", "end",
           "ensure_users", "launch", "package_copies", "pids_of", "probe", "protect", "secret_modules",
           "secret_paths"]
