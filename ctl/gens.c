// SPDX-License-Identifier: GPL-2.0
/* gens.c - generations per interface: see gens.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "counters.h"
#include "gens.h"
#include "log.h"

int moat_gens_load(struct moat_state *st, struct moat_gens *g)
{
	int err;

	memset(g, 0, sizeof(*g));
	if (moat_ifaces_read(st, &g->recs, &g->nrecs)) {
		g->recs = NULL; /* unreadable: apply rebuilds them */
		g->nrecs = 0;
	}
	for (__u32 p = 0; p < MOAT_MAX_PORTS; p++)
		if (bpf_map_lookup_elem(st->fds.config, &p, &g->cfg[p]))
			return -errno;
	for (__u32 s = 0; s < MOAT_SLOTS; s++) {
		struct moat_gen_info gi;

		if (bpf_map_lookup_elem(st->fds.gen_info, &s, &gi))
			return -errno;
		err = moat_meta_read(st, s, &g->meta[s]);
		if (err && err != -ENOENT)
			return err;
		g->have[s] = !err && gi.atab < MOAT_ATABS;
	}
	err = moat_confirm_read(st, &g->confirm);
	if (err)
		return err;
	if (g->confirm.state == MOAT_CONFIRM_REVERTED ||
	    g->confirm.state == MOAT_CONFIRM_ROLLED_BACK) {
		/* the kernel put the old setting back: the undone one is
		 * what these interfaces can roll back to now */
		for (size_t i = 0; i < g->nrecs; i++) {
			struct moat_iface_rec *r = &g->recs[i];
			const struct moat_config *w =
				&g->confirm.want[r->port];

			if (!((g->confirm.ports >> r->port) & 1) ||
			    g->cfg[r->port].slot != g->confirm.revert[r->port].slot)
				continue;
			if (w->mode == MOAT_CAND_NONE && w->slot != g->cfg[r->port].slot)
				r->prev = w->slot;
		}
	}
	return 0;
}

void moat_gens_free(struct moat_gens *g)
{
	for (int s = 0; s < MOAT_SLOTS; s++)
		moat_meta_free(&g->meta[s]);
	free(g->recs);
	memset(g, 0, sizeof(*g));
}

uint32_t moat_gens_live(const struct moat_gens *g)
{
	uint32_t live = 0;

	for (size_t i = 0; i < g->nrecs; i++) {
		const struct moat_config *c = &g->cfg[g->recs[i].port];

		if (c->slot < MOAT_SLOTS)
			live |= 1U << c->slot;
		if (c->mode != MOAT_CAND_NONE && c->cand < MOAT_SLOTS)
			live |= 1U << c->cand;
	}
	return live;
}

uint32_t moat_gens_gen(const struct moat_gens *g, int s)
{
	return s >= 0 && s < MOAT_SLOTS && g->have[s] ? g->meta[s].gen : 0;
}

int moat_gens_view(const struct moat_gens *g)
{
	unsigned int votes[MOAT_SLOTS] = { 0 };
	int best = -1;

	for (size_t i = 0; i < g->nrecs; i++) {
		unsigned int s = g->cfg[g->recs[i].port].slot;

		if (s < MOAT_SLOTS && g->have[s])
			votes[s]++;
	}
	for (int s = 0; s < MOAT_SLOTS; s++) {
		if (!votes[s])
			continue;
		if (best < 0 || votes[s] > votes[best] ||
		    (votes[s] == votes[best] &&
		     g->meta[s].gen > g->meta[best].gen))
			best = s;
	}
	if (best < 0 && !g->nrecs) {
		/* no interface: the newest rule set written, if any */
		for (int s = 0; s < MOAT_SLOTS; s++)
			if (g->have[s] &&
			    (best < 0 || g->meta[s].gen > g->meta[best].gen))
				best = s;
	}
	return best;
}

int moat_gens_pick(const struct moat_gens *g, uint32_t busy,
		   unsigned int *slot)
{
	uint32_t kept = 0;
	int best = -1, rank = 4;

	for (size_t i = 0; i < g->nrecs; i++)
		if (g->recs[i].prev >= 0)
			kept |= 1U << g->recs[i].prev;
	for (int s = 0; s < MOAT_SLOTS; s++) {
		int r;

		if (busy & (1U << s))
			continue;
		if (!g->have[s])
			r = 0; /* unused */
		else if (!(kept & (1U << s)))
			r = 1; /* nobody rolls back to it */
		else
			r = 2;
		if (r < rank || (r == rank && best >= 0 && r > 0 &&
				 g->meta[s].gen < g->meta[best].gen)) {
			rank = r;
			best = s;
		}
	}
	if (best < 0)
		return -EBUSY;
	*slot = best;
	return 0;
}

uint32_t moat_gens_next_gen(const struct moat_gens *g)
{
	uint32_t gen = 0;

	for (int s = 0; s < MOAT_SLOTS; s++)
		if (g->meta[s].gen > gen) /* also unusable slots' */
			gen = g->meta[s].gen;
	if (g->confirm.gen > gen)
		gen = g->confirm.gen;
	return gen + 1;
}

uint32_t moat_port_alloc(const struct moat_iface_rec *v, size_t n)
{
	for (uint32_t p = 1; p < MOAT_MAX_PORTS; p++) {
		bool used = false;

		for (size_t i = 0; i < n && !used; i++)
			used = v[i].port == p;
		if (!used)
			return p;
	}
	return 0;
}

bool moat_gens_candidate(const struct moat_gens *g, unsigned int *slot)
{
	for (size_t i = 0; i < g->nrecs; i++) {
		const struct moat_config *c = &g->cfg[g->recs[i].port];

		if (c->mode != MOAT_CAND_NONE) {
			if (slot)
				*slot = c->cand;
			return true;
		}
	}
	return false;
}


/* Zero n per-CPU entries of size sz of the pinned map `name`. */
static int zero_pinned(struct moat_state *st, const char *name, uint32_t n,
		       size_t sz)
{
	int fd = moat_pin_open(st, name), err;

	if (fd < 0)
		return fd;
	err = moat_percpu_zero(fd, 0, n, sz);
	close(fd);
	return err;
}

int moat_cand_reset(struct moat_state *st)
{
	struct moat_src_key k, next;
	int fd, err;

	err = zero_pinned(st, "cand_stats", MOAT_CS_MAX,
			  sizeof(struct moat_counter));
	if (!err)
		err = zero_pinned(st, "cand_rules", MOAT_MAX_RULES + 1,
				  sizeof(struct moat_cand_rule));
	if (err)
		return err;
	fd = moat_pin_open(st, "shadow_src");
	if (fd < 0)
		return fd;
	while (!bpf_map_get_next_key(fd, NULL, &next)) {
		k = next;
		if (bpf_map_delete_elem(fd, &k))
			break;
	}
	close(fd);
	return 0;
}

int moat_gens_ports(const struct moat_gens *g, const char *netns,
		    char (*devs)[16], size_t ndevs, uint64_t *ports)
{
	*ports = 0;
	for (size_t i = 0; i < g->nrecs; i++)
		if (!ndevs)
			*ports |= 1ULL << g->recs[i].port;
	for (size_t d = 0; d < ndevs; d++) {
		bool found = false;

		for (size_t i = 0; i < g->nrecs && !found; i++) {
			if (strcmp(g->recs[i].name, devs[d]) ||
			    strcmp(g->recs[i].netns, netns))
				continue;
			*ports |= 1ULL << g->recs[i].port;
			found = true;
		}
		if (!found) {
			pr_err("moat is not attached to '%s'%s%s\n", devs[d],
			       *netns ? " in network namespace " : "", netns);
			return -ENODEV;
		}
	}
	return 0;
}

struct moat_iface_rec *moat_gens_rec(struct moat_gens *g, uint32_t port)
{
	for (size_t i = 0; i < g->nrecs; i++)
		if (g->recs[i].port == port)
			return &g->recs[i];
	return NULL;
}

bool moat_gens_end_cand(const struct moat_gens *g, uint64_t ports,
			struct moat_config_change *ch, uint32_t *cand_gen,
			uint32_t *kept_gen)
{
	bool any = false;

	for (size_t i = 0; i < g->nrecs; i++) {
		uint32_t p = g->recs[i].port;
		const struct moat_config *c = &g->cfg[p];

		if (!((ports >> p) & 1) || c->mode == MOAT_CAND_NONE)
			continue;
		any = true;
		ch->ports |= 1ULL << p;
		ch->want[p].slot = c->slot;
		*cand_gen = moat_gens_gen(g, c->cand);
		*kept_gen = moat_gens_gen(g, c->slot);
	}
	return any;
}

int moat_gens_commit(struct moat_state *st, struct moat_gens *g,
		     const struct moat_config_change *ch)
{
	int err = moat_confirm_run(st, MOAT_CONFIRM_SET, ch, 0);

	if (err)
		return err;
	for (uint32_t p = 0; p < MOAT_MAX_PORTS; p++)
		if ((ch->ports >> p) & 1)
			g->cfg[p] = ch->want[p];
	err = moat_ifaces_write(st, g->recs, g->nrecs);
	if (err)
		pr_warn("the change is in force, but the interface records could not be written: %s\n",
			strerror(-err));
	return 0;
}
