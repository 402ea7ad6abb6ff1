// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_setfile.c - fuzz target: the set-file loader (moat_parse_set_file).
 *
 * Invariants: returns 0 or -EINVAL, -EINVAL exactly when there are errors;
 * on success every element is a well-formed prefix (family 4 or 6, length
 * within the family, no host bits), and formatting an element and reading
 * that back as a set file gives the same element.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "fuzz.h"
#include "parse.h"

static int load(const void *data, size_t size, struct moat_prefix **el,
		size_t *n, struct moat_diags *d)
{
	char path[64];
	int fd = memfd_create("moat-fuzz-set", 0), err;

	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	err = moat_parse_set_file(path, el, n, d);
	close(fd);
	return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct moat_prefix *el = NULL;
	struct moat_diags d;
	size_t n = 0;
	int err;

	if (size > (4 << 20))
		return 0;
	memset(&d, 0, sizeof(d));
	err = load(data, size, &el, &n, &d);
	if (err != 0 && err != -EINVAL)
		fuzz_fail("set file load returned %d", err);
	if ((err == -EINVAL) != (d.nerrors > 0))
		fuzz_fail("set file load returned %d with %zu errors", err,
			  d.nerrors);
	for (size_t i = 0; !err && i < n; i++) {
		const struct moat_prefix *p = &el[i];
		unsigned int bits = p->family == 4 ? 32 : 128;
		struct moat_prefix *el2 = NULL;
		struct moat_diags d2;
		char buf[80];
		size_t n2 = 0;

		if ((p->family != 4 && p->family != 6) || p->plen > bits)
			fuzz_fail("element %zu: family %u plen %u", i,
				  p->family, p->plen);
		for (unsigned int b = p->plen; b < 128; b++)
			if (p->addr[b / 8] & (0x80 >> (b % 8)))
				fuzz_fail("element %zu: bit %u set beyond /%u",
					  i, b, p->plen);
		if (i >= 8)
			continue; /* the round trip of a few is enough */
		moat_prefix_format(p, buf, sizeof(buf) - 1);
		strcat(buf, "\n");
		memset(&d2, 0, sizeof(d2));
		if (load(buf, strlen(buf), &el2, &n2, &d2) || n2 != 1 ||
		    memcmp(&el2[0], p, sizeof(*p)))
			fuzz_fail("element %zu printed as '%s' does not read back",
				  i, buf);
		free(el2);
		moat_diags_free(&d2);
	}
	free(el);
	moat_diags_free(&d);
	return 0;
}
