# Depot: the two commands of the README, and what they build on.
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)
SWIFT ?= swift
PYTHON := $(CURDIR)/.venv/bin/python

.PHONY: all deps build build-debug run test unit fuzz-build integration integration-sqlite integration-postgresql clean bench

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product depot
	$(SWIFT) build -c release --product depotctl

build-debug: deps
	$(SWIFT) build --product depot
	$(SWIFT) build --product depotctl

## make run: the whole stack on loopback (DEPOT_PORT, DEPOT_RUN_DIR, DEPOT_DATABASE, DEPOT_ANTIVIRUS), in the foreground.
run: build
	$(PYTHON) scripts/run.py

## make test: the fuzz targets built (not run), unit tests, then integration
## tests against real nginx, workers and SeaweedFS, once on SQLite and once
## on PostgreSQL.
test: deps build-debug fuzz-build unit integration

# The metadata tests run on SQLite and, against a throwaway server
# (DEPOT_TEST_POSTGRESQL_URL, DEPOT_TEST_POSTGRESQL_PASSWORD_FILE), on PostgreSQL.
unit:
	$(SWIFT) build --build-tests
	$(PYTHON) scripts/postgres_server.py run -- $(SWIFT) test --skip-build

# Builds every libFuzzer target without running it, so a refactor cannot
# break them unseen (make reliability runs them).
fuzz-build:
	scripts/fuzz.sh all 0

integration: integration-sqlite integration-postgresql

integration-sqlite:
	DEPOT_BUILD=debug DEPOT_TEST_DATABASE=sqlite $(PYTHON) -m pytest -q Tests/integration

integration-postgresql:
	DEPOT_BUILD=debug DEPOT_TEST_DATABASE=postgresql $(PYTHON) -m pytest -q Tests/integration

clean:
	rm -rf .build .build-fuzz .run

## make bench: Depot's figures next to same-run baselines (release build); writes bench/results.json.
bench: build
	$(PYTHON) scripts/bench.py $(BENCH_ARGS)

# ---------------------------------------------------------------------------
# Operations: install on this host, or build a Debian package
# (docs/OPERATIONS.md). make install puts the program under /usr/local and
# the units in /etc/systemd/system; the package follows Debian's layout:
# /usr/bin, /usr/lib/depot, /usr/share/depot, units in /lib/systemd/system.
# Both keep the configuration in /etc/depot.
.PHONY: build-dist install install-files uninstall deb

DESTDIR ?=
## make install: binaries from BIN_SRC (make build's output; they use the Swift
## runtime of this machine's toolchain). make deb links it in (make build-dist).
BIN_SRC ?= .build/release
DIST_SCRATCH ?= .build-dist
DEPOT_VERSION ?= 0.1.0
# Evaluated once: the commit count names the package (monotonic on main).
DEPOT_GIT_COUNT := $(shell git rev-list --count HEAD 2>/dev/null || echo 0)
DEB_VERSION ?= $(DEPOT_VERSION)+git$(DEPOT_GIT_COUNT)
DEB_ARCH ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_STAGE := dist/stage/depot_$(DEB_VERSION)_$(DEB_ARCH)
DEB_FILE := dist/depot_$(DEB_VERSION)_$(DEB_ARCH).deb
DEPOT_UNITS := depot.socket depot-upload.socket depot.service depot-gc.service depot-gc.timer depot-backup.service depot-backup.timer
DEPOT_NGINX_TEMPLATES := depot-site.conf.in depot-http.conf.in depot-server.conf.in fastcgi_params.in
# 1: replace /etc/depot/depot.conf and nginx.env (package staging); 0: keep existing ones.
ETC_OVERWRITE ?= 0
# Where install-files puts the program and the units (the package overrides both).
PREFIX ?= /usr/local
UNITDIR ?= /etc/systemd/system
# Rewrites make install's paths in text files to name PREFIX.
RELOCATE = sed -i 's\#/usr/local/\#$(PREFIX)/\#g'

## make build-dist: release binaries with the Swift runtime linked in, for other hosts.
build-dist: deps
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(DIST_SCRATCH) --product depot
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(DIST_SCRATCH) --product depotctl

# The file layout, under $(DESTDIR): shared by install and deb. The files
# name their paths as make install lays them out (/usr/local/...); under
# another PREFIX the installed scripts, templates and units are rewritten to
# name it (OPERATIONS.md describes both).
install-files:
	@for b in depot depotctl; do test -x $(BIN_SRC)/$$b || { echo "no $(BIN_SRC)/$$b: run make build (or make build-dist)"; exit 1; }; done
	install -d -m 0755 $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/depot $(DESTDIR)$(PREFIX)/share/depot/nginx \
		$(DESTDIR)$(PREFIX)/share/doc/depot $(DESTDIR)$(UNITDIR) $(DESTDIR)/etc/depot
	install -d -m 0700 $(DESTDIR)/etc/depot/secrets
	install -m 0755 $(BIN_SRC)/depot $(BIN_SRC)/depotctl $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 scripts/depot-backup-rotate $(DESTDIR)$(PREFIX)/lib/depot/depot-backup-rotate
	install -m 0755 scripts/depot-setup-host $(DESTDIR)$(PREFIX)/lib/depot/setup-host
	install -m 0755 scripts/render-production-nginx.sh $(DESTDIR)$(PREFIX)/lib/depot/render-nginx
	install -m 0644 scripts/render_nginx.py $(DESTDIR)$(PREFIX)/lib/depot/render_nginx.py
	install -m 0644 $(addprefix nginx/,$(DEPOT_NGINX_TEMPLATES)) $(DESTDIR)$(PREFIX)/share/depot/nginx/
	install -m 0644 $(addprefix systemd/,$(DEPOT_UNITS)) $(DESTDIR)$(UNITDIR)/
	install -m 0644 docs/OPERATIONS.md docs/depot.conf.example $(DESTDIR)$(PREFIX)/share/doc/depot/
	install -m 0644 docs/grafana/depot-dashboard.json $(DESTDIR)$(PREFIX)/share/doc/depot/
	install -m 0644 nginx/depot-nginx.env.example $(DESTDIR)$(PREFIX)/share/doc/depot/nginx.env.example
	bash scripts/install-docs-assets.sh $(DESTDIR)$(PREFIX)/share/depot/docs
	@if [ "$(ETC_OVERWRITE)" = 1 ] || [ ! -e $(DESTDIR)/etc/depot/depot.conf ]; then \
		install -m 0644 docs/depot.conf.example $(DESTDIR)/etc/depot/depot.conf; \
	else echo "kept the existing $(DESTDIR)/etc/depot/depot.conf (the new example is in $(PREFIX)/share/doc/depot)"; fi
	@if [ "$(ETC_OVERWRITE)" = 1 ] || [ ! -e $(DESTDIR)/etc/depot/nginx.env ]; then \
		install -m 0644 nginx/depot-nginx.env.example $(DESTDIR)/etc/depot/nginx.env; \
		test "$(PREFIX)" = /usr/local || $(RELOCATE) $(DESTDIR)/etc/depot/nginx.env; \
	else echo "kept the existing $(DESTDIR)/etc/depot/nginx.env"; fi
	@test "$(PREFIX)" = /usr/local || \
		grep -rlIZ /usr/local/ $(DESTDIR)$(PREFIX)/lib/depot $(DESTDIR)$(PREFIX)/share/depot/nginx \
			$(DESTDIR)$(PREFIX)/share/doc/depot/nginx.env.example \
			$(addprefix $(DESTDIR)$(UNITDIR)/,$(DEPOT_UNITS)) | xargs -0 -r $(RELOCATE)

## make install: as root, onto this host; then prints the next steps. Starts nothing.
install:
	@test "$$(id -u)" = 0 || { echo "make install: run as root"; exit 1; }
	$(MAKE) --no-print-directory install-files DESTDIR= PREFIX=/usr/local UNITDIR=/etc/systemd/system
	/usr/local/lib/depot/setup-host

## make uninstall: removes the program files and units; keeps /etc/depot, data, backups, the user.
uninstall:
	@test "$$(id -u)" = 0 || { echo "make uninstall: run as root"; exit 1; }
	-if [ -d /run/systemd/system ]; then systemctl disable --now $(DEPOT_UNITS); fi
	rm -f /usr/local/bin/depot /usr/local/bin/depotctl $(addprefix /etc/systemd/system/,$(DEPOT_UNITS))
	rm -rf /usr/local/lib/depot /usr/local/share/depot /usr/local/share/doc/depot
	rm -f /etc/nginx/snippets/depot-http.conf /etc/nginx/snippets/depot-server.conf /etc/nginx/snippets/depot-fastcgi.conf \
		/etc/nginx/snippets/depot-fastcgi-upload.conf
	-if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "kept /etc/depot, /etc/nginx/sites-available/depot, /var/lib/depot, /var/backups/depot and the depot user"

## make deb: dist/depot_VERSION_ARCH.deb (dpkg-deb) in Debian's layout; make lintian checks it.
deb: build-dist
	rm -rf $(DEB_STAGE) $(DEB_FILE)
	$(MAKE) --no-print-directory install-files DESTDIR=$(CURDIR)/$(DEB_STAGE) BIN_SRC=$(DIST_SCRATCH)/release ETC_OVERWRITE=1 \
		PREFIX=/usr UNITDIR=/lib/systemd/system
	strip --strip-unneeded --remove-section=.comment $(DEB_STAGE)/usr/bin/depot $(DEB_STAGE)/usr/bin/depotctl
	install -m 0644 scripts/deb/copyright $(DEB_STAGE)/usr/share/doc/depot/copyright
	{ echo "depot ($(DEB_VERSION)) unstable; urgency=medium"; echo; \
	  echo "  * Built from git commit $$(git rev-parse --short HEAD 2>/dev/null || echo unknown)."; echo; \
	  echo " -- $$(sed -n 's/^Maintainer: //p' scripts/deb/control.in)  $$(date -R -d @$$(git log -1 --format=%ct 2>/dev/null || date +%s))"; \
	} | gzip -9n > $(DEB_STAGE)/usr/share/doc/depot/changelog.gz
	chmod 0644 $(DEB_STAGE)/usr/share/doc/depot/changelog.gz
	install -d -m 0755 $(DEB_STAGE)/DEBIAN
	install -m 0755 scripts/deb/postinst scripts/deb/prerm scripts/deb/postrm $(DEB_STAGE)/DEBIAN/
	{ echo /etc/depot/depot.conf; echo /etc/depot/nginx.env; } > $(DEB_STAGE)/DEBIAN/conffiles
	cd $(DEB_STAGE) && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums
	depends=$$(scripts/deb/shlibdeps.sh $(DEB_STAGE)/usr/bin/depot $(DEB_STAGE)/usr/bin/depotctl); \
	size=$$(du -sk --exclude=DEBIAN $(DEB_STAGE) | cut -f1); \
	sed -e "s/@VERSION@/$(DEB_VERSION)/" -e "s/@ARCH@/$(DEB_ARCH)/" -e "s/@INSTALLED_SIZE@/$$size/" \
	    -e "s/@DEPENDS@/$$depends, python3, passwd, libjs-chart.js/" scripts/deb/control.in > $(DEB_STAGE)/DEBIAN/control
	dpkg-deb --root-owner-group -Zxz --build $(DEB_STAGE) $(DEB_FILE)
	rm -rf dist/stage
	@echo "built $(DEB_FILE)"

## make lintian: make deb, then Debian's checks on it (installs lintian; fails on any error).
.PHONY: lintian
lintian: deb
	@command -v lintian >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q lintian; }
	lintian --fail-on error --info $(DEB_FILE)

# ---------------------------------------------------------------------------
# Reliability (issue 5). scripts/reliability/run.py starts its own stack
# (release build), runs plain load and load under faults (worker kills, store
# restart, a long SQLite write lock, nginx reloads, a full disk), verifies
# every acknowledged file and checks consistency after each, then runs the
# hostile-input, schemathesis and libFuzzer suites when present, each under a
# time budget; one summary table, exit status 1 on any failure.
# RELIABILITY_ARGS: --short (the CI form), --duration S, --clients N,
# --database postgresql, --scenarios a,b, --no-external, --keep; see run.py --help.
.PHONY: reliability
reliability: build
	$(PYTHON) scripts/reliability/run.py $(RELIABILITY_ARGS)
