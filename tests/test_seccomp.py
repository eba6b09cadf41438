"""facelab/grading/seccomp.py: a process that called deny_sockets() reaches no one.

Each attack runs in a freshly spawned Python child twice: once without the
filter (the control, which must succeed, so the test cannot pass by accident)
and once after ``deny_sockets()``. Listeners belong to this (the parent)
process, which checks that nothing ever reached them. No TensorFlow.
"""

from __future__ import annotations

import json
import os
import platform
import select
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import uuid

import pytest

from facelab.errors import GradingError
from facelab.grading import seccomp

from .conftest import ROOT

pytestmark = pytest.mark.skipif(not seccomp.available(),
                                reason=f"no seccomp filter here: {seccomp.unavailable_reason()}")

# the kernel's numbers, written out here rather than taken from the module under test
SYSCALLS = {
    "x86_64": {"io_uring_setup": 425, "pidfd_getfd": 438, "ptrace": 101,
               "process_vm_writev": 311, "socket": 41},
    "aarch64": {"io_uring_setup": 425, "pidfd_getfd": 438, "ptrace": 117,
                "process_vm_writev": 271, "socket": 198},
}.get(platform.machine())

PRELUDE = """\
import ctypes, errno, json, os, socket, subprocess, sys
from facelab.grading.seccomp import deny_sockets
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
result = {}

def attempt(name, fn, *args):
    # 'ok' when fn(*args) raised nothing, else the errno's name
    try:
        made = fn(*args)
        if isinstance(made, socket.socket):
            made.close()
        result[name] = "ok"
    except OSError as e:
        result[name] = errno.errorcode.get(e.errno, str(e))

def raw(name, nr, *args):
    # a system call by number: 'ok' when it returned >= 0, else the errno's name
    n = libc.syscall(ctypes.c_long(nr),
                     *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))
    result[name] = "ok" if n >= 0 else errno.errorcode[ctypes.get_errno()]

if FILTERED:
    deny_sockets()
"""


def spawn(body: str, filtered: bool, **kw) -> subprocess.CompletedProcess:
    """Run PRELUDE + body in a new Python, which prints its ``result`` dict last."""
    code = PRELUDE.replace("FILTERED", str(filtered)) + textwrap.dedent(body) + \
        "\nprint(json.dumps(result))\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env, **kw)


def run_child(body: str, filtered: bool, **kw) -> dict:
    """The ``result`` dict of PRELUDE + body run in a new Python (which must exit 0)."""
    proc = spawn(body, filtered, **kw)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def both(body: str, **kw) -> tuple:
    """(control, filtered) results of the same child body."""
    return run_child(body, False, **kw), run_child(body, True, **kw)


def arrived(listener: socket.socket, wait: float = 0.3) -> int:
    """How many connections (or datagrams) reached ``listener`` so far."""
    listener.setblocking(False)
    count = 0
    while select.select([listener], [], [], wait)[0]:
        if listener.type == socket.SOCK_DGRAM:
            listener.recv(4096)
        else:
            listener.accept()[0].close()
        count += 1
        wait = 0.05
    return count


@pytest.fixture
def tcp_listener():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener
    listener.close()


def test_socket_is_refused_for_every_address_family():
    families = {name: int(getattr(socket, name)) for name in
                ("AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK", "AF_PACKET", "AF_VSOCK",
                 "AF_ALG") if hasattr(socket, name)}
    body = f"""
    for name, family in {families!r}.items():
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_RAW):
            attempt(f"{{name}}/{{kind}}", socket.socket, family, kind)
    """
    control, filtered = both(body)
    opened = {k for k, v in control.items() if v == "ok"}
    assert {"AF_INET/1", "AF_INET/2", "AF_UNIX/1", "AF_UNIX/2"} <= opened, control
    assert set(filtered.values()) == {"EPERM"}, filtered


def test_no_connection_reaches_a_listener_on_loopback(tcp_listener):
    port = tcp_listener.getsockname()[1]
    body = f"""
    attempt("connect", socket.create_connection, ("127.0.0.1", {port}), 5)
    attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            .sendto(b"x", ("127.0.0.1", {port})))
    """
    assert run_child(body, filtered=False)["connect"] == "ok"
    assert arrived(tcp_listener) == 1
    assert run_child(body, filtered=True) == {"connect": "EPERM", "udp": "EPERM"}
    assert arrived(tcp_listener) == 0


def test_abstract_unix_sockets_of_other_processes_are_out_of_reach():
    # another student's (or any process's) abstract socket: no permission check guards it
    name = f"\0facelab-test-{uuid.uuid4().hex}"
    stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stream.bind(name)
    stream.listen(16)
    dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dgram.bind(name + "-dgram")
    body = f"""
    name = {name!r}
    attempt("connect", lambda: socket.socket(socket.AF_UNIX).connect(name))
    def dgram_pair():  # a datagram socketpair can address anyone
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        a.sendto(b"x", name + "-dgram")
    attempt("dgram_pair", dgram_pair)
    def stream_pair_connect():  # a stream pair is born connected to its twin
        a, b = socket.socketpair()
        b.close()
        a.connect(name)
    attempt("stream_pair_connect", stream_pair_connect)
    def stream_pair_listen():
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        a.bind(name + "-mine")
        a.listen(1)
    attempt("stream_pair_listen", stream_pair_listen)
    """
    try:
        control = run_child(body, filtered=False)
        assert control["connect"] == control["dgram_pair"] == "ok", control
        assert arrived(stream) == 1 and arrived(dgram) == 1
        filtered = run_child(body, filtered=True)
        assert filtered["connect"] == filtered["dgram_pair"] == "EPERM", filtered
        # what the filter allows is harmless in itself (the kernel refuses it, with or without)
        assert filtered["stream_pair_connect"] == control["stream_pair_connect"] == "EISCONN"
        assert filtered["stream_pair_listen"] == control["stream_pair_listen"] == "EINVAL"
        assert arrived(stream) == 0 and arrived(dgram) == 0
    finally:
        stream.close()
        dgram.close()


def test_programs_the_child_starts_cannot_connect_either(tcp_listener):
    port = tcp_listener.getsockname()[1]
    python = [sys.executable, "-c",
              f"import socket; socket.create_connection(('127.0.0.1', {port}), 5)"]
    bash = shutil.which("bash")
    assert bash, "bash is on every Debian/Ubuntu image"
    body = f"""
    for name, argv in (("python", {python!r}),
                       ("bash", [{bash!r}, "-c", "echo hi > /dev/tcp/127.0.0.1/{port}"])):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        result[name] = [proc.returncode, proc.stderr[-300:]]
    result["grandchild_filtered"] = subprocess.run(
        ["grep", "-c", "^Seccomp:[[:space:]]*2", "/proc/self/status"],
        capture_output=True, text=True).stdout.strip()
    """
    control = run_child(body, filtered=False)
    assert control["python"][0] == 0 and control["bash"][0] == 0, control
    assert arrived(tcp_listener) == 2
    filtered = run_child(body, filtered=True)
    assert filtered["python"][0] != 0 and "PermissionError" in filtered["python"][1], filtered
    assert filtered["bash"][0] != 0 and "Operation not permitted" in filtered["bash"][1]
    assert filtered["grandchild_filtered"] == "1"
    assert arrived(tcp_listener) == 0


def test_pipes_socketpairs_and_subprocesses_still_work():
    body = """
    r, w = os.pipe()
    os.write(w, b"pipe")
    result["pipe"] = os.read(r, 4).decode()
    for kind in ("SOCK_STREAM", "SOCK_SEQPACKET"):
        a, b = socket.socketpair(socket.AF_UNIX, getattr(socket, kind) | socket.SOCK_CLOEXEC)
        a.sendall(kind.encode())
        result[kind] = b.recv(100).decode()
    import multiprocessing.connection
    a, b = multiprocessing.connection.Pipe()
    a.send({"x": 1})
    result["multiprocessing"] = b.recv()
    result["subprocess"] = subprocess.run(["echo", "out"], capture_output=True,
                                          text=True).stdout
    """
    expected = {"pipe": "pipe", "SOCK_STREAM": "SOCK_STREAM",
                "SOCK_SEQPACKET": "SOCK_SEQPACKET", "multiprocessing": {"x": 1},
                "subprocess": "out\n"}
    assert run_child(body, filtered=True) == expected


def test_numpy_imports_and_computes_after_the_filter():
    body = """
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 200))
    result["inverse_ok"] = bool(np.allclose(a @ np.linalg.inv(a), np.eye(200), atol=1e-8))
    result["sum"] = float(np.arange(1_000_000, dtype=np.float64).sum())
    """
    assert run_child(body, filtered=True) == {"inverse_ok": True, "sum": 499999500000.0}


def test_the_filter_cannot_be_loosened():
    # a second filter that allows everything, installed both ways; no_new_privs cannot be unset
    body = """
    class Insn(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8),
                    ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]
    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Insn))]
    allow_all = (Insn * 1)(Insn(0x06, 0, 0, 0x7FFF0000))
    prog = Prog(1, allow_all)
    libc.prctl(38, 1, 0, 0, 0)
    result["prctl_filter"] = libc.prctl(22, 2, ctypes.byref(prog), 0, 0)  # PR_SET_SECCOMP
    result["unset_no_new_privs"] = libc.prctl(38, 0, 0, 0, 0)
    attempt("socket", socket.socket, socket.AF_INET)
    attempt("unix", socket.socket, socket.AF_UNIX)
    """
    control = run_child(body, filtered=False)
    assert control["prctl_filter"] == 0 and control["socket"] == "ok", control
    assert run_child(body, filtered=True) == {"prctl_filter": 0, "unset_no_new_privs": -1,
                                              "socket": "EPERM", "unix": "EPERM"}


@pytest.mark.skipif(SYSCALLS is None, reason="syscall numbers known for x86_64 and aarch64 only")
def test_other_ways_to_a_socket_are_refused():
    # io_uring (IORING_OP_SOCKET), another process's fds, driving another process
    body = f"""
    nr = {SYSCALLS!r}
    params = ctypes.create_string_buffer(120)
    raw("io_uring_setup", nr["io_uring_setup"], 4, params)
    r, w = os.pipe()
    raw("pidfd_getfd", nr["pidfd_getfd"], os.pidfd_open(os.getpid()), r, 0)
    sleeper = subprocess.Popen(["sleep", "30"])
    raw("ptrace_attach", nr["ptrace"], 16, sleeper.pid, 0, 0)
    sleeper.kill()
    sleeper.wait()
    src, dst = ctypes.create_string_buffer(b"abcd"), ctypes.create_string_buffer(4)
    class Iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
    local = Iovec(ctypes.addressof(src), 4)
    remote = Iovec(ctypes.addressof(dst), 4)
    raw("process_vm_writev", nr["process_vm_writev"], os.getpid(), ctypes.byref(local), 1,
        ctypes.byref(remote), 1, 0)
    """
    control, filtered = both(body)
    usable = {k for k, v in control.items() if v == "ok"}
    assert {"pidfd_getfd", "process_vm_writev"} <= usable, control
    assert filtered == {name: "EPERM" for name in control}, filtered


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64's 32-bit entries")
def test_the_32_bit_and_x32_entries_do_not_bypass_it():
    # i386 socket (359) through int 0x80 from 64-bit code, and the x32 number of socket
    body = """
    import mmap
    code = bytes.fromhex("53 b8 67 01 00 00 bb 02 00 00 00 b9 01 00 00 00 31 d2 cd 80 5b c3")
    page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    raw("x32_socket", 0x40000000 | 41, 2, 1, 0)
    print(json.dumps(result), flush=True)
    entry = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
    result["int80_socket"] = entry()
    """
    control = spawn(body, False)
    assert control.returncode == 0, control.stderr
    found = json.loads(control.stdout.splitlines()[-1])
    if found["int80_socket"] < 0 and found["x32_socket"] != "ok":
        pytest.skip("this kernel runs neither 32-bit nor x32 calls: nothing to bypass with")
    filtered = spawn(body, True)
    assert filtered.returncode == -signal.SIGSYS, (filtered.returncode, filtered.stderr)
    assert json.loads(filtered.stdout.splitlines()[0]) == {"x32_socket": "EPERM"}


def test_threads_started_before_the_filter_are_filtered_too():
    # the thread exists before the main thread calls deny_sockets() (CALL below)
    body = """
    import threading
    go, done = threading.Event(), threading.Event()
    def later():
        go.wait()
        attempt("thread", socket.socket, socket.AF_INET)
        done.set()
    threading.Thread(target=later).start()
    CALL
    go.set()
    done.wait(10)
    """
    assert run_child(body.replace("CALL", "pass"), filtered=False) == {"thread": "ok"}
    assert run_child(body.replace("CALL", "deny_sockets()"), filtered=False) == \
        {"thread": "EPERM"}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become an unprivileged user")
def test_an_unprivileged_process_can_install_it():
    # as the sandbox user does: no capabilities (deny_sockets sets no_new_privs itself)
    body = """
    status = open("/proc/self/status").read()
    result["no_new_privs_before"] = status.split("NoNewPrivs:")[1].split()[0]
    deny_sockets()
    attempt("socket", socket.socket, socket.AF_INET)
    result["uid"] = os.getuid()
    """
    def drop():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    out = run_child(body, filtered=False, preexec_fn=drop, cwd="/")
    assert out == {"no_new_privs_before": "0", "socket": "EPERM", "uid": 65534}


def test_an_unknown_architecture_is_refused_with_a_reason(monkeypatch):
    monkeypatch.setattr(seccomp.platform, "machine", lambda: "riscv64")
    assert not seccomp.available()
    with pytest.raises(GradingError, match="riscv64"):
        seccomp.deny_sockets()


@pytest.mark.skipif(SYSCALLS is None, reason="syscall numbers known for x86_64 and aarch64 only")
def test_a_kernel_refusing_seccomp_gets_a_clear_error():
    # as a container profile might: seccomp() itself fails (here through an outer filter)
    seccomp_nr = {"x86_64": 317, "aarch64": 277}[platform.machine()]
    body = f"""
    from facelab.errors import GradingError
    from facelab.grading.seccomp import available
    class Insn(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8),
                    ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]
    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Insn))]
    outer = (Insn * 4)(Insn(0x20, 0, 0, 0), Insn(0x15, 0, 1, {seccomp_nr}),
                       Insn(0x06, 0, 0, 0x00050000 | errno.ENOSYS), Insn(0x06, 0, 0, 0x7FFF0000))
    libc.prctl(38, 1, 0, 0, 0)
    assert libc.prctl(22, 2, ctypes.byref(Prog(4, outer)), 0, 0) == 0
    result["available"] = available()
    try:
        deny_sockets()
        result["deny_sockets"] = "returned"
    except GradingError as e:
        result["deny_sockets"] = str(e)
    attempt("socket", socket.socket, socket.AF_INET)
    """
    out = run_child(body, filtered=False)
    assert out["available"] is False and out["socket"] == "ok"
    assert out["deny_sockets"].startswith("cannot close the network to student code")
    assert "Function not implemented" in out["deny_sockets"], out
