# sagellm-bench — plain GNU Makefile.
#
#   make                 build bin/sagellm-bench
#   make test            build and run every test (unit, CLI, integration, fuzz corpus)
#   make demo            run the main job end to end against the built-in server
#   make deps            install missing Debian packages (root) or print the apt-get line
#   SAN=address,undefined make test    the same tests under sanitizers (build-san/)
#   make install PREFIX=/usr/local
#   make fuzz            build libFuzzer targets with clang (optional)
#   make MPI=1           also bin/sagellm-bench-mpi, linked with Open MPI (mpicc): a start
#                        barrier and a merged table for replays launched by mpirun
#
# Folder dependency order (see README; tests/linkcheck.sh checks it):
# common <- traces, clients, engine <-
# replay, capture, analysis <- cli.

VERSION  := 0.1.0
PREFIX   ?= /usr/local
CC       ?= cc
PKGS     := libcurl libzstd libcjson libmicrohttpd
OPT      ?= -O2

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wvla -Wwrite-strings -Wundef -Wno-unused-parameter
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g $(WARN) -I. -DSAGELLM_VERSION=\"$(VERSION)\" \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcurl -lzstd -lcjson -lmicrohttpd) \
        -lcsv -lpcap -lhttp_parser -lpthread -lm -ldl

ifneq ($(SAN),)
O        := build-san
BINDIR   := build-san/bin
SANFLAGS := -fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT      := -O1
else
O        := build
BINDIR   := bin
SANFLAGS :=
endif

CFLAGS  ?=
LDFLAGS ?=
ALL_CFLAGS  := $(BASE_CFLAGS) $(OPT) $(SANFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)

# The Python bridge of the sagellm client, where libpython is installed.
include clients/python.mk

# Library modules, in dependency order. Every .c in these folders is part of
# the library; the command-line layer (cli/) links against it.
LIBDIRS  := common traces clients engine replay capture analysis
LIBSRC   := $(foreach d,$(LIBDIRS),$(sort $(wildcard $(d)/*.c)))
# Files of another language embedded at build time (.incbin), e.g. clients/engine_host.py.
LIBASM   := $(foreach d,$(LIBDIRS),$(sort $(wildcard $(d)/*.S)))
LIBOBJ   := $(LIBSRC:%.c=$(O)/%.o) $(LIBASM:%.S=$(O)/%.o)
CLISRC   := $(sort $(wildcard cli/*.c))
CLIOBJ   := $(CLISRC:%.c=$(O)/%.o)
UNITSRC  := $(sort $(wildcard tests/unit/*.c))
UNITOBJ  := $(UNITSRC:%.c=$(O)/%.o)
FUZZSRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZREG  := $(FUZZSRC:tests/fuzz/%.c=$(O)/fuzz/%-regress)

BIN      := $(BINDIR)/sagellm-bench
# The MPI build differs in one object (cli/mpi_sync.c with SAGELLM_MPI),
# compiled and linked with Open MPI's wrapper (Debian's libopenmpi-dev).
MPIBIN   := $(BINDIR)/sagellm-bench-mpi
MPICC    ?= mpicc
LIB      := $(O)/libsagellm.a

# Keep the fuzz targets' objects (make would delete them as intermediates).
.SECONDARY:

.PHONY: all deps test linkcheck demo install uninstall clean fuzz bench

all: deps $(BIN) $(if $(MPI),$(MPIBIN))

deps:
	@sh scripts/deps.sh

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(O)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

# .incbin is not seen by -MMD.
$(O)/clients/engine_host_py_src.o: clients/engine_host.py

$(LIB): $(LIBOBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(CLIOBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLIOBJ) $(LIB) $(LIBS)

$(O)/cli/mpi_sync-mpi.o: cli/mpi_sync.c
	@mkdir -p $(dir $@)
	$(MPICC) $(ALL_CFLAGS) -DSAGELLM_MPI -MMD -MP -c $< -o $@

$(MPIBIN): $(filter-out $(O)/cli/mpi_sync.o,$(CLIOBJ)) $(O)/cli/mpi_sync-mpi.o $(LIB)
	@mkdir -p $(dir $@)
	$(MPICC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(O)/tests/unit-tests: $(UNITOBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(UNITOBJ) $(LIB) $(LIBS)

# Fuzz targets built as plain programs that replay a corpus (no clang needed).
$(O)/fuzz/%-regress: $(O)/tests/fuzz/%.o $(O)/tests/fuzz/regress_main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(O)/tests/fuzz/regress_main.o $(LIB) $(LIBS)

$(O)/tests/fuzz/regress_main.o: tests/fuzz/regress_main.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The scale-out tests run the MPI build too (mpirun from Debian's openmpi-bin).
test: deps $(BIN) $(MPIBIN) $(O)/tests/unit-tests $(FUZZREG)
	@O=$(O) BIN=$(abspath $(BIN)) MPIBIN=$(abspath $(MPIBIN)) bash tests/run.sh

# The README's folder dependency order, checked on the built objects (also run by test).
linkcheck: $(BIN)
	@bash tests/linkcheck.sh $(O)

demo: deps $(BIN)
	@BIN=$(abspath $(BIN)) bash scripts/demo.sh

bench: deps $(BIN)
	@BIN=$(abspath $(BIN)) bash bench/run-all.sh

# libFuzzer builds (clang). Run e.g.: build-fuzz/fuzz_trace_line tests/fuzz/corpus/trace_line
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -I. -DSAGELLM_VERSION=\"$(VERSION)\" \
               -fsanitize=fuzzer,address,undefined \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
fuzz: deps
	@mkdir -p build-fuzz
	@for f in $(FUZZSRC); do n=$$(basename $$f .c); \
	  echo "clang $$n"; \
	  clang $(FUZZ_CFLAGS) -o build-fuzz/$$n $$f $(LIBSRC) $(LIBASM) $(LIBS) || exit 1; done

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/sagellm-bench/analysis
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/sagellm-bench
	$(if $(wildcard $(MPIBIN)),install -m 755 $(MPIBIN) $(DESTDIR)$(PREFIX)/bin/sagellm-bench-mpi)
	$(if $(wildcard analysis/*.py),install -m 644 $(wildcard analysis/*.py) $(DESTDIR)$(PREFIX)/share/sagellm-bench/analysis/)

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/sagellm-bench
	rm -rf $(DESTDIR)$(PREFIX)/share/sagellm-bench

clean:
	rm -rf build build-san build-fuzz bin

-include $(LIBOBJ:.o=.d) $(CLIOBJ:.o=.d) $(O)/cli/mpi_sync-mpi.d $(UNITOBJ:.o=.d) $(FUZZSRC:%.c=$(O)/%.d)
