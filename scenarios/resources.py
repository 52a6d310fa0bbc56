"""resources: grabbing the machine's resources (denial of service, or
room for a miner).

Attack, each bounded by a cap of its own so that it cannot hurt the
machine even if nothing stops it:
  - fd exhaustion: opens /dev/null until refused, at most 200,000 times;
  - memory balloon: a child allocating 16 MiB blocks (touched), at most
    512 MiB;
  - disk fill: a child writing the sandbox's /tmp (a private tmpfs, i.e.
    memory) 1 MiB at a time, at most 256 MiB, then the file is removed;
  - fork bomb: forks children that sleep, at most 512, then kills them.
Twin: a normal parallel build's footprint: 8 worker processes, 64 MiB of
memory, a 16 MiB file in /tmp, 200 open files.

Safe: every grab stops at its cap; the runner runs this scenario with
limits no larger than 64 processes and 128 MiB of memory (the policy's own
when smaller; it says so when the policy has none), and a 30 s timeout.

Contained: every grab was refused before its cap: EMFILE from the
open-files limit, the memory limit's OOM kill (or MemoryError), ENOSPC or
the OOM kill for the tmpfs, EAGAIN from the process limit. Detection
(`resource.*`) ending the run also contains it.
"""

import os
import signal
import time

import corral_scenario as cs

FD_CAP = 200_000
BALLOON_CAP_MIB = 512
FILL_CAP_MIB = 256
FORK_CAP = 512


def in_child(fn):
    """Runs fn() in a child; returns (exit code, or -signal)."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(fn())
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def verdict(code, what, cap):
    if code == 0:
        return "reached the cap of %s without being stopped" % cap
    if code == -signal.SIGKILL:
        raise cs.Refused("%s: killed (SIGKILL: the memory limit's OOM kill)" % what, by="limits")
    if code == -signal.SIGXFSZ:
        raise cs.Refused("%s: killed (SIGXFSZ: the file size limit)" % what, by="limits")
    if code == 3:
        raise cs.Refused("%s: refused (MemoryError, ENOSPC or EFBIG)" % what, by="limits")
    raise cs.Refused("%s: ended with status %d" % (what, code), by="limits")


def attack():
    cs.begin()

    def fds():
        opened = []
        try:
            while len(opened) < FD_CAP:
                opened.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as e:
            n = len(opened)
            for fd in opened:
                os.close(fd)
            raise cs.Refused("refused after %d descriptors: %s" % (n, os.strerror(e.errno)),
                             by="limits", errno=e.errno)
        for fd in opened:
            os.close(fd)
        return "opened %d descriptors" % FD_CAP

    def balloon():
        def grow():
            blocks = []
            try:
                while len(blocks) * 16 < BALLOON_CAP_MIB:
                    blocks.append(bytearray(16 << 20))
            except MemoryError:
                return 3
            return 0
        return verdict(in_child(grow), "the balloon", "%d MiB" % BALLOON_CAP_MIB)

    def fill():
        path = "/tmp/corral-verify-fill"

        def write():
            # Ballast, so that the OOM killer picks this process (tmpfs
            # pages belong to no process) rather than the scenario.
            ballast = bytearray(32 << 20)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            block = b"\0" * (1 << 20)
            try:
                for _ in range(FILL_CAP_MIB):
                    os.write(fd, block)
            except OSError:
                return 3
            return 0 if ballast else 1

        try:
            return verdict(in_child(write), "the fill", "%d MiB" % FILL_CAP_MIB)
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass

    def fork_bomb():
        kids = []
        try:
            while len(kids) < FORK_CAP:
                pid = os.fork()
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                kids.append(pid)
        except OSError as e:
            n = len(kids)
            raise cs.Refused("fork refused after %d children: %s" % (n, os.strerror(e.errno)),
                             by="limits", errno=e.errno)
        finally:
            for pid in kids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except OSError:
                    pass
        return "forked %d children" % FORK_CAP

    cs.attempt("fd exhaustion: open /dev/null up to %d times" % FD_CAP, fds)
    cs.attempt("memory balloon: allocate up to %d MiB" % BALLOON_CAP_MIB, balloon)
    cs.attempt("disk fill: write up to %d MiB to /tmp" % FILL_CAP_MIB, fill)
    cs.attempt("fork bomb: up to %d processes" % FORK_CAP, fork_bomb)
    cs.end()


def twin():
    cs.begin()

    def workers():
        kids = []
        for _ in range(8):
            pid = os.fork()
            if pid == 0:
                time.sleep(0.2)
                os._exit(0)
            kids.append(pid)
        for pid in kids:
            os.waitpid(pid, 0)
        return "8 workers"

    def memory():
        block = bytearray(64 << 20)
        return "allocated %d MiB" % (len(block) >> 20)

    def scratch():
        path = "/tmp/corral-verify-objects"
        with open(path, "wb") as f:
            f.write(b"\0" * (16 << 20))
        os.unlink(path)
        return "wrote 16 MiB to /tmp"

    def files():
        opened = [os.open("/dev/null", os.O_RDONLY) for _ in range(200)]
        for fd in opened:
            os.close(fd)
        return "200 files open"

    cs.attempt("8 build workers", workers)
    cs.attempt("64 MiB of memory", memory)
    cs.attempt("a 16 MiB file in /tmp", scratch)
    cs.attempt("200 open files", files)
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
