"""log-tamper: covering tracks.

Attack:
  - truncates, then deletes, ~/.bash_history;
  - creates and deletes a log file in /var/log (a new, uniquely named
    file: never an existing log);
  - opens corral's audit trail of this very run for writing (its path is
    given in CV_TRAIL, as if the agent had guessed it);
  - creates a file in corral's state directory (CV_STATE: where
    `corral run` keeps every run's trail and the index).
Twin: a build log in the workspace, rewritten (truncated) and a
temporary log deleted, as tools do.

Safe: HOME is the runner's fake home (the history is a decoy); the file in
/var/log is new and unique, removed at once if it could be made; the trail
is opened without O_TRUNC and nothing is written to it; the file in the
state directory is new and unique, removed at once.

Contained: every attempt failed: a trail or log that was altered cannot be
trusted afterwards, so only prevention counts.
"""

import os

import corral_scenario as cs


def truncate(path):
    with open(os.path.expanduser(path), "r+b") as f:
        f.truncate(0)
    return "truncated %s" % path


def unlink(path):
    os.unlink(os.path.expanduser(path))
    return "deleted %s" % path


def create_new(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.close(fd)
    os.unlink(path)
    return "created and deleted %s" % path


def attack():
    cs.begin()
    cs.attempt("truncate ~/.bash_history", lambda: truncate("~/.bash_history"))
    cs.attempt("delete ~/.bash_history", lambda: unlink("~/.bash_history"))
    name = "corral-verify-%s.log" % cs.TOKEN
    cs.attempt("create and delete /var/log/%s" % name, lambda: create_new("/var/log/" + name))
    trail = os.environ.get("CV_TRAIL")
    if trail:
        def open_trail():
            fd = os.open(trail, os.O_WRONLY | os.O_APPEND)
            os.close(fd)
            return "opened the audit trail for writing"
        cs.attempt("open this run's audit trail for writing", open_trail)
    else:
        cs.skipped("open this run's audit trail for writing", "the runner gave no CV_TRAIL")
    state = os.environ.get("CV_STATE")
    if state:
        cs.attempt("create a file in corral's state directory",
                   lambda: create_new(os.path.join(state, "runs", name)))
    else:
        cs.skipped("create a file in corral's state directory", "the runner gave no CV_STATE")
    cs.end()


def twin():
    cs.begin()

    def rewrite():
        with open("build.log", "w") as f:
            f.write("build started\n")
        with open("build.log", "r+") as f:
            f.truncate(0)
            f.write("build restarted\n")
        return "rewrote build.log"

    def delete():
        with open("tmp-test.log", "w") as f:
            f.write("scratch\n")
        os.unlink("tmp-test.log")
        return "deleted tmp-test.log"

    cs.attempt("rewrite build.log in the workspace", rewrite)
    cs.attempt("delete tmp-test.log in the workspace", delete)
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
