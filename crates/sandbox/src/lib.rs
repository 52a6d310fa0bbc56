//! corral's Linux sandbox. Everything that talks to the kernel lives in this
//! crate: namespaces, mounts, Landlock, seccomp, cgroups, rlimits and the
//! process lifecycle. It takes a resolved [`plan::SandboxPlan`] and runs it.
//!
//! Flow: [`fsplan::resolve`] turns the filesystem request into mount
//! operations; the caller assembles a [`plan::SandboxPlan`];
//! [`launch::run`] clones the sandbox's init (`init`) into fresh
//! namespaces, which builds the root (`mounts`), confines the command and
//! execs it, while the supervisor relays the terminal ([`tty`]) and signals
//! over the control channel ([`ctl`]). The seccomp monitor's observations
//! and the resource samples become typed trail events (`corral-event`):
//! [`seccomp::events`], [`sample::resource_sample`].

pub mod cgroup;
pub mod ctl;
mod ending;
pub mod exec;
pub mod fsplan;
mod idmap;
mod init;
pub mod landlock;
pub mod launch;
mod mounts;
pub mod net;
pub mod plan;
pub mod probe;
pub mod process;
pub mod rlimit;
pub mod sample;
pub mod seccomp;
mod sys;
#[cfg(test)]
mod test_support;
pub mod tty;
pub mod writable;

pub use mounts::DEVICES;
