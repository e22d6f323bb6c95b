/*
 * ucontext.c - the portable context switch, for CPUs without a hand-written
 * one (or with ./configure --with-ucontext).
 *
 * swapcontext(3) saves and restores the signal mask with a system call, so
 * this is an order of magnitude slower than the assembly versions; it exists
 * so that gohttpd builds and runs everywhere glibc does.
 */
#include "config.h"

#include <stdint.h>

#include "internal.h"

void gh__ctx_switch(gh__ctx_t *from, gh__ctx_t *to)
{
    if (swapcontext(&from->uc, &to->uc) != 0)
        gh__fatal("swapcontext failed");
}

void gh__ctx_jump(gh__ctx_t *to)
{
    setcontext(&to->uc);
    gh__fatal("setcontext failed");
}

/* makecontext passes int arguments only: split the pointers in halves. */
static void trampoline(unsigned int fhi, unsigned int flo, unsigned int ahi,
                       unsigned int alo)
{
    void (*entry)(void *) =
        (void (*)(void *))(((uintptr_t)fhi << 32) | (uintptr_t)flo);
    void *arg = (void *)(((uintptr_t)ahi << 32) | (uintptr_t)alo);
    entry(arg);
    gh__fatal("goroutine entry returned");
}

void gh__ctx_make(gh__ctx_t *ctx, void *stack_lo, size_t size,
                  void (*entry)(void *), void *arg)
{
    uint64_t f = (uintptr_t)entry, a = (uintptr_t)arg;

    if (getcontext(&ctx->uc) != 0)
        gh__fatal("getcontext failed");
    ctx->uc.uc_stack.ss_sp = stack_lo;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    makecontext(&ctx->uc, (void (*)(void))trampoline, 4,
                (unsigned int)(f >> 32), (unsigned int)f,
                (unsigned int)(a >> 32), (unsigned int)a);
}
