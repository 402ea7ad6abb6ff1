/* SPDX-License-Identifier: GPL-2.0 */
/*
 * redirect_check.h - warn when a redirect target cannot deliver XDP frames.
 * A veth delivers redirected frames only when its peer accepts them: GRO
 * enabled on the peer, or an XDP program attached there.
 */
#ifndef MOAT_REDIRECT_CHECK_H
#define MOAT_REDIRECT_CHECK_H

#include "image.h"

/* Prints a warning per target that cannot (or may not) deliver. */
void moat_redirect_check(const struct moat_image *img);

#endif /* MOAT_REDIRECT_CHECK_H */
