/*
 * cpuburn: CPU-bound numalens test guest.
 *
 * Integer arithmetic (xorshift, multiply, add) over a 4 KiB table, so the
 * working set stays in L1 and the loop is bound by the core, not memory.
 *
 * Command line (multiboot; with libvirt: <cmdline>):
 *   mode=burn  loop forever (default)
 *   mode=idle  print the banner and `hlt` forever (no CPU use)
 *   every=S    heartbeat line on COM1 about every S seconds (default 5)
 *   beat=N     instead: heartbeat every N rounds of 2^16 iterations
 */
#include "guest.h"

#define TABLE_WORDS 1024u /* 4 KiB */
#define ROUND (1u << 16)

static u32 table[TABLE_WORDS];
volatile u32 cpuburn_sink;

static u32 round_work(u32 x)
{
	u32 acc = 0;

	for (u32 i = 0; i < ROUND; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		u32 j = x & (TABLE_WORDS - 1);
		table[j] = table[j] * 2654435761u + x;
		acc += table[(j + 7) & (TABLE_WORDS - 1)] ^ (x >> 3);
	}
	cpuburn_sink = acc;
	return x;
}

void guest_main(u32 magic, const struct mb_info *mbi)
{
	struct beat beat;

	serial_init();
	if (magic != MB_BOOT_MAGIC)
		mbi = 0;
	cmdline_save(mbi);
	con_puts("\nnumalens-guest cpuburn starting\n");
	con_puts("cpuburn: cmdline: ");
	con_puts(guest_cmdline);
	con_puts("\n");

	if (cmdline_is("mode", "idle")) {
		con_puts("cpuburn: mode=idle, halting\n");
		halt_forever();
	}
	con_puts("cpuburn: mode=burn table=4KiB\n");

	beat_init(&beat);
	u32 x = 0x9e3779b9u, rounds = 0;
	for (;;) {
		x = round_work(x);
		rounds++;
		if (beat_tick(&beat) || rounds == 1) {
			con_puts("cpuburn: alive rounds=");
			con_u32(rounds);
			con_puts("\n");
		}
	}
}
