// SPDX-License-Identifier: GPL-2.0
/* test_ctl.c - unit tests of the control plane's own pieces: stable rule
 * ids, the JSON/text output layer, the string buffer, the capabilities
 * moat says it lacks. */
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "out.h"
#include "privs.h"
#include "ruleid.h"
#include "strbuf.h"

static struct moat_image mkimg(const char **norms, size_t n)
{
	struct moat_image img;

	memset(&img, 0, sizeof(img));
	img.nrules = n;
	img.rules = calloc(n + 1, sizeof(*img.rules));
	img.rule_info = calloc(n + 1, sizeof(*img.rule_info));
	for (size_t i = 0; i < n; i++)
		img.rule_info[i].norm = (char *)norms[i];
	return img;
}

static struct moat_gen_meta mkmeta(const char **norms, const uint32_t *ids,
				   size_t n)
{
	struct moat_gen_meta m;

	memset(&m, 0, sizeof(m));
	m.nrules = n;
	m.rules = calloc(n + 1, sizeof(*m.rules));
	for (size_t i = 0; i < n; i++) {
		m.rules[i].norm = (char *)norms[i];
		m.rules[i].id = ids[i];
	}
	return m;
}

static void freeimg(struct moat_image *img)
{
	free(img->rules);
	free(img->rule_info);
}

TEST(ids_first_apply_are_dense)
{
	const char *n[] = { "pass all", "drop tcp", "pass udp" };
	struct moat_image img = mkimg(n, 3);
	uint32_t *fresh;
	size_t nfresh;

	ASSERT_EQ(moat_assign_ids(NULL, NULL, &img, &fresh, &nfresh), 0);
	ASSERT_EQ(nfresh, 3);
	ASSERT_EQ(img.rules[0].id, 0);
	ASSERT_EQ(img.rules[1].id, 1);
	ASSERT_EQ(img.rules[2].id, 2);
	free(fresh);
	freeimg(&img);
}

TEST(ids_survive_reorder_and_edit)
{
	const char *on[] = { "pass icmp", "pass tcp to port 80", "drop udp" };
	const uint32_t oid[] = { 7, 3, 9 };
	const char *nn[] = { "drop udp", "pass tcp to port 81", "pass icmp" };
	struct moat_gen_meta old = mkmeta(on, oid, 3);
	struct moat_image img = mkimg(nn, 3);
	uint32_t *fresh;
	size_t nfresh;

	ASSERT_EQ(moat_assign_ids(&old, NULL, &img, &fresh, &nfresh), 0);
	ASSERT_EQ(img.rules[0].id, 9); /* moved, same text */
	ASSERT_EQ(img.rules[2].id, 7);
	ASSERT_EQ(nfresh, 1);
	/* the edited rule gets an id no rule in force uses */
	ASSERT_EQ(img.rules[1].id, fresh[0]);
	ASSERT_NE(img.rules[1].id, 7);
	ASSERT_NE(img.rules[1].id, 3);
	ASSERT_NE(img.rules[1].id, 9);
	free(fresh);
	freeimg(&img);
	free(old.rules);
}

TEST(ids_of_the_previous_generation_are_not_reused)
{
	const char *on[] = { "pass all" };
	const uint32_t oid[] = { 0 };
	const char *pn[] = { "drop all" };
	const uint32_t pid[] = { 1 };
	const char *nn[] = { "pass all", "pass tcp" };
	struct moat_gen_meta old = mkmeta(on, oid, 1);
	struct moat_gen_meta prev = mkmeta(pn, pid, 1);
	struct moat_image img = mkimg(nn, 2);
	uint32_t *fresh;
	size_t nfresh;

	ASSERT_EQ(moat_assign_ids(&old, &prev, &img, &fresh, &nfresh), 0);
	ASSERT_EQ(img.rules[0].id, 0);
	ASSERT_EQ(img.rules[1].id, 2); /* not 1: the rollback slot owns it */
	free(fresh);
	freeimg(&img);
	free(old.rules);
	free(prev.rules);
}

TEST(ids_duplicates_map_in_order)
{
	const char *on[] = { "drop all", "pass all", "drop all" };
	const uint32_t oid[] = { 4, 5, 6 };
	const char *nn[] = { "drop all", "drop all", "drop all" };
	struct moat_gen_meta old = mkmeta(on, oid, 3);
	struct moat_image img = mkimg(nn, 3);
	uint32_t *fresh;
	size_t nfresh;

	ASSERT_EQ(moat_assign_ids(&old, NULL, &img, &fresh, &nfresh), 0);
	ASSERT_EQ(img.rules[0].id, 4);
	ASSERT_EQ(img.rules[1].id, 6);
	ASSERT_EQ(nfresh, 1);
	ASSERT_EQ(img.rules[2].id, fresh[0]);
	ASSERT_NE(fresh[0], 5); /* 5 is still in force until the swap */
	free(fresh);
	freeimg(&img);
	free(old.rules);
}

static char *capture_out(bool json, void (*fn)(void))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	out_init(f, json);
	fn();
	out_finish();
	fclose(f);
	return buf;
}

static void sample(void)
{
	out_obj_open(NULL);
	out_str("name", "name %s\n", "a\"b\\c\n\t\x01");
	out_u64("n", "n %lu\n", 42);
	out_arr_open("list");
	out_obj_open(NULL);
	out_bool("ok", "ok %s\n", true);
	out_obj_close();
	out_obj_open(NULL);
	out_null("x", "x -\n");
	out_obj_close();
	out_arr_close();
	out_text("text only\n");
	out_obj_close();
}

TEST(out_json_is_escaped_and_well_formed)
{
	char *s = capture_out(true, sample);

	ASSERT_STREQ(s, "{\"name\":\"a\\\"b\\\\c\\n\\t\\u0001\",\"n\":42,"
			"\"list\":[{\"ok\":true},{\"x\":null}]}\n");
	free(s);
}

TEST(out_text_uses_formats_only)
{
	char *s = capture_out(false, sample);

	ASSERT_STREQ(s, "name a\"b\\c\n\t\x01\nn 42\nok yes\nx -\ntext only\n");
	free(s);
}

TEST(strbuf_grows)
{
	struct strbuf sb = STRBUF_INIT;

	for (int i = 0; i < 1000; i++)
		strbuf_addf(&sb, "%d,", i);
	ASSERT_FALSE(sb.err);
	ASSERT_EQ(strlen(sb.buf), sb.len);
	ASSERT_TRUE(!strncmp(sb.buf, "0,1,2,", 6));
	ASSERT_CONTAINS(sb.buf, "998,999,");
	strbuf_free(&sb);
}

/* which capabilities an effective set lacks (CAP_BPF only without
 * CAP_SYS_ADMIN, which the kernel takes for it) */
TEST(caps_missing)
{
	const uint64_t bpf = 1ULL << MOAT_CAP_BPF,
		       net = 1ULL << MOAT_CAP_NET_ADMIN,
		       sys = 1ULL << MOAT_CAP_SYS_ADMIN;
	char b[64];

	ASSERT_STREQ(moat_caps_missing(bpf | net | sys, b, sizeof(b)), "");
	ASSERT_STREQ(moat_caps_missing(~0ULL, b, sizeof(b)), "");
	ASSERT_STREQ(moat_caps_missing(net | sys, b, sizeof(b)), "");
	ASSERT_STREQ(moat_caps_missing(bpf | sys, b, sizeof(b)),
		     "CAP_NET_ADMIN");
	ASSERT_STREQ(moat_caps_missing(bpf | net, b, sizeof(b)),
		     "CAP_SYS_ADMIN");
	ASSERT_STREQ(moat_caps_missing(net, b, sizeof(b)),
		     "CAP_BPF, CAP_SYS_ADMIN");
	ASSERT_STREQ(moat_caps_missing(0, b, sizeof(b)),
		     "CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN");
	/* a short buffer is cut, never overrun */
	ASSERT_STREQ(moat_caps_missing(0, b, 8), "CAP_BPF");
}

/* this process (the tests run as root with every capability) */
TEST(caps_effective_of_this_process)
{
	uint64_t eff = 0;
	char b[64];

	ASSERT_EQ(moat_caps_effective(&eff), 0);
	ASSERT_STREQ(moat_caps_missing(eff, b, sizeof(b)), "");
}

int main(void)
{
	RUN(ids_first_apply_are_dense);
	RUN(ids_survive_reorder_and_edit);
	RUN(ids_of_the_previous_generation_are_not_reused);
	RUN(ids_duplicates_map_in_order);
	RUN(out_json_is_escaped_and_well_formed);
	RUN(out_text_uses_formats_only);
	RUN(strbuf_grows);
	RUN(caps_missing);
	RUN(caps_effective_of_this_process);
	return test_summary("ctl");
}
