/*
 * panic.c - defer, panic and recover, Go's way: gh_defer(), gh_call(),
 * gh_panic(), gh_recover(), gh_panicking(), and the report that ends the
 * process when a panic is not recovered.
 *
 * Frames.  Deferred calls belong to frames.  A goroutine's root frame is
 * its function: the calls it defers hang from g->defers and run when the
 * function returns (g_main calls gh__defers_run_exit) or when a panic
 * unwinds it.  Each gh_call() pushes a frame of its own (struct gh__frame,
 * in gh_call's C stack frame), linked by `up` from g->frame, the innermost
 * one.  A thread that is not a goroutine has only gh_call frames: its root
 * takes no deferred calls (GH_EPERM).  All of this is the goroutine's own
 * state, read and written only by the goroutine itself on whichever worker
 * it runs, so no lock is taken here and nothing is held across the user
 * calls this file makes: deferred calls may park.
 *
 * Records.  The deferred calls of a frame form a stack of blocks (struct
 * gh__defer), newest block first.  A gh_call frame carries its first block
 * inline (FRAME_INLINE calls: no malloc for a frame that defers little);
 * further blocks are malloc'd, each twice the size of the one below it, up
 * to BLOCK_MAX calls.  The root frame has malloc'd blocks only, the first
 * one small, so that g->defers stays NULL for a goroutine that never defers
 * and the spawn and exit paths test a single pointer.  A malloc'd block is
 * freed as soon as its last call is popped, so no malloc'd block on a list
 * is empty; only a frame's inline block, always the bottom one, can be.  A
 * call is popped before it runs, so it runs at most once whatever happens
 * inside it.
 *
 * Unwinding.  gh_panic() builds its record (struct gh__panic, with the
 * message) in its own C stack frame, links it in front of g->panic (prev:
 * the panic it interrupts, if a deferred call panicked) and unwinds:
 *
 *   1. f = g->frame (NULL: the root frame); p->frame = f.
 *   2. While f has deferred calls: pop the newest and call it; if the call
 *      recovered p, go to 4.
 *   3. f is done.  If f is the root frame, nothing recovered p: print the
 *      report and exit with status 2.  Otherwise g->frame = f->up (the
 *      gh_call that pushed f never returns) and go to 1.
 *   4. p is over, and so is every panic that started inside f: g->panic
 *      becomes what it was when f began (f->panic; NULL for the root).  For
 *      a gh_call frame, siglongjmp to the sigsetjmp in its gh_call, which
 *      runs f's remaining calls as at a normal return and returns
 *      GH_EPANIC.  The jump drops every C frame in between: the code that
 *      panicked, p's gh_panic, and the gh_panic of any older panic whose
 *      deferred call p interrupted.  For the root frame the remaining calls
 *      run right here, deep in the stack (g_main has no jump target: that
 *      keeps sigsetjmp off the spawn path), and the goroutine then ends
 *      through gh__g_exit_current().
 *
 * Nested panics.  A deferred call of panic p that panics with q leaves p's
 * record where it is: q is linked in front of p and goes on unwinding the
 * same frame with the calls p has not run yet.  If q is recovered in that
 * frame or an outer one, step 4 discards p along with it, as Go aborts p.
 * If q is recovered inside the deferred call (in a gh_call frame that the
 * call pushed), step 4 restores g->panic to p, the deferred call goes on
 * and returns, and p resumes unwinding where it was.
 *
 * Recover.  gh_recover() takes the innermost panic p if p is not recovered
 * yet and g->frame == p->frame: the caller runs in a deferred call that
 * p's step 2 made, not inside a gh_call frame that such a call pushed (a
 * frame that sees only the panics raised within it).  While p is linked,
 * user code runs only in p's deferred calls and the frames they push, so
 * that test is enough.  Go also returns nil to a function that the deferred
 * function calls; C offers no cheap way to tell the two apart, so here such
 * a function may recover.  A deferred call that calls gh_defer() adds to
 * the frame being ended (it has no frame of its own unless it uses
 * gh_call), so its new call runs next.
 *
 * The report.  It prints the chain of panics, oldest first as Go does, the
 * goroutine (id, name, and the function that called gh_go) or the thread,
 * and a backtrace from gh_panic.  Names come from dladdr() and, for
 * functions missing from the dynamic symbol table (static ones, and all of
 * an executable linked without -rdynamic), from the ELF file's .symtab if
 * it was not stripped.  backtrace() stops at a goroutine's entry
 * trampoline, whose CFI marks the return address undefined.
 */
#include "config.h"

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define FRAME_INLINE 8 /* calls a gh_call frame holds without malloc */
#define ROOT_FIRST 4   /* the first malloc'd block of a root frame */
#define BLOCK_MAX 256  /* no block grows beyond this many calls */
#define MSG_MAX 1024   /* message bytes kept, NUL included */

typedef ElfW(Ehdr) elf_ehdr_t;
typedef ElfW(Shdr) elf_shdr_t;
typedef ElfW(Sym) elf_sym_t;

/* One deferred call. */
struct deferred {
    gh_defer_fn fn;
    void *arg;
};

/* A block of deferred calls; calls[0 .. n) in the order they were made. */
struct gh__defer {
    struct gh__defer *older; /* the block below, NULL at the bottom */
    struct deferred *calls;  /* after this header, or a frame's inline array */
    uint32_t n, cap;         /* calls held, room for */
    bool heap;               /* malloc'd: freed once emptied */
};

/* A gh_call() frame; lives in gh_call's C stack frame. */
struct gh__frame {
    struct gh__frame *up;    /* the enclosing frame, NULL: the root */
    struct gh__panic *panic; /* g->panic when the frame began */
    struct gh__defer *top;   /* newest block; never NULL (&blk at least) */
    struct gh__defer blk;    /* the bottom block, holding inl[] */
    struct deferred inl[FRAME_INLINE]; /* blk's calls */
    sigjmp_buf jb;                     /* where a recovered panic resumes */
};

/* A panic; lives in gh_panic's C stack frame. */
struct gh__panic {
    struct gh__panic *prev;  /* the panic it interrupted, or NULL */
    struct gh__frame *frame; /* the frame it unwinds now, NULL: the root */
    bool recovered;          /* by a gh_recover() in a deferred call */
    char msg[MSG_MAX];       /* formatted, maybe cut */
};

/* ---- stacks of deferred calls ---- */

static int push_call(struct gh__defer **top, gh_defer_fn fn, void *arg)
{
    struct gh__defer *b = *top;

    if (!b || b->n == b->cap) {
        uint32_t cap = b ? b->cap * 2 : ROOT_FIRST;
        struct gh__defer *nb;

        if (cap > BLOCK_MAX)
            cap = BLOCK_MAX;
        nb = malloc(sizeof(*nb) + cap * sizeof(struct deferred));
        if (!nb)
            return GH_ENOMEM;
        nb->older = b;
        nb->calls = (struct deferred *)(nb + 1);
        nb->n = 0;
        nb->cap = cap;
        nb->heap = true;
        *top = b = nb;
    }
    b->calls[b->n++] = (struct deferred){fn, arg};
    return 0;
}

/* Pop the newest call into *d; false when there is none. */
static bool pop_call(struct gh__defer **top, struct deferred *d)
{
    struct gh__defer *b = *top;

    if (!b || b->n == 0)
        return false; /* empty, or only an empty inline block */
    *d = b->calls[--b->n];
    if (b->n == 0 && b->heap) {
        *top = b->older;
        free(b);
    }
    return true;
}

/* Run a frame's calls as at a normal return: newest first, including any
 * that the calls themselves defer. */
static void run_normally(struct gh__defer **top)
{
    struct deferred d;

    while (pop_call(top, &d))
        d.fn(d.arg);
}

/* ---- defer and call ---- */

int gh_defer(gh_defer_fn fn, void *arg)
{
    gh__g_t *g = gh__cur_g();

    if (!fn)
        return GH_EINVAL;
    if (g->frame)
        return push_call(&g->frame->top, fn, arg);
    if (g->is_thread)
        return GH_EPERM;
    return push_call(&g->defers, fn, arg);
}

int gh_call(gh_go_fn fn, void *arg)
{
    gh__g_t *g = gh__cur_g();
    struct gh__frame f;
    int rc = 0;

    if (!fn)
        return GH_EINVAL;
    f.up = g->frame;
    f.panic = g->panic;
    f.blk = (struct gh__defer){.calls = f.inl, .cap = FRAME_INLINE};
    f.top = &f.blk;
    g->frame = &f;
    /* g and f are not modified between here and a siglongjmp: both keep
     * their values when sigsetjmp returns a second time. */
    if (sigsetjmp(f.jb, 0) == 0)
        fn(arg);
    else
        rc = GH_EPANIC;
    run_normally(&f.top);
    g->frame = f.up;
    return rc;
}

void gh__defers_run_exit(gh__g_t *g)
{
    run_normally(&g->defers);
}

/* ---- panic and recover ---- */

/* Step 4 of the algorithm above: p was recovered by a call of frame f. */
GH__NORETURN static void resume(gh__g_t *g, struct gh__frame *f)
{
    if (f) {
        g->panic = f->panic;
        siglongjmp(f->jb, 1);
    }
    assert(!g->is_thread); /* a thread's root frame defers nothing */
    g->panic = NULL;
    run_normally(&g->defers);
    gh__g_exit_current();
}

/* Steps 1 to 3: returns when no frame recovered p. */
static void unwind(gh__g_t *g, struct gh__panic *p)
{
    struct deferred d;

    for (;;) {
        struct gh__frame *f = g->frame;

        p->frame = f;
        while (pop_call(f ? &f->top : &g->defers, &d)) {
            d.fn(d.arg);
            if (p->recovered)
                resume(g, f);
        }
        if (!f)
            return;
        g->frame = f->up;
    }
}

GH__NORETURN static void die(gh__g_t *g);

void gh_panic(const char *fmt, ...)
{
    gh__g_t *g = gh__cur_g();
    struct gh__panic p = {.prev = g->panic};
    va_list ap;

    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(p.msg, sizeof(p.msg), fmt, ap);
        va_end(ap);
    } else {
        snprintf(p.msg, sizeof(p.msg), "(null)");
    }
    g->panic = &p;
    unwind(g, &p);
    die(g);
}

const char *gh_recover(void)
{
    gh__g_t *g = gh__cur_g();
    struct gh__panic *p = g->panic;

    if (!p || p->recovered || p->frame != g->frame)
        return NULL;
    p->recovered = true;
    return p->msg;
}

int gh_panicking(void)
{
    struct gh__panic *p = gh__cur_g()->panic;

    /* Once recovered, p is as good as gone: what remains is the panic, if
     * any, that step 4 will restore. */
    if (p && p->recovered)
        p = p->frame ? p->frame->panic : NULL;
    return p != NULL;
}

/* ---- the report of a panic nobody recovered ---- */

/* The report runs under die_mu, which is never released: the first
 * goroutine or thread to die writes its report and ends the process, any
 * other waits for that.  The naming of code addresses below (the ELF
 * cache, gh__describe_pc) also serves the stall watch (stall.c), from its
 * own thread. */
static pthread_mutex_t die_mu = PTHREAD_MUTEX_INITIALIZER;

static struct {
    char buf[4096];
    size_t len;
} out;

static void out_flush(void)
{
    size_t off = 0;

    while (off < out.len) {
        ssize_t n = write(STDERR_FILENO, out.buf + off, out.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    out.len = 0;
}

__attribute__((format(printf, 1, 2))) static void out_printf(const char *fmt,
                                                             ...)
{
    va_list ap;
    size_t room;
    int n;

    for (;;) {
        room = sizeof(out.buf) - out.len;
        va_start(ap, fmt);
        n = vsnprintf(out.buf + out.len, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room || out.len == 0)
            break;
        out_flush();
    }
    out.len += (size_t)n < room ? (size_t)n : room - 1; /* a long line is cut */
}

/* The ELF files already opened for names, keyed by link map.  An entry
 * never changes once filled; elf_mu guards the filling (the stall watch
 * names frames too, from its own thread). */
#define ELF_CACHE 8
static pthread_mutex_t elf_mu = PTHREAD_MUTEX_INITIALIZER;
static struct elf_file {
    const struct link_map *lm;
    const unsigned char *map; /* NULL: not readable as ELF */
    size_t size;
} elf_files[ELF_CACHE];

static void elf_fill(struct elf_file *ef, const struct link_map *lm)
{
    const char *path = lm->l_name[0] ? lm->l_name : "/proc/self/exe";
    struct stat st;
    void *map;
    int fd;

    ef->lm = lm;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return;
    if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(elf_ehdr_t)) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map != MAP_FAILED) {
            ef->map = map;
            ef->size = (size_t)st.st_size;
        }
    }
    close(fd);
}

static const struct elf_file *elf_open(const struct link_map *lm)
{
    struct elf_file *ef = NULL;

    pthread_mutex_lock(&elf_mu);
    for (int i = 0; i < ELF_CACHE && !ef; i++)
        if (elf_files[i].lm == lm || !elf_files[i].lm)
            ef = &elf_files[i];
    if (ef && ef->lm != lm)
        elf_fill(ef, lm);
    pthread_mutex_unlock(&elf_mu);
    return ef && ef->map ? ef : NULL;
}

/* The section headers of ef, or NULL if they do not fit in the file. */
static const elf_shdr_t *elf_sections(const struct elf_file *ef, size_t *n)
{
    const elf_ehdr_t *eh = (const void *)ef->map;

    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_shentsize != sizeof(elf_shdr_t) || eh->e_shoff > ef->size ||
        eh->e_shnum > (ef->size - eh->e_shoff) / sizeof(elf_shdr_t))
        return NULL;
    *n = eh->e_shnum;
    return (const void *)(ef->map + eh->e_shoff);
}

static bool in_file(const struct elf_file *ef, const elf_shdr_t *s)
{
    return s->sh_offset <= ef->size && s->sh_size <= ef->size - s->sh_offset;
}

/* The function of symbol table sym that holds address rel (relative to the
 * file's load address): its name and start.  False if there is none. */
static bool elf_scan(const struct elf_file *ef, const elf_shdr_t *sh,
                     size_t nsh, const elf_shdr_t *sym, uintptr_t rel,
                     const char **name, uintptr_t *start)
{
    const elf_shdr_t *str;
    const elf_sym_t *s, *best = NULL;
    const char *strs;
    size_t n;

    if (sym->sh_link >= nsh || !in_file(ef, sym) ||
        !in_file(ef, str = &sh[sym->sh_link]))
        return false;
    s = (const void *)(ef->map + sym->sh_offset);
    strs = (const char *)ef->map + str->sh_offset;
    n = sym->sh_size / sizeof(*s);
    for (size_t i = 0; i < n; i++, s++)
        if ((s->st_info & 0xf) == STT_FUNC && s->st_shndx != SHN_UNDEF &&
            rel - s->st_value < s->st_size && s->st_name < str->sh_size &&
            (!best || s->st_value > best->st_value))
            best = s;
    if (!best ||
        !memchr(strs + best->st_name, '\0', str->sh_size - best->st_name))
        return false;
    *name = strs + best->st_name;
    *start = best->st_value;
    return true;
}

static bool elf_lookup(const struct link_map *lm, uintptr_t rel,
                       const char **name, uintptr_t *start)
{
    const struct elf_file *ef = elf_open(lm);
    const elf_shdr_t *sh;
    size_t nsh;

    if (!ef || !(sh = elf_sections(ef, &nsh)))
        return false;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < nsh; i++)
            if (sh[i].sh_type == (pass ? SHT_DYNSYM : SHT_SYMTAB) &&
                elf_scan(ef, sh, nsh, &sh[i], rel, name, start))
                return true;
    return false;
}

/* Describe code address pc as "name+0xoff (file+0xrel)": rel is what
 * addr2line -e file takes.  A return address is looked up as pc - 1,
 * which is still inside the call when the callee (gh_panic, say) does not
 * return; an exact one (GH__PC_EXACT: a function, an interrupted
 * instruction) as it is. */
void gh__describe_pc(const void *pc, char *buf, size_t len, unsigned how)
{
    uintptr_t a = (uintptr_t)pc, at = a - !(how & GH__PC_EXACT), start = 0;
    struct link_map *lm = NULL;
    const char *name = NULL, *file;
    Dl_info info;

    if (!dladdr1((void *)at, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm) {
        snprintf(buf, len, "%p", pc);
        return;
    }
    if (info.dli_sname && info.dli_saddr) {
        name = info.dli_sname;
        start = (uintptr_t)info.dli_saddr;
    } else if (elf_lookup(lm, at - lm->l_addr, &name, &start)) {
        start += lm->l_addr;
    }
    file = info.dli_fname;
    if ((how & GH__PC_BRIEF) && strrchr(file, '/'))
        file = strrchr(file, '/') + 1;
    if (name && (how & GH__PC_BRIEF) && a == start)
        snprintf(buf, len, "%s", name);
    else if (name && (how & GH__PC_BRIEF))
        snprintf(buf, len, "%s+0x%zx", name, (size_t)(a - start));
    else if (name)
        snprintf(buf, len, "%s+0x%zx (%s+0x%zx)", name, (size_t)(a - start),
                 file, (size_t)(a - lm->l_addr));
    else
        snprintf(buf, len, "%s+0x%zx", file, (size_t)(a - lm->l_addr));
}

/* Oldest first, each later one indented, as Go prints them. */
static void print_panics(const struct gh__panic *p)
{
    if (p->prev)
        print_panics(p->prev);
    out_printf("%spanic: %s%s\n", p->prev ? "\t" : "", p->msg,
               p->recovered ? " [recovered]" : "");
}

static void print_who(const gh__g_t *g)
{
    char name[32] = "";

    if (g->is_thread) {
        pthread_getname_np(pthread_self(), name, sizeof(name));
        out_printf("\nthread %ld [%s]:\n", (long)syscall(SYS_gettid), name);
        return;
    }
    out_printf("\ngoroutine %lld [%s]:\n", (long long)g->id,
               (g->flags & GH__G_NAMED) ? g->name : "running");
}

/* The backtrace starts in gh_panic, where the panic happened: the frames
 * before the return address of this (not inlined) function are its own and
 * those of whatever backtrace() is wrapped in (a sanitizer's interceptor). */
__attribute__((noinline)) static void die(gh__g_t *g)
{
    void *pcs[64], *from = __builtin_return_address(0);
    char line[512];
    int n, i;

    pthread_mutex_lock(&die_mu);
    print_panics(g->panic);
    print_who(g);
    out_flush(); /* the most useful part is out, whatever backtrace does */
    n = backtrace(pcs, 64);
    for (i = 0; i < n && pcs[i] != from; i++)
        ;
    for (i = i < n ? i : 0; i < n; i++) {
        gh__describe_pc(pcs[i], line, sizeof(line), 0);
        out_printf("\t%s\n", line);
    }
    if (n == 64)
        out_printf("\t...\n");
    if (!g->is_thread && g->creator) {
        gh__describe_pc(g->creator, line, sizeof(line), 0);
        out_printf("created by %s\n", line);
    }
    out_flush();
    fflush(NULL);
    _exit(2);
}
