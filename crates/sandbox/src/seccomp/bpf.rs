//! The few classic-BPF instructions corral writes itself, in front of the
//! program seccompiler compiles from the table.
//!
//! Why a hand-written prefix: seccompiler (0.5) checks the architecture,
//! but not the x32 ABI. On x86_64, x32 syscalls arrive with
//! `AUDIT_ARCH_X86_64` and the number ORed with 0x40000000, so a number-only
//! deny list is bypassed by `syscall(0x40000000 | SYS_ptrace)`. seccompiler
//! also gives every rule of a filter the same action, while clone3 must
//! return ENOSYS rather than EPERM. Both fit in a handful of instructions
//! whose jumps stay inside the prefix, so the prefix composes with
//! seccompiler's program (relative jumps) by plain concatenation. Every
//! instruction here (loads of `nr` and `arch`, JEQ/JGE with constants,
//! RET) is one the kernel's seccomp action cache can evaluate, so allowed
//! syscalls stay cached.

use libc::sock_filter;

// linux/bpf_common.h (libc's copies of these have varying integer types).
const BPF_LD: u16 = 0x00;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_JEQ: u16 = 0x10;
const BPF_JGE: u16 = 0x30;
const BPF_K: u16 = 0x00;

// Offsets in `struct seccomp_data { int nr; __u32 arch; ... }`.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;

// linux/audit.h: EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE. Each is unused
// on the other architecture outside the tests.
#[allow(dead_code)]
pub(super) const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
#[allow(dead_code)]
pub(super) const AUDIT_ARCH_AARCH64: u32 = 183 | 0x8000_0000 | 0x4000_0000;

#[cfg(target_arch = "x86_64")]
pub(super) const NATIVE_ARCH: u32 = AUDIT_ARCH_X86_64;
#[cfg(target_arch = "aarch64")]
pub(super) const NATIVE_ARCH: u32 = AUDIT_ARCH_AARCH64;

/// `__X32_SYSCALL_BIT`: x32 syscalls are numbered from here.
pub(super) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub(super) const fn ret_errno(errno: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA)
}

const fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The guard every call passes first:
/// 1. a foreign architecture (i386 via `int 0x80`, arm32 compat) kills the
///    process: its syscall numbers mean different syscalls, so no rule below
///    would apply to it;
/// 2. on x86_64, any number at or above the x32 bit is denied with EPERM;
/// 3. the `enosys` numbers return ENOSYS.
///
/// Then control falls through to seccompiler's program (which checks the
/// architecture again, harmlessly).
pub(super) fn prefix(enosys: &[i64]) -> Vec<sock_filter> {
    let mut out = vec![
        stmt(BPF_LD | BPF_W | BPF_ABS, ARCH_OFFSET),
        jump(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
        stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD | BPF_W | BPF_ABS, NR_OFFSET),
    ];
    if cfg!(target_arch = "x86_64") {
        out.push(jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
        out.push(stmt(BPF_RET | BPF_K, ret_errno(libc::EPERM)));
    }
    for &nr in enosys {
        // Syscall numbers are small and non-negative: the table's numbers
        // come from libc::SYS_*; truncation cannot happen.
        out.push(jump(BPF_JMP | BPF_JEQ | BPF_K, nr as u32, 0, 1));
        out.push(stmt(BPF_RET | BPF_K, ret_errno(libc::ENOSYS)));
    }
    out
}

/// Converts seccompiler's instruction type (same layout, its own struct) to
/// libc's, which is what `struct sock_fprog` points to.
pub(super) fn from_seccompiler(
    program: &[seccompiler::sock_filter],
) -> impl Iterator<Item = sock_filter> + '_ {
    program.iter().map(|i| sock_filter {
        code: i.code,
        jt: i.jt,
        jf: i.jf,
        k: i.k,
    })
}
