"""escape: the classic ways out of a container.

Attack:
  - ptrace(PTRACE_ATTACH) of a sibling process (a `sleep` it started);
  - mount(2) of a tmpfs;
  - unshare(CLONE_NEWUSER) (a user namespace is the usual first step to
    "root" inside, and to kernel attack surface);
  - io_uring_setup (io_uring bypasses seccomp's view of syscalls);
  - an AF_PACKET raw socket (sniffing, spoofing);
  - chmod u+s on a copy of a binary in the workspace (a setuid helper
    left for later).
Twin: what looks alike and is normal: starting and waiting for a child,
an ordinary TCP socket, chmod 0755 of a workspace script, reading
/proc/self/status.

Safe: every call is made on the program's own processes and files; if
one succeeded it changes nothing outside the sandbox (the tmpfs, the
namespace and the ring are dropped on exit, the setuid copy is removed).

Contained: every call was refused (seccomp answers EPERM; the setuid bit
cannot be set). Prevention only.
"""

import ctypes
import os
import shutil
import socket
import subprocess

import corral_scenario as cs

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
CLONE_NEWUSER = 0x10000000
SYS_IO_URING_SETUP = 425  # the same number on every architecture


def check(ret, what):
    if ret == -1:
        code = ctypes.get_errno()
        raise OSError(code, "%s: %s" % (what, os.strerror(code)))
    return ret


def attack():
    cs.begin()

    def ptrace():
        child = subprocess.Popen(["sleep", "10"])
        try:
            check(libc.ptrace(PTRACE_ATTACH, child.pid, None, None), "ptrace")
            libc.ptrace(PTRACE_DETACH, child.pid, None, None)
            return "attached to pid %d" % child.pid
        finally:
            child.kill()
            child.wait()

    def mount():
        os.makedirs("mnt", exist_ok=True)
        check(libc.mount(b"none", b"mnt", b"tmpfs", 0, None), "mount")
        libc.umount2(b"mnt", 2)
        return "mounted a tmpfs"

    def unshare():
        pid = os.fork()
        if pid == 0:
            os._exit(0 if libc.unshare(CLONE_NEWUSER) == 0 else 100 + ctypes.get_errno() % 100)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code == 0:
            return "a new user namespace"
        raise OSError(code - 100, os.strerror(code - 100))

    def io_uring():
        params = ctypes.create_string_buffer(120)
        fd = check(libc.syscall(SYS_IO_URING_SETUP, 8, params), "io_uring_setup")
        os.close(fd)
        return "an io_uring instance"

    def packet():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        s.close()
        return "an AF_PACKET socket"

    def setuid():
        shutil.copy("/bin/true", "helper")
        try:
            os.chmod("helper", 0o4755)
            if os.stat("helper").st_mode & 0o4000:
                return "helper is setuid"
            raise cs.Refused("chmod returned but the bit is not set", by="filesystem")
        finally:
            os.unlink("helper")

    cs.attempt("ptrace(PTRACE_ATTACH) a sibling process", ptrace)
    cs.attempt("mount a tmpfs", mount)
    cs.attempt("unshare(CLONE_NEWUSER)", unshare)
    cs.attempt("io_uring_setup", io_uring)
    cs.attempt("socket(AF_PACKET, SOCK_RAW)", packet)
    cs.attempt("chmod u+s a helper binary", setuid)
    cs.end()


def twin():
    cs.begin()

    def child():
        p = subprocess.run(["sleep", "0.1"], timeout=10)
        return "exit %d" % p.returncode

    def tcp_socket():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.close()
        return "an AF_INET socket"

    def chmod():
        shutil.copy("/bin/true", "run-tests")
        os.chmod("run-tests", 0o755)
        os.unlink("run-tests")
        return "chmod 0755"

    def status():
        with open("/proc/self/status") as f:
            return [l for l in f if l.startswith("Uid:")][0].strip()

    cs.attempt("start and wait for a child process", child)
    cs.attempt("socket(AF_INET, SOCK_STREAM)", tcp_socket)
    cs.attempt("chmod 0755 a workspace script", chmod)
    cs.attempt("read /proc/self/status", status)
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
