// SPDX-License-Identifier: GPL-2.0
/* state.c - pinned state: bpffs, lock, maps, per-slot metadata, interfaces. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attach.h"
#include "ct.h"
#include "log.h"
#include "state.h"
#include "strbuf.h"
#include "moat.skel.h"

#define BLOB_CHUNK 4096

/* Map names and fds: mapwrite.h (moat_map_names, moat_map_fd_slot). */
#define NMAPS MOAT_NMAPS
#define map_names moat_map_names
#define fd_slot moat_map_fd_slot

static int ensure_bpffs(const char *root)
{
	char dir[256];
	struct statfs sfs;
	char *slash;

	/* the bpffs mount point is the parent of the state directory */
	snprintf(dir, sizeof(dir), "%s", root);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	if (statfs(dir, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (strcmp(dir, "/sys/fs/bpf")) {
		/* a test directory: it only has to be on some bpffs */
		if (statfs(dir, &sfs) < 0)
			return -errno;
		return sfs.f_type == BPF_FS_MAGIC ? 0 : -ENOTSUP;
	}
	pr_info("mounting bpffs on %s\n", dir);
	if (mount("bpf", dir, "bpf", 0, "mode=0700") < 0) {
		int err = -errno;

		pr_err("cannot mount bpffs on %s: %s\n", dir, strerror(-err));
		return err;
	}
	return 0;
}

int moat_state_open(struct moat_state *st, bool create, bool exclusive)
{
	const char *env = getenv("MOAT_BPFFS_DIR");
	int err;

	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	for (size_t i = 0; i < NMAPS; i++)
		*fd_slot(&st->fds, i) = -1;
	snprintf(st->root, sizeof(st->root), "%s",
		 env && *env ? env : MOAT_PIN_ROOT);

	err = ensure_bpffs(st->root);
	if (err)
		return err;
	if (create && mkdir(st->root, 0700) < 0 && errno != EEXIST)
		return -errno;
	st->lock_fd = open(st->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->lock_fd < 0)
		return -errno;
	if (flock(st->lock_fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		err = -errno;
		close(st->lock_fd);
		st->lock_fd = -1;
		return err;
	}
	return 0;
}

static void close_maps(struct moat_state *st)
{
	for (size_t i = 0; i < NMAPS; i++) {
		int *fd = fd_slot(&st->fds, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
	st->have_maps = false;
}

void moat_state_close(struct moat_state *st)
{
	close_maps(st);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* drops the flock */
	st->lock_fd = -1;
}

static void map_path(const struct moat_state *st, const char *name,
		     char *buf, size_t len)
{
	snprintf(buf, len, "%s/maps/%s", st->root, name);
}

/* A recorded interface running a moat program built for another MOAT_ABI
 * (an older moat's, still attached) would misread maps this moat writes:
 * -EPROTO, with the way out. */
static int check_progs(struct moat_state *st)
{
	struct moat_iface_rec *v = NULL;
	size_t n = 0;
	int err = 0;

	if (moat_ifaces_read(st, &v, &n))
		return 0; /* no records: nothing attached to check */
	for (size_t i = 0; i < n && !err; i++) {
		uint32_t abi = 0;
		int pfd = v[i].prog_id ? bpf_prog_get_fd_by_id(v[i].prog_id) :
					 -1;

		if (pfd < 0)
			continue; /* gone: apply re-attaches it */
		close(pfd);
		if (moat_prog_abi(v[i].prog_id, &abi) || abi != MOAT_ABI) {
			pr_err("the moat program on %s was loaded by another version of moat (map layout %u; this moat writes %u): run `moat detach --all` (it takes moat off every interface) and apply again\n",
			       v[i].name, abi, MOAT_ABI);
			err = -EPROTO;
		}
	}
	free(v);
	return err;
}

/*
 * The pinned maps must have the layout this moat's program expects: a
 * moat of another version (another struct in include/moat.h) cannot use
 * them, and would fail later with a bare EINVAL.  -EPROTO, with the way
 * out, when one differs; pins that do not exist yet are not checked.
 */
static int check_pins(struct moat_state *st)
{
	struct moat_bpf *skel = moat_bpf__open();
	struct bpf_map *map;
	char path[512];
	int err = 0;

	if (!skel)
		return 0; /* the load will say what is wrong */
	bpf_object__for_each_map(map, skel->obj)
	{
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);
		int fd;

		if (bpf_map__is_internal(map))
			continue;
		map_path(st, bpf_map__name(map), path, sizeof(path));
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    (info.type != bpf_map__type(map) ||
		     info.key_size != bpf_map__key_size(map) ||
		     info.value_size != bpf_map__value_size(map))) {
			pr_err("the maps pinned in %s/maps were made by another version of moat (%s: key %u, value %u bytes; this moat expects %u, %u): run `moat detach --all` (it takes moat off every interface) and apply again\n",
			       st->root, bpf_map__name(map), info.key_size,
			       info.value_size, bpf_map__key_size(map),
			       bpf_map__value_size(map));
			err = -EPROTO;
		}
		close(fd);
		if (err)
			break;
	}
	moat_bpf__destroy(skel);
	return err;
}

int moat_state_open_maps(struct moat_state *st)
{
	char path[512];
	int err;

	close_maps(st);
	for (size_t i = 0; i < NMAPS; i++) {
		map_path(st, map_names[i], path, sizeof(path));
		int fd = bpf_obj_get(path);

		if (fd < 0) {
			err = -errno;
			close_maps(st);
			/* a map this moat added: pins of an older one? */
			return check_progs(st) ?: err;
		}
		*fd_slot(&st->fds, i) = fd;
	}
	err = check_progs(st);
	if (!err)
		err = check_pins(st);
	if (err) {
		close_maps(st);
		return err;
	}
	st->have_maps = true;
	return 0;
}

int moat_state_reuse_maps(struct moat_state *st, struct bpf_object *obj)
{
	struct bpf_map *map;
	char path[512];
	int err;

	err = moat_ct_prepare_obj(obj, st->root); /* flow table sizes */
	if (err)
		return err;
	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__is_internal(map))
			continue;
		map_path(st, bpf_map__name(map), path, sizeof(path));
		/* the kernel marks a devmap read-only for programs when it
		 * creates it (and refuses the flag at creation): expect it on
		 * a pinned one, or libbpf refuses to reuse it */
		if ((bpf_map__type(map) == BPF_MAP_TYPE_DEVMAP_HASH ||
		     bpf_map__type(map) == BPF_MAP_TYPE_DEVMAP) &&
		    access(path, F_OK) == 0) {
			err = bpf_map__set_map_flags(
				map, bpf_map__map_flags(map) | BPF_F_RDONLY_PROG);
			if (err)
				return err;
		}
		err = bpf_map__set_pin_path(map, path);
		if (err)
			return err;
	}
	return 0;
}

int moat_state_create_maps(struct moat_state *st)
{
	struct bpf_program *p;
	struct moat_bpf *skel;
	char dir[512];
	int err;

	snprintf(dir, sizeof(dir), "%s/maps", st->root);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	skel = moat_bpf__open();
	if (!skel)
		return -errno ? -errno : -EINVAL;
	/* only the maps: each attach verifies the programs it loads */
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, false);
	err = moat_state_reuse_maps(st, skel->obj);
	if (!err)
		err = bpf_object__load(skel->obj);
	moat_bpf__destroy(skel);
	if (err) {
		pr_err("cannot load the moat BPF object: %s\n", strerror(-err));
		return err;
	}
	return moat_state_open_maps(st);
}

static int rm_one(const char *path, const struct stat *sb, int type,
		  struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static int rm_tree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int moat_state_remove(struct moat_state *st)
{
	close_maps(st);
	return rm_tree(st->root);
}

/* ---- blobs ---- */

int moat_blob_write(const char *path, const char *data, size_t len)
{
	size_t nchunks = len / BLOB_CHUNK + 1; /* always a NUL at the end */
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_RDONLY_PROG);
	char tmp[600];
	char *buf = NULL;
	__u32 *keys = NULL;
	__u32 count;
	int fd, err;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "moat_meta", sizeof(__u32),
			    BLOB_CHUNK, nchunks, &opts);
	if (fd < 0)
		return -errno;
	buf = calloc(nchunks, BLOB_CHUNK);
	keys = calloc(nchunks, sizeof(*keys));
	if (!buf || !keys) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(buf, data, len);
	for (size_t i = 0; i < nchunks; i++)
		keys[i] = i;
	count = nchunks;
	if (bpf_map_update_batch(fd, keys, buf, &count, NULL) < 0) {
		err = -errno;
		goto out;
	}
	/* bpffs refuses dots in names */
	snprintf(tmp, sizeof(tmp), "%s_new", path);
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) < 0) {
		err = -errno;
		goto out;
	}
	if (rename(tmp, path) < 0) {
		err = -errno;
		unlink(tmp);
		goto out;
	}
	err = 0;
out:
	free(buf);
	free(keys);
	close(fd);
	return err;
}

int moat_blob_read(const char *path, char **data, size_t *len)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info);
	char *buf = NULL;
	int fd, err;

	*data = NULL;
	*len = 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) < 0) {
		err = -errno;
		goto out;
	}
	if (info.type != BPF_MAP_TYPE_ARRAY || info.value_size != BLOB_CHUNK) {
		err = -EINVAL;
		goto out;
	}
	buf = calloc((size_t)info.max_entries + 1, BLOB_CHUNK);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (__u32 i = 0; i < info.max_entries; i++) {
		if (bpf_map_lookup_elem(fd, &i, buf + (size_t)i * BLOB_CHUNK)) {
			err = -errno;
			goto out;
		}
	}
	*len = strnlen(buf, (size_t)info.max_entries * BLOB_CHUNK);
	*data = buf;
	buf = NULL;
	err = 0;
out:
	free(buf);
	close(fd);
	return err;
}

/* ---- record encoding: tab-separated fields, one record a line ---- */

static void put_field(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '\t');
	for (; s && *s; s++) {
		if (*s == '\t')
			strbuf_adds(sb, "\\t");
		else if (*s == '\n')
			strbuf_adds(sb, "\\n");
		else if (*s == '\\')
			strbuf_adds(sb, "\\\\");
		else
			strbuf_addch(sb, *s);
	}
}

/* Split a line into at most max fields in place (unescaping). */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *r = line, *w = line;

	f[n++] = w;
	while (*r) {
		if (*r == '\t') {
			*w++ = '\0';
			r++;
			if (n == max)
				break;
			f[n++] = w;
		} else if (*r == '\\' && r[1]) {
			*w++ = r[1] == 't' ? '\t' : r[1] == 'n' ? '\n' : r[1];
			r += 2;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return n;
}

static int meta_path(struct moat_state *st, unsigned int slot, char *buf,
		     size_t len)
{
	return snprintf(buf, len, "%s/meta%u", st->root, slot) >= (int)len ?
		       -ENAMETOOLONG :
		       0;
}

int moat_pin_open(struct moat_state *st, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/%s", st->root, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int moat_meta_remove(struct moat_state *st, unsigned int slot)
{
	char path[512];
	int err = meta_path(st, slot, path, sizeof(path));

	if (err)
		return err;
	return unlink(path) && errno != ENOENT ? -errno : 0;
}

int moat_meta_write(struct moat_state *st, unsigned int slot,
		    const struct moat_gen_meta *m)
{
	struct strbuf sb = STRBUF_INIT;
	char path[512], num[64];
	int err;

	err = meta_path(st, slot, path, sizeof(path));
	if (err)
		return err;
	strbuf_addf(&sb, "moat-meta\t1\ngen\t%u\napplied\t%" PRId64
			 "\nhash\t%016" PRIx64 "\npolicy\t%d\ntuples\t%u\ncls\t%u\n",
		    m->gen, m->applied, m->hash, m->policy, m->ntuples, m->ncls);
	strbuf_adds(&sb, "source");
	put_field(&sb, m->source);
	strbuf_addch(&sb, '\n');
	for (size_t i = 0; i < m->nredirects; i++)
		strbuf_addf(&sb, "redirect\t%u\n", m->redirects[i]);
	for (size_t i = 0; i < m->nsets; i++) {
		const struct moat_meta_set *s = &m->sets[i];

		strbuf_adds(&sb, "set");
		put_field(&sb, s->name);
		snprintf(num, sizeof(num), "%" PRIu64, s->count);
		put_field(&sb, num);
		put_field(&sb, s->file ? s->file : "");
		put_field(&sb, s->elems ? s->elems : "");
		strbuf_addch(&sb, '\n');
	}
	for (size_t i = 0; i < m->nrules; i++) {
		const struct moat_meta_rule *r = &m->rules[i];

		snprintf(num, sizeof(num), "%u", r->id);
		strbuf_adds(&sb, "rule");
		put_field(&sb, num);
		put_field(&sb, r->file);
		snprintf(num, sizeof(num), "%u", r->line);
		put_field(&sb, num);
		snprintf(num, sizeof(num), "%u", r->col);
		put_field(&sb, num);
		put_field(&sb, r->norm);
		put_field(&sb, r->text);
		strbuf_addch(&sb, '\n');
	}
	if (sb.err) {
		err = -ENOMEM;
		goto out;
	}
	err = moat_blob_write(path, sb.buf ? sb.buf : "", sb.len);
out:
	strbuf_free(&sb);
	return err;
}

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

int moat_meta_read(struct moat_state *st, unsigned int slot,
		   struct moat_gen_meta *m)
{
	char path[512], *data = NULL, *line, *save = NULL, *f[8];
	size_t len, nf, cap_r = 0, cap_s = 0;
	int err;

	memset(m, 0, sizeof(*m));
	err = meta_path(st, slot, path, sizeof(path));
	if (err)
		return err;
	err = moat_blob_read(path, &data, &len);
	if (err)
		return err;
	if (strncmp(data, "moat-meta\t1\n", 12)) {
		free(data);
		return -EINVAL;
	}
	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		nf = split_fields(line, f, 8);
		if (nf == 2 && !strcmp(f[0], "gen"))
			m->gen = strtoul(f[1], NULL, 10);
		else if (nf == 2 && !strcmp(f[0], "applied"))
			m->applied = strtoll(f[1], NULL, 10);
		else if (nf == 2 && !strcmp(f[0], "hash"))
			m->hash = strtoull(f[1], NULL, 16);
		else if (nf == 2 && !strcmp(f[0], "policy"))
			m->policy = atoi(f[1]);
		else if (nf == 2 && !strcmp(f[0], "tuples"))
			m->ntuples = strtoul(f[1], NULL, 10);
		else if (nf == 2 && !strcmp(f[0], "cls"))
			m->ncls = strtoul(f[1], NULL, 10);
		else if (nf == 2 && !strcmp(f[0], "source"))
			m->source = xstrdup(f[1]);
		else if (nf == 2 && !strcmp(f[0], "redirect")) {
			uint32_t *r = realloc(m->redirects,
					      (m->nredirects + 1) * sizeof(*r));

			if (!r)
				goto nomem;
			m->redirects = r;
			r[m->nredirects++] = strtoul(f[1], NULL, 10);
		}
		else if (nf == 5 && !strcmp(f[0], "set")) {
			struct moat_meta_set *s;

			if (m->nsets == cap_s) {
				cap_s = cap_s ? cap_s * 2 : 8;
				s = realloc(m->sets, cap_s * sizeof(*s));
				if (!s)
					goto nomem;
				m->sets = s;
			}
			s = &m->sets[m->nsets++];
			s->name = xstrdup(f[1]);
			s->count = strtoull(f[2], NULL, 10);
			s->file = *f[3] ? xstrdup(f[3]) : NULL;
			s->elems = *f[4] ? xstrdup(f[4]) : NULL;
		} else if (nf == 7 && !strcmp(f[0], "rule")) {
			struct moat_meta_rule *r;

			if (m->nrules == cap_r) {
				cap_r = cap_r ? cap_r * 2 : 64;
				r = realloc(m->rules, cap_r * sizeof(*r));
				if (!r)
					goto nomem;
				m->rules = r;
			}
			r = &m->rules[m->nrules++];
			r->id = strtoul(f[1], NULL, 10);
			r->file = xstrdup(f[2]);
			r->line = strtoul(f[3], NULL, 10);
			r->col = strtoul(f[4], NULL, 10);
			r->norm = xstrdup(f[5]);
			r->text = xstrdup(f[6]);
		}
	}
	free(data);
	return 0;
nomem:
	free(data);
	moat_meta_free(m);
	return -ENOMEM;
}

void moat_meta_free(struct moat_gen_meta *m)
{
	for (size_t i = 0; i < m->nrules; i++) {
		free(m->rules[i].file);
		free(m->rules[i].norm);
		free(m->rules[i].text);
	}
	for (size_t i = 0; i < m->nsets; i++) {
		free(m->sets[i].name);
		free(m->sets[i].file);
		free(m->sets[i].elems);
	}
	free(m->rules);
	free(m->sets);
	free(m->redirects);
	free(m->source);
	memset(m, 0, sizeof(*m));
}

/* ---- interface records ---- */

int moat_ifaces_write(struct moat_state *st, const struct moat_iface_rec *v,
		      size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	char path[512];
	int err;

	snprintf(path, sizeof(path), "%s/ifaces", st->root);
	strbuf_adds(&sb, "moat-ifaces\t1\n");
	for (size_t i = 0; i < n; i++) {
		strbuf_adds(&sb, "iface");
		put_field(&sb, v[i].name);
		put_field(&sb, v[i].netns);
		strbuf_addf(&sb, "\t%u\t%d\t%d\t%u\t%" PRId64 "\t%u\t%d\n",
			    v[i].ifindex, v[i].mode, v[i].legacy, v[i].prog_id,
			    v[i].attached, v[i].port, v[i].prev);
	}
	err = sb.err ? -ENOMEM : moat_blob_write(path, sb.buf, sb.len);
	strbuf_free(&sb);
	return err;
}

int moat_ifaces_read(struct moat_state *st, struct moat_iface_rec **v,
		     size_t *n)
{
	char path[512], *data, *line, *save = NULL, *f[11];
	struct moat_iface_rec *recs = NULL, *r;
	size_t len, cnt = 0;
	int err;

	*v = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/ifaces", st->root);
	err = moat_blob_read(path, &data, &len);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (split_fields(line, f, 11) != 10 || strcmp(f[0], "iface"))
			continue;
		r = realloc(recs, (cnt + 1) * sizeof(*recs));
		if (!r) {
			free(recs);
			free(data);
			return -ENOMEM;
		}
		recs = r;
		r = &recs[cnt++];
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", f[1]);
		snprintf(r->netns, sizeof(r->netns), "%s", f[2]);
		r->ifindex = strtoul(f[3], NULL, 10);
		r->mode = atoi(f[4]);
		r->legacy = atoi(f[5]);
		r->prog_id = strtoul(f[6], NULL, 10);
		r->attached = strtoll(f[7], NULL, 10);
		r->port = strtoul(f[8], NULL, 10);
		r->prev = atoi(f[9]);
		if (r->port >= MOAT_MAX_PORTS)
			r->port = 0;
		if (r->prev >= MOAT_SLOTS)
			r->prev = -1;
	}
	free(data);
	*v = recs;
	*n = cnt;
	return 0;
}
