#include <nftables/libnftables.h>

// setns(2), to run the filter inside a given network namespace (tests build a small network of
// namespaces and run the filter in the one that plays the host). Swift's Glibc module is built
// without _GNU_SOURCE, so the declaration and the flag are repeated here.
int setns(int fd, int nstype);
#define CNFT_CLONE_NEWNET 0x40000000
