# slad: build, install, package. The build itself is SwiftPM; this file only names the steps.
#
#   make                      release build (Swift runtime linked statically)
#   make install              binaries, units, man pages, /etc/slad (kept when present)
#   make install DESTDIR=DIR  into a staging root (no users, no systemctl)
#   make deb                  dist/slad_VERSION_ARCH.deb (dpkg-deb)
#
# BIN_DIR=DIR installs already built binaries instead of building (the tests pass the
# debug build this way).

PREFIX ?= /usr
DESTDIR ?=
BIN_DIR ?=
SWIFT ?= swift
SWIFT_FLAGS ?= -c release --static-swift-stdlib

.PHONY: all build install deb

all: build

build:
ifeq ($(BIN_DIR),)
	$(SWIFT) build $(SWIFT_FLAGS) --product slad
	$(SWIFT) build $(SWIFT_FLAGS) --product slactl
endif

install: build
	scripts/install.sh --prefix "$(PREFIX)" --bin-dir "$(or $(BIN_DIR),$(shell $(SWIFT) build $(SWIFT_FLAGS) --show-bin-path))" $(if $(DESTDIR),--destdir "$(DESTDIR)")

deb: build
	scripts/deb.sh --bin-dir "$(or $(BIN_DIR),$(shell $(SWIFT) build $(SWIFT_FLAGS) --show-bin-path))"
