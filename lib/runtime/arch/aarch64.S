/*
 * aarch64.S - the goroutine context switch for AArch64 (AAPCS64).
 *
 * gh__ctx_switch(from, to): save the callee-saved registers x19-x28, the
 * frame pointer x29, the link register x30, the low halves of v8-v15 (d8-d15)
 * and the FP control register FPCR on the current stack, store sp in
 * from->sp, load to->sp, restore the same frame and return through x30.
 * No system calls.
 *
 * A fresh context is a frame whose x30 is gh__ctx_trampoline, with entry in
 * x19 and its argument in x20.
 *
 * Frame at the saved stack pointer (176 bytes, 16-byte aligned):
 *   +0 x19 x20  +16 x21 x22  +32 x23 x24  +48 x25 x26  +64 x27 x28
 *   +80 x29 x30  +96 d8 d9  +112 d10 d11  +128 d12 d13  +144 d14 d15
 *   +160 fpcr
 */
        .text
        .globl  gh__ctx_switch
        .hidden gh__ctx_switch
        .type   gh__ctx_switch, %function
        .p2align 4
gh__ctx_switch:
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr
        str     x9, [sp, #160]
        mov     x9, sp
        str     x9, [x0]
        mov     x0, x1
        b       gh__ctx_jump            /* restore the other context */
        .size   gh__ctx_switch, .-gh__ctx_switch

/* gh__ctx_jump(to): resume *to without saving anything (an ended
 * goroutine's registers are never needed again). */
        .globl  gh__ctx_jump
        .hidden gh__ctx_jump
        .type   gh__ctx_jump, %function
        .p2align 4
gh__ctx_jump:
        ldr     x9, [x0]
        mov     sp, x9
        ldr     x9, [sp, #160]
        msr     fpcr, x9
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        ret
        .size   gh__ctx_jump, .-gh__ctx_jump

        .globl  gh__ctx_trampoline
        .hidden gh__ctx_trampoline
        .type   gh__ctx_trampoline, %function
        .p2align 4
gh__ctx_trampoline:
        .cfi_startproc
        /* The outermost frame: unwinders (backtrace, gdb) stop here. */
        .cfi_undefined x30
        mov     x29, #0
        mov     x0, x20
        blr     x19
        brk     #0
        .cfi_endproc
        .size   gh__ctx_trampoline, .-gh__ctx_trampoline

        .section .note.GNU-stack,"",%progbits
