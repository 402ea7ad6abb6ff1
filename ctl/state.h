/* SPDX-License-Identifier: GPL-2.0 */
/*
 * state.h - moat's pinned state under /sys/fs/bpf/moat (MOAT_BPFFS_DIR
 * overrides the directory, for tests):
 *
 *   maps/<name>   the program's maps (include/moat.h), shared by every
 *                 attached interface
 *   meta0..3      what each generation slot holds (rules with file, line,
 *                 text and stable id; sets; hash; when applied): a text
 *                 record stored in a BPF array map the program never reads
 *   ifaces        the interfaces moat is attached to, each with its port
 *                 (its entry in the config map) and the slot it enforced
 *                 before (for rollback)
 *
 * Every command works from this state alone.  Commands that change it hold
 * an exclusive flock on the directory, readers a shared one.
 */
#ifndef MOAT_STATE_H
#define MOAT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include "mapwrite.h"

#define MOAT_PIN_ROOT "/sys/fs/bpf/moat"
#define MOAT_NETNS_NAMESIZE 64

struct moat_state {
	char root[256];
	int lock_fd;
	bool have_maps;
	struct moat_map_fds fds;
};

struct moat_meta_rule {
	uint32_t id;
	char *file;
	unsigned int line, col;
	char *norm;
	char *text;
};

struct moat_meta_set {
	char *name;
	uint64_t count;
	char *file; /* NULL for an inline set */
	char *elems; /* space-separated elements of small sets, else NULL */
};

struct moat_gen_meta {
	uint32_t gen;
	int64_t applied; /* unix time */
	char *source; /* rule file path */
	uint64_t hash;
	int policy;
	struct moat_meta_rule *rules;
	size_t nrules;
	struct moat_meta_set *sets;
	size_t nsets;
	uint32_t ntuples, ncls;
	uint32_t *redirects; /* redirect target ifindexes */
	size_t nredirects;
};

struct moat_iface_rec {
	char name[IF_NAMESIZE];
	uint32_t ifindex;
	char netns[MOAT_NETNS_NAMESIZE]; /* "" = the netns moat ran in */
	int mode; /* enum moat_mode: NATIVE or SKB */
	bool legacy; /* attached without the libxdp dispatcher */
	uint32_t prog_id;
	int64_t attached; /* unix time */
	uint32_t port; /* config entry of its program (1..MOAT_MAX_PORTS-1) */
	int prev; /* slot it enforced before the last change, or -1 */
};

/* Open the state directory (mounting bpffs where missing).  create: make the
 * directory if absent; exclusive: writer lock, else shared.  Returns 0,
 * -ENOENT when absent and !create, or -errno. */
int moat_state_open(struct moat_state *st, bool create, bool exclusive);
void moat_state_close(struct moat_state *st);

/* Open the pinned maps into st->fds (-ENOENT when moat never applied). */
int moat_state_open_maps(struct moat_state *st);
/* Load the BPF object once to create and pin its maps, then open them. */
int moat_state_create_maps(struct moat_state *st);
/* Set pin paths on every map of obj so loading reuses the pinned maps. */
struct bpf_object;
int moat_state_reuse_maps(struct moat_state *st, struct bpf_object *obj);
/* Open the pinned map `name` (maps/NAME) by itself: fd or -errno. */
int moat_pin_open(struct moat_state *st, const char *name);
/* Remove everything moat pinned. */
int moat_state_remove(struct moat_state *st);

int moat_meta_read(struct moat_state *st, unsigned int slot,
		   struct moat_gen_meta *m);
int moat_meta_write(struct moat_state *st, unsigned int slot,
		    const struct moat_gen_meta *m);
void moat_meta_free(struct moat_gen_meta *m);
/* Forget what slot holds (it can no longer be used). */
int moat_meta_remove(struct moat_state *st, unsigned int slot);

int moat_ifaces_read(struct moat_state *st, struct moat_iface_rec **v,
		     size_t *n);
int moat_ifaces_write(struct moat_state *st, const struct moat_iface_rec *v,
		      size_t n);

/* Blob store: data kept in a pinned BPF array map (bpffs holds only BPF
 * objects).  Replaced atomically (pin to a temporary name, rename). */
int moat_blob_write(const char *path, const char *data, size_t len);
int moat_blob_read(const char *path, char **data, size_t *len);

#endif /* MOAT_STATE_H */
