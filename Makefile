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

.PHONY: all deps check test demo install clean bench fuzz format tests asan
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

# Variants of the same moat for the integration tests, each built from the
# same sources with one more define, in its own directory:
#   oldabi    another MOAT_ABI (include/moat.h): an older moat's program
#   rejected  MOAT_TEST_REJECTED: a program the verifier refuses
# (both for tests/integration/test_badinput.sh)
# $(call moat_variant,DIR,DEFINE)
define moat_variant
$(1)/moat.bpf.o: $$(BPF_SRC) $$(wildcard xdp/*.h) include/moat.h
	@mkdir -p $$(dir $$@)
	$$(CLANG) $$(BPF_CFLAGS) $(2) -c $$< -o $$@
$(1)/moat.skel.h: $(1)/moat.bpf.o
	$$(BPFTOOL) gen skeleton $$< name moat_bpf > $$@.tmp && mv $$@.tmp $$@
$(1)/ctl/%.o: ctl/%.c | $(1)/moat.skel.h
	@mkdir -p $$(dir $$@)
	$$(CC) -I$(1) $$(CFLAGS) $(2) -c $$< -o $$@
$(1)/moat: $$(CTL_ALL:ctl/%.c=$(1)/ctl/%.o)
	$$(CC) $$(CFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
OLD_B := $(B)/oldabi
REJ_B := $(B)/rejected
$(eval $(call moat_variant,$(OLD_B),-DMOAT_ABI=2))
$(eval $(call moat_variant,$(REJ_B),-DMOAT_TEST_REJECTED))

$(B)/tests/lib/%.o: tests/lib/%.c | $(SKEL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/lib -c $< -o $@

$(B)/tests/%: tests/unit/%.c $(B)/libmoat.a $(TESTLIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/lib -o $@ $< $(TESTLIB_OBJ) $(B)/libmoat.a $(LDLIBS)

$(B)/tests/%: tests/bpf/%.c $(B)/libmoat.a $(TESTLIB_OBJ) $(SKEL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/lib -o $@ $< $(TESTLIB_OBJ) $(B)/libmoat.a $(LDLIBS)

tests: $(B)/moat $(OLD_B)/moat $(REJ_B)/moat $(UNIT_BIN) $(BPFT_BIN)

$(B):
	@mkdir -p $(B)

# `make check` and `make demo` work on a fresh machine: they install what
# is missing first, then build in a second make (so tool probes run after).
check: deps
	@$(MAKE) --no-print-directory tests asan
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

# ---- robustness: sanitizer build and fuzz targets (tests/fuzz/) ----
#   make asan      build-asan/: libmoat, moat, the unit tests and the fuzz
#                  targets as corpus-replay programs, all with
#                  AddressSanitizer + UBSan (tests/integration/test_asan.sh
#                  and test_fuzz_replay.sh run them in `make check`)
#   make fuzz      libFuzzer targets (build-fuzz/), each run FUZZ_SECONDS,
#                  then the data-plane differential test for FUZZ_SECONDS
ASAN_B := build-asan
FUZZ_B := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
SAN_CFLAGS = -O1 -g $(SAN) -Wall -Wno-unused-parameter -std=gnu11 \
	-D_GNU_SOURCE -Iinclude -Ictl -I$(B) -Itests/lib -Itests/fuzz -MMD -MP
FUZZ_CFLAGS = $(SAN_CFLAGS) -fsanitize=fuzzer-no-link
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/%.c=%)
ASAN_UNIT := $(UNIT_SRC:tests/unit/%.c=$(ASAN_B)/tests/%)

$(ASAN_B)/ctl/%.o: ctl/%.c | $(SKEL)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SAN_CFLAGS) -c $< -o $@
$(ASAN_B)/tests/lib/%.o: tests/lib/%.c | $(SKEL)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SAN_CFLAGS) -c $< -o $@
$(ASAN_B)/libmoat.a: $(LIB_OBJ:$(B)/%=$(ASAN_B)/%)
	rm -f $@ && ar rcs $@ $^
$(ASAN_B)/moat: $(CMD_OBJ:$(B)/%=$(ASAN_B)/%) $(ASAN_B)/libmoat.a
	$(FUZZ_CC) $(SAN) -o $@ $^ $(LDLIBS)
$(ASAN_B)/tests/%: tests/unit/%.c $(ASAN_B)/libmoat.a $(TESTLIB_OBJ:$(B)/%=$(ASAN_B)/%)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SAN_CFLAGS) -o $@ $< $(TESTLIB_OBJ:$(B)/%=$(ASAN_B)/%) $(ASAN_B)/libmoat.a $(LDLIBS)
$(ASAN_B)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $(ASAN_B)/libmoat.a $(TESTLIB_OBJ:$(B)/%=$(ASAN_B)/%)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SAN_CFLAGS) -o $@ $< tests/fuzz/replay.c $(TESTLIB_OBJ:$(B)/%=$(ASAN_B)/%) $(ASAN_B)/libmoat.a $(LDLIBS)

asan: $(ASAN_B)/moat $(ASAN_UNIT) $(FUZZ_NAMES:%=$(ASAN_B)/fuzz/%)

$(FUZZ_B)/ctl/%.o: ctl/%.c | $(SKEL)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_B)/tests/lib/%.o: tests/lib/%.c | $(SKEL)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_B)/libmoat.a: $(LIB_OBJ:$(B)/%=$(FUZZ_B)/%)
	rm -f $@ && ar rcs $@ $^
$(FUZZ_B)/%: tests/fuzz/%.c $(FUZZ_B)/libmoat.a $(TESTLIB_OBJ:$(B)/%=$(FUZZ_B)/%)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(TESTLIB_OBJ:$(B)/%=$(FUZZ_B)/%) $(FUZZ_B)/libmoat.a $(LDLIBS)

fuzz: deps
	@$(MAKE) --no-print-directory tests $(FUZZ_NAMES:%=$(FUZZ_B)/%)
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

format:
	clang-format -i ctl/*.c ctl/*.h xdp/*.c xdp/*.h include/*.h tests/*/*.c tests/*/*.h

clean:
	rm -rf $(B) $(ASAN_B) $(FUZZ_B)

-include $(wildcard $(B)/ctl/*.d $(B)/tests/*.d $(B)/tests/lib/*.d $(OLD_B)/ctl/*.d $(REJ_B)/ctl/*.d)
-include $(wildcard $(ASAN_B)/*/*.d $(ASAN_B)/tests/lib/*.d $(FUZZ_B)/*/*.d $(FUZZ_B)/tests/lib/*.d)
