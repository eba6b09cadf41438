"""Namespaces mode's filesystem view: the shell lines that build it.

Run as root inside the new mount, pid, network, IPC and UTS namespaces
(before the slot's users are switched to), they mount a fresh read-only
tmpfs holding only the system (/usr, /etc, /bin, /lib...), the Python
installation, the facelab package and the ``readable`` paths (all read-only,
nosuid), cover each secret inside them with a mode-000 file or tmpfs, and add
private size-limited tmpfs for the scratch, /tmp and /dev/shm, the IPC
namespace's own /dev/mqueue, five devices (null, zero, full, random, urandom)
and the namespace's own /proc; then ``pivot_root`` into it. No /var, no
/run: nothing else of the machine is visible, and nothing else is writable.
"""

from __future__ import annotations

import os
import shlex

from .probe import Boundary
from .secrets import _view_roots

SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
               "/sys/devices/system/cpu")
DEVICES = ("null", "zero", "full", "random", "urandom")


def view_script(b: Boundary, s, readable, tmp_mb: int, scratch_mb: int | None) -> list:
    """Shell lines (run as root inside the new namespaces) that build the view."""
    q = shlex.quote
    mount = q(b.tools["mount"])
    R = q(s.root)
    lines = ["set -e", f"{mount} -t tmpfs -o mode=0755,size=8m,nosuid,nodev facelab-root {R}"]
    tmpfs = f"{mount} -t tmpfs -o mode=1777,size={tmp_mb}m,nosuid,nodev"
    lines += [f": > {R}/.secret", f"chmod 000 {R}/.secret",  # first: binds may lie in /tmp
              f"mkdir -p {R}/tmp {R}/dev {R}/proc", f"{tmpfs} tmp {R}/tmp",
              f"{mount} -t tmpfs -o mode=0755,size=64k,nosuid dev {R}/dev"]
    for d in DEVICES:
        lines += [f"touch {R}/dev/{d}", f"{mount} --bind /dev/{d} {R}/dev/{d}"]
    shown: list = []

    def bind(src: str, writable: bool = False) -> None:
        if any(src == d or src.startswith(d.rstrip("/") + "/") for d in shown):
            return
        dst = q(s.root + src)
        make = f"mkdir -p {dst}" if os.path.isdir(src) else f"mkdir -p {q(os.path.dirname(s.root + src))} && touch {dst}"
        opts = "remount,bind,nosuid,nodev" + ("" if writable else ",ro")
        lines.extend([make, f"{mount} --bind {q(src)} {dst}", f"{mount} -o {opts} {dst}"])
        shown.append(src)

    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            lines.append(f"ln -s {q(os.readlink(d))} {q(s.root + d)}")
        elif os.path.isdir(d):
            bind(d)
    for r in _view_roots(readable):
        bind(r)
    for p in b.secrets:  # secrets inside what is shown are covered
        if not any(p == d or p.startswith(d.rstrip("/") + "/") for d in shown):
            continue
        if os.path.isdir(p):  # mode 000: reading fails as in user mode, not "empty"
            lines.append(f"{mount} -t tmpfs -o ro,size=4k,mode=000 hidden {q(s.root + p)}")
        else:
            lines.append(f"{mount} --bind {R}/.secret {q(s.root + p)}")
    if scratch_mb:  # a tmpfs of its own: filling it fills neither the disk nor the host
        dst = q(s.root + os.path.realpath(s.scratch))
        lines += [f"mkdir -p {dst}", f"{mount} -t tmpfs -o mode=0700,uid={s.uid},gid={s.gid},"
                  f"size={scratch_mb}m,nosuid,nodev scratch {dst}"]
    else:
        bind(os.path.realpath(s.scratch), writable=True)
    lines += [f"mkdir {R}/dev/shm {R}/dev/mqueue", f"{tmpfs} shm {R}/dev/shm",
              f"{mount} -t mqueue -o nosuid,nodev,noexec mqueue {R}/dev/mqueue",
              f"ln -s /proc/self/fd {R}/dev/fd",
              f"{mount} -t proc -o nosuid,nodev,noexec proc {R}/proc",
              f"mkdir {R}/.old", f"cd {R}", f"{q(b.tools['pivot_root'])} . .old",
              f"{q(b.tools['umount'])} -l /.old", "rmdir /.old", f"{mount} -o remount,ro,bind /",
              f"cd {q(os.path.realpath(s.scratch))}", "unset OLDPWD"]
    return lines

