"""No network sockets for student code: a seccomp filter on the calling process.

In user mode (Gradescope's containers, which reach the internet) there is no
network namespace, so the student's process calls :func:`deny_sockets` before
any student code runs. It sets ``no_new_privs`` and installs a classic-BPF
seccomp filter (``seccomp(SECCOMP_SET_MODE_FILTER)`` through ctypes: nothing to
install, no libseccomp) on every thread of the process. The kernel applies it
to every later system call of the process and of everything it starts (fork,
clone, execve inherit it); no call removes or loosens it: a later filter can
only add restrictions, since the strictest answer of all filters wins and a
refusal outranks "allow", "trace" and "notify".

Guaranteed once :func:`deny_sockets` returned (x86_64 and aarch64 Linux):

* ``socket()`` fails with EPERM for every address family: AF_INET, AF_INET6,
  AF_UNIX (abstract unix sockets would otherwise reach any process of the
  machine, concurrently graded students included), AF_NETLINK, AF_PACKET,
  AF_VSOCK... So no connection, datagram, DNS query or listener can be made,
  by Python, a C extension, ctypes or any program the process runs (bash's
  /dev/tcp, curl, a static binary).
* The other ways to a new socket fail with EPERM too: io_uring (its
  IORING_OP_SOCKET makes sockets without ``socket()``; ``io_uring_setup``,
  ``_enter`` and ``_register`` are refused), ``pidfd_getfd`` (copying another
  process's socket), ``ptrace`` and ``process_vm_writev`` (making another
  process call ``socket()`` for it; ptrace also bypassed seccomp before
  Linux 4.8), and ``socketpair`` except AF_UNIX SOCK_STREAM / SOCK_SEQPACKET:
  a datagram pair could ``sendto`` any abstract address, while a stream or
  seqpacket pair is born connected to its twin and cannot ``connect``,
  ``listen`` or address anyone else.
* Another system-call ABI cannot get round it: a call through the 32-bit
  entry (``int 0x80`` on x86_64, AArch32 on aarch64) kills the process
  (SIGSYS), and x32 calls (syscall numbers with bit 30 set) fail with EPERM.
* Everything else keeps working: pipes, ``socketpair()`` as multiprocessing
  and asyncio make it, files, threads, subprocesses, numpy, TensorFlow.

Not guaranteed: sockets the process already holds when the filter is
installed stay usable (the caller must close every socket it does not mean
to hand on before calling); a process of the same uid that is NOT under the
filter can still be driven through ``/proc/<pid>/mem`` (seccomp cannot see
file paths), so no unfiltered process may share the student's uid; other
channels than sockets (files in shared folders, signals, System V IPC) are
the sandbox's business, not this module's.

When the filter cannot be installed (an architecture other than x86_64 or
aarch64, a big-endian kernel, a kernel without seccomp filters or older than
4.14, a container profile refusing ``seccomp()``), :func:`deny_sockets` raises
:class:`~facelab.errors.GradingError` naming why, and :func:`available` /
:func:`unavailable_reason` say so beforehand. The caller fails closed: the
grader checks :func:`available` when it picks user mode and, where it is
False, refuses untrusted work as it does without a sandbox (naming
:func:`unavailable_reason`); a student's process whose :func:`deny_sockets`
raised exits before running any student code.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import sys
from dataclasses import dataclass

from ..errors import GradingError

# prctl / seccomp constants (linux/prctl.h, linux/seccomp.h)
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2
SECCOMP_FILTER_FLAG_TSYNC = 1
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000

# classic BPF opcodes (linux/filter.h)
_LD_W_ABS = 0x20   # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15      # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35      # BPF_JMP | BPF_JGE | BPF_K
_AND_K = 0x54      # BPF_ALU | BPF_AND | BPF_K
_RET_K = 0x06      # BPF_RET | BPF_K

# offsets in struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6] (little-endian)
_NR, _ARCH = 0, 4
_ARG0_LOW, _ARG1_LOW = 16, 24

AF_UNIX = 1
SOCK_STREAM, SOCK_SEQPACKET = 1, 5
SOCK_TYPE_MASK = 0xF       # the type without SOCK_NONBLOCK / SOCK_CLOEXEC
X32_SYSCALL_BIT = 0x40000000


@dataclass(frozen=True)
class _Abi:
    """One architecture's audit number and the system-call numbers the filter names."""

    audit_arch: int
    socket: int
    socketpair: int
    seccomp: int
    denied: tuple          # further calls refused with EPERM
    x32_bit: bool          # x86_64: refuse the x32 numbers


# io_uring_setup, io_uring_enter, io_uring_register and pidfd_getfd share their numbers
_COMMON = (425, 426, 427, 438)
ABIS = {
    # x86_64: socket 41, socketpair 53, ptrace 101, process_vm_writev 311, seccomp 317
    "x86_64": _Abi(0xC000003E, 41, 53, 317, (101, 311) + _COMMON, True),
    # aarch64 (generic table): socket 198, socketpair 199, ptrace 117, process_vm_writev 271,
    # seccomp 277
    "aarch64": _Abi(0xC00000B7, 198, 199, 277, (117, 271) + _COMMON, False),
}
ABIS["amd64"], ABIS["arm64"] = ABIS["x86_64"], ABIS["aarch64"]


class _Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8),
                ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Insn))]


def _abi() -> _Abi | None:
    return ABIS.get(platform.machine().lower()) if sys.byteorder == "little" else None


def _program(abi: _Abi) -> list:
    """The filter as (code, jt, jf, k) tuples, jumps already resolved.

    Order: wrong ABI -> kill; x32 number -> EPERM; a denied number -> EPERM;
    socketpair -> allowed only as AF_UNIX stream or seqpacket; anything else -> allow.
    """
    ops = [(_LD_W_ABS, 0, 0, _ARCH),
           (_JEQ_K, 1, 0, abi.audit_arch),
           (_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
           (_LD_W_ABS, 0, 0, _NR)]
    if abi.x32_bit:
        ops.append((_JGE_K, "deny", 0, X32_SYSCALL_BIT))
    for nr in (abi.socket,) + abi.denied:
        ops.append((_JEQ_K, "deny", 0, nr))
    ops += [(_JEQ_K, 0, "allow", abi.socketpair),
            (_LD_W_ABS, 0, 0, _ARG0_LOW),
            (_JEQ_K, 0, "deny", AF_UNIX),
            (_LD_W_ABS, 0, 0, _ARG1_LOW),
            (_AND_K, 0, 0, SOCK_TYPE_MASK),
            (_JEQ_K, "allow", 0, SOCK_STREAM),
            (_JEQ_K, "allow", "deny", SOCK_SEQPACKET)]
    labels = {"allow": len(ops), "deny": len(ops) + 1}
    ops += [(_RET_K, 0, 0, SECCOMP_RET_ALLOW),
            (_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)]
    return [(code, *(labels[j] - i - 1 if isinstance(j, str) else j for j in (jt, jf)), k)
            for i, (code, jt, jf, k) in enumerate(ops)]


@functools.cache
def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.prctl.restype = ctypes.c_int   # looked up here, so a forked child finds both ready
    return libc


@functools.cache
def _compiled(abi: _Abi) -> _Prog:
    """The filter as the kernel takes it (kept: a fork server builds it once for all children)."""
    ops = _program(abi)
    return _Prog(len(ops), (_Insn * len(ops))(*(_Insn(*op) for op in ops)))


def unavailable_reason() -> str | None:
    """Why :func:`deny_sockets` cannot work here, or None when it can.

    Asks the kernel (``SECCOMP_GET_ACTION_AVAIL``) whether filters with the
    actions the filter uses are supported; installs nothing. Microseconds.
    Calling it in a parent before it forks saves each child building the filter.
    """
    abi = _abi()
    if not sys.platform.startswith("linux"):
        return f"seccomp filters are Linux's; this is {sys.platform}"
    if abi is None:
        return (f"no socket filter for this architecture ({platform.machine()}, "
                f"{sys.byteorder}-endian): only little-endian x86_64 and aarch64 are known")
    libc = _libc()
    _compiled(abi)
    for action in (SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS):
        value = ctypes.c_uint32(action)
        if libc.syscall(abi.seccomp, SECCOMP_GET_ACTION_AVAIL, 0, ctypes.byref(value)) != 0:
            err = ctypes.get_errno()
            return (f"the kernel refuses seccomp filters ({os.strerror(err)} asking for action "
                    f"{action:#x}): Linux 4.14 or later with seccomp, not blocked by a container "
                    "profile, is needed")
    return None


def available() -> bool:
    """True when :func:`deny_sockets` can install its filter on this machine."""
    return unavailable_reason() is None


def deny_sockets() -> None:
    """Forbid new network sockets to this process and everything it starts, for good.

    Sets ``no_new_privs`` (needed without privileges; it cannot be unset)
    and installs the filter described in the module docstring on every
    thread of the process. Costs about 0.2 ms in a forked child whose parent
    called :func:`available` (0.7 ms if not: ctypes loads libc); afterwards
    each system call costs some 30 ns more (recent kernels cache the answer per
    syscall number instead of running the 21 BPF instructions), which numpy
    code does not notice.
    Takes no arguments and returns None; calling it twice stacks a second,
    identical filter. Raises GradingError (the process is then unchanged
    but for ``no_new_privs``) when the filter cannot be installed.
    """
    abi = _abi()
    if abi is None or not sys.platform.startswith("linux"):
        raise GradingError(f"cannot close the network to student code: {unavailable_reason()}")
    libc = _libc()
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise GradingError("cannot close the network to student code: prctl(PR_SET_NO_NEW_PRIVS) "
                           f"failed: {os.strerror(ctypes.get_errno())}")
    prog = _compiled(abi)
    # TSYNC: every thread of the process, not only this one. SPEC_ALLOW: do not force the
    # speculative-store-bypass mitigation on the process (kernels before 5.16 did, slowing
    # numerical code); dropped on kernels older than 4.17, which do not know the flag.
    for flags in (SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_SPEC_ALLOW,
                  SECCOMP_FILTER_FLAG_TSYNC):
        ret = libc.syscall(abi.seccomp, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(prog))
        if ret == 0:
            return
        err = ctypes.get_errno()
        if ret > 0:
            raise GradingError("cannot close the network to student code: thread "
                               f"{ret} of this process has a seccomp filter of its own")
        if err != errno.EINVAL:
            break
    reason = unavailable_reason() or "the kernel refused the filter"
    raise GradingError("cannot close the network to student code: seccomp(SET_MODE_FILTER) "
                       f"failed: {os.strerror(err)}; {reason}")
