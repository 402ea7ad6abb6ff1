/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ct.h - connection tracking for the `state` matcher (docs/conntrack.md).
 *
 * Two flow tables, both LRU hashes keyed by the canonical 5-tuple
 * (struct moat_ct_key: both directions of a flow find one entry):
 *
 *   ct_new  embryonic flows: a TCP handshake not yet completed, a UDP /
 *           ICMP echo / other-protocol flow not yet answered.  Size
 *           max / MOAT_CT_NEW_DIV.  A flood of new flows evicts only here.
 *   ct_est  flows that completed the TCP handshake or got a reply.  Size
 *           max.  A flow moves here (insert + delete in ct_new) on the
 *           packet that completes it.
 *
 * A packet's state (enum moat_ct_state):
 *   no flow  TCP SYN (without ACK), UDP, other protocols, ICMP echo
 *            request: new.  Other TCP packets, ICMP echo replies: invalid.
 *   flow     a packet from the responder, or any packet once the
 *            responder has answered: established; else (initiator,
 *            unanswered) new.  TCP packets that do not fit the flow's
 *            state (e.g. a plain ACK during the handshake, a SYN on an
 *            established flow): invalid.
 *   ICMP / ICMPv6 errors (unreachable, time exceeded, packet too big,
 *            parameter problem) whose embedded header (inner IP + 8 bytes)
 *            belongs to a tracked flow and whose outer destination is the
 *            inner source: related; other errors: invalid.
 *   Other ICMP types: new (never create a flow).  Non-IP frames and
 *   non-first fragments: not tracked (0; `state` rules never match them).
 *
 * Flows are created by the TC egress program for everything the host
 * sends (a TCP packet other than a SYN with no flow is picked up as
 * established: the host's own stack vouches for it, which also keeps
 * connections that predate the rule set alive), and by the XDP program
 * for a new packet it passes (XDP_PASS, by a rule or the policy).
 *
 * Expiry: last_ns + timeout(state) < now.  An expired entry found by a
 * lookup is deleted and the packet treated as having no flow; entries
 * nobody looks up again are reclaimed by the LRU.  When a table is full,
 * an insert evicts that table's least recently used flow (the kernel's
 * LRU); ctl derives evictions as inserts - deletes - entries.
 *
 * The state machine runs in global (separately verified) functions on a
 * struct moat_ct_pkt extracted from the packet beforehand, so neither the
 * XDP nor the TC program has to be verified through it per parse path.
 * Flow values are updated without locks; concurrent packets of one flow
 * on two CPUs may lose a counter increment, never a verdict path.
 */
#ifndef MOAT_XDP_CT_H
#define MOAT_XDP_CT_H

#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOAT_SLOTS);
	__type(key, __u32);
	__type(value, struct moat_ct_config);
} ct_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MOAT_CT_DEFAULT_MAX);
	__type(key, struct moat_ct_key);
	__type(value, struct moat_ct_val);
} ct_est SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MOAT_CT_DEFAULT_MAX / MOAT_CT_NEW_DIV);
	__type(key, struct moat_ct_key);
	__type(value, struct moat_ct_val);
} ct_new SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MOAT_CT_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ct_stats SEC(".maps");

#define MOAT_TCP_FIN 0x01
#define MOAT_TCP_SYN 0x02
#define MOAT_TCP_RST 0x04
#define MOAT_TCP_ACK 0x10

/* what kind of packet, for the state machine */
enum moat_ctk {
	MOAT_CTK_NONE = 0, /* not tracked */
	MOAT_CTK_TCP,
	MOAT_CTK_UDP, /* UDP, SCTP: ports, answered-or-not */
	MOAT_CTK_GENERIC, /* other IP protocols: addresses only */
	MOAT_CTK_ECHO_REQ,
	MOAT_CTK_ECHO_REP,
	MOAT_CTK_ICMP_ERR, /* key = the embedded packet's flow */
	MOAT_CTK_ICMP_OTHER,
};

struct moat_ct_pkt {
	struct moat_ct_key key;
	__u8 kind; /* enum moat_ctk */
	__u8 dir_b; /* 1: this packet goes from side b to side a */
	__u8 tcp_flags;
	__u8 pad[5];
};

static __always_inline void moat_ct_stat(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&ct_stats, &idx);

	if (c)
		*c += 1;
}

/* Canonical key of a packet from (s, sp) to (d, dp). */
static __always_inline void moat_ct_mkkey(struct moat_ct_pkt *cp,
					  const __u32 *s, const __u32 *d,
					  __u16 sp, __u16 dp, __u8 proto,
					  __u8 fam)
{
	int c = 0, i;

#pragma clang loop unroll(full)
	for (i = 0; i < 4; i++)
		if (!c && s[i] != d[i])
			c = s[i] < d[i] ? -1 : 1;
	if (!c)
		c = sp < dp ? -1 : sp > dp;
	cp->key.proto = proto;
	cp->key.family = fam;
	if (c <= 0) {
		__builtin_memcpy(cp->key.a, s, 16);
		__builtin_memcpy(cp->key.b, d, 16);
		cp->key.pa = sp;
		cp->key.pb = dp;
		cp->dir_b = 0;
	} else {
		__builtin_memcpy(cp->key.a, d, 16);
		__builtin_memcpy(cp->key.b, s, 16);
		cp->key.pa = dp;
		cp->key.pb = sp;
		cp->dir_b = 1;
	}
}

static __always_inline int moat_icmp_is_err(__u8 fam, __u8 type)
{
	if (fam == 4) /* unreachable, time exceeded, parameter problem */
		return type == 3 || type == 11 || type == 12;
	/* unreachable, packet too big, time exceeded, parameter problem */
	return type >= 1 && type <= 4;
}

/*
 * The embedded packet of an ICMP error at `off` (the inner IP header):
 * inner IP + 8 bytes of L4, bounds-checked.  Fills cp (kind ICMP_ERR) or
 * leaves kind ICMP_OTHER when it cannot be read.
 */
static __always_inline void moat_ct_inner(void *data, void *data_end,
					  __u32 off, const struct moat_pkt *p,
					  struct moat_ct_pkt *cp)
{
	__u32 s[4] = {}, d[4] = {};
	__u8 *h, *l4, proto;
	__u16 sp, dp;

	if (off > MOAT_MAX_OFF)
		return;
	h = data + off;
	if (p->family == 4) {
		__u32 ihl;

		if ((void *)(h + 20) > data_end || (h[0] >> 4) != 4)
			return;
		ihl = (h[0] & 0xf) * 4;
		if (ihl < 20)
			return;
		proto = h[9];
		__builtin_memcpy(&s[0], h + 12, 4);
		__builtin_memcpy(&d[0], h + 16, 4);
		l4 = h + ihl;
		if (s[0] != p->daddr[0])
			return;
	} else {
		if ((void *)(h + 40) > data_end || (h[0] >> 4) != 6)
			return;
		proto = h[6];
		__builtin_memcpy(s, h + 8, 16);
		__builtin_memcpy(d, h + 24, 16);
		l4 = h + 40;
		if (s[0] != p->daddr[0] || s[1] != p->daddr[1] ||
		    s[2] != p->daddr[2] || s[3] != p->daddr[3])
			return;
	}
	if ((void *)(l4 + 8) > data_end)
		return;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	    proto == IPPROTO_SCTP) {
		sp = ((__u16)l4[0] << 8) | l4[1];
		dp = ((__u16)l4[2] << 8) | l4[3];
	} else if ((proto == IPPROTO_ICMP && p->family == 4 && l4[0] == 8) ||
		   (proto == MOAT_IPPROTO_ICMPV6 && p->family == 6 &&
		    l4[0] == 128)) {
		sp = dp = ((__u16)l4[4] << 8) | l4[5]; /* echo identifier */
	} else if (proto == IPPROTO_ICMP || proto == MOAT_IPPROTO_ICMPV6) {
		return;
	} else {
		sp = dp = 0;
	}
	moat_ct_mkkey(cp, s, d, sp, dp, proto, p->family);
	cp->kind = MOAT_CTK_ICMP_ERR;
}

/* Extract what the state machine needs (packet reads happen here only). */
static __always_inline void moat_ct_extract(void *data, void *data_end,
					    const struct moat_pkt *p,
					    struct moat_ct_pkt *cp)
{
	__u32 off = p->l4_off;
	__u8 *l4;

	cp->kind = MOAT_CTK_NONE;
	if (!p->family || p->nonfirst_frag)
		return;
	if (!p->has_l4) {
		moat_ct_mkkey(cp, p->saddr, p->daddr, 0, 0, p->proto,
			      p->family);
		cp->kind = MOAT_CTK_GENERIC;
		return;
	}
	switch (p->proto) {
	case IPPROTO_TCP:
		moat_ct_mkkey(cp, p->saddr, p->daddr, p->sport, p->dport,
			      p->proto, p->family);
		cp->kind = MOAT_CTK_TCP;
		cp->tcp_flags = p->tcp_flags;
		return;
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
		moat_ct_mkkey(cp, p->saddr, p->daddr, p->sport, p->dport,
			      p->proto, p->family);
		cp->kind = MOAT_CTK_UDP;
		return;
	}
	/* ICMP in IPv4, ICMPv6 in IPv6 (has_l4 says which) */
	cp->kind = MOAT_CTK_ICMP_OTHER;
	if (off > MOAT_MAX_OFF)
		return;
	l4 = data + off;
	if ((void *)(l4 + 8) > data_end)
		return;
	if ((p->family == 4 && (p->icmp_type == 8 || p->icmp_type == 0)) ||
	    (p->family == 6 &&
	     (p->icmp_type == 128 || p->icmp_type == 129))) {
		__u16 id = ((__u16)l4[4] << 8) | l4[5];

		moat_ct_mkkey(cp, p->saddr, p->daddr, id, id, p->proto,
			      p->family);
		cp->kind = p->icmp_type == 8 || p->icmp_type == 128 ?
				   MOAT_CTK_ECHO_REQ :
				   MOAT_CTK_ECHO_REP;
		return;
	}
	if (moat_icmp_is_err(p->family, p->icmp_type))
		moat_ct_inner(data, data_end, off + 8, p, cp);
}

static __always_inline __u64 moat_ct_timeout_ns(const struct moat_ct_val *v,
						const struct moat_ct_key *k,
						const struct moat_ct_config *c,
						__u64 now)
{
	__u32 t = moat_ct_timeout_of(k->proto, v, now);

	if (t >= MOAT_CT_T_MAX)
		t = 0;
	return (__u64)c->timeout[t] * 1000000000ULL;
}

/* Enter a new flow into ct_new (or, for a mid-stream pickup, ct_est). */
static __always_inline void moat_ct_insert(const struct moat_ct_pkt *cp,
					   __u64 now, int egress, int pickup)
{
	struct moat_ct_key key = cp->key;
	struct moat_ct_val v = {};
	long err;

	v.created_ns = now;
	v.last_ns = now;
	v.packets[0] = 1;
	v.init_b = cp->dir_b;
	v.flags = egress ? MOAT_CT_F_EGRESS : 0;
	if (cp->kind == MOAT_CTK_TCP)
		v.tcp = MOAT_CT_TCP_SYN_SENT;
	if (pickup) {
		v.tcp = MOAT_CT_TCP_ESTABLISHED;
		v.flags |= MOAT_CT_F_REPLIED | MOAT_CT_F_PICKUP;
		err = bpf_map_update_elem(&ct_est, &key, &v, BPF_NOEXIST);
		if (!err)
			moat_ct_stat(MOAT_CT_STAT_EST_INSERT);
	} else {
		err = bpf_map_update_elem(&ct_new, &key, &v, BPF_NOEXIST);
		if (!err)
			moat_ct_stat(MOAT_CT_STAT_NEW_INSERT);
	}
	if (err && err != -17 /* EEXIST: another CPU was first */)
		moat_ct_stat(MOAT_CT_STAT_INSERT_FAIL);
}

/* Move a completed flow from ct_new to ct_est. */
static __always_inline void moat_ct_promote(const struct moat_ct_key *k,
					    const struct moat_ct_val *v)
{
	struct moat_ct_key key = *k;
	struct moat_ct_val nv = *v;
	long err;

	err = bpf_map_update_elem(&ct_est, &key, &nv, BPF_NOEXIST);
	if (!err)
		moat_ct_stat(MOAT_CT_STAT_EST_INSERT);
	else if (err != -17)
		moat_ct_stat(MOAT_CT_STAT_INSERT_FAIL);
	if (!bpf_map_delete_elem(&ct_new, &key))
		moat_ct_stat(MOAT_CT_STAT_NEW_DELETE);
}

#define MOAT_CT_REOPEN 0xff

/* TCP on an existing flow: update v, return the packet's state. */
static __always_inline int moat_ct_tcp_step(struct moat_ct_val *v,
					    const struct moat_ct_pkt *cp,
					    int from_init)
{
	__u8 f = cp->tcp_flags, s = v->tcp;

	if (f & MOAT_TCP_RST) {
		v->tcp = MOAT_CT_TCP_CLOSE;
		return MOAT_CT_ESTABLISHED;
	}
	if ((f & (MOAT_TCP_SYN | MOAT_TCP_ACK)) == MOAT_TCP_SYN) {
		if (s == MOAT_CT_TCP_TIME_WAIT || s == MOAT_CT_TCP_CLOSE)
			return MOAT_CT_REOPEN;
		if (from_init && (s == MOAT_CT_TCP_SYN_SENT ||
				  s == MOAT_CT_TCP_SYN_RECV))
			return (v->flags & MOAT_CT_F_REPLIED) ?
				       MOAT_CT_ESTABLISHED :
				       MOAT_CT_NEW; /* retransmitted SYN */
		return MOAT_CT_INVALID;
	}
	if (f & MOAT_TCP_SYN) { /* SYN-ACK */
		if (from_init)
			return MOAT_CT_INVALID;
		if (s == MOAT_CT_TCP_SYN_SENT)
			v->tcp = MOAT_CT_TCP_SYN_RECV;
		v->flags |= MOAT_CT_F_REPLIED;
		return MOAT_CT_ESTABLISHED;
	}
	if (s == MOAT_CT_TCP_SYN_SENT)
		return MOAT_CT_INVALID; /* nothing but SYN-ACK or RST yet */
	if (s == MOAT_CT_TCP_SYN_RECV) {
		if (!from_init)
			return MOAT_CT_INVALID;
		if (f & MOAT_TCP_ACK)
			v->tcp = MOAT_CT_TCP_ESTABLISHED;
	}
	if (f & MOAT_TCP_FIN) {
		v->flags |= cp->dir_b ? MOAT_CT_F_FIN_B : MOAT_CT_F_FIN_A;
		if ((v->flags & (MOAT_CT_F_FIN_A | MOAT_CT_F_FIN_B)) ==
		    (MOAT_CT_F_FIN_A | MOAT_CT_F_FIN_B))
			v->tcp = MOAT_CT_TCP_TIME_WAIT;
		else if (v->tcp != MOAT_CT_TCP_CLOSE)
			v->tcp = MOAT_CT_TCP_FIN_WAIT;
	}
	if (!from_init)
		v->flags |= MOAT_CT_F_REPLIED;
	return (v->flags & MOAT_CT_F_REPLIED) ? MOAT_CT_ESTABLISHED :
						MOAT_CT_NEW;
}

/*
 * Track one packet: look its flow up, advance the flow, return the
 * packet's state.  egress: the host sent it (TC); flows are then created
 * here.  At ingress they are created after the verdict (moat_ct_create).
 */
__attribute__((noinline)) int moat_ct_track(struct moat_ct_pkt *cp,
					    __u32 slot, __u32 egress)
{
	struct moat_ct_config *c;
	struct moat_ct_val *v;
	struct moat_ct_key key;
	__u64 now;
	int est = 1, st, from_init;

	if (!cp || cp->kind == MOAT_CTK_NONE)
		return MOAT_CT_NONE;
	if (cp->kind == MOAT_CTK_ICMP_OTHER) {
		moat_ct_stat(MOAT_CT_STAT_PKT_NEW);
		return MOAT_CT_NEW;
	}
	c = bpf_map_lookup_elem(&ct_config, &slot);
	if (!c)
		return MOAT_CT_NONE;
	key = cp->key;
	now = bpf_ktime_get_ns();
	v = bpf_map_lookup_elem(&ct_est, &key);
	if (!v) {
		est = 0;
		v = bpf_map_lookup_elem(&ct_new, &key);
	}
	if (v && now - v->last_ns > moat_ct_timeout_ns(v, &key, c, now)) {
		if (!bpf_map_delete_elem(est ? (void *)&ct_est : (void *)&ct_new,
					 &key))
			moat_ct_stat(est ? MOAT_CT_STAT_EST_DELETE :
					   MOAT_CT_STAT_NEW_DELETE);
		v = 0;
	}
	if (cp->kind == MOAT_CTK_ICMP_ERR) {
		st = v ? MOAT_CT_RELATED : MOAT_CT_INVALID;
		goto out;
	}
	if (v) {
		from_init = cp->dir_b == v->init_b;
		if (cp->kind == MOAT_CTK_TCP) {
			st = moat_ct_tcp_step(v, cp, from_init);
			if (st == MOAT_CT_REOPEN) {
				if (!bpf_map_delete_elem(est ? (void *)&ct_est :
							       (void *)&ct_new,
							 &key))
					moat_ct_stat(est ?
						MOAT_CT_STAT_EST_DELETE :
						MOAT_CT_STAT_NEW_DELETE);
				v = 0;
				goto noflow;
			}
		} else {
			if (!from_init)
				v->flags |= MOAT_CT_F_REPLIED;
			if (cp->kind == MOAT_CTK_ECHO_REP && from_init)
				st = MOAT_CT_INVALID;
			else
				st = (v->flags & MOAT_CT_F_REPLIED) ?
					     MOAT_CT_ESTABLISHED :
					     MOAT_CT_NEW;
		}
		if (st != MOAT_CT_INVALID) {
			v->last_ns = now;
			v->packets[from_init ? 0 : 1] += 1;
		}
		if (!est && st == MOAT_CT_ESTABLISHED &&
		    (cp->kind != MOAT_CTK_TCP ||
		     (v->tcp >= MOAT_CT_TCP_ESTABLISHED &&
		      v->tcp != MOAT_CT_TCP_CLOSE)))
			moat_ct_promote(&key, v);
		goto out;
	}
noflow:
	switch (cp->kind) {
	case MOAT_CTK_TCP:
		if ((cp->tcp_flags &
		     (MOAT_TCP_SYN | MOAT_TCP_ACK | MOAT_TCP_RST)) ==
		    MOAT_TCP_SYN) {
			st = MOAT_CT_NEW;
		} else if (egress && !(cp->tcp_flags &
					(MOAT_TCP_SYN | MOAT_TCP_RST))) {
			/* the host's stack sends on a connection we do not
			 * know (it predates tracking): pick it up */
			moat_ct_insert(cp, now, 1, 1);
			st = MOAT_CT_ESTABLISHED;
			goto out;
		} else {
			st = MOAT_CT_INVALID;
		}
		break;
	case MOAT_CTK_ECHO_REP:
		st = MOAT_CT_INVALID;
		break;
	default:
		st = MOAT_CT_NEW;
		break;
	}
	if (egress && st == MOAT_CT_NEW)
		moat_ct_insert(cp, now, 1, 0);
out:
	moat_ct_stat(st == MOAT_CT_NEW	       ? MOAT_CT_STAT_PKT_NEW :
		     st == MOAT_CT_ESTABLISHED ? MOAT_CT_STAT_PKT_EST :
		     st == MOAT_CT_RELATED     ? MOAT_CT_STAT_PKT_REL :
						 MOAT_CT_STAT_PKT_INV);
	return st;
}

/* After XDP passed a new packet: record its flow (creators only). */
__attribute__((noinline)) int moat_ct_create(struct moat_ct_pkt *cp)
{
	if (!cp)
		return 0;
	if (cp->kind == MOAT_CTK_TCP) {
		if ((cp->tcp_flags &
		     (MOAT_TCP_SYN | MOAT_TCP_ACK | MOAT_TCP_RST)) !=
		    MOAT_TCP_SYN)
			return 0;
	} else if (cp->kind != MOAT_CTK_UDP && cp->kind != MOAT_CTK_GENERIC &&
		   cp->kind != MOAT_CTK_ECHO_REQ) {
		return 0;
	}
	moat_ct_insert(cp, bpf_ktime_get_ns(), 0, 0);
	return 0;
}

#endif /* MOAT_XDP_CT_H */
