# SPDX-License-Identifier: GPL-2.0
#
# memdriver: the module is described in Kbuild; this Makefile only drives
# kbuild and builds the user-space tool.
#
#   make                     module + memdriver_test for the running kernel
#   make KDIR=<headers dir>  against other kernel headers
#   make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- KDIR=...   cross build
#   make install / uninstall  into /lib/modules/<release>/updates, then depmod;
#                            INSTALL_MOD_PATH=<root> installs under a staging root
#   sudo make dkms-install   DKMS builds it now and for every new kernel;
#                            an updated checkout replaces the old version
#   sudo make dkms-uninstall
#   make deb                 Debian packages memdriver-dkms and memdriver-tools
#   make demo                build, boot a QEMU guest, load, run the demo
#   make check               the whole test suite (static checks + 6 kernels)

# Given only KDIR, the release is the one those headers were built as (Debian's
# include/config/kernel.release holds the upstream version, not the uname -r).
ifdef KDIR
KVER ?= $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
	$(KDIR)/include/generated/utsrelease.h 2>/dev/null)
else
KVER ?= $(shell uname -r)
KDIR := /lib/modules/$(KVER)/build
endif
INSTALL_MOD_DIR ?= updates
# kbuild runs in KDIR, so a relative staging root must be made absolute here.
MOD_ROOT := $(abspath $(INSTALL_MOD_PATH))
MOD_DEST := $(MOD_ROOT)/lib/modules/$(KVER)/$(INSTALL_MOD_DIR)
DEPMOD := depmod $(if $(MOD_ROOT),-b $(MOD_ROOT)) $(KVER)

USER_CC ?= $(CROSS_COMPILE)gcc
# -Werror only where the test command asks for it (USER_WERROR=-Werror): a
# newer compiler's new warning must not stop a learner's or a package's build.
USER_WERROR ?=
USER_CFLAGS ?= -O2 -g -std=gnu11 -Wall -Wextra -Wshadow -Wformat=2 $(USER_WERROR)
# 64 KiB segment alignment: loadable on 4, 16 and 64 KiB page kernels
# (the Pi 5 uses 16 KiB; armhf links for 4 KiB by default).
USER_LDFLAGS ?= -pthread -Wl,-z,max-page-size=0x10000
# Static, since the test guests' initramfs has no libc; the Debian package
# links it dynamically (USER_STATIC= in debian/rules).
USER_STATIC ?= -static

all: modules memdriver_test

# Without the kernel's headers kbuild stops with a bare "No such file or
# directory": say which package holds them.
define check_kdir
	@test -d "$(KDIR)" || { \
	echo "memdriver: no kernel headers in $(KDIR) (kernel $(KVER))."; \
	echo "  Install the running kernel's: sudo apt install linux-headers-$(KVER)"; \
	echo "  (on Raspberry Pi OS also linux-headers-rpi-2712 for kernel_2712, the"; \
	echo "  Pi 5's, or linux-headers-rpi-v8 for kernel8.img), or name them: make KDIR=..."; \
	exit 1; } >&2
endef

modules:
	$(check_kdir)
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# The test DMA engine (tests/testdma/): for the test guests, never installed.
testdma:
	$(check_kdir)
	$(MAKE) -C $(KDIR) M=$(CURDIR)/tests/testdma modules

# The suite's cases and modes live in tests/, one file a subject.
TEST_SRCS := memdriver_test.c $(wildcard tests/*.c)

# The version's one home is debian/changelog (--version prints it).
VERSION := $(shell head -n1 debian/changelog 2>/dev/null | cut -d' ' -f2 | tr -d '()')

# CPPFLAGS, CFLAGS and LDFLAGS, if set, come last: a distribution's own
# (dpkg-buildflags: hardening) on top of the tool's.
memdriver_test: $(TEST_SRCS) memdriver.h $(wildcard tests/*.h)
	$(USER_CC) $(USER_CFLAGS) -DMEMDRIVER_VERSION='"$(or $(VERSION),unknown)"' \
		$(CPPFLAGS) $(CFLAGS) -o $@ $(TEST_SRCS) \
		$(USER_LDFLAGS) $(USER_STATIC) $(LDFLAGS)

# kbuild skips depmod when the headers lack System.map (Debian's do), so run it
# here. The module may come out signed and compressed (memdriver.ko.xz).
install: modules
	@test -n "$(KVER)" || { echo "cannot tell the kernel release; set KVER" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(MOD_ROOT) \
		INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) modules_install
	$(DEPMOD)

uninstall:
	@test -n "$(KVER)" || { echo "cannot tell the kernel release; set KVER" >&2; exit 1; }
	rm -f $(MOD_DEST)/memdriver.ko*
	test ! -d $(MOD_ROOT)/lib/modules/$(KVER) || $(DEPMOD)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/tests/testdma clean
	rm -f memdriver_test

# DKMS from this checkout, as root: scripts/dkms.sh.
dkms-install:
	scripts/dkms.sh install

dkms-uninstall:
	scripts/dkms.sh uninstall

# The Debian packages memdriver-dkms and memdriver-tools, for this machine
# and arm64 (cross-built), into DEB_OUT: scripts/build-deb.sh.
DEB_OUT ?= $(CURDIR)
deb:
	scripts/build-deb.sh "$(DEB_OUT)"

demo:
	scripts/demo.sh

check:
	scripts/test.sh

.PHONY: all modules testdma install uninstall dkms-install dkms-uninstall clean deb demo \
	check
