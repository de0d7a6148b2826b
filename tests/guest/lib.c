/* Freestanding helpers for the numalens test guests: COM1, cmdline, mmap. */
#include "guest.h"

#define COM1 0x3f8

static inline void outb(u16 port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

void serial_init(void)
{
	outb(COM1 + 1, 0x00); /* no interrupts */
	outb(COM1 + 3, 0x80); /* DLAB on */
	outb(COM1 + 0, 0x01); /* divisor 1: 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1, DLAB off */
	outb(COM1 + 2, 0xc7); /* FIFO on, cleared, 14-byte threshold */
	outb(COM1 + 4, 0x03); /* DTR, RTS */
}

static void putc_raw(char c)
{
	/* Wait for the transmit holding register to empty (bounded, so a
	 * missing UART cannot hang us). */
	for (u32 i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		cpu_relax();
	outb(COM1, (u8)c);
}

void con_puts(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			putc_raw('\r');
		putc_raw(*s);
	}
}

void con_u32(u32 v)
{
	char buf[11];
	int i = 10;

	buf[i] = 0;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	con_puts(&buf[i]);
}

void con_hex(u32 v)
{
	static const char digits[] = "0123456789abcdef";
	char buf[11];

	buf[0] = '0';
	buf[1] = 'x';
	for (int i = 0; i < 8; i++)
		buf[2 + i] = digits[(v >> (28 - 4 * i)) & 0xf];
	buf[10] = 0;
	con_puts(buf);
}

char guest_cmdline[256];

void cmdline_save(const struct mb_info *mbi)
{
	const char *src;
	u32 i = 0;

	if (mbi && (mbi->flags & MB_INFO_CMDLINE) && mbi->cmdline) {
		src = (const char *)mbi->cmdline;
		for (; i < sizeof(guest_cmdline) - 1 && src[i]; i++)
			guest_cmdline[i] = src[i];
	}
	guest_cmdline[i] = 0;
}

static int is_sep(char c)
{
	return c == ' ' || c == '\t' || c == 0;
}

const char *cmdline_get(const char *key)
{
	const char *p = guest_cmdline;

	while (*p) {
		while (*p && is_sep(*p))
			p++;
		const char *tok = p;
		const char *k = key;
		while (*k && *p == *k) {
			p++;
			k++;
		}
		if (!*k && *p == '=')
			return p + 1;
		p = tok;
		while (!is_sep(*p))
			p++;
	}
	return 0;
}

u32 cmdline_u32(const char *key, u32 dflt)
{
	const char *v = cmdline_get(key);
	u32 n = 0, base = 10;
	int digits = 0;

	if (!v)
		return dflt;
	if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		base = 16;
		v += 2;
	}
	for (; !is_sep(*v); v++) {
		u32 d;
		if (*v >= '0' && *v <= '9')
			d = (u32)(*v - '0');
		else if (base == 16 && *v >= 'a' && *v <= 'f')
			d = (u32)(*v - 'a' + 10);
		else if (base == 16 && *v >= 'A' && *v <= 'F')
			d = (u32)(*v - 'A' + 10);
		else
			return dflt;
		n = n * base + d;
		digits++;
	}
	return digits ? n : dflt;
}

int cmdline_is(const char *key, const char *word)
{
	const char *v = cmdline_get(key);

	if (!v)
		return 0;
	while (*word && *v == *word) {
		v++;
		word++;
	}
	return !*word && is_sep(*v);
}

struct mmap_entry {
	u32 size; /* of the rest of the entry, not counting this field */
	u64 base;
	u64 len;
	u32 type; /* 1 = available RAM */
} __attribute__((packed));

static void consider(u64 base, u64 len, u32 lo, struct ram_range *best)
{
	u64 end = base + len;

	if (end > 0x100000000ull)
		end = 0x100000000ull;
	if (base < lo)
		base = lo;
	/* Keep to 4 KiB boundaries; 4 GiB itself is not representable. */
	base = (base + 0xfff) & ~0xfffull;
	end &= ~0xfffull;
	if (end > 0xfffff000ull)
		end = 0xfffff000ull;
	if (end <= base)
		return;
	if ((u32)(end - base) > best->end - best->start) {
		best->start = (u32)base;
		best->end = (u32)end;
	}
}

int find_ram(const struct mb_info *mbi, u32 lo, struct ram_range *out)
{
	struct ram_range best = { 0, 0 };

	if (mbi && (mbi->flags & MB_INFO_MMAP)) {
		u32 p = mbi->mmap_addr;
		u32 end = mbi->mmap_addr + mbi->mmap_length;
		while (p + sizeof(struct mmap_entry) <= end) {
			const struct mmap_entry *e = (const struct mmap_entry *)p;
			if (e->type == 1)
				consider(e->base, e->len, lo, &best);
			p += e->size + 4;
		}
	} else if (mbi && (mbi->flags & MB_INFO_MEMORY)) {
		/* mem_upper: KiB of RAM starting at 1 MiB. */
		consider(0x100000, (u64)mbi->mem_upper * 1024, lo, &best);
	}
	*out = best;
	return best.end > best.start;
}

u64 tsc_hz(void)
{
	static u64 hz;
	const u32 latch = 1193182 / 20; /* PIT ticks in 50 ms */
	u64 t0, t1;

	if (hz)
		return hz;
	/* Gate channel 2 on, speaker off; mode 0 (interrupt on terminal count):
	 * OUT2 (port 0x61 bit 5) goes high when the count reaches zero. */
	outb(0x61, (u8)((inb(0x61) & ~0x02) | 0x01));
	outb(0x43, 0xb0);
	outb(0x42, (u8)(latch & 0xff));
	outb(0x42, (u8)(latch >> 8));
	t0 = t1 = rdtsc();
	while (!(inb(0x61) & 0x20)) {
		t1 = rdtsc();
		if (t1 - t0 > (1ull << 34)) /* no PIT after seconds: give up */
			break;
	}
	if (inb(0x61) & 0x20 && t1 > t0)
		hz = (t1 - t0) * 20;
	else
		hz = 2000000000ull;
	return hz;
}

void beat_init(struct beat *b)
{
	u32 secs = cmdline_u32("every", 5);

	if (secs == 0)
		secs = 1;
	b->every_units = cmdline_u32("beat", 0);
	b->units = 0;
	b->period = b->every_units ? 0 : tsc_hz() * secs;
	b->last = rdtsc();
}

int beat_tick(struct beat *b)
{
	u64 now;

	b->units++;
	if (b->every_units)
		return b->units % b->every_units == 0;
	now = rdtsc();
	if (now - b->last < b->period)
		return 0;
	b->last = now;
	return 1;
}

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt" ::: "memory");
}
