/* SPDX-License-Identifier: GPL-2.0 */
/*
 * netns.h - switch only the network namespace (like `ip -n NAME`), so pins
 * in the host's bpffs stay visible.
 */
#ifndef MOAT_NETNS_H
#define MOAT_NETNS_H

/* Enter /run/netns/NAME.  *saved gets an fd of the previous namespace (or -1
 * when name is NULL or empty: nothing to do).  Returns 0 or -errno. */
int moat_netns_enter(const char *name, int *saved);
/* Return to the namespace saved by moat_netns_enter and close the fd. */
int moat_netns_restore(int saved);

#endif /* MOAT_NETNS_H */
