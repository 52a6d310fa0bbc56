//! corral's Linux sandbox. Everything that talks to the kernel lives in this
//! crate: namespaces, mounts, Landlock, seccomp, cgroups, rlimits and the
//! process lifecycle. It takes a resolved [`plan::Plan`] and runs it.

pub mod cgroup;
pub mod landlock;
pub mod plan;
pub mod probe;
pub mod rlimit;
pub mod seccomp;
