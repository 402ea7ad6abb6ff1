// SPDX-License-Identifier: GPL-2.0
/*
 * gen - live-frame packet generator for the benchmark rig.
 *
 *   gen OBJ IFNAME DST_MAC SRC_IP DST_IP DST_PORT SECONDS [VARY [SRC_BITS]]
 *
 * Sends 64-byte (on the wire) Eth/IPv4/UDP frames out of IFNAME for
 * SECONDS (fractions allowed) with BPF_PROG_TEST_RUN +
 * BPF_F_TEST_XDP_LIVE_FRAMES, running gen.bpf.o (OBJ).  VARY: 0 fixed,
 * 1 random source address (SRC_BITS low bits of SRC_IP vary, default 32),
 * 2 rotating source port, 3 both.  Runs on the CPU it is started on (pin
 * it with taskset).  Prints the number of frames it attempted to send.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/ether.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint8_t pkt[60] = { 0 };
	struct bpf_object *obj;
	struct ether_addr *mac;
	unsigned long long sent = 0;
	uint32_t k = 0, bits, sum = 0, cfg[3], ifindex;
	double secs, end, t0, dt;
	uint32_t rep = 256;
	int prog, i;
	char path[128];
	FILE *f;

	if (argc < 8) {
		fprintf(stderr, "usage: gen OBJ IFNAME DST_MAC SRC_IP DST_IP DST_PORT SECONDS [VARY [SRC_BITS]]\n");
		return 1;
	}
	ifindex = if_nametoindex(argv[2]);
	mac = ether_aton(argv[3]);
	if (!ifindex || !mac) {
		fprintf(stderr, "gen: bad interface or MAC\n");
		return 1;
	}
	memcpy(pkt, mac, 6);
	snprintf(path, sizeof(path), "/sys/class/net/%s/address", argv[2]);
	f = fopen(path, "r");
	if (f && fgets(path, sizeof(path), f) && (mac = ether_aton(path)))
		memcpy(pkt + 6, mac, 6);
	if (f)
		fclose(f);
	pkt[12] = 0x08;
	pkt[14] = 0x45;
	pkt[17] = 46; /* tot_len */
	pkt[22] = 64;
	pkt[23] = 17;
	if (inet_pton(AF_INET, argv[4], pkt + 26) != 1 ||
	    inet_pton(AF_INET, argv[5], pkt + 30) != 1) {
		fprintf(stderr, "gen: bad address\n");
		return 1;
	}
	for (i = 14; i < 34; i += 2)
		sum += pkt[i] << 8 | pkt[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	pkt[24] = sum >> 8;
	pkt[25] = sum;
	pkt[34] = 1024 >> 8;
	pkt[36] = atoi(argv[6]) >> 8;
	pkt[37] = atoi(argv[6]) & 255;
	pkt[39] = 26; /* udp len */
	secs = atof(argv[7]);
	cfg[0] = argc > 8 ? atoi(argv[8]) : 0;
	bits = argc > 9 ? atoi(argv[9]) : 32;
	cfg[2] = bits >= 32 ? 0xffffffffu : (1u << bits) - 1;
	cfg[1] = ntohl(*(uint32_t *)(pkt + 26)) & ~cfg[2];

	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "gen: load %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "gen"));
	if (bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "tx_port"),
				&k, &ifindex, 0) ||
	    bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "cfg"),
				&k, cfg, 0)) {
		fprintf(stderr, "gen: maps: %s\n", strerror(errno));
		return 2;
	}
	/* calls of `rep` frames; rep adapts so that one call takes about
	 * 10 ms whatever the receiver's speed (a slow receiver slows the
	 * generator: both run in the same softirq) */
	end = now() + secs;
	while ((t0 = now()) < end) {
		struct xdp_md ctx = { .data = 0, .data_end = sizeof(pkt) };
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
			    .data_size_in = sizeof(pkt), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = rep,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			    .batch_size = 64);

		if (bpf_prog_test_run_opts(prog, &o)) {
			fprintf(stderr, "gen: test run: %s\n", strerror(errno));
			return 2;
		}
		sent += rep;
		dt = now() - t0;
		if (dt < 0.005 && rep < (1U << 18))
			rep *= 2;
		else if (dt > 0.02 && rep > 64)
			rep /= 2;
	}
	printf("%llu\n", sent);
	return 0;
}
