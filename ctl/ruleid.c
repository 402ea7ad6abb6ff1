// SPDX-License-Identifier: GPL-2.0
/* ruleid.c - stable rule ids from normalised rule text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ruleid.h"

struct old_ent {
	const char *norm;
	uint32_t id;
	size_t order; /* position in the old rule set */
	bool taken;
};

static int cmp_ent(const void *a, const void *b)
{
	const struct old_ent *x = a, *y = b;
	int c = strcmp(x->norm, y->norm);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* first entry with this norm, or NULL */
static struct old_ent *find_first(struct old_ent *v, size_t n,
				  const char *norm)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(v[mid].norm, norm) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !strcmp(v[lo].norm, norm) ? &v[lo] : NULL;
}

int moat_assign_ids(const struct moat_gen_meta *old,
		    const struct moat_gen_meta *prev, struct moat_image *img,
		    uint32_t **fresh, size_t *nfresh)
{
	return moat_assign_ids_keep(old, &prev, prev ? 1 : 0, img, fresh,
				    nfresh);
}

int moat_assign_ids_keep(const struct moat_gen_meta *old,
			 const struct moat_gen_meta *const *keep, size_t nkeep,
			 struct moat_image *img, uint32_t **fresh,
			 size_t *nfresh)
{
	size_t nold = old ? old->nrules : 0, nf = 0;
	struct old_ent *ents = NULL;
	uint8_t *used = NULL;
	uint32_t *fr = NULL, next = 0;
	int err = 0;

	*fresh = NULL;
	*nfresh = 0;
	used = calloc(MOAT_RULE_IDS, 1);
	fr = calloc(img->nrules ? img->nrules : 1, sizeof(*fr));
	ents = calloc(nold ? nold : 1, sizeof(*ents));
	if (!used || !fr || !ents) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nold; i++) {
		ents[i].norm = old->rules[i].norm;
		ents[i].id = old->rules[i].id;
		ents[i].order = i;
		if (ents[i].id < MOAT_RULE_IDS)
			used[ents[i].id] = 1;
	}
	for (size_t k = 0; k < nkeep; k++)
		for (size_t i = 0; keep[k] && i < keep[k]->nrules; i++)
			if (keep[k]->rules[i].id < MOAT_RULE_IDS)
				used[keep[k]->rules[i].id] = 1;
	qsort(ents, nold, sizeof(*ents), cmp_ent);

	/* keep the ids of unchanged rules */
	for (size_t i = 0; i < img->nrules; i++) {
		struct old_ent *e = find_first(ents, nold,
					       img->rule_info[i].norm);

		img->rules[i].id = UINT32_MAX;
		for (; e && e < ents + nold && !strcmp(e->norm,
						       img->rule_info[i].norm);
		     e++) {
			if (!e->taken) {
				e->taken = true;
				img->rules[i].id = e->id;
				break;
			}
		}
	}
	/* fresh ids for the rest: not used by any rule in force */
	for (size_t i = 0; i < img->nrules; i++) {
		if (img->rules[i].id != UINT32_MAX)
			continue;
		while (next < MOAT_RULE_IDS && used[next])
			next++;
		if (next >= MOAT_RULE_IDS) {
			err = -ENOSPC;
			goto out;
		}
		used[next] = 1;
		img->rules[i].id = next;
		fr[nf++] = next;
	}
	*fresh = fr;
	*nfresh = nf;
	fr = NULL;
out:
	free(fr);
	free(used);
	free(ents);
	return err;
}
