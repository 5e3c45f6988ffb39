// The system-call filter of every sandbox: a deny list in the spirit of Docker's default profile.
//
// Why: the sandbox's root is an unprivileged host uid, but every system call still reaches the
// host's kernel. Calls no tenant needs and that expose large, often-exploited kernel surface
// (keyrings, eBPF, io_uring, userfaultfd, perf, module loading, mounting, and above all new user
// namespaces, inside which a tenant holds every capability over fresh network and mount
// namespaces and so reaches nf_tables, tmpfs/overlay mounts and more) answer EPERM.
// clone3 answers ENOSYS, as under Docker: its flags sit behind a pointer a filter cannot read,
// and libc falls back to clone, whose flags it can.
//
// The filter is data: a table of system-call numbers, a few calls with an argument rule, and a
// small assembler that turns them into classic BPF. PID 1 installs it once, after setting
// no_new_privs; every command inherits it (filters cannot be removed, only added to).
#define _GNU_SOURCE
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define SBI_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SBI_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "sandbox-init's seccomp filter knows x86_64 and aarch64"
#endif

// Calls numbered 424 and up share one number on every architecture; older headers may lack them.
#ifndef __NR_open_tree_attr
#define __NR_open_tree_attr 467
#endif

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

// Answered EPERM, whatever their arguments.
static const int sbi_denied[] = {
    // kernel keyrings
    __NR_keyctl, __NR_add_key, __NR_request_key,
    // eBPF, userfaultfd, perf events, io_uring
    __NR_bpf, __NR_userfaultfd, __NR_perf_event_open,
    __NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register,
    // the kernel itself: new kernels, modules, reboot, swap, accounting, quotas, the log
    __NR_kexec_load, __NR_kexec_file_load, __NR_init_module, __NR_finit_module, __NR_delete_module,
    __NR_reboot, __NR_swapon, __NR_swapoff, __NR_acct, __NR_quotactl, __NR_quotactl_fd, __NR_syslog,
    // file handles bypass path permissions (the "shocker" escape)
    __NR_open_by_handle_at, __NR_name_to_handle_at,
    // mounting, old and new API: refused to the sandbox's root anyway, but not inside a nested
    // user namespace, and the filter does not rely on that
    __NR_mount, __NR_umount2, __NR_pivot_root, __NR_move_mount, __NR_open_tree, __NR_open_tree_attr,
    __NR_fsopen, __NR_fsmount, __NR_fspick, __NR_fsconfig, __NR_mount_setattr,
    // joining namespaces: nothing inside has reason to (only the host's were made, and none
    // can be made)
    __NR_setns,
#ifdef __NR_lookup_dcookie
    __NR_lookup_dcookie,
#endif
#ifdef __NR_umount
    __NR_umount,
#endif
#ifdef __NR_iopl
    __NR_iopl,
#endif
#ifdef __NR_ioperm
    __NR_ioperm,
#endif
#ifdef __NR_vm86
    __NR_vm86,
#endif
#ifdef __NR_vm86old
    __NR_vm86old,
#endif
#ifdef __NR_create_module
    __NR_create_module,
#endif
#ifdef __NR_get_kernel_syms
    __NR_get_kernel_syms,
#endif
#ifdef __NR_query_module
    __NR_query_module,
#endif
#ifdef __NR_uselib
    __NR_uselib,
#endif
#ifdef __NR_nfsservctl
    __NR_nfsservctl,
#endif
#ifdef __NR__sysctl
    __NR__sysctl,
#endif
};

// Namespace flags refused to clone (whose low byte is the exit signal, so no CLONE_NEWTIME
// there) and to unshare.
#define SBI_CLONE_NAMESPACES \
    (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP)
#define SBI_UNSHARE_NAMESPACES (SBI_CLONE_NAMESPACES | CLONE_NEWTIME)

// personality(2) values allowed, as Docker: Linux, PER_LINUX32, UNAME26 (and both), and the query.
static const uint32_t sbi_personalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

// ---- a tiny assembler: jumps name labels, resolved once the program is complete ----

enum sbi_label { SBI_NEXT, SBI_ALLOW, SBI_DENY, SBI_ENOSYS, SBI_CLONE, SBI_UNSHARE, SBI_PERSONALITY, SBI_KILL, SBI_LABELS };

#define SBI_MAX_FILTER 128

struct sbi_program {
    struct sock_filter code[SBI_MAX_FILTER];
    uint8_t jt[SBI_MAX_FILTER], jf[SBI_MAX_FILTER];  // labels, SBI_NEXT for "fall through"
    int labels[SBI_LABELS];
    int length;
    int overflow;
};

static void sbi_emit(struct sbi_program *p, uint16_t code, uint32_t k, enum sbi_label jt, enum sbi_label jf) {
    if (p->length >= SBI_MAX_FILTER) {
        p->overflow = 1;
        return;
    }
    p->code[p->length] = (struct sock_filter){code, 0, 0, k};
    p->jt[p->length] = (uint8_t)jt;
    p->jf[p->length] = (uint8_t)jf;
    p->length++;
}

static void sbi_mark(struct sbi_program *p, enum sbi_label label) { p->labels[label] = p->length; }

// Resolves every jump to its label; 0, or -1 if one is missing, backwards or beyond BPF's 255 steps.
static int sbi_link(struct sbi_program *p) {
    if (p->overflow) return -1;
    for (int i = 0; i < p->length; i++) {
        if (BPF_CLASS(p->code[i].code) != BPF_JMP) continue;
        uint8_t targets[2] = {p->jt[i], p->jf[i]};
        uint8_t offsets[2] = {0, 0};
        for (int j = 0; j < 2; j++) {
            if (targets[j] == SBI_NEXT) continue;
            if (p->labels[targets[j]] < 0) return -1;
            int distance = p->labels[targets[j]] - (i + 1);
            if (distance < 0 || distance > 255) return -1;
            offsets[j] = (uint8_t)distance;
        }
        p->code[i].jt = offsets[0];
        p->code[i].jf = offsets[1];
    }
    return 0;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SBI_ARG0_LOW offsetof(struct seccomp_data, args[0])
#else
#define SBI_ARG0_LOW (offsetof(struct seccomp_data, args[0]) + 4)
#endif

static int sbi_build(struct sbi_program *p) {
    for (int i = 0; i < SBI_LABELS; i++) p->labels[i] = -1;
    // Another architecture's calls (i386 through int 0x80, arm32 compat) have other numbers:
    // the process is killed rather than have its calls checked against the wrong table.
    sbi_emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), SBI_NEXT, SBI_NEXT);
    sbi_emit(p, BPF_JMP | BPF_JEQ | BPF_K, SBI_AUDIT_ARCH, SBI_NEXT, SBI_KILL);
    sbi_emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), SBI_NEXT, SBI_NEXT);
#if defined(__x86_64__)
    // The x32 ABI: x86_64's numbers with bit 30 set. Nothing here is built for it.
    sbi_emit(p, BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, SBI_DENY, SBI_NEXT);
#endif
    sbi_emit(p, BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, SBI_CLONE, SBI_NEXT);
    sbi_emit(p, BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, SBI_UNSHARE, SBI_NEXT);
    sbi_emit(p, BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, SBI_ENOSYS, SBI_NEXT);
    sbi_emit(p, BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, SBI_PERSONALITY, SBI_NEXT);
    for (size_t i = 0; i < sizeof sbi_denied / sizeof sbi_denied[0]; i++)
        sbi_emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)sbi_denied[i], SBI_DENY, SBI_NEXT);
    sbi_emit(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, SBI_NEXT, SBI_NEXT);

    // The kernel reads only the low 32 bits of clone's and unshare's flags for these.
    sbi_mark(p, SBI_CLONE);
    sbi_emit(p, BPF_LD | BPF_W | BPF_ABS, SBI_ARG0_LOW, SBI_NEXT, SBI_NEXT);
    sbi_emit(p, BPF_JMP | BPF_JSET | BPF_K, SBI_CLONE_NAMESPACES, SBI_DENY, SBI_ALLOW);
    sbi_mark(p, SBI_UNSHARE);
    sbi_emit(p, BPF_LD | BPF_W | BPF_ABS, SBI_ARG0_LOW, SBI_NEXT, SBI_NEXT);
    sbi_emit(p, BPF_JMP | BPF_JSET | BPF_K, SBI_UNSHARE_NAMESPACES, SBI_DENY, SBI_ALLOW);
    sbi_mark(p, SBI_PERSONALITY);
    sbi_emit(p, BPF_LD | BPF_W | BPF_ABS, SBI_ARG0_LOW, SBI_NEXT, SBI_NEXT);
    for (size_t i = 0; i < sizeof sbi_personalities / sizeof sbi_personalities[0]; i++)
        sbi_emit(p, BPF_JMP | BPF_JEQ | BPF_K, sbi_personalities[i], SBI_ALLOW, SBI_NEXT);
    sbi_mark(p, SBI_DENY);
    sbi_emit(p, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA), SBI_NEXT, SBI_NEXT);
    sbi_mark(p, SBI_ENOSYS);
    sbi_emit(p, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA), SBI_NEXT, SBI_NEXT);
    sbi_mark(p, SBI_KILL);
    sbi_emit(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, SBI_NEXT, SBI_NEXT);
    sbi_mark(p, SBI_ALLOW);
    sbi_emit(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, SBI_NEXT, SBI_NEXT);
    return sbi_link(p);
}

int sbi_install_seccomp(void) {
    static struct sbi_program program;
    if (sbi_build(&program) < 0) {
        errno = E2BIG;
        return -1;
    }
    struct sock_fprog filter = {(unsigned short)program.length, program.code};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter);
}
