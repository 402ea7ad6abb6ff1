/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compile.h - struct moat_ruleset -> struct moat_image.
 */
#ifndef MOAT_COMPILE_H
#define MOAT_COMPILE_H

#include "diag.h"
#include "image.h"
#include "ruleset.h"

/* Resolves an interface name to an ifindex (0 = no such interface).
 * `moat check` and `moat apply` pass one that looks in the target netns. */
typedef unsigned int (*moat_ifindex_fn)(const char *name, void *ctx);

struct moat_compile_opts {
	moat_ifindex_fn ifindex; /* NULL: if_nametoindex */
	void *ctx;
};

/* Compile rs into img.  Every error (unknown interface, limits exceeded,
 * ...) is added to diags with the rule's location.  Returns 0, -EINVAL when
 * diags holds errors, or another -errno.  img is freed with
 * moat_image_free() in every case. */
int moat_compile(const struct moat_ruleset *rs,
		 const struct moat_compile_opts *opts, struct moat_image *img,
		 struct moat_diags *diags);

#endif /* MOAT_COMPILE_H */
