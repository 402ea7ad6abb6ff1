/* SPDX-License-Identifier: GPL-2.0 */
/*
 * confirm.h - confirm-or-rollback in the kernel (see include/moat.h):
 * the moat_ctl program, run by ctl through BPF_PROG_TEST_RUN, arms, cancels
 * or rolls back; a bpf_timer callback restores the previous slot when a
 * change is not confirmed in time.  Not on the packet path.
 *
 * Expects the maps config and confirm declared before it is included.
 */
#ifndef MOAT_XDP_CONFIRM_H
#define MOAT_XDP_CONFIRM_H

#define MOAT_CLOCK_MONOTONIC 1

static __always_inline int moat_set_active(__u32 slot)
{
	struct moat_config *cfg;
	__u32 zero = 0;

	if (slot >= MOAT_SLOTS)
		return -22; /* EINVAL */
	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg)
		return -2; /* ENOENT */
	/* one aligned 32-bit store: atomic for packets */
	WRITE_ONCE_U32(&cfg->active, slot);
	return 0;
}

static int moat_confirm_fire(void *map, __u32 *key,
			     struct moat_confirm_val *v)
{
	if (v->c.state != MOAT_CONFIRM_PENDING)
		return 0;
	moat_set_active(v->c.revert_to);
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
	case MOAT_CONFIRM_ARM:
		err = bpf_timer_init(&v->timer, &confirm,
				     MOAT_CLOCK_MONOTONIC);
		if (err == -16) /* EBUSY: initialised by an earlier arm */
			err = 0;
		if (!err)
			err = bpf_timer_set_callback(&v->timer,
						     moat_confirm_fire);
		if (!err)
			err = moat_set_active(v->c.from_slot);
		if (err)
			break;
		v->c.state = MOAT_CONFIRM_PENDING;
		v->c.armed_ns = now;
		v->c.deadline_ns = now + v->c.timeout_ns;
		v->c.done_ns = 0;
		err = bpf_timer_start(&v->timer, v->c.timeout_ns, 0);
		if (err) {
			/* could not arm: undo the switch */
			moat_set_active(v->c.revert_to);
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
		err = moat_set_active(v->c.revert_to);
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
