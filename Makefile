# SPDX-License-Identifier: GPL-2.0
# moat - XDP packet-filtering firewall
#
#   make            build build/moat (BPF objects embedded as a skeleton)
#   make check      install build deps, build, run every test suite
#   make demo       install deps, build, run the namespace demo
#   make install    install moat to $(DESTDIR)$(PREFIX)/sbin
#   make bench      benchmarks (see bench/)
#   make fuzz       run the libFuzzer targets for FUZZ_SECONDS each

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
B := build

ARCH_INC = -I/usr/include/$(shell $(CC) -dumpmachine 2>/dev/null)
BPF_CFLAGS = -target bpf -O2 -g -Wall -Werror -D__BPF__ -Iinclude $(ARCH_INC)
WARN = -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS ?= -O2 -g
CFLAGS += $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Ictl -I$(B) -MMD -MP
LDLIBS = -lxdp -lbpf -lelf -lz

# ctl/main.c and ctl/cmd_*.c make the binary; everything else in ctl/ is
# the library the tests link against.
CTL_ALL := $(wildcard ctl/*.c)
CTL_CMD := ctl/main.c $(wildcard ctl/cmd_*.c)
CTL_LIB := $(filter-out $(CTL_CMD),$(CTL_ALL))
LIB_OBJ := $(CTL_LIB:ctl/%.c=$(B)/ctl/%.o)
CMD_OBJ := $(CTL_CMD:ctl/%.c=$(B)/ctl/%.o)

BPF_SRC := xdp/moat.bpf.c
BPF_OBJ := $(B)/moat.bpf.o
SKEL := $(B)/moat.skel.h

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
BPFT_SRC := $(wildcard tests/bpf/test_*.c)
BPFT_BIN := $(BPFT_SRC:tests/bpf/%.c=$(B)/tests/%)
TESTLIB_SRC := $(wildcard tests/lib/*.c)
TESTLIB_OBJ := $(TESTLIB_SRC:tests/lib/%.c=$(B)/tests/lib/%.o)

.PHONY: all deps check test demo install clean bench fuzz format tests
.DEFAULT_GOAL := all

all: $(B)/moat

deps:
	@scripts/deps.sh

$(BPF_OBJ): $(BPF_SRC) $(wildcard xdp/*.h) include/moat.h | $(B)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(BPF_OBJ)
	$(BPFTOOL) gen skeleton $< name moat_bpf > $@.tmp && mv $@.tmp $@

$(B)/ctl/%.o: ctl/%.c | $(SKEL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/libmoat.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/moat: $(CMD_OBJ) $(B)/libmoat.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/lib/%.o: tests/lib/%.c | $(SKEL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/lib -c $< -o $@

$(B)/tests/%: tests/unit/%.c $(B)/libmoat.a $(TESTLIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/lib -o $@ $< $(TESTLIB_OBJ) $(B)/libmoat.a $(LDLIBS)

$(B)/tests/%: tests/bpf/%.c $(B)/libmoat.a $(TESTLIB_OBJ) $(SKEL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/lib -o $@ $< $(TESTLIB_OBJ) $(B)/libmoat.a $(LDLIBS)

tests: $(B)/moat $(UNIT_BIN) $(BPFT_BIN)

$(B):
	@mkdir -p $(B)

# `make check` and `make demo` work on a fresh machine: they install what
# is missing first, then build in a second make (so tool probes run after).
check: deps
	@$(MAKE) --no-print-directory tests
	@tests/run.sh

test: tests
	@tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

# bench/bench.sh builds moat and its own tools, installs what it needs
# (nftables, iptables, ipset, xdp-tools, gnuplot) and writes bench/results/.
bench:
	@QUICK=$(QUICK) bench/bench.sh

install: $(B)/moat
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(B)/moat $(DESTDIR)$(PREFIX)/sbin/moat

format:
	clang-format -i ctl/*.c ctl/*.h xdp/*.c xdp/*.h include/*.h tests/*/*.c tests/*/*.h

clean:
	rm -rf $(B)

-include $(wildcard $(B)/ctl/*.d $(B)/tests/*.d $(B)/tests/lib/*.d)
