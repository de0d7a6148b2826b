/*
 * Multiboot (v1) entry for the numalens test guests.
 *
 * The loader (QEMU -kernel, or GRUB) enters here in 32-bit protected mode,
 * flat segments, paging off, interrupts off, with
 *   %eax = 0x2BADB002 and %ebx = physical address of the multiboot info.
 * Only the boot CPU ever runs this code: the other vCPUs stay in
 * wait-for-SIPI because nothing ever sends them an INIT/SIPI.
 */

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000002 /* bit 1: please give us mem_* and the mmap */

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.section .bss
	.balign 16
boot_stack:
	.skip 16384
boot_stack_top:

	.section .text
	.globl _start
	.type _start, @function
_start:
	cli
	cld
	movl $boot_stack_top, %esp
	xorl %ebp, %ebp
	pushl %ebx /* multiboot info */
	pushl %eax /* magic */
	call guest_main
	/* guest_main should not return; if it does, park the CPU. */
1:	cli
	hlt
	jmp 1b
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits
