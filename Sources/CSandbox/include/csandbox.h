#ifndef CSANDBOX_H
#define CSANDBOX_H

// The C shim of sandbox-host: only what must run between clone/fork and exec, where Swift
// cannot safely run (no allocator, no runtime, async-signal-safe calls only).

/// Clones a child into the namespaces named by `flags` (CLONE_NEW* bits); the child exits at
/// once. Answers 0 when the kernel allowed it, or the errno of the failing step.
int csb_probe_clone(int flags);

#endif
