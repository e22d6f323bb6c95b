/*
 * x86_64.S - the goroutine context switch for x86-64 (System V ABI).
 *
 * gh__ctx_switch(from, to): push the callee-saved registers (rbp, rbx,
 * r12-r15) and the FP control words (MXCSR, x87 control word) on the current
 * stack, store the stack pointer in from->sp, load to->sp and pop the same
 * frame from there.  Nothing here enters the kernel: signal masks are not
 * part of a goroutine's context.
 *
 * A fresh context (gh__ctx_make in coro.c's terms) is a frame whose return
 * address is gh__ctx_trampoline, with entry in r12 and its argument in r13.
 *
 * Frame at the saved stack pointer, low to high:
 *   +0 mxcsr (4 bytes)  +4 x87 cw (2 bytes)  +8 r15 r14 r13 r12 rbx rbp
 *   +56 return address
 */
/* Pop the frame described above, up to its return address. */
        .macro  POP_FRAME
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        .endm

        .text
        .globl  gh__ctx_switch
        .hidden gh__ctx_switch
        .type   gh__ctx_switch, @function
        .p2align 4
gh__ctx_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movl    (%rsp), %eax
        movzwl  4(%rsp), %edx
        movq    %rsp, (%rdi)
        movq    (%rsi), %rsp
        /* The current words are in eax and edx already: load the new
         * ones only when they differ (nearly never), which spares the
         * cores where ldmxcsr and fldcw serialise.  rax and rdx are
         * caller-saved. */
        cmpl    (%rsp), %eax
        je      1f
        ldmxcsr (%rsp)
1:      cmpw    4(%rsp), %dx
        je      .Lrestore
        fldcw   4(%rsp)
        jmp     .Lrestore
        .cfi_endproc
        .size   gh__ctx_switch, .-gh__ctx_switch

/*
 * gh__ctx_jump(to): resume *to without saving anything, for a goroutine
 * that has ended (its registers will never be needed again).
 */
        .globl  gh__ctx_jump
        .hidden gh__ctx_jump
        .type   gh__ctx_jump, @function
        .p2align 4
gh__ctx_jump:
        .cfi_startproc
        movq    (%rdi), %rsp
        /* Load the control words unconditionally: with nothing saved,
         * reading the current ones only to compare would cost more than
         * the loads (stmxcsr alone takes 5 ns on AMD Zen 3, ldmxcsr and
         * fldcw of an unchanged value about 1.5 together). */
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        POP_FRAME
        /* Not ret: the return-address predictor expects the call into
         * gh__ctx_jump from g_exit, and is wrong every time (the target
         * is usually gh__ctx_trampoline, a new goroutine).  An indirect
         * jump is predicted from where the last ones went: a spawn, run
         * and exit on warm stacks took 58 ns with ret, 43 with this.
         * gh__ctx_switch keeps ret: two goroutines switching back and
         * forth call it from the same place, which ret predicts. */
        popq    %rcx
        jmpq    *%rcx
.Lrestore:                              /* gh__ctx_switch ends here */
        POP_FRAME
        ret
        .cfi_endproc
        .size   gh__ctx_jump, .-gh__ctx_jump

        .globl  gh__ctx_trampoline
        .hidden gh__ctx_trampoline
        .type   gh__ctx_trampoline, @function
        .p2align 4
gh__ctx_trampoline:
        .cfi_startproc
        .cfi_undefined rip
        xorl    %ebp, %ebp
        movq    %r13, %rdi
        callq   *%r12
        ud2
        .cfi_endproc
        .size   gh__ctx_trampoline, .-gh__ctx_trampoline

        .section .note.GNU-stack,"",@progbits
