// Sandbox links over rtnetlink: the network namespace a sandbox joins, its veth pair, addresses,
// routes, and the resolver's dummy interface. No fork/exec of ip(8): each call is a few bounded
// request/ack exchanges with the kernel on one netlink socket (a receive timeout bounds every
// wait), and messages are built in fixed buffers on the stack.
//
// A netlink socket belongs to the network namespace its creator was in: the one that configures
// a sandbox's side is made with the calling thread inside the sandbox's namespace for the one
// socket(2) call (setns changes only the calling thread), which then comes straight back, or the
// process aborts (a host thread left inside a sandbox's namespace must never carry on).
#define _GNU_SOURCE
#include "csandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

struct csb_nl_message {
    struct nlmsghdr header;
    char data[1024];
};

static void csb_nl_begin(struct csb_nl_message *m, uint16_t type, uint16_t flags) {
    memset(m, 0, sizeof *m);
    m->header.nlmsg_len = NLMSG_LENGTH(0);
    m->header.nlmsg_type = type;
    m->header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
}

// Appends `length` bytes at the end of the message (aligned); NULL when it does not fit.
static void *csb_nl_put(struct csb_nl_message *m, const void *data, size_t length) {
    size_t offset = NLMSG_ALIGN(m->header.nlmsg_len);
    if (offset + NLMSG_ALIGN(length) > sizeof *m) return NULL;
    char *at = (char *)m + offset;
    memset(at, 0, NLMSG_ALIGN(length));
    if (data != NULL) memcpy(at, data, length);
    m->header.nlmsg_len = (uint32_t)(offset + length);
    return at;
}

static struct rtattr *csb_nl_attr(struct csb_nl_message *m, unsigned short type, const void *data, size_t length) {
    struct rtattr *attr = csb_nl_put(m, NULL, RTA_LENGTH(length));
    if (attr == NULL) return NULL;
    attr->rta_type = type;
    attr->rta_len = (unsigned short)RTA_LENGTH(length);
    if (length > 0) memcpy(RTA_DATA(attr), data, length);
    return attr;
}

// Closes a nested attribute opened by csb_nl_attr(m, type, NULL, 0).
static void csb_nl_end(struct csb_nl_message *m, struct rtattr *nest) {
    nest->rta_len = (unsigned short)((char *)m + m->header.nlmsg_len - (char *)nest);
}

// Every request is answered by the kernel at once; the timeouts bound a wait that never ends.
static void csb_nl_timeouts(int fd) {
    struct timeval timeout = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
}

static int csb_nl_open(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd >= 0) csb_nl_timeouts(fd);
    return fd;
}

// Sends the request and waits for its ack (bounded by the socket's receive timeout). With
// `reply`, the first RTM_NEWLINK answer's interface index is stored there. 0, or -errno.
static int csb_nl_talk(int fd, struct csb_nl_message *m, int *reply) {
    static uint32_t sequence;
    m->header.nlmsg_seq = __atomic_add_fetch(&sequence, 1, __ATOMIC_RELAXED);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, m, m->header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -errno;
    char buffer[8192] __attribute__((aligned(4)));
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n = recv(fd, buffer, sizeof buffer, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        }
        int left = (int)n;  // signed: NLMSG_NEXT counts it down
        for (struct nlmsghdr *h = (struct nlmsghdr *)buffer; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_seq != m->header.nlmsg_seq) continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *error = NLMSG_DATA(h);
                return error->error;  // 0: the ack
            }
            if (reply != NULL && h->nlmsg_type == RTM_NEWLINK) {
                const struct ifinfomsg *info = NLMSG_DATA(h);
                *reply = info->ifi_index;
            }
        }
    }
    return -EPROTO;
}

// The index of interface `name` in the socket's namespace. 0, or -errno.
// A request of `type` (RTM_GETLINK, RTM_DELLINK) about the interface called `name`.
static void csb_nl_link_named(struct csb_nl_message *m, uint16_t type, const char *name) {
    csb_nl_begin(m, type, 0);
    struct ifinfomsg info = {.ifi_family = AF_UNSPEC};
    csb_nl_put(m, &info, sizeof info);
    csb_nl_attr(m, IFLA_IFNAME, name, strlen(name) + 1);
}

static int csb_nl_index(int fd, const char *name, int *index) {
    struct csb_nl_message m;
    csb_nl_link_named(&m, RTM_GETLINK, name);
    *index = 0;
    int rc = csb_nl_talk(fd, &m, index);
    if (rc == 0 && *index == 0) rc = -ENODEV;
    return rc;
}

static int csb_nl_up(int fd, int index) {
    struct csb_nl_message m;
    csb_nl_begin(&m, RTM_NEWLINK, 0);
    struct ifinfomsg info = {.ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
    csb_nl_put(&m, &info, sizeof info);
    return csb_nl_talk(fd, &m, NULL);
}

static int csb_nl_address(int fd, int index, const unsigned char address[4], int prefix) {
    struct csb_nl_message m;
    csb_nl_begin(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
    struct ifaddrmsg info = {.ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)prefix, .ifa_index = (unsigned)index};
    csb_nl_put(&m, &info, sizeof info);
    csb_nl_attr(&m, IFA_LOCAL, address, 4);
    csb_nl_attr(&m, IFA_ADDRESS, address, 4);
    return csb_nl_talk(fd, &m, NULL);
}

static int csb_nl_default_route(int fd, int index, const unsigned char gateway[4]) {
    struct csb_nl_message m;
    csb_nl_begin(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
    struct rtmsg info = {.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT,
                         .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST};
    csb_nl_put(&m, &info, sizeof info);
    csb_nl_attr(&m, RTA_GATEWAY, gateway, 4);
    csb_nl_attr(&m, RTA_OIF, &index, sizeof index);
    return csb_nl_talk(fd, &m, NULL);
}

// A netlink socket made inside the namespace `netns_fd` (csb_socket_of_netns: the thread enters
// it for the socket(2) call only), with the same timeouts as csb_nl_open.
static int csb_nl_open_in(int netns_fd) {
    int fd = csb_socket_of_netns(netns_fd, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd >= 0) csb_nl_timeouts(fd);
    return fd;
}

int csb_netns_create(const char *path) {
    int file = open(path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
    if (file < 0) return -errno;
    close(file);
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) {
        int saved = errno;
        unlink(path);
        return -saved;
    }
    int rc = 0;
    if (unshare(CLONE_NEWNET) != 0) {
        rc = -errno;
    } else {
        if (mount("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL) != 0) rc = -errno;
        if (setns(home, CLONE_NEWNET) != 0) abort();
    }
    close(home);
    if (rc != 0) unlink(path);
    return rc;
}

int csb_netns_remove(const char *path) {
    int rc = 0;
    if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL && errno != ENOENT) rc = -errno;
    if (unlink(path) != 0 && errno != ENOENT && rc == 0) rc = -errno;
    return rc;
}

#define CSB_FAIL(name)      \
    do {                    \
        *stage = name;      \
        goto done;          \
    } while (0)

int csb_link_create(const char *netns_path, const char *host_if, const unsigned char address[4],
                    const unsigned char gateway[4], int prefix, const char **stage) {
    int rc = 0, host = -1, inside = -1, ns = -1, index = 0;
    *stage = "ok";
    if (strlen(host_if) >= IFNAMSIZ) {
        rc = -ENAMETOOLONG;
        CSB_FAIL("name");
    }
    ns = open(netns_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (ns < 0) {
        rc = -errno;
        CSB_FAIL("netns-open");
    }
    host = csb_nl_open();
    if (host < 0) {
        rc = -errno;
        CSB_FAIL("netlink");
    }
    // The pair, its peer made directly inside the sandbox's namespace as eth0.
    struct csb_nl_message m;
    csb_nl_begin(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    struct ifinfomsg info = {.ifi_family = AF_UNSPEC};
    csb_nl_put(&m, &info, sizeof info);
    csb_nl_attr(&m, IFLA_IFNAME, host_if, strlen(host_if) + 1);
    struct rtattr *linkinfo = csb_nl_attr(&m, IFLA_LINKINFO, NULL, 0);
    csb_nl_attr(&m, IFLA_INFO_KIND, "veth", 4);
    struct rtattr *data = csb_nl_attr(&m, IFLA_INFO_DATA, NULL, 0);
    struct rtattr *peer = csb_nl_attr(&m, VETH_INFO_PEER, NULL, 0);
    struct ifinfomsg peer_info = {.ifi_family = AF_UNSPEC};
    csb_nl_put(&m, &peer_info, sizeof peer_info);
    csb_nl_attr(&m, IFLA_IFNAME, "eth0", 5);
    if (csb_nl_attr(&m, IFLA_NET_NS_FD, &ns, sizeof ns) == NULL) {
        rc = -E2BIG;
        CSB_FAIL("veth");
    }
    csb_nl_end(&m, peer);
    csb_nl_end(&m, data);
    csb_nl_end(&m, linkinfo);
    if ((rc = csb_nl_talk(host, &m, NULL)) != 0) CSB_FAIL("veth");
    if ((rc = csb_nl_index(host, host_if, &index)) != 0) CSB_FAIL("host-index");
    if ((rc = csb_nl_address(host, index, gateway, prefix)) != 0) CSB_FAIL("host-address");
    if ((rc = csb_nl_up(host, index)) != 0) CSB_FAIL("host-up");
    // The sandbox's side: loopback and eth0 up, its address, the default route via the host end.
    inside = csb_nl_open_in(ns);
    if (inside < 0) {
        rc = -errno;
        CSB_FAIL("netns-netlink");
    }
    int lo = 0;
    if ((rc = csb_nl_index(inside, "lo", &lo)) != 0 || (rc = csb_nl_up(inside, lo)) != 0) CSB_FAIL("loopback");
    if ((rc = csb_nl_index(inside, "eth0", &index)) != 0) CSB_FAIL("eth0-index");
    if ((rc = csb_nl_address(inside, index, address, prefix)) != 0) CSB_FAIL("eth0-address");
    if ((rc = csb_nl_up(inside, index)) != 0) CSB_FAIL("eth0-up");
    if ((rc = csb_nl_default_route(inside, index, gateway)) != 0) CSB_FAIL("default-route");
done:
    if (inside >= 0) close(inside);
    if (host >= 0) close(host);
    if (ns >= 0) close(ns);
    return rc;
}

int csb_link_delete(const char *name) {
    if (strlen(name) >= IFNAMSIZ) return -ENAMETOOLONG;
    int fd = csb_nl_open();
    if (fd < 0) return -errno;
    struct csb_nl_message m;
    csb_nl_link_named(&m, RTM_DELLINK, name);
    int rc = csb_nl_talk(fd, &m, NULL);
    close(fd);
    return rc;
}

int csb_dummy_create(const char *name, const unsigned char address[4]) {
    if (strlen(name) >= IFNAMSIZ) return -ENAMETOOLONG;
    int fd = csb_nl_open();
    if (fd < 0) return -errno;
    struct csb_nl_message m;
    csb_nl_begin(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    struct ifinfomsg info = {.ifi_family = AF_UNSPEC};
    csb_nl_put(&m, &info, sizeof info);
    csb_nl_attr(&m, IFLA_IFNAME, name, strlen(name) + 1);
    struct rtattr *linkinfo = csb_nl_attr(&m, IFLA_LINKINFO, NULL, 0);
    csb_nl_attr(&m, IFLA_INFO_KIND, "dummy", 5);
    csb_nl_end(&m, linkinfo);
    int index = 0;
    int rc = csb_nl_talk(fd, &m, NULL);
    if (rc == 0) rc = csb_nl_index(fd, name, &index);
    if (rc == 0) rc = csb_nl_address(fd, index, address, 32);
    if (rc == 0) rc = csb_nl_up(fd, index);
    close(fd);
    return rc;
}

static int csb_nl_address_change(const char *name, const unsigned char address[4], int prefix, int add) {
    if (strlen(name) >= IFNAMSIZ) return -ENAMETOOLONG;
    int fd = csb_nl_open();
    if (fd < 0) return -errno;
    int index = 0;
    int rc = csb_nl_index(fd, name, &index);
    if (rc == 0 && add) rc = csb_nl_address(fd, index, address, prefix);
    if (rc == 0 && !add) {
        struct csb_nl_message m;
        csb_nl_begin(&m, RTM_DELADDR, 0);
        struct ifaddrmsg info = {.ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)prefix, .ifa_index = (unsigned)index};
        csb_nl_put(&m, &info, sizeof info);
        csb_nl_attr(&m, IFA_LOCAL, address, 4);
        rc = csb_nl_talk(fd, &m, NULL);
    }
    close(fd);
    return rc;
}

int csb_address_add(const char *name, const unsigned char address[4], int prefix) {
    return csb_nl_address_change(name, address, prefix, 1);
}

int csb_address_delete(const char *name, const unsigned char address[4], int prefix) {
    return csb_nl_address_change(name, address, prefix, 0);
}
