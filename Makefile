# curio for C -- the only build entry point.
#
#   make            libcurio.a, libcurio.so and the examples
#   make check      build and run the Check suites
#   make check-cxx  curio.h from C++: tests/cxx with g++ and clang++
#   make demo       build and run the demo
#   make bench      build and run the benchmarks
#   make install PREFIX=/usr/local    (and make uninstall, the same PREFIX)
#   make deps       install the Debian packages we need (make demo runs it;
#                   the other targets only say which ones are missing)
#   make check TEST=NAME   one test, or one suite, by name (globs work)
#
# Variants build in their own directory, examples included
# ($(BUILD)/examples/NAME): make check BUILD=build-asan
# EXTRA_CFLAGS='-fsanitize=address,undefined' EXTRA_LDFLAGS='-fsanitize=...'

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
EXTRA_CFLAGS  ?=
EXTRA_LDFLAGS ?=

WARN    := -Wall -Wextra -Werror
# gcc reports a local declared after CO_BEGIN (it holds garbage after an
# await: docs/tutorial.md); clang has no such warning and rejects the flag.
WARN    += $(shell $(CC) -Werror -Wjump-misses-init -E -x c /dev/null \
             >/dev/null 2>&1 && echo -Wjump-misses-init)
# -fvisibility=hidden: libcurio.so exports only what is marked CO_API
# (core/api.h; tests/exports.sh checks it).
CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -g $(WARN) -fPIC \
           -fvisibility=hidden -I. -Iinclude $(EXTRA_CFLAGS)
LDFLAGS := $(EXTRA_LDFLAGS)
LIBS    := -lev -lm -lcrypto
# Each compile also writes which headers it read (NAME.d beside NAME.o, as
# Redis does); -MP adds an empty rule per header so that deleting one does
# not break the build.  Kept out of CFLAGS: compile_fail/run.sh and the
# flags stamp need only what changes the code.
DEPFLAGS := -MMD -MP

# The shared library is named as Debian names them: the real file carries
# the whole version, the SONAME (what programs record) the major one, and
# libcurio.so (what -lcurio finds) points to the real file.  Before 1.0 a
# minor version may break the ABI (0.2 renamed calls and hid internals), so
# the SONAME then carries the minor too: libcurio.so.0.2.
VERSION   := 0.2.0
VERSION_PARTS := $(subst ., ,$(VERSION))
SOVERSION := $(if $(filter 0,$(word 1,$(VERSION_PARTS))),0.$(word 2,$(VERSION_PARTS)),$(word 1,$(VERSION_PARTS)))
SO_REAL   := libcurio.so.$(VERSION)
SO_NAME   := libcurio.so.$(SOVERSION)

LIB_SRCS  := $(wildcard core/*.c sync/*.c net/*.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)

# Examples build into $(BUILD)/examples/NAME, so a sanitizer build never
# replaces the binaries `make demo` and bench/*.sh run.  Those that use
# only macros/co.h link without libev or the library.
EXAMPLES  := $(patsubst %.c,$(BUILD)/%,$(wildcard examples/*.c))
MACRO_ONLY_EXAMPLES := $(BUILD)/examples/generator
# The monitor's console client needs neither: plain sockets, and GNU
# readline when it is there (tested only when the client is built).
CLIENT_EXAMPLES := $(BUILD)/examples/monitor
KERNEL_EXAMPLES := $(filter-out $(MACRO_ONLY_EXAMPLES) $(CLIENT_EXAMPLES),\
                   $(EXAMPLES))
HAVE_READLINE = $(shell printf '\043include <stdio.h>\n\043include \
    <readline/readline.h>\nint main(void){return !readline;}\n' | \
    $(CC) -x c - -o /dev/null -lreadline >/dev/null 2>&1 && echo 1)

# Every tests/test_*.c defines one suite, listed in tests/test_list.h;
# test_macros.c is built under both coroutine backends.  The other .c
# files in tests/ are the runner and shared helpers.  tests/main.c runs
# them all in one Check runner.
TEST_SRCS := $(filter-out tests/test_macros.c,$(wildcard tests/*.c))
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/%.o) \
             $(BUILD)/tests/test_macros_switch.o \
             $(BUILD)/tests/test_macros_labels.o
TEST_BIN  := $(BUILD)/tests/run_tests
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

# The micro-benchmarks, in the order `make bench` runs them; each is
# bench/NAME.c + bench/bench.c.  Other sources in bench/ are not programs
# of that kind (bench.c, the echo load generator, bench/ref/).
BENCHES   := $(patsubst %,$(BUILD)/bench/%,switch spawn sync tasks universal \
                                    threads)

DEB_PACKAGES := libev-dev check pkg-config libssl-dev

.PHONY: all check check-cxx demo bench install uninstall deps clean
all: $(BUILD)/libcurio.a $(BUILD)/libcurio.so $(BUILD)/$(SO_NAME) $(EXAMPLES)

# ---------------------------------------------------------------- deps
# Only `make deps` and `make demo` (the README's first command, on a
# fresh machine) install packages; every other target stops at once with
# one line naming what is missing.  Without dpkg (not Debian) the check
# is skipped and the compiler says what is missing.
INSTALL_DEPS := $(filter deps demo,$(MAKECMDGOALS))
DEPS_STAMP := $(BUILD)/.deps-ok
deps: $(DEPS_STAMP)
$(DEPS_STAMP):
	@missing=""; command -v dpkg-query >/dev/null && \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && [ -z "$(INSTALL_DEPS)" ]; then \
	  echo "missing Debian packages:$$missing -- run: make deps" \
	    "(or: sudo apt-get install -y$$missing)"; exit 1; \
	elif [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq $$missing >/dev/null || exit 1; \
	elif [ -n "$$missing" ]; then \
	  echo "missing packages:$$missing"; \
	  echo "run: sudo apt-get install -y$$missing"; exit 1; \
	fi
	@mkdir -p $(BUILD) && touch $@

# ---------------------------------------------------------------- library
# Objects depend on the compiler and flags they were built with: a change of
# CC or EXTRA_CFLAGS in the same BUILD directory rebuilds everything (and
# so did the switch to -MMD: objects made before it have no .d to go by).
FLAGS_STAMP := $(BUILD)/.flags
BUILD_FLAGS := $(CC) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS)
$(shell mkdir -p $(BUILD) && (echo '$(BUILD_FLAGS)' | cmp -s - $(FLAGS_STAMP) \
        || echo '$(BUILD_FLAGS)' > $(FLAGS_STAMP)))

$(BUILD)/%.o: %.c $(FLAGS_STAMP) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/libcurio.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/$(SO_REAL): $(LIB_OBJS)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SO_NAME) -o $@ $^ $(LIBS)

$(BUILD)/$(SO_NAME) $(BUILD)/libcurio.so: $(BUILD)/$(SO_REAL)
	ln -sf $(SO_REAL) $@

# ---------------------------------------------------------------- examples
$(MACRO_ONLY_EXAMPLES): $(BUILD)/examples/%: examples/%.c $(FLAGS_STAMP) \
                        | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $< -o $@ $(LDFLAGS)

$(CLIENT_EXAMPLES): $(BUILD)/examples/%: examples/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(if $(HAVE_READLINE),-DCO_HAVE_READLINE) \
	    $< -o $@ $(LDFLAGS) $(if $(HAVE_READLINE),-lreadline)

$(KERNEL_EXAMPLES): $(BUILD)/examples/%: examples/%.c $(BUILD)/libcurio.a \
                    $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $< -o $@ $(BUILD)/libcurio.a $(LDFLAGS) $(LIBS)

# The kernel tour, then the echo server with a built-in client.
demo: all
	$(BUILD)/examples/demo
	@echo
	$(BUILD)/examples/echodemo

# ---------------------------------------------------------------- tests
$(BUILD)/tests/test_macros_%.o: tests/test_macros.c $(FLAGS_STAMP) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -DCO_USE_SWITCH=$(if $(filter switch,$*),1,0) \
	  -DMACRO_SUITE=macros_$*_suite -c $< -o $@

$(TEST_BIN): $(TEST_OBJS) $(BUILD)/libcurio.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJS) $(BUILD)/libcurio.a $(CHECK_LIBS) $(LIBS)

# The fault suite (tests/fault/) runs against a second build of the library
# whose allocations can be made to fail (core/alloc_impl.h).
FAULT_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fault/%.o)
FAULT_TEST_SRCS := $(wildcard tests/fault/*.c) tests/log.c tests/select.c
FAULT_TEST_OBJS := $(FAULT_TEST_SRCS:%.c=$(BUILD)/fault/%.o)
FAULT_BIN := $(BUILD)/tests/run_fault_tests

$(BUILD)/fault/%.o: %.c $(FLAGS_STAMP) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -DCO_FAULT_INJECTION -c $< -o $@

$(BUILD)/fault/libcurio-fault.a: $(FAULT_OBJS)
	rm -f $@ && ar rcs $@ $^

$(FAULT_BIN): $(FAULT_TEST_OBJS) $(BUILD)/fault/libcurio-fault.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(FAULT_TEST_OBJS) $(BUILD)/fault/libcurio-fault.a \
	  $(CHECK_LIBS) $(LIBS)

# `make check TEST=NAME` runs only the tests or suites NAME names (a test
# function such as test_recv_timeout, a suite such as socket_io, or a glob
# of either, several separated by spaces: see tests/main.c) in whichever
# runner has them (set -f: the shell leaves the globs to the runners).  A
# runner with none of them exits 77.  Without TEST, the whole check also
# runs the examples' own checks (tests/examples/*.sh) on $(BUILD)'s build.
TEST ?=
ifeq ($(TEST),)
check: all $(TEST_BIN) $(FAULT_BIN)
	@echo "make check: the 'curio:' and 'co.h:' messages below (misuse," \
	  "deadlocks, unfinished tasks) are expected: tests provoke them."
	$(TEST_BIN)
	$(FAULT_BIN)
	@bash tests/compile_fail/run.sh $(CC) $(CFLAGS)
	@bash tests/exports.sh $(BUILD)/libcurio.so
	@bash tests/examples_sigint.sh $(BUILD)/examples
	@CC="$(CC)" bash tests/docs_check.sh .
	@bash tests/examples/hashserv.sh $(BUILD)/examples/hashserv
else
check: $(TEST_BIN) $(FAULT_BIN)
	@set -f; found=0; for bin in $(TEST_BIN) $(FAULT_BIN); do \
	  $$bin -q $(TEST); rc=$$?; \
	  case $$rc in 0) found=1;; 77) ;; *) exit $$rc;; esac; done; \
	[ $$found = 1 ] || { echo "make check: no test or suite named $(TEST)"; \
	  exit 1; }
endif

# ---------------------------------------------------------------- C++
# curio.h from C++ (C++11 to C++17: C++20 makes co_yield a keyword): a
# task written in C (tests/cxx/producer.c, built by $(CC)) spawned by
# coroutines written in C++, built and run with each compiler in turn.
CXX_COMPILERS ?= g++ clang++
CXX_TEST_FLAGS := -std=c++17 -O2 -g -Wall -Wextra -Werror -I. -Iinclude \
                  $(EXTRA_CFLAGS)

$(BUILD)/tests/cxx/producer.o: tests/cxx/producer.c $(FLAGS_STAMP) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

check-cxx: $(BUILD)/libcurio.a $(BUILD)/tests/cxx/producer.o
	@for cxx in $(CXX_COMPILERS); do \
	  command -v $$cxx >/dev/null || { echo "check-cxx: no $$cxx" \
	    "(Debian: apt-get install g++ clang)"; exit 1; }; \
	  echo "$$cxx $(CXX_TEST_FLAGS) tests/cxx/main.cpp ..."; \
	  $$cxx $(CXX_TEST_FLAGS) tests/cxx/main.cpp \
	    $(BUILD)/tests/cxx/producer.o -o $(BUILD)/tests/cxx/main-$$cxx \
	    $(BUILD)/libcurio.a $(LDFLAGS) $(LIBS) || exit 1; \
	  $(BUILD)/tests/cxx/main-$$cxx || exit 1; done

# ---------------------------------------------------------------- bench
# `make bench`: the micro-benchmarks (ratios against reference programs
# built into each), then the echo benchmark (bench/echo.sh, when present),
# the connections benchmark (bench/connections.sh), then bench/report.sh:
# tables, bench/results.md and bench/results.png.  Rows go to
# $(BENCH_OUT)/targets.tsv, echo.tsv and connections.tsv, emptied first.
BENCH_OUT ?= $(BUILD)/bench-out
# Optional: the plot, the uvloop echo server, syscall counts.  The
# benchmarks run without them; `make deps bench` installs them (as root),
# a plain `make bench` only names the missing ones.
BENCH_DEB_PACKAGES := gnuplot-nox python3-uvloop linux-perf
# The echo and connections programs are built once their sources exist.
ECHO_BINS := \
  $(if $(wildcard bench/echoload.c),$(BUILD)/bench/echoload) \
  $(if $(wildcard bench/connload.c),$(BUILD)/bench/connload) \
  $(if $(wildcard bench/ref/libev_echo.c),$(BUILD)/bench/ref/libev_echo)

BENCH_DEPS_STAMP := $(BUILD)/.bench-deps-ok
$(BENCH_DEPS_STAMP): | $(DEPS_STAMP)
	@missing=""; for p in $(BENCH_DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	    || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then touch $@; \
	elif [ -n "$(INSTALL_DEPS)" ] && [ "$$(id -u)" = 0 ]; then \
	  echo "installing (optional, for make bench):$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq $$missing >/dev/null \
	    || echo "note: could not install$$missing; going on without"; \
	  touch $@; \
	else \
	  echo "note: optional packages missing:$$missing (plot, uvloop, perf);" \
	    "make deps bench  installs them"; \
	fi

# Each benchmark is bench/NAME.o + bench/bench.o (the generic object rule,
# so their header dependencies come from the .d files too).
$(BENCHES): $(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/bench/bench.o \
            $(BUILD)/libcurio.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bench/echoload: bench/echoload.c $(FLAGS_STAMP) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $< -o $@ $(LDFLAGS)

$(BUILD)/bench/connload: bench/connload.c $(FLAGS_STAMP) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $< -o $@ $(LDFLAGS)

$(BUILD)/bench/ref/libev_echo: bench/ref/libev_echo.c $(FLAGS_STAMP) \
                              | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $< -o $@ $(LDFLAGS) -lev

# A failed echo or connections run still gets the report of everything
# else, then fails.
bench: all $(BENCH_DEPS_STAMP) $(BENCHES) $(ECHO_BINS)
	@mkdir -p $(BENCH_OUT) && rm -f $(BENCH_OUT)/targets.tsv \
	  $(BENCH_OUT)/echo.tsv $(BENCH_OUT)/connections.tsv
	@for b in $(BENCHES); do echo "== $$b"; \
	  BENCH_OUT=$(BENCH_OUT) $$b || exit 1; done
	@echo_rc=0; if [ -f bench/echo.sh ]; then echo "== bench/echo.sh"; \
	  BUILD=$(BUILD) BENCH_OUT=$(BENCH_OUT) bash bench/echo.sh || echo_rc=$$?; \
	else echo "== bench/echo.sh: not there yet, echo benchmark skipped"; fi; \
	conn_rc=0; echo "== bench/connections.sh"; \
	BUILD=$(BUILD) BENCH_OUT=$(BENCH_OUT) bash bench/connections.sh \
	  || conn_rc=$$?; \
	fair_rc=0; echo "== bench/fairness.sh (the I/O budget: no line lost)"; \
	BUILD=$(BUILD) bash bench/fairness.sh || fair_rc=$$?; \
	echo "== bench/report.sh"; \
	BENCH_OUT=$(BENCH_OUT) CC="$(CC)" bash bench/report.sh || exit 1; \
	if [ $$echo_rc != 0 ]; then \
	  echo "make bench: bench/echo.sh failed (exit $$echo_rc)"; fi; \
	if [ $$conn_rc != 0 ]; then \
	  echo "make bench: bench/connections.sh failed (exit $$conn_rc)"; fi; \
	if [ $$fair_rc != 0 ]; then \
	  echo "make bench: bench/fairness.sh lost lines (exit $$fair_rc)"; fi; \
	[ $$echo_rc = 0 ] && [ $$conn_rc = 0 ] && [ $$fair_rc = 0 ]

# ---------------------------------------------------------------- install
# Under DESTDIR (packaging) files are only copied.  Otherwise, after the
# copy: when LIBDIR is one the dynamic linker searches (/usr/lib,
# /usr/local/lib...), root runs ldconfig so that programs linked with
# `pkg-config --libs curio` start as they are; anywhere else the install
# says which LD_LIBRARY_PATH or -Wl,-rpath a program needs.
LDCONFIG ?= $(shell command -v ldconfig 2>/dev/null || echo /sbin/ldconfig)
# 0 when LIBDIR (resolved) is the default search path or one ld.so.conf names
LIBDIR_SEARCHED = d=$$(realpath -m "$(LIBDIR)"); \
  for s in /lib /usr/lib /lib64 /usr/lib64 \
           $$($(LDCONFIG) -v -N -X 2>/dev/null | sed -n 's|^\(/[^:]*\):.*|\1|p'); \
  do [ "$$(realpath -m "$$s")" = "$$d" ] && exit 0; done; exit 1

INSTALL_INC := $(DESTDIR)$(INCLUDEDIR)/curio
INSTALL_LIB := $(DESTDIR)$(LIBDIR)

install: all
	install -d $(INSTALL_LIB)/pkgconfig $(INSTALL_INC)/macros \
	  $(INSTALL_INC)/core $(INSTALL_INC)/net $(INSTALL_INC)/sync
	install -m 644 include/curio.h $(INSTALL_INC)/
	install -m 644 macros/*.h $(INSTALL_INC)/macros/
	install -m 644 $(filter-out %_impl.h,$(wildcard core/*.h)) $(INSTALL_INC)/core/
	install -m 644 $(filter-out %_impl.h,$(wildcard net/*.h)) $(INSTALL_INC)/net/
	install -m 644 $(filter-out %_impl.h,$(wildcard sync/*.h)) $(INSTALL_INC)/sync/
	install -m 644 $(BUILD)/libcurio.a $(INSTALL_LIB)/
	install -m 755 $(BUILD)/$(SO_REAL) $(INSTALL_LIB)/
	ln -sf $(SO_REAL) $(INSTALL_LIB)/$(SO_NAME)
	ln -sf $(SO_REAL) $(INSTALL_LIB)/libcurio.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	  curio.pc.in > $(INSTALL_LIB)/pkgconfig/curio.pc
	@if [ -n "$(DESTDIR)" ]; then exit 0; fi; \
	if ( $(LIBDIR_SEARCHED) ); then \
	  if [ "$$(id -u)" = 0 ]; then echo "$(LDCONFIG)"; $(LDCONFIG); \
	  else echo "make install: now run  sudo ldconfig  (the dynamic" \
	    "linker's cache does not know $(SO_NAME) yet)"; fi; \
	else \
	  pc=$$(pkg-config --variable pc_path pkg-config 2>/dev/null); \
	  cc='cc countdown.c $$(pkg-config --cflags --libs curio)'; \
	  echo; \
	  echo "make install: $(LIBDIR) is not in the dynamic linker's search path,"; \
	  echo "so a program linked with -lcurio must be told where $(SO_NAME) is."; \
	  echo "Either run it with LD_LIBRARY_PATH:"; \
	  case ":$$pc:$${PKG_CONFIG_PATH-}:" in *":$(LIBDIR)/pkgconfig:"*) \
	    pcp="";; *) pcp="export PKG_CONFIG_PATH=$(LIBDIR)/pkgconfig"; \
	    echo "    $$pcp";; esac; \
	  echo "    $$cc -o countdown"; \
	  echo "    LD_LIBRARY_PATH=$(LIBDIR) ./countdown"; \
	  echo "or build the path into it:"; \
	  [ -z "$$pcp" ] || echo "    $$pcp"; \
	  echo "    $$cc -Wl,-rpath,$(LIBDIR) -o countdown"; \
	  echo "    ./countdown"; \
	fi

uninstall:
	rm -rf $(INSTALL_INC)
	rm -f $(INSTALL_LIB)/libcurio.a $(INSTALL_LIB)/$(SO_REAL) \
	  $(INSTALL_LIB)/$(SO_NAME) $(INSTALL_LIB)/libcurio.so \
	  $(INSTALL_LIB)/pkgconfig/curio.pc
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && ( $(LIBDIR_SEARCHED) ); \
	then echo "$(LDCONFIG)"; $(LDCONFIG); fi

clean:
	rm -rf build build-*

# What each object, example and program was built from (written by
# $(DEPFLAGS) as they compile); none yet on a first build, which builds
# everything anyway.
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
# Only a compile writes them: without this, make would try to remake each
# one through its built-in rules (test_macros_switch.d from a bogus
# test_macros_switch.d.o) before every build.
%.d: ;
