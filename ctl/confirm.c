// SPDX-License-Identifier: GPL-2.0
/* confirm.c - drive the kernel's confirm-or-rollback timer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "confirm.h"
#include "moat.skel.h"

int moat_confirm_read(struct moat_state *st, struct moat_confirm *c)
{
	struct moat_confirm_val v;
	__u32 zero = 0;
	int fd, err = 0;

	memset(c, 0, sizeof(*c));
	fd = moat_pin_open(st, "confirm");
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	if (bpf_map_lookup_elem(fd, &zero, &v))
		err = -errno;
	else
		*c = v.c;
	close(fd);
	return err;
}

int moat_confirm_run(struct moat_state *st, uint32_t cmd,
		     const struct moat_config_change *ch, uint64_t timeout_ns)
{
	unsigned char pkt[64] = { 0 };
	struct moat_confirm_val v;
	struct bpf_program *p;
	struct moat_bpf *skel;
	__u32 zero = 0;
	int fd = -1, err;
	LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = pkt,
		    .data_size_in = sizeof(pkt), .repeat = 1);

	skel = moat_bpf__open();
	if (!skel)
		return -errno ? -errno : -EINVAL;
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, p == skel->progs.moat_ctl);
	err = moat_state_reuse_maps(st, skel->obj);
	if (!err)
		err = bpf_object__load(skel->obj);
	if (err)
		goto out;
	fd = bpf_map__fd(skel->maps.confirm);
	if (bpf_map_lookup_elem(fd, &zero, &v)) {
		err = -errno;
		goto out;
	}
	v.c.cmd = cmd;
	if (ch) {
		v.c.ports = ch->ports;
		memcpy(v.c.want, ch->want, sizeof(v.c.want));
		memcpy(v.c.revert, ch->revert, sizeof(v.c.revert));
		if (cmd == MOAT_CONFIRM_ARM) {
			v.c.gen = ch->gen;
			v.c.revert_gen = ch->revert_gen;
		}
	}
	v.c.timeout_ns = timeout_ns;
	/* the timer field is kernel-managed: an update leaves it alone */
	if (bpf_map_update_elem(fd, &zero, &v, BPF_EXIST)) {
		err = -errno;
		goto out;
	}
	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.moat_ctl),
				   &topts)) {
		err = -errno;
		goto out;
	}
	if (bpf_map_lookup_elem(fd, &zero, &v)) {
		err = -errno;
		goto out;
	}
	err = v.c.result;
out:
	moat_bpf__destroy(skel);
	return err;
}

uint64_t moat_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

const char *moat_confirm_state_name(uint32_t state)
{
	switch (state) {
	case MOAT_CONFIRM_PENDING:
		return "pending";
	case MOAT_CONFIRM_CONFIRMED:
		return "confirmed";
	case MOAT_CONFIRM_REVERTED:
		return "reverted";
	case MOAT_CONFIRM_ROLLED_BACK:
		return "rolled-back";
	default:
		return "none";
	}
}
