/*
 * fuzz_conf.c - a libFuzzer target for the configuration parser
 * (gohttpd/conf.h).
 *
 * Each input is parsed with gh_conf_parse_string(); a tree is walked, every
 * accessor and getter is called on every directive (each name as a key,
 * so every getter meets every shape of directive) and the value parsers on
 * every argument, and the tree is freed.  A failed parse must leave a
 * message, and a second parse with a tiny error buffer must leave a
 * NUL-terminated prefix of it.  Any broken invariant aborts.
 *
 * Includes.  The input is parsed as if read from a file in a private
 * sandbox directory holding a few files to include (see sandbox_make()),
 * and, in an input that says "include", every '/' is replaced by '_'
 * first: patterns can then only name files of the sandbox, never
 * /dev/stdin or a FIFO elsewhere that would block the fuzzer.
 *
 * Built two ways (tests/fuzz/Makemodule.am): with libFuzzer by `make fuzz`,
 * and with standalone_main.c for `make check`, which runs the seed corpus.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gohttpd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char sandbox[512];      /* the directory; "" before the first input */
static char sandbox_name[600]; /* the input's file name, in it */

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_conf: broken invariant: %s\n", what);
        abort();
    }
}

/* The sandbox's files: name and text (chain<N> are made in a loop). */
static const char *const files[][2] = {
    {"a.conf", "a 1;\nsize 64k;\ninclude b.conf;\n"},
    {"b.conf", "route / {\n  t 1h30m;\n  flag on;\n  list x y z;\n}\n"},
    {"self.conf", "x;\ninclude self.conf;\n"},
    {"loop1.conf", "include loop2.conf;\n"},
    {"loop2.conf", "include loop*.conf;\n"},
    {"bad.conf", "ok;\nbad {\n"},
};
#define N_FILES ((int)(sizeof(files) / sizeof(files[0])))
#define N_CHAIN 10 /* chain0 -> chain1 -> ... deeper than the limit */

static void in_sandbox(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", sandbox, name);
}

static void put(const char *name, const char *text)
{
    char path[700];
    FILE *f;

    in_sandbox(path, sizeof(path), name);
    if ((f = fopen(path, "w")) != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

/* Removes only what sandbox_make() made. */
static void sandbox_remove(void)
{
    char path[700], name[32];

    for (int i = 0; i < N_FILES; i++) {
        in_sandbox(path, sizeof(path), files[i][0]);
        unlink(path);
    }
    for (int i = 0; i < N_CHAIN; i++) {
        snprintf(name, sizeof(name), "chain%d", i);
        in_sandbox(path, sizeof(path), name);
        unlink(path);
    }
    in_sandbox(path, sizeof(path), "dir.d");
    rmdir(path);
    rmdir(sandbox);
}

static void sandbox_make(void)
{
    const char *tmp = getenv("TMPDIR");
    char name[32], text[64], path[700];

    snprintf(sandbox, sizeof(sandbox), "%s/fuzz_conf.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(sandbox)) {
        perror("fuzz_conf: mkdtemp");
        exit(1);
    }
    in_sandbox(sandbox_name, sizeof(sandbox_name), "input.conf");
    for (int i = 0; i < N_FILES; i++)
        put(files[i][0], files[i][1]);
    for (int i = 0; i < N_CHAIN; i++) {
        snprintf(name, sizeof(name), "chain%d", i);
        snprintf(text, sizeof(text), "c%d %d;\ninclude chain%d;\n", i, i,
                 i + 1);
        put(name, text);
    }
    in_sandbox(path, sizeof(path), "dir.d");
    mkdir(path, 0700);
    atexit(sandbox_remove);
}

static void values(const char *v)
{
    uint64_t size;
    int64_t dur;
    bool b;
    int rc;

    rc = gh_conf_parse_size(v, &size);
    check(rc == 0 || rc == GH_EINVAL || rc == GH_ERANGE, "size rc");
    rc = gh_conf_parse_duration(v, &dur);
    check(rc == 0 || rc == GH_EINVAL || rc == GH_ERANGE, "duration rc");
    check(rc != 0 || dur >= 0, "negative duration");
    rc = gh_conf_parse_bool(v, &b);
    check(rc == 0 || rc == GH_EINVAL, "bool rc");
}

/* Every getter with d's name as the key: 0 or GH_EINVAL with a message. */
static void getters(const gh_conf_section_t *s, const char *key)
{
    const char *str, *const *list;
    int64_t i, dur;
    uint64_t size;
    bool b;
    int n, rc[6];

    rc[0] = gh_conf_get_str(s, key, NULL, &str);
    rc[1] = gh_conf_get_int(s, key, 0, -100, 100, &i);
    rc[2] = gh_conf_get_size(s, key, 0, &size);
    rc[3] = gh_conf_get_duration(s, key, 0, &dur);
    rc[4] = gh_conf_get_bool(s, key, false, &b);
    rc[5] = gh_conf_get_list(s, key, &list, &n);
    for (int k = 0; k < 6; k++) {
        check(rc[k] == 0 || rc[k] == GH_EINVAL, "getter rc");
        check(rc[k] == 0 || gh_conf_error(s) != NULL, "getter message");
    }
    if (rc[0] == 0)
        check(str != NULL && strcmp(str, list[0]) == 0, "str vs list");
    if (rc[5] == 0)
        check(n >= 1 && list[n] == NULL, "list shape");
    if (rc[1] == 0)
        check(i >= -100 && i <= 100, "int range");
}

static void walk(const gh_conf_section_t *s, int depth)
{
    int n = gh_conf_count(s);

    check(depth <= GH_CONF_MAX_DEPTH, "depth");
    check(gh_conf_at(s, n) == NULL && gh_conf_at(s, -1) == NULL, "at");
    for (int i = 0; i < n; i++) {
        const gh_conf_directive_t *d = gh_conf_at(s, i);
        const char *name = gh_conf_name(d);
        int nargs = gh_conf_nargs(d);

        check(d && name && gh_conf_file(d), "directive");
        check(gh_conf_line(d) >= 1 && gh_conf_col(d) >= 1, "position");
        check(nargs >= 0 && nargs <= GH_CONF_MAX_ARGS, "nargs");
        check(strlen(name) <= GH_CONF_MAX_TOKEN, "name length");
        for (int a = 0; a < nargs; a++)
            values(gh_conf_arg(d, a));
        check(gh_conf_arg(d, nargs) == NULL, "arg past the end");
        check(gh_conf_find(s, name) != NULL, "find");
        getters(s, name);
        gh_conf_use(d);
        if (gh_conf_block(d))
            walk(gh_conf_block(d), depth + 1);
    }
    check(gh_conf_unused(s) == NULL, "unused after use");
    gh_conf_errorf(s, NULL, "section of %d", n);
    if (n > 0)
        gh_conf_errorf(s, gh_conf_at(s, 0), "%s", "first");
    check(gh_conf_error(s) != NULL, "errorf message");
}

/* A failed parse leaves a message; a tiny buffer holds a prefix of it. */
static void failed(const char *text, size_t size, int rc, const char *err)
{
    gh_conf_section_t *root = NULL;
    char small[8];
    size_t len = 1 + size % sizeof(small);

    check(rc < 0 && err[0] != '\0', "failure without a message");
    memset(small, 'z', sizeof(small));
    check(gh_conf_parse_string(sandbox_name, text, size, &root, small, len) ==
              rc,
          "same input, other result");
    check(root == NULL, "root after failure");
    check(memchr(small, '\0', len) != NULL, "unterminated message");
    check(strncmp(small, err, strlen(small)) == 0, "message prefix");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gh_conf_section_t *root = NULL;
    char err[512], *text;
    int rc;

    if (!sandbox[0])
        sandbox_make();
    if (!(text = malloc(size + 1)))
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (memmem(text, size, "include", 7))
        for (size_t i = 0; i < size; i++)
            if (text[i] == '/')
                text[i] = '_';
    values(text);
    rc = gh_conf_parse_string(sandbox_name, text, size, &root, err,
                              sizeof(err));
    check(memchr(err, '\0', sizeof(err)) != NULL, "unterminated err");
    if (rc == 0) {
        check(root != NULL, "no root");
        walk(root, 0);
        gh_conf_free(root);
    } else {
        failed(text, size, rc, err);
    }
    free(text);
    return 0;
}
