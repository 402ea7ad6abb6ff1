// SPDX-License-Identifier: GPL-2.0
/* attach.c - libxdp attach/detach with the single-program fallback. */
#include <errno.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <string.h>
#include <time.h>
#include <net/if.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "attach.h"
#include "ct.h"
#include "log.h"
#include "moat.skel.h"

const char *moat_mode_name(int mode)
{
	switch (mode) {
	case MOAT_MODE_NATIVE:
		return "native";
	case MOAT_MODE_SKB:
		return "skb";
	default:
		return "auto";
	}
}

static int attach_once(struct moat_state *st, unsigned int ifindex,
		       enum xdp_attach_mode xmode, struct moat_iface_rec *rec)
{
	struct xdp_multiprog *mp = NULL;
	struct xdp_program *prog = NULL;
	struct moat_bpf *skel;
	int err;

	skel = moat_bpf__open();
	if (!skel)
		return -errno ? -errno : -EINVAL;
	skel->rodata->moat_port = rec->port;
	err = moat_state_reuse_maps(st, skel->obj);
	if (err)
		goto out;

	DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts, .obj = skel->obj,
			    .prog_name = "moat_xdp");
	prog = xdp_program__create(&xopts);
	err = libxdp_get_error(prog);
	if (err) {
		prog = NULL;
		goto out;
	}
	err = xdp_program__attach(prog, ifindex, xmode, 0);
	if (err)
		goto out;
	rec->prog_id = xdp_program__id(prog);
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	rec->legacy = libxdp_get_error(mp) || xdp_multiprog__is_legacy(mp);
	if (libxdp_get_error(mp))
		mp = NULL;
out:
	xdp_multiprog__close(mp);
	xdp_program__close(prog);
	moat_bpf__destroy(skel);
	return err;
}

int moat_attach(struct moat_state *st, const char *ifname,
		enum moat_mode mode, uint32_t port, struct moat_iface_rec *rec)
{
	unsigned int ifindex = if_nametoindex(ifname);
	int err;

	memset(rec, 0, sizeof(*rec));
	rec->port = port;
	rec->prev = -1;
	if (!port || port >= MOAT_MAX_PORTS)
		return -EINVAL;
	if (!ifindex) {
		pr_err("interface '%s' does not exist\n", ifname);
		return -ENODEV;
	}
	snprintf(rec->name, sizeof(rec->name), "%s", ifname);
	rec->ifindex = ifindex;
	rec->attached = time(NULL);

	if (mode == MOAT_MODE_SKB) {
		rec->mode = MOAT_MODE_SKB;
		err = attach_once(st, ifindex, XDP_MODE_SKB, rec);
	} else {
		rec->mode = MOAT_MODE_NATIVE;
		err = attach_once(st, ifindex, XDP_MODE_NATIVE, rec);
		if (err && mode == MOAT_MODE_AUTO) {
			pr_info("%s: native XDP failed (%s); falling back to skb mode\n",
				ifname, strerror(-err));
			rec->mode = MOAT_MODE_SKB;
			err = attach_once(st, ifindex, XDP_MODE_SKB, rec);
		}
	}
	if (err == -EEXIST || err == -EBUSY) {
		pr_err("%s: another XDP program is attached and does not run under the libxdp dispatcher; detach it first\n",
		       ifname);
		return err;
	}
	if (err) {
		pr_err("%s: cannot attach the XDP program in %s mode: %s\n",
		       ifname, moat_mode_name(rec->mode), strerror(-err));
		return err;
	}
	/* connection tracking: the host's own packets, at TC egress */
	err = moat_tc_attach(st, ifindex, port);
	if (err)
		pr_warn("%s: cannot attach the TC egress program (%s): `state` rules will not see the host's own connections\n",
			ifname, strerror(-err));
	if (rec->legacy)
		pr_info("%s: attached in %s mode without the libxdp dispatcher (it cannot load on this kernel); moat is the only XDP program on %s\n",
			ifname, moat_mode_name(rec->mode), ifname);
	else
		pr_info("%s: attached in %s mode under the libxdp dispatcher (run priority %d)\n",
			ifname, moat_mode_name(rec->mode), MOAT_XDP_RUN_PRIO);
	return 0;
}

bool moat_is_attached(const struct moat_iface_rec *rec)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	bool found = false;

	mp = xdp_multiprog__get_from_ifindex(rec->ifindex);
	if (libxdp_get_error(mp))
		return false;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		found = p && xdp_program__id(p) == rec->prog_id;
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p;
		     p = xdp_multiprog__next_prog(p, mp))
			if (xdp_program__id(p) == rec->prog_id)
				found = true;
	}
	xdp_multiprog__close(mp);
	return found;
}

int moat_detach(const struct moat_iface_rec *rec)
{
	struct xdp_multiprog *mp;
	struct xdp_program *prog;
	enum xdp_attach_mode xmode;
	int err;

	if (rec->ifindex == if_nametoindex(rec->name))
		moat_tc_detach(rec->ifindex); /* the TC egress program */
	if (!moat_is_attached(rec))
		return -ENOENT;
	mp = xdp_multiprog__get_from_ifindex(rec->ifindex);
	if (libxdp_get_error(mp))
		return -ENOENT;
	xmode = xdp_multiprog__attach_mode(mp);
	xdp_multiprog__close(mp);
	prog = xdp_program__from_id(rec->prog_id);
	err = libxdp_get_error(prog);
	if (err)
		return err;
	err = xdp_program__detach(prog, rec->ifindex, xmode, 0);
	xdp_program__close(prog);
	return err;
}

/* The u32 at offset `off` of the .rodata of program prog_id (the values
 * ctl set at load); -ENOENT if it has none that long. */
static int prog_rodata_u32(uint32_t prog_id, size_t off, uint32_t *v)
{
	struct bpf_prog_info pi = { 0 };
	__u32 ids[64], len = sizeof(pi);
	int pfd, err = -ENOENT;

	pfd = bpf_prog_get_fd_by_id(prog_id);
	if (pfd < 0)
		return -errno;
	pi.nr_map_ids = 64;
	pi.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(pfd, &pi, &len))
		goto out;
	for (__u32 m = 0; m < pi.nr_map_ids && m < 64 && err; m++) {
		struct bpf_map_info mi = { 0 };
		__u32 mlen = sizeof(mi), zero = 0;
		unsigned char buf[4096];
		int mfd = bpf_map_get_fd_by_id(ids[m]);

		if (mfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(mfd, &mi, &mlen) &&
		    strstr(mi.name, ".rodata") &&
		    mi.value_size <= sizeof(buf) &&
		    off + sizeof(*v) <= mi.value_size &&
		    !bpf_map_lookup_elem(mfd, &zero, buf)) {
			memcpy(v, buf + off, sizeof(*v));
			err = 0;
		}
		close(mfd);
	}
out:
	close(pfd);
	return err;
}

/* where ctl's load-time values sit in the program's .rodata */
static int rodata_offs(size_t *port, size_t *abi)
{
	struct moat_bpf *skel = moat_bpf__open();

	if (!skel)
		return -errno ? -errno : -ENOMEM;
	*port = (size_t)((char *)&skel->rodata->moat_port -
			 (char *)skel->rodata);
	*abi = (size_t)((char *)&skel->rodata->moat_abi - (char *)skel->rodata);
	moat_bpf__destroy(skel);
	return 0;
}

int moat_prog_port(uint32_t prog_id, uint32_t *port)
{
	size_t po, ao;
	int err = rodata_offs(&po, &ao);

	if (!err)
		err = prog_rodata_u32(prog_id, po, port);
	return err ? err : *port < MOAT_MAX_PORTS ? 0 : -ERANGE;
}

int moat_prog_abi(uint32_t prog_id, uint32_t *abi)
{
	size_t po, ao;
	int err = rodata_offs(&po, &ao);

	return err ? err : prog_rodata_u32(prog_id, ao, abi);
}
