# pftls-roll - DANE TLSA key rollover for Postfix.
#
#   make            build pftls-roll (and pftls-rolld once it exists)
#   make check      install missing Debian packages, build, run every test
#   make demo       install missing packages, build, run the demo sandbox
#   make bench      run the benchmarks, results in docs/BENCHMARKS.md
#   make crash-sweep  the daemon SIGKILLed at every phase boundary and inside
#                   every durable write, 3 times each, under the DANE
#                   observer; counts in docs/CRASH-SWEEP.md
#   make operator-sweep  each step an operator takes by hand (deploy-server-
#                   cert of the new, old or a foreign key; retire; cancel;
#                   reload) at every phase of a rollover, daemon running,
#                   under the DANE observer; cells in docs/OPERATOR-SWEEP.md
#   make install    PREFIX, DESTDIR, sbindir, mandir, unitdir honoured (and
#                   the directories below); debian/rules uses PREFIX=/usr
#                   sysconfdir=/etc unitdir=/lib/systemd/system

PREFIX   ?= /usr/local
sbindir  ?= $(PREFIX)/sbin
mandir   ?= $(PREFIX)/share/man
unitdir  ?= $(PREFIX)/lib/systemd/system
# journald reads catalogs from /usr/lib and /usr/local/lib/systemd/catalog.
catalogdir ?= $(PREFIX)/lib/systemd/catalog
docdir   ?= $(PREFIX)/share/doc/pftls-roll
bashcompdir ?= $(PREFIX)/share/bash-completion/completions
sysconfdir ?= /etc
localstatedir ?= /var
DESTDIR  ?=

CC       ?= cc
PKGS     := openssl ldns libsystemd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
# The crash tests' fault-injection points (PFTLS_FAULT, daemon/util.h) are
# compiled into this tree's build; the Debian package builds without them
# (debian/rules: FAULT_INJECTION=no), so no installed binary has them.
FAULT_INJECTION ?= yes
FAULT_CFLAGS := $(if $(filter yes,$(FAULT_INJECTION)),-DPFTLS_FAULT_INJECTION)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(PKG_CFLAGS) $(FAULT_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
# --as-needed: a binary records (NEEDED) only the libraries it calls.
# pftls-roll does not link libsystemd: its journal events and D-Bus reloads
# load it on first use (daemon/sd_lazy.c), so a subcommand that needs
# neither does not load it and what it pulls in (libgcrypt, liblzma,
# libzstd, liblz4, libcap).  pftls-rolld and the tests link it for sd-event
# and sd_notify.  tests/integ/startup.sh checks the NEEDED lists.
LDLIBS   := -Wl,--as-needed $(PKG_LIBS)
CLI_LDLIBS := -Wl,--as-needed $(shell pkg-config --libs openssl ldns 2>/dev/null)

B := build
DAEMON_MAIN := daemon/pftls-rolld.c
LIB_SRCS  := $(filter-out $(DAEMON_MAIN),$(wildcard daemon/*.c))
TOOL_SRCS := $(wildcard tools/*.c)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(B)/%.o)
TOOL_OBJS := $(TOOL_SRCS:%.c=$(B)/%.o)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(B)/tests/%)
PROGS     := $(B)/pftls-roll $(if $(wildcard $(DAEMON_MAIN)),$(B)/pftls-rolld)
MAN8 := $(wildcard docs/*.8)
# examples/ holds files and the ACME client wrappers' directory acme/.
EXAMPLE_FILES := $(filter-out examples/acme,$(wildcard examples/*))
MAN5 := $(wildcard docs/*.5)

.PHONY: all deps check demo bench crash-sweep operator-sweep install uninstall clean unit lint \
	format-check
all: $(PROGS) $(TEST_BINS)

# CPPFLAGS and LDFLAGS come from the environment too: dpkg-buildflags puts
# the hardening flags (fortify, relro, bindnow) there.
$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libpftls.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(B)/pftls-roll: $(TOOL_OBJS) $(B)/libpftls.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $(TOOL_OBJS) $(B)/libpftls.a $(CLI_LDLIBS)

$(B)/pftls-rolld: $(B)/daemon/pftls-rolld.o $(B)/libpftls.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libpftls.a $(LDLIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libpftls.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libpftls.a $(LDLIBS)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# Debian packages the build and the tests need, installed when missing.
deps:
	@sh tools/install-deps

# TEST_JOBS: how many tests run at once (each integration test in its own
# network namespace); twice the machine's cores by default, since the
# integration tests mostly wait on TTLs and servers: a full run on 2 cores
# used 931 CPU seconds in 1,018 s of wall time at -j 2 (tests/run prints
# both), and ran 647 s instead of about 1,000 at -j 4 with no failure.
# ASAN_TEST_JOBS: the same for make check-asan, the cores alone (the
# sanitized programs take about twice the CPU).
NPROC := $(shell nproc 2>/dev/null || echo 1)
TEST_JOBS ?= $(shell echo $$(( $(NPROC) * 2 )))
ASAN_TEST_JOBS ?= $(NPROC)
check: deps
	$(MAKE) all
	$(MAKE) format-check
	tests/run -j $(TEST_JOBS)

unit: all
	tests/run unit

demo: deps
	$(MAKE) all
	tests/demo

bench: deps
	$(MAKE) all
	bench/run

# CRASH_SWEEP_REPEATS: how many times each kill point (tests/crash-sweep).
CRASH_SWEEP_REPEATS ?= 3
crash-sweep: deps
	$(MAKE) all
	nice tests/crash-sweep --full --repeats $(CRASH_SWEEP_REPEATS) --report docs/CRASH-SWEEP.md

operator-sweep: deps
	$(MAKE) all
	nice tests/operator-sweep --full --report docs/OPERATOR-SWEEP.md

lint:
	mandoc -Tlint -W warning $(MAN8) $(MAN5)

# Every tracked C file against the checked-in .clang-format: the files that
# differ are listed, and "clang-format -i FILE" rewrites one.  Outside a git
# checkout (a source package) the C files of the tree are checked.
CLANG_FORMAT ?= clang-format
FORMAT_FILES = $(or $(shell git ls-files '*.c' '*.h' 2>/dev/null), \
		    $(wildcard daemon/*.[ch] tools/*.[ch] tests/*/*.[ch]))
format-check:
	@bad=0; for f in $(FORMAT_FILES); do \
		$(CLANG_FORMAT) --dry-run --Werror "$$f" >/dev/null 2>&1 || { \
			[ $$bad -eq 0 ] && echo "format-check: not formatted as .clang-format says:"; \
			echo "  $$f"; bad=$$((bad + 1)); }; \
	done; \
	[ $$bad -eq 0 ] || { echo "format-check: $$bad file(s) differ"; exit 1; }

# The units name /usr/sbin and /etc/pftls-roll; they are rewritten to
# sbindir and sysconfdir on the way.  The state directory is the daemon's
# alone (keys' history, rollover state): mode 0700.
UNITS := $(wildcard units/*.service units/*.timer units/*.socket)
install: all
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(mandir)/man5
	install -m 0755 $(PROGS) $(DESTDIR)$(sbindir)/
	$(if $(MAN8),install -m 0644 $(MAN8) $(DESTDIR)$(mandir)/man8/)
	$(if $(MAN5),install -m 0644 $(MAN5) $(DESTDIR)$(mandir)/man5/)
	install -d $(DESTDIR)$(unitdir)
	for u in $(UNITS); do \
		sed -e 's|/usr/sbin/|$(sbindir)/|g' -e 's|/etc/pftls-roll/|$(sysconfdir)/pftls-roll/|g' \
			"$$u" >$(DESTDIR)$(unitdir)/$${u##*/}.tmp && \
		chmod 0644 $(DESTDIR)$(unitdir)/$${u##*/}.tmp && \
		mv $(DESTDIR)$(unitdir)/$${u##*/}.tmp $(DESTDIR)$(unitdir)/$${u##*/} || exit 1; \
	done
	install -d $(DESTDIR)$(catalogdir)
	install -m 0644 docs/pftls-roll.catalog $(DESTDIR)$(catalogdir)/
	install -d $(DESTDIR)$(bashcompdir)
	install -m 0644 completion/pftls-roll $(DESTDIR)$(bashcompdir)/pftls-roll
	ln -sf pftls-roll $(DESTDIR)$(bashcompdir)/pftls-rolld
	install -d $(DESTDIR)$(docdir)/examples
	install -m 0644 docs/OPERATIONS.md $(DESTDIR)$(docdir)/
	install -m 0644 $(EXAMPLE_FILES) $(DESTDIR)$(docdir)/examples/
	install -d $(DESTDIR)$(docdir)/examples/acme
	install -m 0644 $(wildcard examples/acme/*) $(DESTDIR)$(docdir)/examples/acme/
	install -d $(DESTDIR)$(sysconfdir)/pftls-roll
	install -d -m 0700 $(DESTDIR)$(localstatedir)/lib/pftls-roll

# Leaves the configuration and the state directory alone: they are the
# operator's.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(sbindir)/,pftls-roll pftls-rolld)
	rm -f $(addprefix $(DESTDIR)$(mandir)/man8/,$(notdir $(MAN8)))
	rm -f $(addprefix $(DESTDIR)$(mandir)/man5/,$(notdir $(MAN5)))
	rm -f $(addprefix $(DESTDIR)$(unitdir)/,$(notdir $(UNITS)))
	rm -f $(DESTDIR)$(catalogdir)/pftls-roll.catalog $(DESTDIR)$(bashcompdir)/pftls-roll $(DESTDIR)$(bashcompdir)/pftls-rolld
	rm -f $(DESTDIR)$(docdir)/OPERATIONS.md $(addprefix $(DESTDIR)$(docdir)/,$(EXAMPLE_FILES) $(wildcard examples/acme/*))
	rmdir $(DESTDIR)$(docdir)/examples/acme $(DESTDIR)$(docdir)/examples $(DESTDIR)$(docdir) 2>/dev/null || true

clean:
	rm -rf $(B) tests/out

# --- Hardening: fuzz harnesses, sanitizers, valgrind ------------------------
#
#   make check-asan      the whole suite (tests/run) against an ASan+UBSan
#                        build in $(ASAN_B); any sanitizer report fails it.
#                        clang, not gcc: gcc 12's combined runtime prints
#                        UBSan reports on stderr only, ignoring log_path, and
#                        tests/run-sanitized collects reports from log files
#   make check-valgrind  every unit test binary under valgrind memcheck
#   make fuzz            each libFuzzer harness for FUZZ_SECONDS (default 60);
#                        results in docs/FUZZING.md
#
# A fuzz harness is one file, tests/fuzz/fuzz_NAME.c (see tests/fuzz/fuzz.h),
# with its seed corpus in tests/fuzz/corpus/NAME/.  It is built twice:
#   $(B)/tests/test_fuzz_replay_NAME  the build's compiler and flags, with
#       tests/fuzz/replay.c's main(); part of "all", so tests/run (make check,
#       check-asan, check-valgrind) replays the corpus as a unit test;
#   $(FUZZ_B)/fuzzers/fuzz_NAME  clang with libFuzzer, ASan and UBSan.
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_REPLAYS := $(FUZZ_NAMES:%=$(B)/tests/test_fuzz_replay_%)

all: $(FUZZ_REPLAYS)

$(B)/tests/test_fuzz_replay_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay.o $(B)/libpftls.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $< $(B)/tests/fuzz/replay.o $(B)/libpftls.a $(LDLIBS)

$(B)/fuzzers/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/libfuzzer.o $(B)/libpftls.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -fsanitize=fuzzer -o $@ $< $(B)/tests/fuzz/libfuzzer.o \
		$(B)/libpftls.a $(LDLIBS)

FUZZ_B       := build-fuzz
FUZZ_CC      := clang-14
FUZZ_FLAGS   := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_SECONDS ?= 60
ASAN_B       := build-asan
ASAN_CC      := clang-14
ASAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
VALGRIND     := valgrind -q --error-exitcode=99 --leak-check=full \
                --errors-for-leak-kinds=definite --child-silent-after-fork=yes

.PHONY: fuzz fuzz-build check-asan check-valgrind clean-hardening

fuzz-build: deps
	$(MAKE) B=$(FUZZ_B) CC=$(FUZZ_CC) EXTRA_CFLAGS='$(FUZZ_FLAGS)' \
		$(FUZZ_NAMES:%=$(FUZZ_B)/fuzzers/fuzz_%)

fuzz: fuzz-build
	tests/fuzz/run-all $(FUZZ_B) $(FUZZ_SECONDS) docs/FUZZING.md

check-asan: deps
	$(MAKE) B=$(ASAN_B) CC=$(ASAN_CC) EXTRA_CFLAGS='$(ASAN_FLAGS)' all
	tests/run-sanitized $(ASAN_B) -j $(ASAN_TEST_JOBS)

# Forked children are still checked, silently: their errors turn their exit
# status into 99, which the tests that wait for them see.  Their reports are
# not printed because children killed on purpose (the fault points of the
# crash-safety tests) "leak" whatever they held at SIGKILL.
check-valgrind: deps
	$(MAKE) all
	rm -rf $(B)/valgrind-logs
	PFTLS_TEST_WRAPPER='$(VALGRIND)' PFTLS_TEST_OUT=$(B)/valgrind-logs tests/run unit

clean: clean-hardening
clean-hardening:
	rm -rf $(ASAN_B) $(FUZZ_B)
