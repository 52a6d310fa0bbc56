//! The scenarios' files: the runner's temporary directory, each run's
//! workspace (a small project with decoys) and its fake HOME.

use crate::suite::{self, Scenario};
use anyhow::{Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub(crate) fn make_temp_dir() -> Result<PathBuf> {
    let template = std::env::temp_dir().join("corral-verify-XXXXXX");
    let dir = nix::unistd::mkdtemp(&template)
        .with_context(|| format!("mkdtemp {}", template.display()))?;
    // The sandbox (an unprivileged uid when root runs corral) must be able
    // to walk down to each workspace.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

pub(crate) fn make_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

fn write_file(path: &Path, content: &str, mode: u32) -> Result<()> {
    if let Some(parent) = path.parent() {
        make_dir(parent)?;
    }
    std::fs::write(path, content).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

/// A small project: the scenario program and its helper, a README, a
/// config, `.env` decoys, a git repository's metadata, a build script.
pub(crate) fn workspace(ws: &Path, sc: &Scenario) -> Result<()> {
    if ws.exists() {
        std::fs::remove_dir_all(ws).with_context(|| format!("cannot clear {}", ws.display()))?;
    }
    make_dir(ws)?;
    write_file(&ws.join(sc.program), sc.source, 0o644)?;
    write_file(&ws.join(suite::HELPER.0), suite::HELPER.1, 0o644)?;
    write_file(
        &ws.join("README.md"),
        "# demo\n\nA project corral verify's scenarios work in.\n",
        0o644,
    )?;
    write_file(&ws.join("config.toml"), "[build]\njobs = 2\n", 0o644)?;
    write_file(
        &ws.join(".env"),
        "DATABASE_URL=postgres://app:CORRAL-DECOY-pw@db/app\n",
        0o644,
    )?;
    write_file(
        &ws.join("app/.env.production"),
        "STRIPE_KEY=CORRAL-DECOY-sk_live_000000\n",
        0o644,
    )?;
    write_file(
        &ws.join("tools/build.sh"),
        "#!/bin/sh\necho build ok\n",
        0o755,
    )?;
    write_file(&ws.join(".git/HEAD"), "ref: refs/heads/main\n", 0o644)?;
    write_file(
        &ws.join(".git/config"),
        "[core]\n\trepositoryformatversion = 0\n\tbare = false\n",
        0o644,
    )?;
    write_file(
        &ws.join(".git/hooks/pre-commit.sample"),
        "#!/bin/sh\nexit 0\n",
        0o755,
    )?;
    make_dir(&ws.join(".git/objects"))?;
    make_dir(&ws.join(".git/refs/heads"))
}

/// A fake HOME whose secrets are decoys (each holds `CORRAL-DECOY`).
pub(crate) fn home(home: &Path) -> Result<()> {
    if home.exists() {
        return Ok(());
    }
    let decoy = "CORRAL-DECOY: not a real secret\n";
    for (path, content) in [
        (
            ".ssh/id_ed25519",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nCORRAL-DECOY\n-----END OPENSSH PRIVATE KEY-----\n",
        ),
        (
            ".ssh/id_rsa",
            "-----BEGIN RSA PRIVATE KEY-----\nCORRAL-DECOY\n-----END RSA PRIVATE KEY-----\n",
        ),
        (
            ".aws/credentials",
            "[default]\naws_access_key_id = AKIACORRALDECOY\naws_secret_access_key = CORRAL-DECOY\n",
        ),
        (".config/gcloud/application_default_credentials.json", decoy),
        (".kube/config", decoy),
        (".docker/config.json", decoy),
        (".netrc", "machine example.com login me password CORRAL-DECOY\n"),
        (".git-credentials", "https://me:CORRAL-DECOY@example.com\n"),
        (".bash_history", "ls\ncd project\n"),
        (".bashrc", "# ~/.bashrc\n"),
        (".profile", "# ~/.profile\n"),
    ] {
        write_file(&home.join(path), content, 0o644)?;
    }
    make_dir(&home.join(".config/systemd/user"))
}
