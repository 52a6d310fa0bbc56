//! Classic-BPF encoding and a tiny code builder for the deny filter.
//!
//! [`Code`] emits a program backwards, from its last instruction to its
//! first, so that every jump's target already exists when the jump is
//! written and its offset is known at once (no fix-ups, no labels to
//! resolve). Conditional jumps have 8-bit offsets: when a target is more
//! than 255 instructions away, the builder puts a trampoline right behind
//! the jump (a copy of the target if it is a `ret`, else a `ja` with a
//! 32-bit offset). Every instruction emitted here (loads of `nr`, `arch`
//! and arguments, `and`, `ja`, JEQ/JGE/JSET with constants, `ret`) is one
//! the kernel's seccomp action cache can evaluate (it gives up on argument
//! loads only, which is what keeps number-only decisions cached).

use libc::sock_filter;

// linux/bpf_common.h (libc's copies of these have varying integer types).
const BPF_LD: u16 = 0x00;
const BPF_ALU: u16 = 0x04;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_AND: u16 = 0x50;
const BPF_JA: u16 = 0x00;
pub(super) const BPF_JEQ: u16 = 0x10;
pub(super) const BPF_JGE: u16 = 0x30;
pub(super) const BPF_JSET: u16 = 0x40;
const BPF_K: u16 = 0x00;

// Offsets in `struct seccomp_data { int nr; __u32 arch; __u64 ip;
// __u64 args[6]; }`.
pub(super) const NR_OFFSET: u32 = 0;
pub(super) const ARCH_OFFSET: u32 = 4;
const ARGS_OFFSET: u32 = 16;

/// Offset of the low 32 bits of argument `index` (0..=5). Both supported
/// architectures are little-endian, so the low half comes first.
pub(super) const fn arg_low(index: u8) -> u32 {
    ARGS_OFFSET + 8 * index as u32
}

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

/// An emitted instruction, named by its distance from the program's end
/// (its index in [`Code`]'s reversed buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Label(usize);

/// A program under construction, last instruction first.
pub(super) struct Code {
    rev: Vec<sock_filter>,
}

impl Code {
    pub(super) fn with_capacity(n: usize) -> Code {
        Code {
            rev: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, insn: sock_filter) -> Label {
        self.rev.push(insn);
        Label(self.rev.len() - 1)
    }

    /// How far the instruction emitted next would jump to reach `target`
    /// (0: `target` is the instruction right after it).
    fn offset(&self, target: Label) -> usize {
        self.rev.len() - 1 - target.0
    }

    pub(super) fn ret(&mut self, k: u32) -> Label {
        self.push(stmt(BPF_RET | BPF_K, k))
    }

    /// An instruction that continues at `target`: a copy of it if it is a
    /// `ret` (as short, and one instruction less to run), else `ja`.
    pub(super) fn goto(&mut self, target: Label) -> Label {
        let insn = self.rev[target.0];
        if insn.code == BPF_RET | BPF_K {
            return self.push(insn);
        }
        // The program is at most MAX_INSTRUCTIONS long once checked; a
        // longer one is rejected before it is used, whatever `k` says.
        let k = u32::try_from(self.offset(target)).unwrap_or(u32::MAX);
        self.push(stmt(BPF_JMP | BPF_JA, k))
    }

    /// Makes `next` the instruction right after the one emitted next.
    fn fall_into(&mut self, next: Label) {
        if self.offset(next) != 0 {
            self.goto(next);
        }
    }

    /// `A = *(u32 *)(seccomp_data + offset)`, then `next`.
    pub(super) fn load(&mut self, offset: u32, next: Label) -> Label {
        self.fall_into(next);
        self.push(stmt(BPF_LD | BPF_W | BPF_ABS, offset))
    }

    /// `A &= mask`, then `next`.
    pub(super) fn and(&mut self, mask: u32, next: Label) -> Label {
        self.fall_into(next);
        self.push(stmt(BPF_ALU | BPF_AND | BPF_K, mask))
    }

    /// `if (A <op> k) goto yes; else goto no;` with trampolines for
    /// targets out of reach of the 8-bit offsets.
    pub(super) fn jump(&mut self, op: u16, k: u32, yes: Label, no: Label) -> Label {
        if yes == no {
            return self.goto(yes);
        }
        let (mut yes, mut no) = (yes, no);
        // Each trampoline lands right behind the jump, so this ends after
        // at most two of them (offsets 0 and 1).
        loop {
            if self.offset(yes) > usize::from(u8::MAX) {
                yes = self.goto(yes);
            } else if self.offset(no) > usize::from(u8::MAX) {
                no = self.goto(no);
            } else {
                break;
            }
        }
        let jt = u8::try_from(self.offset(yes)).unwrap_or(u8::MAX);
        let jf = u8::try_from(self.offset(no)).unwrap_or(u8::MAX);
        self.push(sock_filter {
            code: BPF_JMP | op | BPF_K,
            jt,
            jf,
            k,
        })
    }

    /// The program, first instruction first.
    pub(super) fn finish(self) -> Vec<sock_filter> {
        let mut program = self.rev;
        program.reverse();
        program
    }
}
