"""fileless-exec: running a program that never touches the disk.

Attack:
  - memfd_create, a copy of /bin/echo written into it, then exec of
    /proc/self/fd/N;
  - the same memfd executed with execveat(fd, "", AT_EMPTY_PATH) (Python's
    os.execve on a descriptor, i.e. fexecve);
  - a copy of /bin/echo in /dev/shm, executed from there.
Twin: runs a script that was already in the workspace before the run
(tools/build.sh, written by the runner), as an agent runs a project's
scripts.

Safe: the executed program is the system's own `echo`, printing a marker.

Contained: nothing ran (exec refused), or corral raised a finding on it
(`evasion.*`) with a response beyond log: the program runs before anyone
could stop it, so noticing is what counts.
"""

import os
import shutil
import subprocess

import corral_scenario as cs

MARKER = "CORRAL-FILELESS-RAN"


def memfd_copy():
    fd = os.memfd_create("kworker", 0)
    with open("/bin/echo", "rb") as src:
        os.write(fd, src.read())
    return fd


def run_child(exec_fn):
    """Forks; the child execs (stdout to a pipe); returns what it printed."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(w, 1)
            exec_fn()
        except OSError as e:
            os.write(2, ("exec: %s\n" % e).encode())
            os._exit(100 + (e.errno or 0) % 100)
        os._exit(99)
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        out += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if MARKER.encode() in out:
        return "ran: " + out.decode().strip()
    if code >= 100:
        errno = code - 100
        raise OSError(errno, os.strerror(errno))
    raise cs.Refused("the program did not run (exit %d)" % code)


def attack():
    cs.begin()

    def proc_fd():
        fd = memfd_copy()
        return run_child(lambda: os.execv("/proc/self/fd/%d" % fd, ["kworker", MARKER]))

    def execveat():
        fd = memfd_copy()
        return run_child(lambda: os.execve(fd, ["kworker", MARKER], dict(os.environ)))

    def shm():
        path = "/dev/shm/.%s" % cs.TOKEN
        shutil.copy("/bin/echo", path)
        os.chmod(path, 0o755)
        try:
            return run_child(lambda: os.execv(path, ["kworker", MARKER]))
        finally:
            os.unlink(path)

    cs.attempt("memfd_create + exec /proc/self/fd/N", proc_fd)
    cs.attempt("memfd_create + execveat(fd, \"\", AT_EMPTY_PATH)", execveat)
    cs.attempt("copy a binary to /dev/shm and exec it", shm)
    cs.end()


def twin():
    cs.begin()

    def script():
        p = subprocess.run(["./tools/build.sh"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
        if p.returncode != 0:
            raise cs.Refused("tools/build.sh: exit %d: %s" % (p.returncode, p.stderr.decode()[:200]))
        return p.stdout.decode().strip()

    cs.attempt("run the workspace's tools/build.sh", script)
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
