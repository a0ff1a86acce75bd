# SPDX-License-Identifier: GPL-2.0
#
# memdriver: the module is described in Kbuild; this Makefile only drives
# kbuild and builds the user-space tool.
#
#   make                     module + memdriver_test for the running kernel
#   make KDIR=<headers dir>  against other kernel headers
#   make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- KDIR=...   cross build
#   make install / uninstall  (INSTALL_MOD_PATH honoured)
#   make demo                build, boot a QEMU guest, load, run the demo
#   make check               the whole test suite (static checks + 4 kernels)

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build

USER_CC ?= $(CROSS_COMPILE)gcc
USER_CFLAGS ?= -O2 -g -std=gnu11 -Wall -Wextra -Wshadow -Wformat=2 -Werror
USER_LDFLAGS ?= -static -pthread

all: modules memdriver_test

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

memdriver_test: memdriver_test.c memdriver.h
	$(USER_CC) $(USER_CFLAGS) -o $@ memdriver_test.c $(USER_LDFLAGS)

install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER)

uninstall:
	rm -f $(INSTALL_MOD_PATH)/lib/modules/$(KVER)/updates/memdriver.ko*
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -f memdriver_test

demo:
	scripts/demo.sh

check:
	scripts/test.sh

.PHONY: all modules install uninstall clean demo check
