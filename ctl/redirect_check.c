// SPDX-License-Identifier: GPL-2.0
/* redirect_check.c - can a redirect target deliver XDP frames? */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include "log.h"
#include "redirect_check.h"

struct link_info {
	char kind[16]; /* IFLA_INFO_KIND, e.g. "veth" */
	int link; /* IFLA_LINK: the veth peer's ifindex */
	bool peer_elsewhere; /* IFLA_LINK_NETNSID present */
	bool xdp; /* an XDP program is attached */
};

static void parse_linkinfo(struct rtattr *a, struct link_info *li)
{
	int len = RTA_PAYLOAD(a);

	for (a = RTA_DATA(a); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_INFO_KIND)
			snprintf(li->kind, sizeof(li->kind), "%.*s",
				 (int)RTA_PAYLOAD(a), (char *)RTA_DATA(a));
}

static void parse_xdp(struct rtattr *a, struct link_info *li)
{
	int len = RTA_PAYLOAD(a);

	for (a = RTA_DATA(a); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_XDP_ATTACHED &&
		    *(__u8 *)RTA_DATA(a) != XDP_ATTACHED_NONE)
			li->xdp = true;
}

static int get_link(int ifindex, struct link_info *li)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST },
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex },
	};
	char buf[16384];
	struct nlmsghdr *nh;
	struct rtattr *a;
	int fd, len, alen, err = -EIO;

	memset(li, 0, sizeof(*li));
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) < 0) {
		err = -errno;
		goto out;
	}
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < 0) {
		err = -errno;
		goto out;
	}
	for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned int)len);
	     nh = NLMSG_NEXT(nh, len)) {
		if (nh->nlmsg_type == NLMSG_ERROR) {
			err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
			goto out;
		}
		if (nh->nlmsg_type != RTM_NEWLINK)
			continue;
		alen = IFLA_PAYLOAD(nh);
		for (a = IFLA_RTA(NLMSG_DATA(nh)); RTA_OK(a, alen);
		     a = RTA_NEXT(a, alen)) {
			if (a->rta_type == IFLA_LINK)
				li->link = *(int *)RTA_DATA(a);
			else if (a->rta_type == IFLA_LINK_NETNSID)
				li->peer_elsewhere = true;
			else if (a->rta_type == IFLA_LINKINFO)
				parse_linkinfo(a, li);
			else if (a->rta_type == IFLA_XDP)
				parse_xdp(a, li);
		}
		err = 0;
		break;
	}
out:
	close(fd);
	return err;
}

static bool gro_enabled(const char *name)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_GGRO };
	struct ifreq ifr = {};
	bool on = false;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
		on = ev.data;
	close(fd);
	return on;
}

void moat_redirect_check(const struct moat_image *img)
{
	for (size_t i = 0; i < img->nredirect; i++) {
		struct link_info li, peer;
		char name[IF_NAMESIZE] = "?", pname[IF_NAMESIZE];

		if_indextoname(img->redirect_ifindex[i], name);
		if (get_link(img->redirect_ifindex[i], &li) ||
		    strcmp(li.kind, "veth"))
			continue;
		if (li.peer_elsewhere) {
			pr_warn("redirect target %s is a veth whose peer is in another network namespace: frames are delivered only if the peer has GRO enabled or an XDP program attached\n",
				name);
			continue;
		}
		if (!li.link || get_link(li.link, &peer) ||
		    !if_indextoname(li.link, pname))
			continue;
		if (!peer.xdp && !gro_enabled(pname))
			pr_warn("redirect target %s cannot deliver: its veth peer %s has neither GRO enabled nor an XDP program (try `ethtool -K %s gro on`)\n",
				name, pname, pname);
	}
}
