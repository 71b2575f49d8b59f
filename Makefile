# agentd: GNU make. `make` builds bin/agentd, bin/agentctl, bin/agent-mock.
# `make check` runs every test; `make demo` runs the main job; `make deps`
# installs the Debian packages. SANITIZE=1 builds with ASan+UBSan into
# build-asan/ (binaries in build-asan/bin/).

PKGS	 = libcurl sqlite3 libevent jansson libpq
DEBS	 = libcurl4-openssl-dev libsqlite3-dev libevent-dev libjansson-dev \
	   libcmocka-dev pkg-config sqlite3 curl python3 postgresql libpq-dev \
	   faketime

CC	?= cc
OPT	?= -O2 -g
WARN	 = -Wall -Wextra -Wpedantic -Wformat=2 -Wshadow \
	   -Wmissing-prototypes -Wstrict-prototypes -Wwrite-strings
ifeq ($(WERROR),1)
WARN	+= -Werror
endif

ifeq ($(SANITIZE),1)
B	 = build-asan
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
else
B	 = build
SANFLAGS =
endif
BIN	 = $(if $(filter 1,$(SANITIZE)),$(B)/bin,bin)

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# agentctl runs once per command, so it links only what it uses: jansson,
# and SQLite for working on the store while agentd is down (offline.c).
# libpq is opened only when an offline command meets a PostgreSQL store
# (cmd/agentctl/pq-dl.c): linked, it and its dependencies cost each start
# 6-7 ms.
CTL_LIBS   := $(shell pkg-config --libs sqlite3 jansson 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS	+= -std=c11 $(OPT) $(WARN) $(SANFLAGS)
CPPFLAGS += -D_GNU_SOURCE -Ilib -I$(B) $(PKG_CFLAGS)
LDFLAGS	+= $(SANFLAGS)
LDLIBS	+= $(PKG_LIBS) -lm

LIB_SRCS   = $(sort $(wildcard lib/*.c))
LIB_OBJS   = $(LIB_SRCS:%.c=$(B)/%.o) $(B)/schema_sql.o $(B)/schema_pg_sql.o
AGENTD_SRCS = $(sort $(wildcard cmd/agentd/*.c))
CTL_SRCS   = $(sort $(wildcard cmd/agentctl/*.c))
MOCK_SRCS  = $(sort $(wildcard cmd/agent-mock/*.c))
SCHEMA	   = $(sort $(wildcard schema/[0-9][0-9][0-9]_*.sql))
SCHEMA_PG  = $(sort $(wildcard schema/pg/[0-9][0-9][0-9]_*.sql))
UNIT_SRCS  = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)

PROGS	 = $(BIN)/agentd $(BIN)/agentctl $(BIN)/agent-mock

.PHONY: all deps check unit integration demo bench chaos fuzz fuzz-build \
	fuzz-deps clean install
all: $(PROGS)

HDRS	 = $(wildcard lib/*.h cmd/*/*.h)

$(B)/%.o: %.c $(HDRS) | $(B)/lib
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/lib:
	@mkdir -p $@

# The schema migrations are embedded in the binary as a C array.
$(B)/schema_sql.c: $(SCHEMA) tests/gen-schema.sh | $(B)/lib
	sh tests/gen-schema.sh $(SCHEMA) > $@.tmp && mv $@.tmp $@

$(B)/schema_sql.o: $(B)/schema_sql.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/schema_pg_sql.c: $(SCHEMA_PG) tests/gen-schema.sh | $(B)/lib
	SCHEMA_ARRAY=schema_pg_migrations sh tests/gen-schema.sh $(SCHEMA_PG) > $@.tmp && mv $@.tmp $@

$(B)/schema_pg_sql.o: $(B)/schema_pg_sql.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libagentd.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BIN)/agentd: $(AGENTD_SRCS:%.c=$(B)/%.o) $(B)/libagentd.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/agentctl: $(CTL_SRCS:%.c=$(B)/%.o) $(B)/libagentd.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CTL_LIBS) -lm

$(BIN)/agent-mock: $(MOCK_SRCS:%.c=$(B)/%.o) $(B)/libagentd.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/unit/%.c tests/unit/harness.c tests/unit/harness.h \
    $(B)/libagentd.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< \
	    tests/unit/harness.c $(B)/libagentd.a $(LDLIBS) $(CMOCKA_LIBS)

deps:
	@sh tests/deps.sh $(DEBS)

# libFuzzer targets (clang), in build-fuzz/: lib/ compiled with coverage
# and ASan+UBSan, one binary per tests/fuzz/fuzz_*.c.
FZ		 = build-fuzz
FUZZ_CC		?= clang
FUZZ_SECONDS	?= 30
FUZZ_SRCS	 = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS	 = $(FUZZ_SRCS:tests/fuzz/%.c=$(FZ)/%)
FUZZ_CFLAGS	 = -std=c11 -g -O1 -fno-omit-frame-pointer \
		   -fsanitize=address,undefined
FUZZ_LIB_OBJS	 = $(LIB_SRCS:%.c=$(FZ)/%.o) $(FZ)/schema_sql.o \
		   $(FZ)/schema_pg_sql.o

fuzz-deps:
	@sh tests/deps.sh clang libclang-rt-14-dev

$(FZ)/%.o: %.c $(wildcard lib/*.h cmd/agentctl/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -I$(B) $(FUZZ_CFLAGS) \
	    -fsanitize=fuzzer-no-link -c -o $@ $<

$(FZ)/schema_sql.o: $(B)/schema_sql.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

$(FZ)/schema_pg_sql.o: $(B)/schema_pg_sql.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

$(FZ)/libagentd.a: $(FUZZ_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

# The batch file parser lives in agentctl.
$(FZ)/fuzz_batch: tests/fuzz/fuzz_batch.c $(FZ)/cmd/agentctl/batch-lines.o \
    $(FZ)/libagentd.a
	$(FUZZ_CC) $(CPPFLAGS) -Icmd/agentctl $(FUZZ_CFLAGS) -fsanitize=fuzzer \
	    -o $@ $< $(FZ)/cmd/agentctl/batch-lines.o $(FZ)/libagentd.a \
	    $(LDLIBS)

# So is its HTTP response parser.
$(FZ)/fuzz_http_resp: tests/fuzz/fuzz_http_resp.c \
    $(FZ)/cmd/agentctl/http-resp.o $(FZ)/libagentd.a
	$(FUZZ_CC) $(CPPFLAGS) -Icmd/agentctl $(FUZZ_CFLAGS) -fsanitize=fuzzer \
	    -o $@ $< $(FZ)/cmd/agentctl/http-resp.o $(FZ)/libagentd.a \
	    $(LDLIBS)

$(FZ)/fuzz_%: tests/fuzz/fuzz_%.c $(FZ)/libagentd.a
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(FZ)/libagentd.a $(LDLIBS)

fuzz-build: deps fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

# make fuzz [FUZZ_SECONDS=600]: every target for that long.
fuzz: fuzz-build
	@FUZZ_DIR=$(FZ) FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

unit: $(UNIT_BINS) $(B)/tests/pg_smoke

# The PostgreSQL engine's checks against a live server (test_store_pg.sh).
$(B)/tests/pg_smoke: tests/pg/smoke_write.c $(B)/libagentd.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libagentd.a \
	    $(LDLIBS)

# make check [SANITIZE=1] [CHECK_FUZZ_SECONDS=30] [VALGRIND_TESTS="a b"]:
# unit and integration tests; each fuzz target for that many seconds; the
# named integration scripts again with agentd under valgrind.
check: deps $(if $(CHECK_FUZZ_SECONDS),fuzz-build)
	@$(MAKE) --no-print-directory all unit
	@BIN=$(BIN) UNIT_DIR=$(B)/tests FUZZ_DIR=$(FZ) \
	    FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS) \
	    VALGRIND_TESTS="$(VALGRIND_TESTS)" sh tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@BIN=$(BIN) sh tests/demo.sh

# make bench [PEER_DIR=../shared/bench/peer-openai-node] [QUICK=1]:
# agentd against the reference peer on the same agent-mock (the peer is
# skipped, and said so, without PEER_DIR); tests/bench/bench.sh says how.
QUICK	?= 0
bench: deps
	@$(MAKE) --no-print-directory all build/bench-limit \
	    $(if $(filter postgres pg postgresql,$(STORE)),build/bench-limit-pg)
	@BIN=$(BIN) PEER_DIR=$(PEER_DIR) QUICK=$(QUICK) STORE="$(STORE)" \
	    LIMIT_BIN=build/bench-limit LIMIT_PG_BIN=build/bench-limit-pg \
	    sh tests/bench/bench.sh

build/bench-limit: tests/bench/limit.c
	@mkdir -p build
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra \
	    $(shell pkg-config --cflags sqlite3) -o $@ $< \
	    $(shell pkg-config --libs sqlite3)

# The PostgreSQL ceiling (make bench STORE=postgres, scenario pg_limit).
build/bench-limit-pg: tests/bench/limit-pg.c
	@mkdir -p build
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra \
	    $(shell pkg-config --cflags libpq) -o $@ $< \
	    $(shell pkg-config --libs libpq)

# make chaos [ROUNDS=200]: SIGKILL agentd and workers at random moments
# while agent-mock injects faults; checks every event against ground truth.
ROUNDS	?= 20
chaos: deps
	@$(MAKE) --no-print-directory all
	@BIN=$(BIN) ROUNDS=$(ROUNDS) STORE="$(STORE)" HOSTS="$(HOSTS)" \
	    sh tests/chaos/chaos.sh

# make install [PREFIX=/usr/local] [DESTDIR=...]: programs, man pages,
# bash completion, the systemd unit and the cron wrapper.
PREFIX	?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 755 bin/agentd bin/agentctl bin/agent-mock \
	    $(DESTDIR)$(PREFIX)/bin/
	install -m 644 contrib/man/agentctl.1 contrib/man/agent-mock.1 \
	    $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 contrib/man/agentd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 contrib/completion/agentctl.bash \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/agentctl
	install -m 644 contrib/systemd/agentd.service \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/
	if [ -f contrib/cron/agentd-batch ]; then \
	    install -m 755 contrib/cron/agentd-batch $(DESTDIR)$(PREFIX)/bin/; fi

clean:
	rm -rf build build-asan build-fuzz bin
