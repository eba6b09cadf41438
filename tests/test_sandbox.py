"""The operating-system boundary (facelab/grading/sandbox.py), attacked directly.

Each test runs small Python programs inside the boundary, in both modes
("namespaces" when this machine allows it, and "user", as in Gradescope's
containers), and asserts what they could not do. Where a test can, it first
shows that the same attack works without the mechanism it guards (a control),
so it cannot pass by accident. Needs root (the boundary switches users).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from facelab.errors import GradingError
from facelab.grading import sandbox as sb

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root to switch users")


def closed_folders(*extra) -> list[str]:
    """Folders above the Python installation, the package and ``extra`` that "other"
    cannot search (on this machine Python may live in root's 0700 home, pytest's
    folders are 0700): what an instructor must name in $FACELAB_SANDBOX_SEARCHABLE
    before user mode runs here."""
    from facelab.grading.sandbox.secrets import _view_roots
    found = set()
    for r in [*_view_roots(), *extra]:
        for a in Path(r).parents:
            if not os.stat(a).st_mode & 0o001:
                found.add(str(a))
    return sorted(found)


@pytest.fixture(autouse=True)
def named_by_the_instructor(monkeypatch, request):
    extra = [request.getfixturevalue("tmp_path") / "x"] if "tmp_path" in request.fixturenames else []
    named = closed_folders(*extra)
    monkeypatch.setenv(sb.OPEN_ENV, os.pathsep.join(named))


@pytest.fixture(scope="module", params=["namespaces", "user"])
def boundary(request):
    try:
        return sb.probe(request.param, slots=2)
    except GradingError as exc:
        pytest.skip(f"{request.param} sandbox unavailable here: {exc}")


def run(boundary, code, *args, slot=0, readable=(), env=None, memory_mb=None, nproc=256,
        timeout=60, after=None):
    """Run ``code`` in the boundary; ``after(proc)`` runs before end(). Returns
    (returncode, stdout, stderr, killed)."""
    scratch = tempfile.mkdtemp(prefix="facelab-test-scratch-")
    code = TRY + textwrap.dedent(code[len(TRY):]) if code.startswith(TRY) else textwrap.dedent(code)
    proc = sb.launch([sys.executable, "-I", "-c", code, *map(str, args)],
                     boundary=boundary, scratch=scratch, readable=readable, env=env, slot=slot,
                     memory_mb=memory_mb, nproc=nproc, stderr=subprocess.PIPE)
    try:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)  # the main process; what it started may live on
        if after:
            after(proc)
    finally:
        killed = sb.end(proc, boundary)
    out, err = proc.stdout.read(), proc.stderr.read()  # EOF: every writer is dead
    proc.stdout.close()
    proc.stderr.close()
    assert not os.path.exists(scratch), "end() leaves no scratch behind"
    return proc.returncode, out.decode(), err.decode(), killed


# prefix of the attack programs: attempt() returns 'ok' or the type of the error
TRY = """
import json, os, sys
def attempt(what, fn):
    try:
        fn()
        return 'ok'
    except Exception as exc:
        return type(exc).__name__
"""


def test_identity_capabilities_and_limits(boundary):
    code = """
    import json, os, resource
    status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())
    print(json.dumps([os.getuid(), os.geteuid(), os.getgid(), os.getgroups(),
                      status['NoNewPrivs'].strip(),
                      [status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')],
                      resource.getrlimit(resource.RLIMIT_CORE), resource.getrlimit(resource.RLIMIT_NPROC),
                      os.getcwd()]))
    """
    rc, out, err, _ = run(boundary, code, nproc=99)
    assert rc == 0, err
    uid, euid, gid, groups, nnp, caps, core, nproc, cwd = json.loads(out)
    name, want_uid, want_gid = boundary.users[0]
    assert (uid, euid, gid, groups) == (want_uid, want_uid, want_gid, []) and uid != 0
    assert nnp == "1" and set(caps) == {"0000000000000000"}
    assert core == [0, 0] and nproc == [99, 99]
    assert cwd.startswith("/tmp/facelab-test-scratch-")


def test_secrets_unreadable_by_every_path_we_know(boundary, tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "hidden").mkdir(parents=True)
    (pkg / "hidden" / "cases.json").write_text("[42]")
    (pkg / "exercises.py").write_text("ANSWER = 42\n")
    (pkg / "public.py").write_text("X = 1\n")
    secrets = [pkg / "exercises.py", pkg / "hidden"]
    code = TRY + """
    grader = int(sys.argv[1]); paths = json.loads(sys.argv[2])
    res = {}
    for p in paths:
        res[p] = attempt('read', lambda: open(p).read())
        res['ls ' + p] = attempt('ls', lambda: os.listdir(p))
        for pid in (grader, 1, os.getppid()):
            res[f'/proc/{pid}/root' + p] = attempt('proc', lambda: open(f'/proc/{pid}/root' + p).read())
    print(json.dumps(res))
    """
    paths = [str(p) for p in secrets + [pkg / "hidden" / "cases.json"]]
    # control: without protect() the secrets are readable in the sandbox
    boundary.secrets = []
    _, out, err, _ = run(boundary, code, os.getpid(), json.dumps(paths), readable=[pkg],
                         after=None) if boundary.mode == "namespaces" else (0, "{}", "", [])
    if boundary.mode == "namespaces":
        assert json.loads(out)[paths[0]] == "ok", err
    with sb.protect(secrets, boundary, readable=[pkg]):
        rc, out, err, _ = run(boundary, code, os.getpid(), json.dumps(paths), readable=[pkg])
        public = run(boundary, "print(open(__import__('sys').argv[1]).read())", pkg / "public.py",
                     readable=[pkg])
    res = json.loads(out)
    assert rc == 0, err
    assert {k: v for k, v in res.items() if v == "ok"} == {}
    assert public[1].strip() == "X = 1"
    assert (pkg / "exercises.py").stat().st_mode & 0o777 == 0o644, "protect() restored the mode"


def test_user_mode_control_secrets_readable_without_protect(boundary, tmp_path):
    if boundary.mode != "user":
        pytest.skip("the control of the permissions mechanism")
    secret = tmp_path / "exercises.py"
    secret.write_text("ANSWER = 42\n")
    with sb.protect([], boundary, readable=[tmp_path]):
        assert sb.check_protected([secret], boundary) == [f"{secret} is readable by the sandbox user"]
    with sb.protect([secret], boundary, readable=[tmp_path]):
        assert sb.check_protected([secret], boundary, readable=[tmp_path]) == []


def test_the_real_secrets_are_protected(boundary):
    paths = sb.secret_paths()
    import facelab
    pkg = Path(facelab.__file__).parent
    assert str(pkg / "exercises.py") in paths
    boundary.secrets = []
    unprotected = sb.check_protected(paths, boundary)
    assert any("exercises.py" in p for p in unprotected), "control: readable without protect()"
    with sb.protect(paths, boundary, readable=[pkg / "images.py"]):
        assert sb.check_protected(paths, boundary, readable=[pkg / "images.py"]) == []


def test_modes_a_killed_grader_left_stricter_are_put_back_by_the_next(tmp_path):
    """A grader protecting secrets journals each change under an flock; killed (SIGKILL),
    its secrets stay stricter (never looser), and the next grader's protect() puts them
    back, unless another living grader holds a journal."""
    from facelab.grading.sandbox import secrets as sc

    locks, secret = tmp_path / "locks", tmp_path / "solution.py"
    secret.write_text("x = 1\n")
    os.chmod(secret, 0o644)
    code = textwrap.dedent(f"""
        import os, sys, time
        from facelab.grading.sandbox import secrets as sc
        sc.LOCK_DIR = {str(locks)!r}
        prot = sc.Protection()
        sc._chmod(prot, {str(secret)!r}, 0o640)
        print("protected", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "protected"
    assert sc.restore_dead_journals(str(locks)) == []          # alive: nothing touched
    assert oct(os.stat(secret).st_mode & 0o777) == "0o640"
    proc.kill()
    proc.wait()
    assert oct(os.stat(secret).st_mode & 0o777) == "0o640"     # killed: left stricter
    assert sc.restore_dead_journals(str(locks)) == [str(secret)]
    assert oct(os.stat(secret).st_mode & 0o777) == "0o644"     # put back by the next one
    assert not list(locks.glob("modes-*"))
    prot = sc.Protection()                                      # a normal run leaves no journal
    with prot:
        sc._chmod(prot, str(secret), 0o600)
        assert len(list(Path(sc.LOCK_DIR).glob(f"modes-{os.getpid()}-*"))) == 1
    assert oct(os.stat(secret).st_mode & 0o777) == "0o644"
    assert not list(Path(sc.LOCK_DIR).glob(f"modes-{os.getpid()}-*"))


def test_grader_and_other_slots_are_unreachable(boundary):
    other = sb.launch([sys.executable, "-I", "-c", "import time; time.sleep(60)"], boundary=boundary,
                      scratch=tempfile.mkdtemp(prefix="facelab-test-scratch-"), slot=1)
    try:
        time.sleep(0.3)
        victims = [os.getpid(), *(p for p, _ in sb._pids_of(boundary.users[1][1]))]
        code = TRY + """
        import ctypes, signal
        libc = ctypes.CDLL(None, use_errno=True)
        res = {}
        for pid in map(int, sys.argv[1:]):
            res[f'kill {pid}'] = attempt('kill', lambda: os.kill(pid, signal.SIGTERM))
            for f in ('environ', 'mem', 'root/etc/hostname', 'ns/net', 'cwd'):
                res[f'{pid} {f}'] = attempt(f, lambda: open(f'/proc/{pid}/{f}', 'rb').read(1))
            res[f'fd {pid}'] = attempt('fd', lambda: os.listdir(f'/proc/{pid}/fd'))
            res[f'ptrace {pid}'] = 'ok' if libc.ptrace(16, pid, None, None) == 0 else 'refused'
        print(json.dumps(res))
        """
        rc, out, err, _ = run(boundary, code, *victims)
        assert rc == 0, err
        assert {k: v for k, v in json.loads(out).items() if v == "ok"} == {}
        assert other.poll() is None, "ending slot 0 leaves slot 1 alone"
    finally:
        sb.end(other, boundary)


def test_no_process_outlives_end(boundary, tmp_path):
    marker = tmp_path / "late"
    code = """
    import os, subprocess, sys, time, _posixsubprocess
    for _ in range(3):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(2)
                open(sys.argv[1], 'w').write('written after the grading ended')
                os._exit(0)
            os._exit(0)
    subprocess.Popen(['sleep', '1000'], start_new_session=True)
    print('started', flush=True)
    """
    tmp_path.chmod(0o777)
    uid = boundary.users[0][1]
    rc, out, err, killed = run(boundary, code, marker, readable=[tmp_path],
                               after=lambda p: time.sleep(0.3))
    assert "started" in out, err
    # namespaces: the kernel killed them when the main process ended; user: end() did
    assert boundary.mode == "namespaces" or killed, "end() found the escaped processes"
    assert sb._pids_of(uid) == []
    time.sleep(2.5)
    assert not marker.exists()


def test_writes_only_in_scratch_and_shared_folders_emptied(boundary, tmp_path):
    code = TRY + """
    res = {p: attempt('w', lambda: open(p, 'w').write('x')) for p in sys.argv[1:]}
    res['scratch'] = attempt('w', lambda: open('mine.txt', 'w').write('x'))
    for d in ('/tmp', '/dev/shm'):
        res[d] = attempt('w', lambda: open(d + '/facelab-left-behind', 'w').write('x'))
    print(json.dumps(res))
    """
    import facelab
    targets = [Path(facelab.__file__).parent / "images.py", tmp_path / "new.txt", "/etc/passwd",
               Path(sys.prefix) / "evil.pth"]
    rc, out, err, _ = run(boundary, code, *targets, readable=[tmp_path])
    res = json.loads(out)
    assert rc == 0, err
    assert res.pop("scratch") == "ok"
    shared = {d: res.pop(d) for d in ("/tmp", "/dev/shm")}
    assert {k: v for k, v in res.items() if v == "ok"} == {}
    assert not os.path.exists("/tmp/facelab-left-behind")
    assert not os.path.exists("/dev/shm/facelab-left-behind")
    assert boundary.mode == "namespaces" or shared == {"/tmp": "ok", "/dev/shm": "ok"}


def test_network_and_abstract_sockets(boundary):
    if boundary.mode != "namespaces":
        pytest.skip("user mode gives no network isolation (documented)")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    abstract = socket.socket(socket.AF_UNIX)
    name = f"facelab-test-{os.getpid()}"
    abstract.bind("\0" + name)
    abstract.listen()
    code = TRY + """
    import socket
    port = int(sys.argv[1])
    u = socket.socket(socket.AF_UNIX)
    print(json.dumps({'tcp': attempt('tcp', lambda: socket.create_connection(('127.0.0.1', port), 2)),
                      'unix': attempt('unix', lambda: u.connect('\\0' + sys.argv[2]))}))
    """
    try:
        rc, out, err, _ = run(boundary, code, srv.getsockname()[1], name)
    finally:
        srv.close()
        abstract.close()
    assert rc == 0, err
    assert json.loads(out) == {"tcp": "OSError", "unix": "ConnectionRefusedError"}


def test_fork_bomb_is_bounded_and_killed(boundary):
    code = """
    import os, signal, time
    n = 0
    try:
        while n < 2000:
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
            n += 1
    except OSError:
        pass
    print(n, flush=True)
    os.killpg(0, signal.SIGSTOP)  # stopped, they still die; dead, they count until reaped
    """
    rc, out, err, killed = run(boundary, code, nproc=40, timeout=5)  # the main one stops itself
    assert out.strip().isdigit() and 10 < int(out) < 40, err
    assert sb._pids_of(boundary.users[0][1], zombies=True) == []  # reaped: none counts any more
    # the slot's next process has its whole process budget again
    code = "import os\npid = os.fork()\nif pid == 0: os._exit(0)\nos.waitpid(pid, 0); print('forked')"
    assert run(boundary, code, nproc=40)[1].strip() == "forked"


def test_no_inherited_descriptors_or_environment(boundary, tmp_path, monkeypatch):
    secret = tmp_path / "answers.txt"
    secret.write_text("42")
    fd = os.open(secret, os.O_RDONLY)
    os.set_inheritable(fd, True)
    monkeypatch.setenv("FACELAB_TEST_SECRET", str(secret))
    try:
        code = "import os, json; print(json.dumps([sorted(os.listdir('/proc/self/fd')), dict(os.environ)]))"
        rc, out, err, _ = run(boundary, code, env={"LANG": "C.UTF-8"})
    finally:
        os.close(fd)
    assert rc == 0, err
    fds, env = json.loads(out)
    assert len(fds) <= 4  # stdin, stdout, stderr and the listing's own
    assert "FACELAB_TEST_SECRET" not in env and set(env) <= {"LANG", "PATH", "HOME", "TMPDIR", "PWD"}


def test_ipc_objects_are_removed(boundary):
    code = """
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)  # IPC_PRIVATE, IPC_CREAT | 0600: outlive the process
    print(min(libc.shmget(0, 4096, 0o1600), libc.semget(0, 1, 0o1600), libc.msgget(0, 0o1600)))
    """
    rc, out, err, _ = run(boundary, code)
    assert rc == 0 and int(out) >= 0, err
    uid = str(boundary.users[0][1])
    for kind in ("shm", "sem", "msg"):
        rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        col = rows[0].split().index("uid")
        assert not [r for r in rows[1:] if r.split()[col] == uid], kind


def test_memory_limit_by_cgroup(boundary):
    if not boundary.memory:
        pytest.skip("no writable memory cgroup here: the grader polls memory instead")
    code = "x = bytearray(400 * 2**20); x[::4096] = b'1' * len(x[::4096]); print('survived')"
    assert run(boundary, code)[1].strip() == "survived"  # control: no limit
    rc, out, err, _ = run(boundary, code, memory_mb=150)
    assert rc != 0 and "survived" not in out


def test_probe_refuses_to_pretend(monkeypatch):
    with pytest.raises(GradingError, match="must be one of"):
        sb.probe("chroot")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    b = sb.probe("auto")
    assert b.mode == "none" and "--trusted-submissions" in b.describe()
    with pytest.raises(GradingError, match="not running as root"):
        sb.probe("user")
    assert sb.check_protected(["/etc/hostname"], b) != []


def test_user_mode_never_opens_a_folder_nobody_named(boundary, tmp_path, monkeypatch):
    """A readable path below a closed folder: refused with a message naming the folder,
    nothing changed; allowed (then restored) once the instructor names it."""
    if boundary.mode != "user":
        pytest.skip("only user mode changes permissions")
    home = tmp_path / "home"
    pics = home / "pictures"
    pics.mkdir(parents=True)
    home.chmod(0o700)
    monkeypatch.setenv(sb.OPEN_ENV, os.pathsep.join(closed_folders(tmp_path / "x")))
    with pytest.raises(GradingError, match=f"{home} \\(mode 0700\\) is closed"):
        sb.protect([], boundary, readable=[pics])
    assert home.stat().st_mode & 0o777 == 0o700, "nothing was opened"
    monkeypatch.setenv(sb.OPEN_ENV, os.pathsep.join(closed_folders(tmp_path / "x") + [str(home)]))
    with sb.protect([], boundary, readable=[pics]):
        assert home.stat().st_mode & 0o777 == 0o701
        assert sb.check_protected([], boundary, readable=[pics]) == []
    assert home.stat().st_mode & 0o777 == 0o700, "restored"


PLANT = TRY + """
import ctypes
made = {}
for d in sys.argv[1:]:
    for mode in (0o500, 0o000):
        p = f'{d}/facelab-plant-{mode:o}'
        def plant():
            os.mkdir(p)
            open(p + '/payload', 'w').write('x')
            os.chmod(p, mode)
        made[p] = attempt('plant', plant)
libc = ctypes.CDLL(None, use_errno=True)
made['sysv'] = 'ok' if libc.shmget(0x46504C55, 4096, 0o1444) >= 0 else 'refused'
print(json.dumps(made), flush=True)
import time; time.sleep(60)
"""

LOOK = """
import json, os, sys
found = [f'{d}/{n}' for d in sys.argv[1:] if os.path.isdir(d) for n in os.listdir(d) if 'facelab-plant' in n]
rows = open('/proc/sysvipc/shm').read().splitlines()[1:]
found += ['shm'] * sum(r.split()[0] == str(0x46504C55) for r in rows)
print(json.dumps(found))
"""


def test_between_students_the_grader_empties_everything_the_student_user_left(boundary):
    """A server launched in the slot (as its server user) sees a student process plant
    read-only and unsearchable folders in every shared writable folder, its scratch and
    a System V segment; after ``between`` (root's sweep) a new process
    of the slot's student user finds none of it. Without the sweep it finds them."""
    folders = [d for d in sb.SHARED_WRITABLE if os.path.isdir(d) or boundary.mode == "namespaces"]
    scratch = tempfile.mkdtemp(prefix="facelab-test-scratch-")
    # the server side: a shell as the server user keeping its capabilities, running a
    # planter as the student user (setpriv), then a looker, each on request
    server = sb.launch(["/bin/sh", "-c", "cat >/dev/null"], boundary=boundary, scratch=scratch,
                       server=True)
    name, uid, gid = boundary.users[0]
    deadline = time.monotonic() + 30
    while boundary.mode == "namespaces" and time.monotonic() < deadline and \
            os.readlink(f"/proc/{server.pid}/ns/ipc") == os.readlink("/proc/self/ns/ipc"):
        time.sleep(0.05)  # until the wrapper has become unshare, in the new namespaces
    time.sleep(0.5)       # and has built the view

    def as_student(code, *args):
        argv = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--", sys.executable, "-I", "-c", code, *args]
        if boundary.mode == "namespaces":
            argv = ["nsenter", "-t", str(server.pid), "-m", "-i", "-r", "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/")

    try:
        planted = as_student(PLANT.replace("time.sleep(60)", "pass"), *folders, os.path.realpath(scratch))
        made = json.loads(planted.stdout or "{}")
        assert made and made.get("sysv") == "ok", planted.stderr[-500:]
        assert sum(v == "ok" for k, v in made.items() if k.startswith("/")) >= 4
        control = json.loads(as_student(LOOK, *folders, os.path.realpath(scratch)).stdout)
        assert control, "control: without the sweep the next process finds the plants"
        assert sb.between(server, boundary) == []
        assert json.loads(as_student(LOOK, *folders, os.path.realpath(scratch)).stdout) == []
    finally:
        sb.end(server, boundary)


def test_no_posix_message_queue_can_be_made(boundary):
    """User mode cannot list (so sweep) POSIX message queues where /dev/mqueue is not
    mounted: RLIMIT_MSGQUEUE 0 stops student code making one at all."""
    code = TRY + """
    import ctypes
    librt = ctypes.CDLL('librt.so.1', use_errno=True)
    fd = librt.mq_open(b'/facelab-plant', os.O_CREAT | os.O_RDWR, 0o600, None)
    print(json.dumps('ok' if fd >= 0 else os.strerror(ctypes.get_errno())))
    """
    rc, out, err, _ = run(boundary, code)
    assert rc == 0, err
    assert json.loads(out) != "ok"
