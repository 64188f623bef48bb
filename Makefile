# caulk — build, run and test on Debian 12 (run as root, or with sudo available).
#
#   make run    install what is missing, build, start the service on SQLite (var/caulk.db)
#   make test   install what is missing, build, run the whole test suite
#   make package  the release binary with its systemd unit, config, completions and man pages as
#               dist/caulk-VERSION-linux-ARCH.tar.gz (and a source RPM where rpmbuild is installed)
#   make lint   swift-format's findings against .swift-format (advice; the tree predates it)
#   make format rewrite changed Swift files in place with swift-format
#
# CONFIG=release builds optimised binaries (slower to build).

SWIFT   ?= $(shell command -v swift || echo /opt/swift/usr/bin/swift)
CONFIG  ?= debug
BIN     := .build/$(CONFIG)/caulk
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# System packages: SQLite for the store, libssh2 for the SSH engine. The test lab's own list is
# lab/packages.txt (installed by lab/install-deps.sh).
RUN_PACKAGES  := libsqlite3-dev libssh2-1-dev pkg-config
# What the tests and proofs use besides the lab: a venv (schemathesis comes from PyPI), the
# browser the dashboard is tried in, openssl for the HTTPS tests' certificates, promtool (package
# prometheus) for /metrics and contrib/'s alert rules, Alertmanager for the webhooks' alerts,
# systemd-analyze for the package proof.
PROOF_PACKAGES := python3-venv chromium-headless-shell openssl prometheus prometheus-alertmanager systemd

.PHONY: run test build deps test-deps apt-install swift-test lab-test proofs package lint format clean help

help:
	@sed -n 's/^#   //p' Makefile

run: deps build
	mkdir -p var
	$(BIN) serve --bootstrap-token-file var/admin.token

test: test-deps
	$(SWIFT) build --build-tests -c $(CONFIG)
	$(MAKE) --no-print-directory swift-test lab-test proofs

# lab6 is set up unlike our defaults, as fleets built elsewhere are (MixedFleetTests).
MIXED_VARIANT := lab6:fqdn,no-vxlan-mac,big-ruleset,operator,calico=3.27.3,sudo

# The Swift suites' fleet tests run against a lab fleet brought up here and taken down after
# (any lab already up is replaced). The lab's own suite then brings up its own. Tests run one at
# a time: on two cores shared with 30 lab nodes, suites side by side starved each other's sockets.
swift-test:
	@lab/caulk-lab down >/dev/null 2>&1 || true
	lab/caulk-lab up --clusters 6 --nodes 6 --variant $(MIXED_VARIANT)
	@$(SWIFT) test --skip-build --no-parallel -c $(CONFIG); rc=$$?; lab/caulk-lab down; exit $$rc

lab-test:
	lab/tests/run.sh

# Proofs against the built binary: the API against its OpenAPI document (schemathesis, from PyPI),
# the dashboard in headless Chromium on a generated history, and kill -9 of the service at 20
# moments of a repair on a lab cluster of its own.
proofs:
	Tests/proofs/package.sh
	BIN=$(BIN) Tests/proofs/schemathesis.sh
	BIN=$(BIN) Tests/proofs/dashboard.sh
	BIN=$(BIN) Tests/proofs/kill-repair.sh

build:
	$(SWIFT) build -c $(CONFIG) --product caulk

# The package's layout: / of a host (usr/bin, usr/lib/systemd/system, etc/caulk, man pages,
# completions, var/lib/caulk). PACKAGE_CONFIG=debug reuses the debug build (the package proof
# does, to check the layout and the unit without a release build).
VERSION        := $(shell sed -n 's/.*version: "\([0-9.]*\)".*/\1/p' Sources/CaulkCLI/CaulkCommand.swift)
PACKAGE_CONFIG ?= release
STAGE          := dist/caulk-$(VERSION)
TARBALL        := dist/caulk-$(VERSION)-linux-$(shell uname -m).tar.gz
# A release package links the Swift runtime and Foundation in (--static-swift-stdlib): the host
# needs only libssh2 and libsqlite3, not a Swift toolchain. (A debug one does not: it is for
# checking the layout.) The man pages come first: their plugin builds caulk its own way.
STATIC_STDLIB  := $(if $(filter release,$(PACKAGE_CONFIG)),--static-swift-stdlib,)
package: deps
	$(SWIFT) package plugin generate-manual --configuration $(PACKAGE_CONFIG) --multi-page
	$(SWIFT) build -c $(PACKAGE_CONFIG) --product caulk $(STATIC_STDLIB)
	rm -rf $(STAGE) && mkdir -p $(STAGE)/usr/share/man/man1 $(STAGE)/usr/share/doc/caulk
	install -D -m 0755 -s .build/$(PACKAGE_CONFIG)/caulk $(STAGE)/usr/bin/caulk
	install -D -m 0644 packaging/caulk.service $(STAGE)/usr/lib/systemd/system/caulk.service
	install -D -m 0640 packaging/caulk.yaml $(STAGE)/etc/caulk/caulk.yaml
	install -d -m 0750 $(STAGE)/etc/caulk/playbooks $(STAGE)/var/lib/caulk
	install -d $(STAGE)/usr/share/bash-completion/completions $(STAGE)/usr/share/zsh/site-functions $(STAGE)/usr/share/fish/vendor_completions.d
	$(STAGE)/usr/bin/caulk --generate-completion-script bash > $(STAGE)/usr/share/bash-completion/completions/caulk
	$(STAGE)/usr/bin/caulk --generate-completion-script zsh > $(STAGE)/usr/share/zsh/site-functions/_caulk
	$(STAGE)/usr/bin/caulk --generate-completion-script fish > $(STAGE)/usr/share/fish/vendor_completions.d/caulk.fish
	install -m 0644 .build/plugins/GenerateManual/outputs/caulk/*.1 $(STAGE)/usr/share/man/man1/
	cp -r README.md docs contrib $(STAGE)/usr/share/doc/caulk/
	tar -C dist --owner=0 --group=0 -czf $(TARBALL) caulk-$(VERSION)
	@echo "package: $(TARBALL) ($$(du -h $(TARBALL) | cut -f1)); the caulk user and group are made by the RPM, or by hand: useradd -r caulk"
	@if command -v rpmbuild >/dev/null; then \
		mkdir -p dist/rpm/SOURCES && git archive --prefix=caulk-$(VERSION)/ -o dist/rpm/SOURCES/caulk-$(VERSION).tar.gz HEAD && \
		rpmbuild --define "_topdir $$(pwd)/dist/rpm" -bs packaging/caulk.spec; \
	else echo "package: no rpmbuild here, so no RPM; on RHEL 9: rpmbuild -ba packaging/caulk.spec (see its header)"; fi

# swift-format ships with the toolchain; .swift-format holds the project's settings.
lint:
	$(SWIFT) format lint --recursive Package.swift Sources Tests

# Only the Swift files changed since HEAD, so a commit reformats what it touches and no more.
format:
	git diff --name-only --diff-filter=AM HEAD -- '*.swift' | xargs -r $(SWIFT) format --in-place

deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(RUN_PACKAGES)"

test-deps: deps
	@sh lab/install-deps.sh
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(PROOF_PACKAGES)"

# Installs only what dpkg does not already have, so a prepared machine needs no network.
apt-install:
	@test -x "$(SWIFT)" || { echo "Swift 6.2+ is required: put swift on PATH (expected at /opt/swift/usr/bin)"; exit 1; }
	@missing=$$(for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf .build
