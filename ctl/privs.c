// SPDX-License-Identifier: GPL-2.0
/* privs.c - the capabilities moat needs, and which this process lacks. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "privs.h"

static void add(char *buf, size_t n, const char *name)
{
	size_t len = strlen(buf);

	snprintf(buf + len, n - len, "%s%s", len ? ", " : "", name);
}

const char *moat_caps_missing(uint64_t eff, char *buf, size_t n)
{
	bool sys = eff >> MOAT_CAP_SYS_ADMIN & 1;

	if (!n)
		return buf;
	buf[0] = '\0';
	if (!(eff >> MOAT_CAP_BPF & 1) && !sys)
		add(buf, n, "CAP_BPF");
	if (!(eff >> MOAT_CAP_NET_ADMIN & 1))
		add(buf, n, "CAP_NET_ADMIN");
	if (!sys)
		add(buf, n, "CAP_SYS_ADMIN");
	return buf;
}

int moat_caps_effective(uint64_t *eff)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %" SCNx64, eff) == 1) {
			err = 0;
			break;
		}
	fclose(f);
	return err;
}
