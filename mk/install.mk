# Installing libsbert like a system library (included by the Makefile).
#
#   make install   [PREFIX=/usr/local] [DESTDIR=] [LIBDIR=$(PREFIX)/lib]
#                  [INCLUDEDIR=$(PREFIX)/include] [BINDIR=$(PREFIX)/bin]
#   make uninstall (the same variables) removes exactly what install put there
#
# Installs sbert.h, libsbert.a, libsbert.so.$(VERSION) (SONAME libsbert.so.$(SOVERSION)) and its
# two symlinks, sbert.pc for pkg-config, a CMake package (find_package(sbert) gives sbert::sbert,
# the shared library, and sbert::sbert_static) and the tools as sbert-encode and sbert-rerank. The
# version is SBERT_VERSION_STRING of include/sbert.h, the only place it is written.

PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
BINDIR       ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR     ?= $(LIBDIR)/cmake/sbert
INSTALL      ?= install

INSTALL_HEADERS = include/sbert.h
INSTALL_TOOLS   = sbert-encode sbert-rerank
# The .pc file names its directories from ${prefix} when they are inside it.
PC_LIBDIR     = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))

# The generated files are made here, then installed with their mode (written straight into place
# they would take the installer's umask, and keep an old file's mode on reinstall).
INSTALL_STAGING = $(BUILD)/install
# The path from directory $(1) to $(2), both as written: symlinks on this machine are not resolved
# (sbertConfig.cmake applies it from its own, unresolved, place; DESTDIR trees have other links).
relative_path = $(shell realpath -m -s --relative-to=$(1) $(2))

.PHONY: install uninstall
install: $(BUILD)/libsbert.a $(BUILD)/libsbert.so $(EXDIR)/encode $(EXDIR)/rerank
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR)
	$(INSTALL) -m 644 $(INSTALL_HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 644 $(BUILD)/libsbert.a $(DESTDIR)$(LIBDIR)/libsbert.a
	$(INSTALL) -m 755 $(BUILD)/$(SHLIB_REAL) $(DESTDIR)$(LIBDIR)/$(SHLIB_REAL)
	ln -sf $(SHLIB_REAL) $(DESTDIR)$(LIBDIR)/$(SHLIB_SONAME)
	ln -sf $(SHLIB_SONAME) $(DESTDIR)$(LIBDIR)/libsbert.so
	$(INSTALL) -m 755 $(EXDIR)/encode $(DESTDIR)$(BINDIR)/sbert-encode
	$(INSTALL) -m 755 $(EXDIR)/rerank $(DESTDIR)$(BINDIR)/sbert-rerank
	@mkdir -p $(INSTALL_STAGING)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(PC_LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    mk/sbert.pc.in > $(INSTALL_STAGING)/sbert.pc
	sed -e 's|@LIBDIR_FROM_CMAKEDIR@|$(call relative_path,$(CMAKEDIR),$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR_FROM_CMAKEDIR@|$(call relative_path,$(CMAKEDIR),$(INCLUDEDIR))|' \
	    -e 's|@SHLIB_REAL@|$(SHLIB_REAL)|' -e 's|@SHLIB_SONAME@|$(SHLIB_SONAME)|' \
	    mk/sbertConfig.cmake.in > $(INSTALL_STAGING)/sbertConfig.cmake
	sed -e 's|@VERSION@|$(VERSION)|' mk/sbertConfigVersion.cmake.in \
	    > $(INSTALL_STAGING)/sbertConfigVersion.cmake
	$(INSTALL) -m 644 $(INSTALL_STAGING)/sbert.pc $(DESTDIR)$(PKGCONFIGDIR)/sbert.pc
	$(INSTALL) -m 644 $(INSTALL_STAGING)/sbertConfig.cmake \
	    $(INSTALL_STAGING)/sbertConfigVersion.cmake $(DESTDIR)$(CMAKEDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(notdir $(INSTALL_HEADERS))) \
	    $(DESTDIR)$(LIBDIR)/libsbert.a $(DESTDIR)$(LIBDIR)/libsbert.so \
	    $(DESTDIR)$(LIBDIR)/$(SHLIB_SONAME) $(DESTDIR)$(LIBDIR)/$(SHLIB_REAL) \
	    $(addprefix $(DESTDIR)$(BINDIR)/,$(INSTALL_TOOLS)) $(DESTDIR)$(PKGCONFIGDIR)/sbert.pc \
	    $(DESTDIR)$(CMAKEDIR)/sbertConfig.cmake $(DESTDIR)$(CMAKEDIR)/sbertConfigVersion.cmake
	rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null || true
