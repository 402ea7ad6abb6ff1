/* SPDX-License-Identifier: GPL-2.0 */
/*
 * confirm.h - config changes and confirm-or-rollback in the kernel (see
 * include/moat.h): the moat_ctl program, run by ctl through
 * BPF_PROG_TEST_RUN, writes the config of a set of ports and arms, cancels
 * or rolls back; a bpf_timer callback restores the previous config when a
 * change is not confirmed in time.  Not on the packet path.
 *
 * Expects the maps config, confirm and gen_info declared before it is
 * included.
 */
#ifndef MOAT_XDP_CONFIRM_H
#define MOAT_XDP_CONFIRM_H

#define MOAT_CLOCK_MONOTONIC 1

struct moat_cfg_loop {
	__u32 revert; /* 0: write want[], 1: revert[] */
	__u32 check; /* 1: only validate */
	int err;
};

/* bpf_loop callback for port i: validate or write one config entry */
static long moat_cfg_port(__u32 i, struct moat_cfg_loop *l)
{
	struct moat_confirm_val *v;
	struct moat_gen_info *gi;
	struct moat_config *cfg;
	struct moat_config c;
	__u32 zero = 0, p = i & (MOAT_MAX_PORTS - 1), slot;
	__u64 w;

	v = bpf_map_lookup_elem(&confirm, &zero);
	if (!v) {
		l->err = -2; /* ENOENT */
		return 1;
	}
	if (!((v->c.ports >> p) & 1))
		return 0;
	c = l->revert ? v->c.revert[p] : v->c.want[p];
	if (l->check) {
		if (c.slot >= MOAT_SLOTS ||
		    (c.mode != MOAT_CAND_NONE && c.cand >= MOAT_SLOTS)) {
			l->err = -22; /* EINVAL */
			return 1;
		}
		return 0;
	}
	/* the tag of the slot as it is now (a revert may come much later) */
	slot = c.slot;
	gi = bpf_map_lookup_elem(&gen_info, &slot);
	cfg = bpf_map_lookup_elem(&config, &p);
	if (!cfg || !gi) {
		l->err = -2;
		return 1;
	}
	moat_config_stamp(&c, gi->epoch);
	__builtin_memcpy(&w, &c, sizeof(w));
	*(volatile __u64 *)cfg = w;
	return 0;
}

/* config[p] = want[p] (or revert[p]) for the ports in confirm's .ports,
 * all checked first: one 64-bit store each, so a packet sees the old
 * setting or the new one, never a mix. */
static __always_inline int moat_config_write(__u32 revert)
{
	struct moat_cfg_loop l = { .revert = revert, .check = 1 };

	bpf_loop(MOAT_MAX_PORTS, moat_cfg_port, &l, 0);
	if (l.err)
		return l.err;
	l.check = 0;
	bpf_loop(MOAT_MAX_PORTS, moat_cfg_port, &l, 0);
	return l.err;
}

static int moat_confirm_fire(void *map, __u32 *key,
			     struct moat_confirm_val *v)
{
	if (v->c.state != MOAT_CONFIRM_PENDING)
		return 0;
	moat_config_write(1);
	v->c.state = MOAT_CONFIRM_REVERTED;
	v->c.done_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("xdp")
int moat_ctl(struct xdp_md *ctx)
{
	struct moat_confirm_val *v;
	__u32 zero = 0;
	__u64 now = bpf_ktime_get_ns();
	long err = 0;

	v = bpf_map_lookup_elem(&confirm, &zero);
	if (!v)
		return XDP_ABORTED;
	switch (v->c.cmd) {
	case MOAT_CONFIRM_SET:
		err = moat_config_write(0);
		if (!err && v->c.state != MOAT_CONFIRM_PENDING)
			v->c.state = MOAT_CONFIRM_IDLE; /* a new change */
		break;
	case MOAT_CONFIRM_ARM:
		err = bpf_timer_init(&v->timer, &confirm,
				     MOAT_CLOCK_MONOTONIC);
		if (err == -16) /* EBUSY: initialised by an earlier arm */
			err = 0;
		if (!err)
			err = bpf_timer_set_callback(&v->timer,
						     moat_confirm_fire);
		if (!err)
			err = moat_config_write(0);
		if (err)
			break;
		v->c.state = MOAT_CONFIRM_PENDING;
		v->c.armed_ns = now;
		v->c.deadline_ns = now + v->c.timeout_ns;
		v->c.done_ns = 0;
		err = bpf_timer_start(&v->timer, v->c.timeout_ns, 0);
		if (err) {
			/* could not arm: undo the switch */
			moat_config_write(1);
			v->c.state = MOAT_CONFIRM_IDLE;
		}
		break;
	case MOAT_CONFIRM_CONFIRM:
		if (v->c.state != MOAT_CONFIRM_PENDING) {
			err = -2; /* ENOENT: nothing pending */
			break;
		}
		bpf_timer_cancel(&v->timer);
		v->c.state = MOAT_CONFIRM_CONFIRMED;
		v->c.done_ns = now;
		break;
	case MOAT_CONFIRM_ROLLBACK:
		if (v->c.state == MOAT_CONFIRM_PENDING)
			bpf_timer_cancel(&v->timer);
		err = moat_config_write(1);
		if (!err) {
			v->c.state = MOAT_CONFIRM_ROLLED_BACK;
			v->c.done_ns = now;
		}
		break;
	default:
		err = -22;
	}
	v->c.cmd = MOAT_CONFIRM_NONE;
	v->c.result = err;
	return XDP_PASS;
}

#endif /* MOAT_XDP_CONFIRM_H */
