# Make fragment for the numalens test guests (freestanding 32-bit multiboot
# ELF kernels that QEMU boots with -kernel). Included by the top-level
# Makefile; can also be used alone: make -f tests/guest/guest.mk guests
#
# Needs only the system gcc and binutils (no gcc-multilib: nothing links
# against a 32-bit libc or libgcc).
#
# Targets: $(BUILD)/guest/memburn.elf, $(BUILD)/guest/cpuburn.elf, guests,
#          guests-clean

BUILD ?= build

# Directory of this fragment, relative to where make runs (must be computed
# before any other include changes MAKEFILE_LIST).
GUEST_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

# Keep whatever default goal the including Makefile has (or has not yet)
# chosen: the rules below must not become the default goal. Used alone
# (make -f tests/guest/guest.mk), the default goal is `guests`.
GUEST_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)
ifeq ($(words $(MAKEFILE_LIST)),1)
GUEST_SAVED_DEFAULT_GOAL := guests
endif

GUEST_CC ?= gcc
GUEST_LD ?= ld
GUEST_CFLAGS ?= -m32 -march=i686 -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables -mno-sse -mno-mmx \
	-mno-80387 -nostdlib -O2 -Wall -Wextra -std=gnu11
GUEST_LDFLAGS ?= -m elf_i386 -nostdlib --build-id=none -z noexecstack \
	$(shell $(GUEST_LD) --help 2>/dev/null | grep -q -- --no-warn-rwx-segments \
		&& echo --no-warn-rwx-segments)

GUEST_OUT := $(BUILD)/guest
GUEST_HDRS := $(GUEST_DIR)/guest.h
GUEST_LDS := $(GUEST_DIR)/link.ld
GUEST_COMMON_OBJS := $(GUEST_OUT)/boot.o $(GUEST_OUT)/lib.o
GUEST_ELFS := $(GUEST_OUT)/memburn.elf $(GUEST_OUT)/cpuburn.elf

.PHONY: guests guests-clean
guests: $(GUEST_ELFS)

# Static pattern rules: they win over any generic $(BUILD)/%.o rule of the
# including Makefile.
$(GUEST_OUT)/lib.o $(GUEST_OUT)/memburn.o $(GUEST_OUT)/cpuburn.o: \
		$(GUEST_OUT)/%.o: $(GUEST_DIR)/%.c $(GUEST_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_OUT)/boot.o: $(GUEST_DIR)/boot.S
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_ELFS): $(GUEST_OUT)/%.elf: $(GUEST_OUT)/%.o $(GUEST_COMMON_OBJS) $(GUEST_LDS)
	$(GUEST_LD) $(GUEST_LDFLAGS) -T $(GUEST_LDS) -o $@ \
		$(GUEST_COMMON_OBJS) $<

guests-clean:
	rm -rf $(GUEST_OUT)

.DEFAULT_GOAL := $(GUEST_SAVED_DEFAULT_GOAL)
