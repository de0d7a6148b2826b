/*
 * memburn: memory-bound numalens test guest.
 *
 * Finds usable RAM in the multiboot memory map and, forever, writes 4 bytes
 * every `stride` bytes across a buffer that starts at 2 MiB. Each pass
 * writes the pass number, so every pass dirties every touched cache line.
 *
 * Command line (multiboot; with libvirt: <cmdline>):
 *   stride=N   bytes between writes (default 64, min 4, max 1 MiB)
 *   size=MiB   buffer size cap (default 512; clamped to the RAM found)
 *   mode=burn  loop forever (default)
 *   mode=touch one pass over the buffer (memory becomes resident), then halt
 *   mode=idle  print the banner and halt right away
 *   every=S    heartbeat line on COM1 about every S seconds (default 5),
 *              checked after each pass
 *   beat=N     instead: heartbeat every N passes
 */
#include "guest.h"

#define MIB (1024u * 1024u)
#define BUF_LO (2u * MIB)

static void say_u32(const char *key, u32 v)
{
	con_puts(key);
	con_u32(v);
}

void guest_main(u32 magic, const struct mb_info *mbi)
{
	struct ram_range ram;
	struct beat beat;
	u32 stride, size_mib, n, start, len;
	int idle, touch;

	serial_init();
	if (magic != MB_BOOT_MAGIC)
		mbi = 0;
	cmdline_save(mbi);
	con_puts("\nnumalens-guest memburn starting\n");
	con_puts("memburn: cmdline: ");
	con_puts(guest_cmdline);
	con_puts("\n");

	stride = cmdline_u32("stride", 64);
	if (stride < 4)
		stride = 4;
	if (stride > MIB)
		stride = MIB;
	size_mib = cmdline_u32("size", 512);
	if (size_mib == 0)
		size_mib = 1;
	if (size_mib > 4095)
		size_mib = 4095;
	idle = cmdline_is("mode", "idle");
	touch = cmdline_is("mode", "touch");

	if (!find_ram(mbi, BUF_LO, &ram)) {
		con_puts("memburn: no usable RAM above 2 MiB found, halting\n");
		halt_forever();
	}
	start = ram.start;
	len = ram.end - ram.start;
	if (len > size_mib * MIB)
		len = size_mib * MIB;
	if (len < 4) {
		con_puts("memburn: buffer too small, halting\n");
		halt_forever();
	}
	n = (len - 4) / stride + 1; /* writes per pass */

	con_puts("memburn: mode=");
	con_puts(idle ? "idle" : touch ? "touch" : "burn");
	say_u32(" stride=", stride);
	con_puts(" buf=");
	con_hex(start);
	con_puts("-");
	con_hex(start + len);
	say_u32(" (", len / MIB);
	say_u32(" MiB) writes/pass=", n);
	con_puts("\n");

	if (idle) {
		con_puts("memburn: idle, halting\n");
		halt_forever();
	}

	beat_init(&beat);
	u32 pass = 0;
	for (;;) {
		u32 addr = start;
		pass++;
		for (u32 i = 0; i < n; i++, addr += stride)
			*(volatile u32 *)addr = pass;
		if (touch) {
			con_puts("memburn: buffer touched once, halting\n");
			halt_forever();
		}
		if (beat_tick(&beat) || pass == 1) {
			say_u32("memburn: alive pass=", pass);
			con_puts("\n");
		}
	}
}
