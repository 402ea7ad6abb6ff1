/* SPDX-License-Identifier: GPL-2.0 */
/*
 * refeval.h - reference evaluator: the first rule (file order) of a parsed
 * rule set that matches a decoded packet, evaluated directly on struct
 * moat_ruleset.  Deliberately naive and independent of compile.c: it is the
 * specification the compiled image (and the data plane) is tested against.
 */
#ifndef MOAT_REFEVAL_H
#define MOAT_REFEVAL_H

#include "compile.h" /* moat_ifindex_fn */
#include "imagesim.h" /* struct moat_pkt (the type only) */
#include "ruleset.h"

/* Does rule r match p?  ifindex resolves `on` names (NULL: if_nametoindex). */
int refeval_rule_matches(const struct moat_ruleset *rs,
			 const struct moat_rule_ast *r,
			 const struct moat_pkt *p, moat_ifindex_fn ifindex,
			 void *ctx);

/* Position of the first matching rule, or -1. */
int refeval_match(const struct moat_ruleset *rs, const struct moat_pkt *p,
		  moat_ifindex_fn ifindex, void *ctx);

#endif /* MOAT_REFEVAL_H */
