"""sitrep's fork server: one Python interpreter that has imported the modules given on its
command line once, and starts each task as a fork of itself instead of a new interpreter
(docs/runwhen.md, "Speed"). Run as `python -s -c SOURCE SITREP_PID MODULE...`.

Protocol, one JSON object per line. Requests on stdin:
    {"id": N, "args": ["-m", "robot", ...], "env": {...}, "cwd": DIR,
     "stdout": FIFO, "stderr": FIFO, "cgroup": DIR or null}
Answers on stdout:
    {"id": N, "pid": PID}            the task started (set up, about to run)
    {"id": N, "error": TEXT}         it could not be set up; nothing runs
    {"exited": PID, "status": RAW}   a task ended (RAW as waitpid gives it)

Each task is set up like a task sitrep starts itself: its own process group, a parent-death
signal (the server has one on sitrep), its cgroup joined, /dev/null for stdin and the two
FIFOs sitrep reads for stdout and stderr, its run directory, exactly the environment sitrep
gave it. The server ends when its stdin closes, or with sitrep."""

import atexit
import ctypes
import gc
import json
import os
import pkgutil  # noqa: F401 (runpy imports it, and typing with it, to run a script)
import runpy
import select
import signal
import sys
import threading
import time
import traceback

PR_SET_PDEATHSIG = 1
LIBC = ctypes.CDLL(None, use_errno=True)


def die_with(pid):
    """SIGKILL when the parent dies; if it already has, now."""
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != pid:
        os._exit(137)


def send(record):
    data = (json.dumps(record) + "\n").encode()
    while data:
        data = data[os.write(1, data):]


def set_up(req, server, own):
    """The task's process, before it runs anything of its own."""
    for fd in own:
        os.close(fd)
    os.setpgid(0, 0)
    die_with(server)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if req.get("cgroup"):
        with open(os.path.join(req["cgroup"], "cgroup.procs"), "w") as procs:
            procs.write("0")
    fds = [os.open("/dev/null", os.O_RDONLY)]
    for name in ("stdout", "stderr"):
        # not blocking: a FIFO nobody reads (sitrep gave up) fails instead of waiting
        fd = os.open(req[name], os.O_WRONLY | os.O_NONBLOCK)
        os.set_blocking(fd, True)
        fds.append(fd)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    time.tzset()
    # files the task writes (secrets RW.CLI puts in files among them) are its own
    os.umask(0o077)


def run(args):
    """Runs `-m MODULE ARGS...` or `SCRIPT ARGS...` as `python` would; the exit code."""
    try:
        if args[:1] == ["-m"]:
            sys.argv = ["-m"] + args[2:]
            sys.path[0] = os.getcwd()
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(args)
            # `python SCRIPT` puts the script's folder first on the path
            sys.path[0] = os.path.dirname(os.path.abspath(args[0]))
            runpy.run_path(args[0], run_name="__main__")
        code = 0
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code & 0xFF
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    # what an interpreter does on its way out: wait for threads, run atexit handlers
    try:
        threading._shutdown()
    except BaseException:
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    return code


def start(req, server, own):
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        try:
            set_up(req, server, own)
        except BaseException as e:
            os.write(ready_w, ("E" + str(e)).encode())
            os._exit(127)
        os.write(ready_w, b"K")
        os.close(ready_w)
        code = run(req["args"])
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)
    os.close(ready_w)
    said = b""
    while True:
        chunk = os.read(ready_r, 4096)
        if not chunk:
            break
        said += chunk
    os.close(ready_r)
    if said == b"K":
        send({"id": req["id"], "pid": pid})
    else:
        text = said[1:].decode(errors="replace") or "the task's process died while starting"
        send({"id": req["id"], "error": text})


def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send({"exited": pid, "status": status})


def main():
    sitrep = int(sys.argv[1])
    die_with(sitrep)
    for module in sys.argv[2:]:
        try:
            __import__(module)
        except Exception as e:
            # each task imports it again, and says what is wrong there
            print("cannot preload %s: %s" % (module, e), file=sys.stderr)
    # what was imported is shared with every task: keep the collector off those pages
    gc.collect()
    gc.freeze()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    send({"ready": os.getpid()})
    pending = b""
    while True:
        readable, _, _ = select.select([0, wake_r], [], [])
        if wake_r in readable:
            os.read(wake_r, 4096)
            reap()
        if 0 in readable:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                os._exit(0)
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                start(json.loads(line), os.getpid(), (wake_r, wake_w))
            reap()


main()
