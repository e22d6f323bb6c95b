/*
 * conf.c - the configuration file parser and the typed getters
 * (gohttpd/conf.h).
 *
 * This file implements a recursive-descent parser over a byte tokenizer.
 * A parse reads one file (or string) into a tree of sections; "include"
 * is expanded while parsing, so the tree never holds one: the included
 * directives sit in the including section, each with its own file, line
 * and column.  The first error stops the parse and is the one reported.
 *
 * Memory.  Every node, string and array of a tree lives in the tree's
 * arena, a list of malloc'ed chunks, so gh_conf_free() (and the cleanup of
 * a failed parse) is a loop over the chunks, never a walk of the tree.
 * Only the last error message recorded by a getter is malloc'ed apart.
 *
 * Bounded recursion.  parse_block() recurses once per nested block, at most
 * GH_CONF_MAX_DEPTH deep counted across included files, and parse_file()
 * once per include level, at most GH_CONF_MAX_INCLUDE, so the C stack a
 * parse needs is bounded whatever the input.  The token buffer lives in
 * the parser, not in the frames.
 *
 * Marks.  "used" is the one thing the getters write into a tree that they
 * see as const; the nodes are allocated writable, so the casts are sound.
 * That write is also why a tree must not be read from two threads.
 */
#include "config.h"

#include <ctype.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gohttpd/conf.h"
#include "gohttpd/error.h"
#include "gohttpd/rt.h"

/* ---- the tree ------------------------------------------------------------ */

struct chunk {
    struct chunk *next; /* older chunks */
    size_t used, size;  /* bytes of data[] handed out / available */
    _Alignas(16) unsigned char data[];
};

struct tree {
    struct chunk *chunks; /* the arena: newest first */
    char *msg;            /* last gh_conf_errorf() message, malloc'ed */
};

struct gh_conf_section {
    struct tree *tree;                /* shared by every section */
    const gh_conf_directive_t *owner; /* whose block this is; NULL: root */
    const char *file;                 /* the root's name (for messages) */
    gh_conf_directive_t **dirs;       /* in file order; in the arena */
    int n, cap;
};

struct gh_conf_directive {
    const char *name;
    const char **args; /* nargs strings, then NULL */
    int nargs;
    gh_conf_section_t *block; /* NULL when it ended with ';' */
    const char *file;         /* shared by the file's directives */
    int line, col;
    bool used; /* set by gh_conf_use(), gh_conf_find(), the getters */
};

#define CHUNK_MIN 8192

static void *arena_alloc(struct tree *t, size_t n)
{
    struct chunk *c = t->chunks;
    void *p;

    n = (n + 15) & ~(size_t)15;
    if (!c || c->size - c->used < n) {
        size_t size = c ? c->size * 2 : CHUNK_MIN;

        if (size > 256 * 1024)
            size = 256 * 1024;
        if (size < n)
            size = n;
        if (!(c = malloc(sizeof(*c) + size)))
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = t->chunks;
        t->chunks = c;
    }
    p = c->data + c->used;
    c->used += n;
    return p;
}

static char *arena_strndup(struct tree *t, const char *s, size_t n)
{
    char *p = arena_alloc(t, n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static gh_conf_section_t *section_new(struct tree *t,
                                      const gh_conf_directive_t *owner)
{
    gh_conf_section_t *s = arena_alloc(t, sizeof(*s));

    if (s) {
        memset(s, 0, sizeof(*s));
        s->tree = t;
        s->owner = owner;
    }
    return s;
}

static int section_append(gh_conf_section_t *s, gh_conf_directive_t *d)
{
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        gh_conf_directive_t **dirs =
            arena_alloc(s->tree, (size_t)cap * sizeof(*dirs));

        if (!dirs)
            return GH_ENOMEM;
        if (s->n)
            memcpy(dirs, s->dirs, (size_t)s->n * sizeof(*dirs));
        s->dirs = dirs;
        s->cap = cap;
    }
    s->dirs[s->n++] = d;
    return 0;
}

static void tree_free(struct tree *t)
{
    struct chunk *c, *next;

    if (!t)
        return;
    for (c = t->chunks; c; c = next) {
        next = c->next;
        free(c);
    }
    free(t->msg);
    free(t);
}

void gh_conf_free(gh_conf_section_t *root)
{
    if (root)
        tree_free(root->tree);
}

/* ---- messages -------------------------------------------------------------- */

#define SHOW_MAX 64 /* bytes of a value quoted in a message */

/* The value s, in double quotes, escaped and cut short for a message. */
static const char *show(char *buf, size_t size, const char *s)
{
    size_t o = 0;

    buf[o++] = '"';
    for (; *s && o + 8 < size; s++) {
        unsigned char c = (unsigned char)*s;

        if (o >= SHOW_MAX) {
            o += (size_t)snprintf(buf + o, size - o, "...");
            break;
        }
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}
#define SHOW_BUF (SHOW_MAX + 16)

/* ---- the tokenizer --------------------------------------------------------- */

enum tok { T_EOF, T_WORD, T_STRING, T_SEMI, T_LBRACE, T_RBRACE };

/* One file being read, linked to the file that includes it. */
struct src {
    const char *name; /* in the arena: the directives' file */
    const char *text;
    size_t len, pos;
    int line, col;        /* of text[pos] */
    const struct src *up; /* the including file, NULL for the top one */
    int level;            /* include level: 0 for the top file */
    bool has_id;          /* dev/ino known (a real file) */
    dev_t dev;
    ino_t ino;
};

struct parser {
    struct tree *tree;
    char *err; /* the caller's buffer, or NULL */
    size_t errlen;
    enum tok kind;          /* the last token read */
    int line, col;          /* where it starts */
    size_t len;             /* bytes in tok */
    char tok[GH_CONF_MAX_TOKEN + 1];
    const char *args[GH_CONF_MAX_ARGS]; /* of the directive being read */
};

/* Record "name:line:col: message" and return code. */
__attribute__((format(printf, 6, 7))) static int
fail_at(struct parser *p, const struct src *s, int line, int col, int code,
        const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!p->err || p->errlen == 0)
        return code;
    n = snprintf(p->err, p->errlen, "%s:%d:%d: ", s->name, line, col);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int fail_oom(struct parser *p, const struct src *s)
{
    return fail_at(p, s, s->line, s->col, GH_ENOMEM, "out of memory");
}

static void advance(struct src *s)
{
    if (s->text[s->pos++] == '\n') {
        s->line++;
        s->col = 1;
    } else {
        s->col++;
    }
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/* Ends a bare word (a quote there is an error, found by the caller). */
static bool is_delim(int c)
{
    return is_space(c) || c == ';' || c == '{' || c == '}' || c == '#' ||
           c == '"' || c == '\'' || c == '\0';
}

/* Skip blanks and comments; a NUL byte anywhere is an error. */
static int skip_space(struct parser *p, struct src *s)
{
    while (s->pos < s->len) {
        char c = s->text[s->pos];

        if (c == '\0')
            return fail_at(p, s, s->line, s->col, GH_EINVAL, "NUL byte");
        if (c == '#') {
            while (s->pos < s->len && s->text[s->pos] != '\n') {
                if (s->text[s->pos] == '\0')
                    return fail_at(p, s, s->line, s->col, GH_EINVAL,
                                   "NUL byte");
                advance(s);
            }
        } else if (is_space(c)) {
            advance(s);
        } else {
            break;
        }
    }
    return 0;
}

static int push_byte(struct parser *p, const struct src *s, char c,
                     const char *what)
{
    if (p->len == GH_CONF_MAX_TOKEN)
        return fail_at(p, s, p->line, p->col, GH_EINVAL,
                       "%s longer than %d bytes", what, GH_CONF_MAX_TOKEN);
    p->tok[p->len++] = c;
    return 0;
}

static int lex_word(struct parser *p, struct src *s)
{
    int rc;

    while (s->pos < s->len && !is_delim(s->text[s->pos])) {
        if ((rc = push_byte(p, s, s->text[s->pos], "a word")) < 0)
            return rc;
        advance(s);
    }
    if (s->pos < s->len &&
        (s->text[s->pos] == '"' || s->text[s->pos] == '\''))
        return fail_at(p, s, s->line, s->col, GH_EINVAL,
                       "a quote in the middle of a word");
    p->kind = T_WORD;
    return 0;
}

/* The byte an escape in double quotes stands for, or -1. */
static int unescape(char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '$':
        return c;
    case 'n':
        return '\n';
    case 't':
        return '\t';
    case 'r':
        return '\r';
    default:
        return -1;
    }
}

/* After the '\' of an escape: append what it stands for. */
static int lex_escape(struct parser *p, struct src *s)
{
    int line = s->line, col = s->col - 1, e;
    char c;

    if (s->pos == s->len)
        return fail_at(p, s, p->line, p->col, GH_EINVAL,
                       "unterminated string");
    c = s->text[s->pos];
    if (c == '\0')
        return fail_at(p, s, s->line, s->col, GH_EINVAL, "NUL byte");
    if ((e = unescape(c)) < 0) {
        if (isprint((unsigned char)c))
            return fail_at(p, s, line, col, GH_EINVAL,
                           "unknown escape \\%c in a string", c);
        return fail_at(p, s, line, col, GH_EINVAL,
                       "unknown escape in a string: '\\' and byte 0x%02x",
                       (unsigned char)c);
    }
    advance(s);
    return push_byte(p, s, (char)e, "a string");
}

static int lex_string(struct parser *p, struct src *s)
{
    char q = s->text[s->pos], c;
    int rc;

    advance(s);
    for (;;) {
        if (s->pos == s->len)
            return fail_at(p, s, p->line, p->col, GH_EINVAL,
                           "unterminated string");
        c = s->text[s->pos];
        if (c == '\0')
            return fail_at(p, s, s->line, s->col, GH_EINVAL, "NUL byte");
        advance(s);
        if (c == q)
            break;
        if (c == '\\' && q == '"')
            rc = lex_escape(p, s);
        else
            rc = push_byte(p, s, c, "a string");
        if (rc < 0)
            return rc;
    }
    c = s->pos < s->len ? s->text[s->pos] : ' ';
    if (!is_delim(c) || c == '"' || c == '\'')
        return fail_at(p, s, s->line, s->col, GH_EINVAL,
                       "expected white space, ';' or '{' after a string");
    p->kind = T_STRING;
    return 0;
}

/* Read the next token into p (kind, position, text). */
static int next_token(struct parser *p, struct src *s)
{
    int rc;

    if ((rc = skip_space(p, s)) < 0)
        return rc;
    p->line = s->line;
    p->col = s->col;
    p->len = 0;
    if (s->pos == s->len) {
        p->kind = T_EOF;
        return 0;
    }
    switch (s->text[s->pos]) {
    case ';':
        p->kind = T_SEMI;
        break;
    case '{':
        p->kind = T_LBRACE;
        break;
    case '}':
        p->kind = T_RBRACE;
        break;
    case '"':
    case '\'':
        return lex_string(p, s);
    default:
        return lex_word(p, s);
    }
    advance(s);
    return 0;
}

static const char *token_name(enum tok k)
{
    switch (k) {
    case T_SEMI:
        return "';'";
    case T_LBRACE:
        return "'{'";
    case T_RBRACE:
        return "'}'";
    case T_EOF:
        return "end of file";
    default:
        return "a word";
    }
}

/* ---- the grammar ----------------------------------------------------------- */

static int parse_block(struct parser *p, struct src *s, gh_conf_section_t *sec,
                       int depth, int open_line, int open_col);
static int parse_file(struct parser *p, const char *name, const char *text,
                      size_t len, const struct src *up, gh_conf_section_t *sec,
                      int depth);

/* "name arg1 arg2", cut short and quoted, for "expected ';' ... after". */
static const char *show_directive(char *buf, size_t size, const char *name,
                                  const char *const *args, int nargs)
{
    char line[2 * SHOW_MAX];
    int o = snprintf(line, sizeof(line), "%s", name);

    for (int i = 0; i < nargs && o >= 0 && (size_t)o < sizeof(line); i++)
        o += snprintf(line + o, sizeof(line) - (size_t)o, " %s", args[i]);
    return show(buf, size, line); /* show() marks a cut with "..." */
}

/* A directive's arguments up to its ';' or '{' (left in p->kind). */
static int parse_args(struct parser *p, struct src *s, const char *name,
                      int *nargs)
{
    char buf[SHOW_BUF];
    int rc;

    for (*nargs = 0;;) {
        if ((rc = next_token(p, s)) < 0)
            return rc;
        if (p->kind == T_SEMI || p->kind == T_LBRACE)
            return 0;
        if (p->kind == T_EOF || p->kind == T_RBRACE)
            return fail_at(p, s, p->line, p->col, GH_EINVAL,
                           "expected ';' or '{' after %s, found %s",
                           show_directive(buf, sizeof(buf), name, p->args,
                                          *nargs),
                           token_name(p->kind));
        if (*nargs == GH_CONF_MAX_ARGS)
            return fail_at(p, s, p->line, p->col, GH_EINVAL,
                           "%s: more than %d arguments", name,
                           GH_CONF_MAX_ARGS);
        if (!(p->args[(*nargs)++] =
                  arena_strndup(p->tree, p->tok, p->len)))
            return fail_oom(p, s);
    }
}

static bool has_wildcard(const char *pattern)
{
    return strpbrk(pattern, "*?[") != NULL;
}

/* pattern, relative to the directory of the file s (malloc'ed). */
static char *resolve(const char *from, const char *pattern)
{
    const char *slash = strrchr(from, '/');
    size_t dir = slash ? (size_t)(slash - from) + 1 : 0;
    size_t n = strlen(pattern);
    char *path;

    if (pattern[0] == '/')
        dir = 0;
    if (!(path = malloc(dir + n + 1)))
        return NULL;
    memcpy(path, from, dir);
    memcpy(path + dir, pattern, n + 1);
    return path;
}

/* Read fd to its end into *buf (malloc'ed), at most GH_CONF_MAX_FILE
 * bytes; hint is the size fstat() saw, which /proc and pipes leave at 0. */
static int read_all(int fd, size_t hint, char **buf, size_t *n)
{
    size_t cap = 0;
    ssize_t r;

    for (*buf = NULL, *n = 0;; *n += (size_t)r) {
        if (*n == cap) {
            char *nb;

            cap = cap ? cap * 2 : hint + 4096;
            if (cap > GH_CONF_MAX_FILE + 1)
                cap = GH_CONF_MAX_FILE + 1;
            if (*n == cap)
                return GH_EFBIG;
            if (!(nb = realloc(*buf, cap)))
                return GH_ENOMEM;
            *buf = nb;
        }
        while ((r = read(fd, *buf + *n, cap - *n)) < 0 && errno == EINTR)
            ;
        if (r < 0)
            return -errno;
        if (r == 0)
            return 0;
    }
}

/* Read the whole file at path (at most GH_CONF_MAX_FILE bytes). */
static int read_file(const char *path, char **text, size_t *len,
                     struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

    *text = NULL;
    *len = 0;
    if (fd < 0)
        return -errno;
    if (fstat(fd, st) < 0)
        rc = -errno;
    else if (S_ISDIR(st->st_mode))
        rc = GH_EISDIR;
    else
        rc = read_all(fd, st->st_size > 0 ? (size_t)st->st_size : 0, text,
                      len);
    close(fd);
    if (rc < 0) {
        free(*text);
        *text = NULL;
    }
    return rc;
}

/* An error about reading path: "path: reason". */
static const char *why(int rc)
{
    return rc == GH_EFBIG ? "file too large (over 4 MiB)" : gh_strerror(rc);
}

/* The include directive at (line, col) of s reads path into sec. */
static int include_one(struct parser *p, struct src *s, int line, int col,
                       const char *path, gh_conf_section_t *sec, int depth)
{
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(path, &text, &len, &st);

    if (rc < 0)
        return fail_at(p, s, line, col, rc, "include: %s: %s", path,
                       why(rc));
    for (const struct src *u = s; u; u = u->up) {
        if (!u->has_id || u->dev != st.st_dev || u->ino != st.st_ino)
            continue;
        free(text);
        if (u == s)
            return fail_at(p, s, line, col, GH_EINVAL,
                           "include cycle: %s includes itself", s->name);
        return fail_at(p, s, line, col, GH_EINVAL,
                       "include cycle: %s includes %s, which is already "
                       "being read",
                       s->name, path);
    }
    rc = parse_file(p, path, text, len, s, sec, depth);
    free(text);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "include pattern;" at (line, col) of s: every match, in name order. */
static int include(struct parser *p, struct src *s, int line, int col,
                   const char *pattern, gh_conf_section_t *sec, int depth)
{
    char *path;
    glob_t g;
    int rc;

    if (s->level >= GH_CONF_MAX_INCLUDE)
        return fail_at(p, s, line, col, GH_EINVAL, "include depth over %d",
                       GH_CONF_MAX_INCLUDE);
    if (!(path = resolve(s->name, pattern)))
        return fail_oom(p, s);
    if (!has_wildcard(pattern)) {
        rc = include_one(p, s, line, col, path, sec, depth);
        free(path);
        return rc;
    }
    switch (glob(path, GLOB_NOSORT, NULL, &g)) {
    case 0:
        qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), by_name);
        rc = 0;
        for (size_t i = 0; i < g.gl_pathc && rc == 0; i++)
            rc = include_one(p, s, line, col, g.gl_pathv[i], sec, depth);
        break;
    case GLOB_NOMATCH: /* a wildcard may match nothing */
        rc = 0;
        break;
    case GLOB_NOSPACE:
        rc = fail_oom(p, s);
        break;
    default:
        rc = fail_at(p, s, line, col, GH_EIO,
                     "include: %s: cannot read a directory", path);
    }
    globfree(&g);
    free(path);
    return rc;
}

/* After "include": its one argument, no block, then the files. */
static int parse_include(struct parser *p, struct src *s, int line, int col,
                         gh_conf_section_t *sec, int depth)
{
    int nargs, rc;

    if ((rc = parse_args(p, s, "include", &nargs)) < 0)
        return rc;
    if (p->kind == T_LBRACE)
        return fail_at(p, s, line, col, GH_EINVAL,
                       "include: unexpected block");
    if (nargs != 1)
        return fail_at(p, s, line, col, GH_EINVAL,
                       "include: expected one argument, found %d", nargs);
    return include(p, s, line, col, p->args[0], sec, depth);
}

static gh_conf_directive_t *directive_new(struct parser *p,
                                          const struct src *s,
                                          const char *name, int nargs,
                                          int line, int col)
{
    struct tree *t = p->tree;
    gh_conf_directive_t *d = arena_alloc(t, sizeof(*d));
    const char **args = arena_alloc(t, (size_t)(nargs + 1) * sizeof(*args));

    if (!d || !args)
        return NULL;
    memcpy(args, p->args, (size_t)nargs * sizeof(*args));
    args[nargs] = NULL;
    *d = (gh_conf_directive_t){.name = name, .args = args, .nargs = nargs,
                               .file = s->name, .line = line, .col = col};
    return d;
}

/* A directive whose name p holds, with its arguments and block. */
static int parse_directive(struct parser *p, struct src *s,
                           gh_conf_section_t *sec, int depth)
{
    int line = p->line, col = p->col, nargs, rc;
    gh_conf_directive_t *d;
    char *name;

    if (p->len == 7 && memcmp(p->tok, "include", 7) == 0)
        return parse_include(p, s, line, col, sec, depth);
    if (!(name = arena_strndup(p->tree, p->tok, p->len)))
        return fail_oom(p, s);
    if ((rc = parse_args(p, s, name, &nargs)) < 0)
        return rc;
    if (!(d = directive_new(p, s, name, nargs, line, col)) ||
        section_append(sec, d) < 0)
        return fail_oom(p, s);
    if (p->kind == T_SEMI)
        return 0;
    if (depth == GH_CONF_MAX_DEPTH)
        return fail_at(p, s, p->line, p->col, GH_EINVAL,
                       "blocks nested more than %d deep", GH_CONF_MAX_DEPTH);
    if (!(d->block = section_new(p->tree, d)))
        return fail_oom(p, s);
    return parse_block(p, s, d->block, depth + 1, p->line, p->col);
}

/*
 * The directives of a block up to its '}' (open_line > 0: opened at
 * open_line:open_col) or of a whole file up to its end (open_line == 0).
 */
static int parse_block(struct parser *p, struct src *s, gh_conf_section_t *sec,
                       int depth, int open_line, int open_col)
{
    int rc;

    for (;;) {
        if ((rc = next_token(p, s)) < 0)
            return rc;
        switch (p->kind) {
        case T_WORD:
            if ((rc = parse_directive(p, s, sec, depth)) < 0)
                return rc;
            break;
        case T_EOF:
            if (open_line == 0)
                return 0;
            return fail_at(p, s, p->line, p->col, GH_EINVAL,
                           "missing '}' for the block opened at %d:%d",
                           open_line, open_col);
        case T_RBRACE:
            if (open_line > 0)
                return 0;
            /* fall through */
        case T_SEMI:
        case T_LBRACE:
            return fail_at(p, s, p->line, p->col, GH_EINVAL,
                           "unexpected %s", token_name(p->kind));
        default:
            return fail_at(p, s, p->line, p->col, GH_EINVAL,
                           "a directive name must be a bare word");
        }
    }
}

/* Parse text, read from name (included from up, or NULL), into sec. */
static int parse_file(struct parser *p, const char *name, const char *text,
                      size_t len, const struct src *up, gh_conf_section_t *sec,
                      int depth)
{
    struct src s = {.text = text, .len = len, .line = 1, .col = 1, .up = up};
    struct stat st;
    char *copy;

    s.level = up ? up->level + 1 : 0;
    copy = arena_strndup(p->tree, name, strlen(name));
    s.name = copy ? copy : name;
    if (!copy)
        return fail_oom(p, &s);
    if (stat(name, &st) == 0) {
        s.has_id = true;
        s.dev = st.st_dev;
        s.ino = st.st_ino;
    }
    return parse_block(p, &s, sec, depth, 0, 0);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int gh_conf_parse_string(const char *name, const char *text, size_t len,
                         gh_conf_section_t **out, char *err, size_t errlen)
{
    struct parser *p;
    gh_conf_section_t *root;
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (!out || (!text && len))
        return GH_EINVAL;
    *out = NULL;
    if (!name)
        name = "(string)";
    if (len > GH_CONF_MAX_FILE) {
        set_err(err, errlen, "%s: %s", name, why(GH_EFBIG));
        return GH_EFBIG;
    }
    if (!(p = calloc(1, sizeof(*p))) ||
        !(p->tree = calloc(1, sizeof(*p->tree)))) {
        free(p);
        set_err(err, errlen, "%s: out of memory", name);
        return GH_ENOMEM;
    }
    p->err = err;
    p->errlen = errlen;
    if (!(root = section_new(p->tree, NULL)) ||
        !(root->file = arena_strndup(p->tree, name, strlen(name)))) {
        set_err(err, errlen, "%s: out of memory", name);
        rc = GH_ENOMEM;
    } else {
        rc = parse_file(p, name, text ? text : "", len, NULL, root, 0);
    }
    if (rc < 0)
        tree_free(p->tree);
    else
        *out = root;
    free(p);
    return rc;
}

int gh_conf_parse_file(const char *path, gh_conf_section_t **out, char *err,
                       size_t errlen)
{
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (!path || !out)
        return GH_EINVAL;
    *out = NULL;
    if ((rc = read_file(path, &text, &len, &st)) < 0) {
        set_err(err, errlen, "%s: %s", path, why(rc));
        return rc;
    }
    rc = gh_conf_parse_string(path, text, len, out, err, errlen);
    free(text);
    return rc;
}

/* ---- walking a section ----------------------------------------------------- */

int gh_conf_count(const gh_conf_section_t *s)
{
    return s ? s->n : 0;
}

const gh_conf_directive_t *gh_conf_at(const gh_conf_section_t *s, int i)
{
    return s && i >= 0 && i < s->n ? s->dirs[i] : NULL;
}

/* The last directive called name in s, without marking anything. */
static gh_conf_directive_t *last(const gh_conf_section_t *s,
                                 const char *name)
{
    if (!s || !name)
        return NULL;
    for (int i = s->n - 1; i >= 0; i--)
        if (strcmp(s->dirs[i]->name, name) == 0)
            return s->dirs[i];
    return NULL;
}

const gh_conf_directive_t *gh_conf_find(const gh_conf_section_t *s,
                                        const char *name)
{
    gh_conf_directive_t *d = last(s, name);

    if (d)
        for (int i = 0; i < s->n; i++)
            if (strcmp(s->dirs[i]->name, name) == 0)
                s->dirs[i]->used = true;
    return d;
}

const char *gh_conf_name(const gh_conf_directive_t *d)
{
    return d ? d->name : NULL;
}

int gh_conf_nargs(const gh_conf_directive_t *d)
{
    return d ? d->nargs : 0;
}

const char *gh_conf_arg(const gh_conf_directive_t *d, int i)
{
    return d && i >= 0 && i < d->nargs ? d->args[i] : NULL;
}

const gh_conf_section_t *gh_conf_block(const gh_conf_directive_t *d)
{
    return d ? d->block : NULL;
}

const char *gh_conf_file(const gh_conf_directive_t *d)
{
    return d ? d->file : NULL;
}

int gh_conf_line(const gh_conf_directive_t *d)
{
    return d ? d->line : 0;
}

int gh_conf_col(const gh_conf_directive_t *d)
{
    return d ? d->col : 0;
}

void gh_conf_use(const gh_conf_directive_t *d)
{
    if (d)
        ((gh_conf_directive_t *)d)->used = true;
}

const gh_conf_directive_t *gh_conf_unused(const gh_conf_section_t *s)
{
    for (int i = 0; s && i < s->n; i++)
        if (!s->dirs[i]->used)
            return s->dirs[i];
    return NULL;
}

/* ---- messages recorded in a tree ------------------------------------------- */

static int vrecord(const gh_conf_section_t *s, const gh_conf_directive_t *d,
                   const char *fmt, va_list ap)
{
    char head[64], *msg;
    const char *file;
    int hn, n;
    va_list ap2;

    if (!d)
        d = s->owner;
    file = d ? d->file : s->file;
    if (d)
        snprintf(head, sizeof(head), ":%d:%d: ", d->line, d->col);
    else
        snprintf(head, sizeof(head), ": ");
    hn = (int)(strlen(file) + strlen(head));
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || !(msg = malloc((size_t)hn + (size_t)n + 1)))
        return GH_EINVAL; /* the old message stays: better than none */
    snprintf(msg, (size_t)hn + 1, "%s%s", file, head);
    vsnprintf(msg + hn, (size_t)n + 1, fmt, ap);
    free(s->tree->msg);
    s->tree->msg = msg;
    return GH_EINVAL;
}

int gh_conf_errorf(const gh_conf_section_t *s, const gh_conf_directive_t *d,
                   const char *fmt, ...)
{
    va_list ap;

    if (!s || !fmt)
        return GH_EINVAL;
    va_start(ap, fmt);
    vrecord(s, d, fmt, ap);
    va_end(ap);
    return GH_EINVAL;
}

const char *gh_conf_error(const gh_conf_section_t *s)
{
    return s ? s->tree->msg : NULL;
}

/* ---- the values on their own ------------------------------------------------ */

/* Leading decimal digits of *p into *v; false on none.  Sets *big when
 * they do not fit in a uint64_t. */
static bool digits(const char **p, uint64_t *v, bool *big)
{
    const char *s = *p;

    for (*v = 0; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');

        if (*v > (UINT64_MAX - d) / 10)
            *big = true;
        else
            *v = *v * 10 + d;
    }
    if (s == *p)
        return false;
    *p = s;
    return true;
}

int gh_conf_parse_size(const char *text, uint64_t *out)
{
    const char *p = text;
    uint64_t v, unit = 1;
    bool big = false;

    if (!text || !out || !digits(&p, &v, &big))
        return GH_EINVAL;
    switch (*p) {
    case 'k':
    case 'K':
        unit = 1024, p++;
        break;
    case 'm':
    case 'M':
        unit = 1024 * 1024, p++;
        break;
    case 'g':
    case 'G':
        unit = 1024 * 1024 * 1024, p++;
        break;
    }
    if (*p != '\0')
        return GH_EINVAL;
    if (big || v > UINT64_MAX / unit)
        return GH_ERANGE;
    *out = v * unit;
    return 0;
}

/* Durations: units from the largest; "ms" before "m". */
static const struct {
    const char *name;
    int64_t ns;
} units[] = {
    {"d", 24 * GH_HOUR}, {"h", GH_HOUR},   {"ms", GH_MILLISECOND},
    {"m", GH_MINUTE},    {"s", GH_SECOND},
};
#define N_UNITS ((int)(sizeof(units) / sizeof(units[0])))

/* The unit at *p (advanced past it), or -1. */
static int duration_unit(const char **p)
{
    for (int i = 0; i < N_UNITS; i++) {
        size_t n = strlen(units[i].name);

        if (strncmp(*p, units[i].name, n) == 0) {
            *p += n;
            return i;
        }
    }
    return -1;
}

int gh_conf_parse_duration(const char *text, int64_t *out)
{
    const char *p = text;
    int64_t total = 0, prev = INT64_MAX;
    bool big = false;
    uint64_t v;
    int u;

    if (!text || !out || !digits(&p, &v, &big))
        return GH_EINVAL;
    if (*p == '\0') { /* a bare number: seconds */
        if (big || v > (uint64_t)(INT64_MAX / GH_SECOND))
            return GH_ERANGE;
        *out = (int64_t)v * GH_SECOND;
        return 0;
    }
    for (;;) {
        /* Later parts of "1h30m" must be in smaller units. */
        if ((u = duration_unit(&p)) < 0 || units[u].ns >= prev)
            return GH_EINVAL;
        prev = units[u].ns;
        if (big || v > (uint64_t)((INT64_MAX - total) / prev))
            big = true;
        else
            total += (int64_t)v * prev;
        if (*p == '\0')
            break;
        if (!digits(&p, &v, &big))
            return GH_EINVAL;
    }
    if (big)
        return GH_ERANGE;
    *out = total;
    return 0;
}

int gh_conf_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"on", "yes", "true"};
    static const char *const no[] = {"off", "no", "false"};

    if (!text || !out)
        return GH_EINVAL;
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return GH_EINVAL;
}

/* ---- typed getters ----------------------------------------------------------- */

/*
 * The last directive called key in s, marked with the others of its name,
 * checked to have one argument (or, with list, one or more) and no block.
 * Returns 1 and it in *d and its first argument in *val, 0 when absent, or
 * GH_EINVAL with a message recorded.
 */
static int lookup(const gh_conf_section_t *s, const char *key, bool list,
                  const gh_conf_directive_t **d, const char **val)
{
    if (!key)
        return GH_EINVAL;
    if (!(*d = gh_conf_find(s, key)))
        return 0;
    if ((*d)->block)
        return gh_conf_errorf(s, *d, "%s: unexpected block", key);
    if (list && (*d)->nargs == 0)
        return gh_conf_errorf(s, *d, "%s: expected one or more arguments",
                              key);
    if (!list && (*d)->nargs != 1)
        return gh_conf_errorf(s, *d, "%s: expected one argument, found %d",
                              key, (*d)->nargs);
    *val = (*d)->args[0];
    return 1;
}

int gh_conf_get_str(const gh_conf_section_t *s, const char *key,
                    const char *dflt, const char **out)
{
    const gh_conf_directive_t *d;
    const char *v;
    int rc;

    if (!out)
        return GH_EINVAL;
    if ((rc = lookup(s, key, false, &d, &v)) <= 0) {
        if (rc == 0)
            *out = dflt;
        return rc;
    }
    *out = v;
    return 0;
}

/* A decimal integer, with an optional '-'; false on anything else.
 * *big: it does not fit in an int64_t. */
static bool parse_int(const char *p, int64_t *out, bool *big)
{
    bool neg = *p == '-';
    uint64_t v = 0;

    p += neg;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            *big = true;
        else
            v = v * 10 + (uint64_t)(*p - '0');
    }
    if (*p != '\0')
        return false;
    if (v > (uint64_t)INT64_MAX + neg)
        *big = true;
    else
        *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

int gh_conf_get_int(const gh_conf_section_t *s, const char *key,
                    int64_t dflt, int64_t min, int64_t max, int64_t *out)
{
    const gh_conf_directive_t *d;
    char buf[SHOW_BUF];
    const char *v;
    bool big = false;
    int64_t n = 0;
    int rc;

    if (!out)
        return GH_EINVAL;
    if ((rc = lookup(s, key, false, &d, &v)) <= 0) {
        if (rc == 0)
            *out = dflt;
        return rc;
    }
    if (!parse_int(v, &n, &big))
        return gh_conf_errorf(s, d, "%s: expected an integer, found %s", key,
                              show(buf, sizeof(buf), v));
    if (big || n < min || n > max)
        return gh_conf_errorf(s, d,
                              "%s: must be between %lld and %lld, found %s",
                              key, (long long)min, (long long)max,
                              show(buf, sizeof(buf), v));
    *out = n;
    return 0;
}

int gh_conf_get_size(const gh_conf_section_t *s, const char *key,
                     uint64_t dflt, uint64_t *out)
{
    const gh_conf_directive_t *d;
    char buf[SHOW_BUF];
    const char *v;
    uint64_t n;
    int rc;

    if (!out)
        return GH_EINVAL;
    if ((rc = lookup(s, key, false, &d, &v)) <= 0) {
        if (rc == 0)
            *out = dflt;
        return rc;
    }
    if ((rc = gh_conf_parse_size(v, &n)) == GH_ERANGE)
        return gh_conf_errorf(s, d, "%s: size too large: %s", key,
                              show(buf, sizeof(buf), v));
    if (rc < 0)
        return gh_conf_errorf(s, d,
                              "%s: expected a size (e.g. 512, 64k, 1m), "
                              "found %s",
                              key, show(buf, sizeof(buf), v));
    *out = n;
    return 0;
}

int gh_conf_get_duration(const gh_conf_section_t *s, const char *key,
                         int64_t dflt, int64_t *out)
{
    const gh_conf_directive_t *d;
    char buf[SHOW_BUF];
    const char *v;
    int64_t n;
    int rc;

    if (!out)
        return GH_EINVAL;
    if ((rc = lookup(s, key, false, &d, &v)) <= 0) {
        if (rc == 0)
            *out = dflt;
        return rc;
    }
    if ((rc = gh_conf_parse_duration(v, &n)) == GH_ERANGE)
        return gh_conf_errorf(s, d, "%s: duration too long: %s", key,
                              show(buf, sizeof(buf), v));
    if (rc < 0)
        return gh_conf_errorf(s, d,
                              "%s: expected a duration (e.g. 30s, 500ms, "
                              "1h), found %s",
                              key, show(buf, sizeof(buf), v));
    *out = n;
    return 0;
}

int gh_conf_get_bool(const gh_conf_section_t *s, const char *key, bool dflt,
                     bool *out)
{
    const gh_conf_directive_t *d;
    char buf[SHOW_BUF];
    const char *v;
    bool b;
    int rc;

    if (!out)
        return GH_EINVAL;
    if ((rc = lookup(s, key, false, &d, &v)) <= 0) {
        if (rc == 0)
            *out = dflt;
        return rc;
    }
    if (gh_conf_parse_bool(v, &b) < 0)
        return gh_conf_errorf(s, d, "%s: expected on or off, found %s", key,
                              show(buf, sizeof(buf), v));
    *out = b;
    return 0;
}

int gh_conf_get_list(const gh_conf_section_t *s, const char *key,
                     const char *const **out, int *n)
{
    const gh_conf_directive_t *d;
    const char *v;
    int rc;

    if (!out || !n)
        return GH_EINVAL;
    if ((rc = lookup(s, key, true, &d, &v)) <= 0) {
        if (rc == 0) {
            *out = NULL;
            *n = 0;
        }
        return rc;
    }
    *out = (const char *const *)d->args;
    *n = d->nargs;
    return 0;
}
