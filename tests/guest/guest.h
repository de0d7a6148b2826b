/*
 * Tiny freestanding support code shared by the numalens test guests
 * (memburn, cpuburn). 32-bit, no paging, no interrupts, boot CPU only.
 */
#ifndef NUMALENS_GUEST_H
#define NUMALENS_GUEST_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define MB_BOOT_MAGIC 0x2BADB002u

/* Multiboot v1 information structure (only the fields we use). */
struct mb_info {
	u32 flags;
	u32 mem_lower, mem_upper;      /* flags bit 0, KiB */
	u32 boot_device;               /* bit 1 */
	u32 cmdline;                   /* bit 2 */
	u32 mods_count, mods_addr;     /* bit 3 */
	u32 syms[4];                   /* bits 4/5 */
	u32 mmap_length, mmap_addr;    /* bit 6 */
};

#define MB_INFO_MEMORY  (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MMAP    (1u << 6)

/* A usable RAM range below 4 GiB, [start, end). */
struct ram_range {
	u32 start;
	u32 end;
};

void serial_init(void);
void con_puts(const char *s);
void con_u32(u32 v);
void con_hex(u32 v);

/* Copy of the multiboot command line (empty if none). */
extern char guest_cmdline[256];
void cmdline_save(const struct mb_info *mbi);

/*
 * Look up KEY=VALUE in the command line (tokens separated by spaces).
 * Returns a pointer to VALUE (terminated by space or NUL) or 0.
 */
const char *cmdline_get(const char *key);
/* Numeric KEY=N (decimal, or 0x hex); returns dflt if absent/invalid. */
u32 cmdline_u32(const char *key, u32 dflt);
/* 1 if KEY's value equals word exactly. */
int cmdline_is(const char *key, const char *word);

/*
 * Largest usable RAM range within [lo, 4 GiB) from the multiboot memory
 * map (falls back to mem_upper). Returns 0 if nothing was found.
 */
int find_ram(const struct mb_info *mbi, u32 lo, struct ram_range *out);

static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/*
 * TSC ticks per second, measured once against PIT channel 2 (50 ms);
 * falls back to 2 GHz if the PIT does not answer.
 */
u64 tsc_hz(void);

/*
 * Heartbeat pacing: with beat=N on the command line, a heartbeat is due
 * every N units of work (passes, rounds); otherwise every `every=S`
 * seconds of TSC time (default 5 s), checked after each unit.
 */
struct beat {
	u32 every_units; /* 0: time based */
	u32 units;       /* since the last heartbeat */
	u64 period;      /* TSC ticks */
	u64 last;
};
void beat_init(struct beat *b);
/* Count one unit of work; 1 if a heartbeat is due now. */
int beat_tick(struct beat *b);

/* Halt this vCPU forever (interrupts are off, so nothing wakes it). */
__attribute__((noreturn)) void halt_forever(void);

/* Entry point, called from boot.S. */
void guest_main(u32 magic, const struct mb_info *mbi);

#endif
