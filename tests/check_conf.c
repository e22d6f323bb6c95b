/*
 * check_conf.c - the configuration parser (gohttpd/conf.h): the tree and
 * the positions it records, every kind of syntax error with its exact
 * file:line:col message, includes (globs, order, relative paths, missing
 * files, cycles, depth), the typed getters on good and bad values, the
 * "used" marks, and the size, duration and flag syntax on its own.
 *
 * Files for the include tests go to a mkdtemp() directory under $TMPDIR
 * (or /tmp), removed after each test; nothing is written into the source
 * tree.
 */
#include "check_gh.h"

#include <dirent.h>
#include <sys/stat.h>

/* ---- helpers --------------------------------------------------------- */

static char err[1024];

/* Parse text as "x.conf"; fail the test on an error. */
static gh_conf_section_t *parse_ok(const char *text)
{
    gh_conf_section_t *root = NULL;
    int rc = gh_conf_parse_string("x.conf", text, strlen(text), &root, err,
                                  sizeof(err));

    ck_assert_msg(rc == 0, "parse failed (%d): %s", rc, err);
    ck_assert_ptr_nonnull(root);
    return root;
}

/* Parse len bytes as "x.conf", expecting rc and the message msg. */
static void parse_fails_n(const char *text, size_t len, int rc,
                          const char *msg)
{
    gh_conf_section_t *root = (gh_conf_section_t *)&root; /* not NULL */
    int got = gh_conf_parse_string("x.conf", text, len, &root, err,
                                   sizeof(err));

    ck_assert_msg(got == rc, "got %d (%s), want %d for [%s]", got, err, rc,
                  text);
    ck_assert_ptr_null(root);
    ck_assert_str_eq(err, msg);
}

static void parse_fails(const char *text, const char *msg)
{
    parse_fails_n(text, strlen(text), GH_EINVAL, msg);
}

/* The directive i of s, checked to be called name. */
static const gh_conf_directive_t *at(const gh_conf_section_t *s, int i,
                                     const char *name)
{
    const gh_conf_directive_t *d = gh_conf_at(s, i);

    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(gh_conf_name(d), name);
    return d;
}

static void assert_pos(const gh_conf_directive_t *d, const char *file,
                       int line, int col)
{
    ck_assert_str_eq(gh_conf_file(d), file);
    ck_assert_int_eq(gh_conf_line(d), line);
    ck_assert_int_eq(gh_conf_col(d), col);
}

/*
 * A temporary directory per include test, inside one per run: the run's
 * is made and removed by an unchecked fixture (in Check's parent process),
 * so it goes even when a failed test ends its child before the checked
 * teardown.
 */
static char basedir[256], tmpdir[512];

static void basedir_make(void)
{
    const char *t = getenv("TMPDIR");

    snprintf(basedir, sizeof(basedir), "%s/check_conf.XXXXXX",
             t && *t ? t : "/tmp");
    if (!mkdtemp(basedir)) {
        perror("check_conf: mkdtemp");
        exit(1);
    }
}

static void tmpdir_make(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/t.XXXXXX", basedir);
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

static void rm_rf(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char sub[1024];

    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void tmpdir_remove(void)
{
    if (tmpdir[0])
        rm_rf(tmpdir);
    tmpdir[0] = '\0';
}

static void basedir_remove(void)
{
    rm_rf(basedir);
}

/* tmpdir/rel, as a path (a static buffer per call site is enough). */
static const char *tpath(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", tmpdir, rel);
    return buf;
}

/* Write text to tmpdir/rel, making the directories on the way. */
static void put(const char *rel, const char *text)
{
    char path[1024], *slash;
    FILE *f;

    tpath(path, sizeof(path), rel);
    for (slash = path + strlen(tmpdir) + 1; (slash = strchr(slash, '/'));
         slash++) {
        *slash = '\0';
        mkdir(path, 0700);
        *slash = '/';
    }
    f = fopen(path, "w");
    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

/* Parse tmpdir/rel with gh_conf_parse_file(). */
static int parse_tmp(const char *rel, gh_conf_section_t **root)
{
    char path[1024];

    return gh_conf_parse_file(tpath(path, sizeof(path), rel), root, err,
                              sizeof(err));
}

/* The message expected for tmpdir-relative files: "%T" is tmpdir. */
static const char *expand(char *buf, size_t size, const char *fmt)
{
    size_t o = 0;

    for (; *fmt && o + 1 < size; fmt++) {
        if (fmt[0] == '%' && fmt[1] == 'T') {
            o += (size_t)snprintf(buf + o, size - o, "%s", tmpdir);
            fmt++;
        } else {
            buf[o++] = *fmt;
        }
    }
    buf[o < size ? o : size - 1] = '\0';
    return buf;
}

static void assert_err_is(const char *fmt)
{
    char want[2048];

    ck_assert_str_eq(err, expand(want, sizeof(want), fmt));
}

/* ---- the tree ---------------------------------------------------------- */

static const char realistic[] =
    "# gohttpd.conf\n"
    "workers 4;\n"
    "error_log  stderr info;   # a comment\n"
    "listen 127.0.0.1:8080 backlog=1024 reuseport;\n"
    "\n"
    "route /static/ {\n"
    "    handler static;\n"
    "    root    /srv/www;\n"
    "    max_age 1h;\n"
    "    headers {\n"
    "        X-Frame-Options DENY;\n"
    "    }\n"
    "}\n"
    "route /api/ {\n"
    "\thandler proxy;\n"
    "\tupstream \"http://127.0.0.1:9000\" 'b c';\n"
    "}\n";

START_TEST(conf_parses_a_realistic_file_into_a_tree)
{
    gh_conf_section_t *root = parse_ok(realistic);
    const gh_conf_directive_t *d;
    const gh_conf_section_t *b, *h;

    ck_assert_int_eq(gh_conf_count(root), 5);
    d = at(root, 0, "workers");
    ck_assert_int_eq(gh_conf_nargs(d), 1);
    ck_assert_str_eq(gh_conf_arg(d, 0), "4");
    ck_assert_ptr_null(gh_conf_block(d));
    d = at(root, 1, "error_log");
    ck_assert_int_eq(gh_conf_nargs(d), 2);
    ck_assert_str_eq(gh_conf_arg(d, 1), "info");
    d = at(root, 2, "listen");
    ck_assert_int_eq(gh_conf_nargs(d), 3);
    ck_assert_str_eq(gh_conf_arg(d, 0), "127.0.0.1:8080");
    ck_assert_str_eq(gh_conf_arg(d, 1), "backlog=1024");
    ck_assert_str_eq(gh_conf_arg(d, 2), "reuseport");
    ck_assert_ptr_null(gh_conf_arg(d, 3));
    ck_assert_ptr_null(gh_conf_arg(d, -1));

    d = at(root, 3, "route");
    ck_assert_str_eq(gh_conf_arg(d, 0), "/static/");
    b = gh_conf_block(d);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(gh_conf_count(b), 4);
    ck_assert_str_eq(gh_conf_arg(at(b, 2, "max_age"), 0), "1h");
    h = gh_conf_block(at(b, 3, "headers"));
    ck_assert_int_eq(gh_conf_count(h), 1);
    ck_assert_str_eq(gh_conf_arg(at(h, 0, "X-Frame-Options"), 0), "DENY");

    b = gh_conf_block(at(root, 4, "route"));
    ck_assert_int_eq(gh_conf_count(b), 2);
    d = at(b, 1, "upstream");
    ck_assert_int_eq(gh_conf_nargs(d), 2);
    ck_assert_str_eq(gh_conf_arg(d, 0), "http://127.0.0.1:9000");
    ck_assert_str_eq(gh_conf_arg(d, 1), "b c");
    ck_assert_ptr_null(gh_conf_at(root, 5));
    ck_assert_ptr_null(gh_conf_at(root, -1));
    gh_conf_free(root);
}
END_TEST

START_TEST(conf_directives_remember_file_line_and_column)
{
    gh_conf_section_t *root = parse_ok(realistic);
    const gh_conf_section_t *b;

    assert_pos(gh_conf_at(root, 0), "x.conf", 2, 1);
    assert_pos(gh_conf_at(root, 2), "x.conf", 4, 1);
    assert_pos(gh_conf_at(root, 3), "x.conf", 6, 1);
    b = gh_conf_block(gh_conf_at(root, 3));
    assert_pos(gh_conf_at(b, 0), "x.conf", 7, 5);
    assert_pos(gh_conf_at(gh_conf_block(gh_conf_at(b, 3)), 0), "x.conf", 11,
               9);
    b = gh_conf_block(gh_conf_at(root, 4));
    assert_pos(gh_conf_at(b, 0), "x.conf", 15, 2); /* a tab is one column */
    assert_pos(gh_conf_at(b, 1), "x.conf", 16, 2);
    gh_conf_free(root);
}
END_TEST

START_TEST(conf_positions_after_multiline_strings_and_crlf)
{
    gh_conf_section_t *root =
        parse_ok("a \"one\ntwo\"; b\r\n  c 'x\n\ny' ;  d;");

    ck_assert_str_eq(gh_conf_arg(gh_conf_at(root, 0), 0), "one\ntwo");
    assert_pos(at(root, 1, "b"), "x.conf", 2, 7);
    ck_assert_str_eq(gh_conf_arg(gh_conf_at(root, 1), 0), "c");
    ck_assert_str_eq(gh_conf_arg(gh_conf_at(root, 1), 1), "x\n\ny");
    assert_pos(at(root, 2, "d"), "x.conf", 5, 7);
    gh_conf_free(root);
}
END_TEST

START_TEST(conf_quotes_escapes_and_word_boundaries)
{
    gh_conf_section_t *root =
        parse_ok("a \"q\\\"b\\\\s\\n\\t\\r\\$x\" 'no\\n esc\"ape' \"\";\n"
                 "b c;d{e;}f#comment;g\n;\n"
                 "h \"{;}#'\";");
    const gh_conf_directive_t *d = at(root, 0, "a");

    ck_assert_int_eq(gh_conf_nargs(d), 3);
    ck_assert_str_eq(gh_conf_arg(d, 0), "q\"b\\s\n\t\r$x");
    ck_assert_str_eq(gh_conf_arg(d, 1), "no\\n esc\"ape");
    ck_assert_str_eq(gh_conf_arg(d, 2), "");
    ck_assert_str_eq(gh_conf_arg(at(root, 1, "b"), 0), "c");
    ck_assert_int_eq(gh_conf_count(gh_conf_block(at(root, 2, "d"))), 1);
    ck_assert_int_eq(gh_conf_nargs(at(root, 3, "f")), 0);
    ck_assert_str_eq(gh_conf_arg(at(root, 4, "h"), 0), "{;}#'");
    ck_assert_int_eq(gh_conf_count(root), 5);
    gh_conf_free(root);
}
END_TEST

START_TEST(conf_empty_and_comment_only_files_are_empty_trees)
{
    gh_conf_section_t *root = parse_ok("");

    ck_assert_int_eq(gh_conf_count(root), 0);
    ck_assert_ptr_null(gh_conf_unused(root));
    gh_conf_free(root);
    root = parse_ok("  # nothing\n\t\n# here");
    ck_assert_int_eq(gh_conf_count(root), 0);
    gh_conf_free(root);
    root = parse_ok("a { }");
    ck_assert_int_eq(gh_conf_count(gh_conf_block(gh_conf_at(root, 0))), 0);
    gh_conf_free(root);
    ck_assert_int_eq(gh_conf_parse_string("n", NULL, 0, &root, NULL, 0), 0);
    gh_conf_free(root);
    gh_conf_free(NULL);
}
END_TEST

/* ---- syntax errors ------------------------------------------------------- */

START_TEST(conf_missing_semicolon_names_the_directive_and_what_came)
{
    parse_fails("workers 2;\nlisten 127.0.0.1:80",
                "x.conf:2:20: expected ';' or '{' after "
                "\"listen 127.0.0.1:80\", found end of file");
    parse_fails("route / {\n  root /x\n}",
                "x.conf:3:1: expected ';' or '{' after \"root /x\", "
                "found '}'");
    parse_fails("a \"b c\"", "x.conf:1:8: expected ';' or '{' after "
                             "\"a b c\", found end of file");
}
END_TEST

START_TEST(conf_long_directive_is_cut_short_in_messages)
{
    char text[512];

    snprintf(text, sizeof(text), "name %0200d", 7);
    parse_fails_n(text, strlen(text), GH_EINVAL,
                  "x.conf:1:206: expected ';' or '{' after \"name "
                  "00000000000000000000000000000000000000000000000000000000"
                  "00...\", found end of file");
}
END_TEST

START_TEST(conf_stray_punctuation_is_unexpected)
{
    parse_fails("a;\n}", "x.conf:2:1: unexpected '}'");
    parse_fails("a { b; } }", "x.conf:1:10: unexpected '}'");
    parse_fails("  ;", "x.conf:1:3: unexpected ';'");
    parse_fails("a;\n\t{", "x.conf:2:2: unexpected '{'");
    parse_fails("a { } ;", "x.conf:1:7: unexpected ';'");
}
END_TEST

START_TEST(conf_unclosed_block_names_where_it_opened)
{
    parse_fails("route / {\n  a;\n", "x.conf:3:1: missing '}' for the block "
                                     "opened at 1:9");
    parse_fails("a {\n b {\n  c;\n }\n",
                "x.conf:5:1: missing '}' for the block opened at 1:3");
}
END_TEST

START_TEST(conf_strings_errors)
{
    parse_fails("a \"abc;\n\n", "x.conf:1:3: unterminated string");
    parse_fails("a\n 'abc", "x.conf:2:2: unterminated string");
    parse_fails("a \"abc\\", "x.conf:1:3: unterminated string");
    parse_fails("a \"x\\q\";", "x.conf:1:5: unknown escape \\q in a string");
    parse_fails("a \"x\\\x01\";",
                "x.conf:1:5: unknown escape in a string: '\\' and byte 0x01");
    parse_fails("ab\"c\";", "x.conf:1:3: a quote in the middle of a word");
    parse_fails("a b'c';", "x.conf:1:4: a quote in the middle of a word");
    parse_fails("a \"b\"c;", "x.conf:1:6: expected white space, ';' or '{' "
                             "after a string");
    parse_fails("a \"b\"'c';", "x.conf:1:6: expected white space, ';' or "
                               "'{' after a string");
    parse_fails("\"a\" b;", "x.conf:1:1: a directive name must be a bare "
                            "word");
    parse_fails("x { 'a'; }", "x.conf:1:5: a directive name must be a bare "
                              "word");
}
END_TEST

START_TEST(conf_nul_bytes_are_errors_everywhere)
{
    parse_fails_n("a b;\0", 5, GH_EINVAL, "x.conf:1:5: NUL byte");
    parse_fails_n("a b\0c;", 6, GH_EINVAL, "x.conf:1:4: NUL byte");
    parse_fails_n("a \"b\0\";", 7, GH_EINVAL, "x.conf:1:5: NUL byte");
    parse_fails_n("a; # x\0y\n", 9, GH_EINVAL, "x.conf:1:7: NUL byte");
    parse_fails_n("\n\0", 2, GH_EINVAL, "x.conf:2:1: NUL byte");
}
END_TEST

START_TEST(conf_limits_are_enforced_with_clear_messages)
{
    static char text[3 * GH_CONF_MAX_TOKEN];
    size_t o;

    /* 64 arguments pass, the 65th does not. */
    o = (size_t)snprintf(text, sizeof(text), "a");
    for (int i = 0; i < GH_CONF_MAX_ARGS; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, " x");
    snprintf(text + o, sizeof(text) - o, ";");
    gh_conf_free(parse_ok(text));
    snprintf(text + o, sizeof(text) - o, " y;");
    parse_fails(text, "x.conf:1:131: a: more than 64 arguments");

    /* A word or string of 4096 bytes passes, of 4097 does not. */
    memset(text, 'w', GH_CONF_MAX_TOKEN);
    strcpy(text + GH_CONF_MAX_TOKEN, ";");
    gh_conf_free(parse_ok(text));
    memset(text, 'w', GH_CONF_MAX_TOKEN + 1);
    strcpy(text + GH_CONF_MAX_TOKEN + 1, ";");
    parse_fails(text, "x.conf:1:1: a word longer than 4096 bytes");
    memset(text, 'w', 3 + GH_CONF_MAX_TOKEN + 1);
    text[0] = 'a', text[1] = ' ', text[2] = '\'';
    strcpy(text + 3 + GH_CONF_MAX_TOKEN + 1, "';");
    parse_fails(text, "x.conf:1:3: a string longer than 4096 bytes");
}
END_TEST

START_TEST(conf_nesting_is_limited_to_sixteen_blocks)
{
    char text[256];
    size_t o = 0;
    gh_conf_section_t *root;
    const gh_conf_section_t *s;

    for (int i = 0; i < GH_CONF_MAX_DEPTH; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "b{");
    for (int i = 0; i < GH_CONF_MAX_DEPTH; i++)
        text[o++] = '}';
    text[o] = '\0';
    root = parse_ok(text);
    s = root;
    for (int i = 0; i < GH_CONF_MAX_DEPTH; i++)
        s = gh_conf_block(gh_conf_at(s, 0));
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(gh_conf_count(s), 0);
    gh_conf_free(root);

    o = 0;
    for (int i = 0; i <= GH_CONF_MAX_DEPTH; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "b{");
    text[o] = '\0';
    parse_fails(text, "x.conf:1:34: blocks nested more than 16 deep");
}
END_TEST

START_TEST(conf_text_over_the_file_limit_is_efbig)
{
    size_t len = GH_CONF_MAX_FILE + 1;
    char *big = malloc(len);
    gh_conf_section_t *root;

    ck_assert_ptr_nonnull(big);
    memset(big, '#', len);
    parse_fails_n(big, len, GH_EFBIG, "x.conf: file too large (over 4 MiB)");
    /* Exactly the limit passes. */
    ck_assert_int_eq(
        gh_conf_parse_string("x", big, len - 1, &root, err, sizeof(err)), 0);
    gh_conf_free(root);
    free(big);
}
END_TEST

START_TEST(conf_error_buffer_is_always_terminated)
{
    gh_conf_section_t *root;
    char small[10];

    memset(small, 'z', sizeof(small));
    ck_assert_int_eq(gh_conf_parse_string("x.conf", "}", 1, &root, small,
                                          sizeof(small)),
                     GH_EINVAL);
    ck_assert_str_eq(small, "x.conf:1:");
    memset(small, 'z', sizeof(small));
    ck_assert_int_eq(
        gh_conf_parse_string("x.conf", "}", 1, &root, small, 1), GH_EINVAL);
    ck_assert_int_eq(small[0], '\0');
    ck_assert_int_eq(small[1], 'z');
    ck_assert_int_eq(gh_conf_parse_string("x.conf", "}", 1, &root, NULL, 0),
                     GH_EINVAL);
    ck_assert_int_eq(
        gh_conf_parse_string("x.conf", "}", 1, &root, NULL, 100), GH_EINVAL);
    ck_assert_ptr_null(root);
    ck_assert_int_eq(gh_conf_parse_string("x", "a;", 2, NULL, NULL, 0),
                     GH_EINVAL);
    ck_assert_int_eq(gh_conf_parse_file(NULL, &root, NULL, 0), GH_EINVAL);
    /* A success clears the buffer. */
    strcpy(err, "stale");
    gh_conf_free(parse_ok("a;"));
    ck_assert_str_eq(err, "");
}
END_TEST

/* ---- include --------------------------------------------------------------- */

START_TEST(conf_include_glob_is_sorted_and_spliced_in_place)
{
    gh_conf_section_t *root;
    const gh_conf_section_t *b;
    char f[1024];

    put("main.conf", "first 1;\ninclude conf.d/*.conf;\n"
                     "route / {\n  include 'route.d/*';\n  last;\n}\n");
    put("conf.d/b.conf", "bee 2;\n");
    put("conf.d/a.conf", "  ay 1;\n  ay2;\n");
    put("conf.d/c.txt", "not included;\n");
    put("conf.d/route.d/x", "rx;\n");
    put("route.d/2", "two;");
    put("route.d/1", "# one\none;");
    ck_assert_msg(parse_tmp("main.conf", &root) == 0, "%s", err);
    ck_assert_int_eq(gh_conf_count(root), 5);
    assert_pos(at(root, 0, "first"), tpath(f, sizeof(f), "main.conf"), 1, 1);
    assert_pos(at(root, 1, "ay"), tpath(f, sizeof(f), "conf.d/a.conf"), 1,
               3);
    assert_pos(at(root, 2, "ay2"), tpath(f, sizeof(f), "conf.d/a.conf"), 2,
               3);
    assert_pos(at(root, 3, "bee"), tpath(f, sizeof(f), "conf.d/b.conf"), 1,
               1);
    b = gh_conf_block(at(root, 4, "route"));
    ck_assert_int_eq(gh_conf_count(b), 3);
    assert_pos(at(b, 0, "one"), tpath(f, sizeof(f), "route.d/1"), 2, 1);
    assert_pos(at(b, 1, "two"), tpath(f, sizeof(f), "route.d/2"), 1, 1);
    assert_pos(at(b, 2, "last"), tpath(f, sizeof(f), "main.conf"), 5, 3);
    gh_conf_free(root);
}
END_TEST

START_TEST(conf_include_paths_are_relative_to_the_including_file)
{
    gh_conf_section_t *root;
    char path[1024], text[1200];

    put("etc/main.conf", "include sub/one.conf;");
    put("etc/sub/one.conf", "include ../two.conf;\ninclude deeper/*.c;");
    put("etc/two.conf", "two;");
    put("etc/sub/deeper/3.c", "three;");
    ck_assert_msg(parse_tmp("etc/main.conf", &root) == 0, "%s", err);
    ck_assert_int_eq(gh_conf_count(root), 2);
    ck_assert_str_eq(gh_conf_file(at(root, 0, "two")),
                     tpath(path, sizeof(path), "etc/sub/../two.conf"));
    ck_assert_str_eq(gh_conf_file(at(root, 1, "three")),
                     tpath(path, sizeof(path), "etc/sub/deeper/3.c"));
    gh_conf_free(root);

    /* An absolute pattern is taken as it is. */
    snprintf(text, sizeof(text), "include %s/etc/two.conf;", tmpdir);
    root = parse_ok(text);
    ck_assert_str_eq(gh_conf_name(gh_conf_at(root, 0)), "two");
    gh_conf_free(root);

    /* parse_string resolves against dirname(name). */
    ck_assert_int_eq(gh_conf_parse_string(tpath(path, sizeof(path),
                                                "etc/virtual.conf"),
                                          "include two.conf;", 17, &root, err,
                                          sizeof(err)),
                     0);
    ck_assert_str_eq(gh_conf_name(gh_conf_at(root, 0)), "two");
    gh_conf_free(root);
}
END_TEST

START_TEST(conf_include_missing_file_is_an_error_unless_a_wildcard)
{
    gh_conf_section_t *root;

    put("main.conf", "a;\ninclude nope.conf;\n");
    ck_assert_int_eq(parse_tmp("main.conf", &root), GH_ENOENT);
    ck_assert_ptr_null(root);
    assert_err_is("%T/main.conf:2:1: include: %T/nope.conf: no such file or "
                  "directory");

    put("main.conf", "a;\n  include nope/*.conf;\ninclude n?pe;\nb;");
    ck_assert_msg(parse_tmp("main.conf", &root) == 0, "%s", err);
    ck_assert_int_eq(gh_conf_count(root), 2);
    gh_conf_free(root);

    put("main.conf", "include .;");
    ck_assert_int_eq(parse_tmp("main.conf", &root), GH_EISDIR);
    assert_err_is("%T/main.conf:1:1: include: %T/.: illegal operation on a "
                  "directory");
}
END_TEST

START_TEST(conf_include_needs_one_argument_and_no_block)
{
    parse_fails("include;", "x.conf:1:1: include: expected one argument, "
                            "found 0");
    parse_fails("a {\n include a b;\n}", "x.conf:2:2: include: expected one "
                                         "argument, found 2");
    parse_fails("include a { }", "x.conf:1:1: include: unexpected block");
    parse_fails("include a", "x.conf:1:10: expected ';' or '{' after "
                             "\"include a\", found end of file");
}
END_TEST

START_TEST(conf_include_cycles_are_errors)
{
    gh_conf_section_t *root;

    put("a.conf", "x;\ninclude a.conf;\n");
    ck_assert_int_eq(parse_tmp("a.conf", &root), GH_EINVAL);
    assert_err_is("%T/a.conf:2:1: include cycle: %T/a.conf includes itself");

    put("a.conf", "include b.conf;\n");
    put("b.conf", "\n  include *.conf;\n");
    ck_assert_int_eq(parse_tmp("a.conf", &root), GH_EINVAL);
    assert_err_is("%T/b.conf:2:3: include cycle: %T/b.conf includes "
                  "%T/a.conf, which is already being read");

    /* The same file twice, not nested, is no cycle. */
    put("c.conf", "include d.conf;\ninclude d.conf;\n");
    put("d.conf", "d;\n");
    ck_assert_msg(parse_tmp("c.conf", &root) == 0, "%s", err);
    ck_assert_int_eq(gh_conf_count(root), 2);
    gh_conf_free(root);
}
END_TEST

START_TEST(conf_include_depth_is_limited_to_eight)
{
    gh_conf_section_t *root;
    char name[32], text[64];

    /* f0 -> f1 -> ... -> f8: eight nested includes pass. */
    for (int i = 0; i < GH_CONF_MAX_INCLUDE; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        snprintf(text, sizeof(text), "d%d;\ninclude f%d;", i, i + 1);
        put(name, text);
    }
    snprintf(name, sizeof(name), "f%d", GH_CONF_MAX_INCLUDE);
    put(name, "bottom;");
    ck_assert_msg(parse_tmp("f0", &root) == 0, "%s", err);
    ck_assert_int_eq(gh_conf_count(root), GH_CONF_MAX_INCLUDE + 1);
    gh_conf_free(root);

    put(name, "bottom;\n include f9;");
    put("f9", "too deep;");
    ck_assert_int_eq(parse_tmp("f0", &root), GH_EINVAL);
    assert_err_is("%T/f8:2:2: include depth over 8");
}
END_TEST

START_TEST(conf_errors_in_included_files_name_that_file)
{
    gh_conf_section_t *root;

    put("main.conf", "route / {\n include inc.conf;\n}\n");
    put("inc.conf", "ok;\nbad }");
    ck_assert_int_eq(parse_tmp("main.conf", &root), GH_EINVAL);
    assert_err_is("%T/inc.conf:2:5: expected ';' or '{' after \"bad\", found "
                  "'}'");
    /* An included file's braces must balance within it. */
    put("inc.conf", "}\n");
    ck_assert_int_eq(parse_tmp("main.conf", &root), GH_EINVAL);
    assert_err_is("%T/inc.conf:1:1: unexpected '}'");
    /* Block depth counts across files. */
    put("main.conf", "a{a{a{a{a{a{a{a{a{a{a{a{a{a{a{a{include inc.conf;}}}}}}}"
                     "}}}}}}}}}");
    put("inc.conf", "b;\nc {}");
    ck_assert_int_eq(parse_tmp("main.conf", &root), GH_EINVAL);
    assert_err_is("%T/inc.conf:2:3: blocks nested more than 16 deep");
}
END_TEST

START_TEST(conf_unreadable_files_report_path_and_reason)
{
    gh_conf_section_t *root = (gh_conf_section_t *)&root;
    char path[1024];
    FILE *f;

    ck_assert_int_eq(parse_tmp("none.conf", &root), GH_ENOENT);
    ck_assert_ptr_null(root);
    assert_err_is("%T/none.conf: no such file or directory");
    ck_assert_int_eq(parse_tmp("", &root), GH_EISDIR);

    /* One byte over the limit, all of it a comment. */
    f = fopen(tpath(path, sizeof(path), "big.conf"), "w");
    ck_assert_ptr_nonnull(f);
    fputc('#', f);
    for (unsigned i = 0; i < GH_CONF_MAX_FILE; i++)
        fputc('x', f);
    fclose(f);
    ck_assert_int_eq(parse_tmp("big.conf", &root), GH_EFBIG);
    assert_err_is("%T/big.conf: file too large (over 4 MiB)");
    put("main.conf", "include big.conf;");
    ck_assert_int_eq(parse_tmp("main.conf", &root), GH_EFBIG);
    assert_err_is("%T/main.conf:1:1: include: %T/big.conf: file too large "
                  "(over 4 MiB)");
}
END_TEST

/* ---- getters ----------------------------------------------------------------- */

static const char getters[] = "name   first;\n"
                              "name   \"second value\";\n"
                              "count  42;\n"
                              "neg    -7;\n"
                              "body   64k;\n"
                              "ttl    1h30m;\n"
                              "gzip   on;\n"
                              "index  index.html index.htm;\n"
                              "block  x { inner; }\n"
                              "three  a b c;\n"
                              "none;\n";

START_TEST(conf_getters_read_good_values)
{
    gh_conf_section_t *root = parse_ok(getters);
    const char *str = NULL;
    const char *const *list = NULL;
    int64_t i = 0, dur = 0;
    uint64_t size = 0;
    bool b = false;
    int n = 0;

    ck_assert_int_eq(gh_conf_get_str(root, "name", NULL, &str), 0);
    ck_assert_str_eq(str, "second value"); /* the last one wins */
    ck_assert_int_eq(gh_conf_get_int(root, "count", 0, 1, 100, &i), 0);
    ck_assert_int_eq(i, 42);
    ck_assert_int_eq(gh_conf_get_int(root, "neg", 0, -10, 10, &i), 0);
    ck_assert_int_eq(i, -7);
    ck_assert_int_eq(gh_conf_get_size(root, "body", 0, &size), 0);
    ck_assert_uint_eq(size, 65536);
    ck_assert_int_eq(gh_conf_get_duration(root, "ttl", 0, &dur), 0);
    ck_assert_int_eq(dur, 90 * GH_MINUTE);
    ck_assert_int_eq(gh_conf_get_bool(root, "gzip", false, &b), 0);
    ck_assert(b);
    ck_assert_int_eq(gh_conf_get_list(root, "index", &list, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(list[0], "index.html");
    ck_assert_str_eq(list[1], "index.htm");
    ck_assert_int_eq(gh_conf_get_list(root, "name", &list, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(list[0], "second value");
    ck_assert_ptr_null(gh_conf_error(root));
    gh_conf_free(root);
}
END_TEST

START_TEST(conf_getters_give_the_default_when_absent)
{
    gh_conf_section_t *root = parse_ok(getters);
    const char *str = "x";
    const char *const *list = (const char *const *)&str;
    int64_t i = 0, dur = 0;
    uint64_t size = 0;
    bool b = true;
    int n = 5;

    ck_assert_int_eq(gh_conf_get_str(root, "nope", "dflt", &str), 0);
    ck_assert_str_eq(str, "dflt");
    ck_assert_int_eq(gh_conf_get_str(root, "nope", NULL, &str), 0);
    ck_assert_ptr_null(str);
    /* The default is not range-checked: the caller chose it. */
    ck_assert_int_eq(gh_conf_get_int(root, "nope", -3, 1, 100, &i), 0);
    ck_assert_int_eq(i, -3);
    ck_assert_int_eq(gh_conf_get_size(root, "nope", 77, &size), 0);
    ck_assert_uint_eq(size, 77);
    ck_assert_int_eq(gh_conf_get_duration(root, "nope", 5, &dur), 0);
    ck_assert_int_eq(dur, 5);
    ck_assert_int_eq(gh_conf_get_bool(root, "nope", false, &b), 0);
    ck_assert(!b);
    ck_assert_int_eq(gh_conf_get_list(root, "nope", &list, &n), 0);
    ck_assert_ptr_null(list);
    ck_assert_int_eq(n, 0);
    /* A NULL section (a route with no block) reads as empty. */
    ck_assert_int_eq(gh_conf_get_int(NULL, "count", 9, 0, 10, &i), 0);
    ck_assert_int_eq(i, 9);
    ck_assert_int_eq(gh_conf_count(NULL), 0);
    ck_assert_ptr_null(gh_conf_find(NULL, "x"));
    ck_assert_ptr_null(gh_conf_error(NULL));
    gh_conf_free(root);
}
END_TEST

/* Run one getter on key of text; expect GH_EINVAL, msg, *out untouched. */
#define BAD(text, call, sentinel, msg)                                     \
    do {                                                                   \
        gh_conf_section_t *r_ = parse_ok(text);                            \
        const gh_conf_section_t *s = r_;                                   \
        int rc_ = (call);                                                  \
        ck_assert_msg(rc_ == GH_EINVAL, "%s: got %d", #call, rc_);          \
        ck_assert_msg(sentinel, "%s changed its output", #call);           \
        ck_assert_ptr_nonnull(gh_conf_error(s));                           \
        ck_assert_str_eq(gh_conf_error(s), msg);                           \
        gh_conf_free(r_);                                                  \
    } while (0)

START_TEST(conf_getters_reject_bad_values_with_positions)
{
    int64_t i = 11, dur = 11;
    uint64_t size = 11;
    const char *str = "keep";
    const char *const *list = NULL;
    bool b = true;
    int n = 11;

    BAD("a;\nroute / {\n    max_age soon;\n}\n",
        gh_conf_get_duration(gh_conf_block(gh_conf_at(s, 1)), "max_age", 0,
                             &dur),
        dur == 11,
        "x.conf:3:5: max_age: expected a duration (e.g. 30s, 500ms, 1h), "
        "found \"soon\"");
    BAD("  root a b c;", gh_conf_get_str(s, "root", "d", &str),
        strcmp(str, "keep") == 0,
        "x.conf:1:3: root: expected one argument, found 3");
    BAD("root;", gh_conf_get_str(s, "root", "d", &str),
        strcmp(str, "keep") == 0,
        "x.conf:1:1: root: expected one argument, found 0");
    BAD("workers 0;", gh_conf_get_int(s, "workers", 1, 1, 1024, &i), i == 11,
        "x.conf:1:1: workers: must be between 1 and 1024, found \"0\"");
    BAD("workers 1025;", gh_conf_get_int(s, "workers", 1, 1, 1024, &i),
        i == 11,
        "x.conf:1:1: workers: must be between 1 and 1024, found \"1025\"");
    BAD("workers 99999999999999999999;",
        gh_conf_get_int(s, "workers", 1, 1, 1024, &i), i == 11,
        "x.conf:1:1: workers: must be between 1 and 1024, found "
        "\"99999999999999999999\"");
    BAD("workers many;", gh_conf_get_int(s, "workers", 1, 1, 1024, &i),
        i == 11, "x.conf:1:1: workers: expected an integer, found \"many\"");
    BAD("workers 12x;", gh_conf_get_int(s, "workers", 1, 1, 1024, &i),
        i == 11, "x.conf:1:1: workers: expected an integer, found \"12x\"");
    BAD("workers -;", gh_conf_get_int(s, "workers", 1, 1, 1024, &i), i == 11,
        "x.conf:1:1: workers: expected an integer, found \"-\"");
    BAD("listen x { }", gh_conf_get_str(s, "listen", NULL, &str),
        strcmp(str, "keep") == 0, "x.conf:1:1: listen: unexpected block");
    BAD("body 1t;", gh_conf_get_size(s, "body", 0, &size), size == 11,
        "x.conf:1:1: body: expected a size (e.g. 512, 64k, 1m), found "
        "\"1t\"");
    BAD("body 99999999999g;", gh_conf_get_size(s, "body", 0, &size),
        size == 11, "x.conf:1:1: body: size too large: \"99999999999g\"");
    BAD("t 999999999999d;", gh_conf_get_duration(s, "t", 0, &dur),
        dur == 11, "x.conf:1:1: t: duration too long: \"999999999999d\"");
    BAD("gzip maybe;", gh_conf_get_bool(s, "gzip", false, &b), b,
        "x.conf:1:1: gzip: expected on or off, found \"maybe\"");
    BAD("index;", gh_conf_get_list(s, "index", &list, &n), n == 11,
        "x.conf:1:1: index: expected one or more arguments");
    BAD("index a { }", gh_conf_get_list(s, "index", &list, &n), n == 11,
        "x.conf:1:1: index: unexpected block");
    /* Control characters in values are escaped in messages. */
    BAD("gzip \"o\\nn\\\"\";", gh_conf_get_bool(s, "gzip", false, &b), b,
        "x.conf:1:1: gzip: expected on or off, found \"o\\x0an\\\"\"");
    /* Only the last directive counts, and its position is reported. */
    BAD("gzip on;\ngzip bad;", gh_conf_get_bool(s, "gzip", false, &b), b,
        "x.conf:2:1: gzip: expected on or off, found \"bad\"");
}
END_TEST

START_TEST(conf_int_getter_covers_the_whole_int64_range)
{
    gh_conf_section_t *root =
        parse_ok("min -9223372036854775808; max 9223372036854775807;\n"
                 "under -9223372036854775809; over 9223372036854775808;");
    int64_t i = 0;

    ck_assert_int_eq(
        gh_conf_get_int(root, "min", 0, INT64_MIN, INT64_MAX, &i), 0);
    ck_assert(i == INT64_MIN);
    ck_assert_int_eq(
        gh_conf_get_int(root, "max", 0, INT64_MIN, INT64_MAX, &i), 0);
    ck_assert(i == INT64_MAX);
    ck_assert_int_eq(
        gh_conf_get_int(root, "under", 0, INT64_MIN, INT64_MAX, &i),
        GH_EINVAL);
    ck_assert_int_eq(
        gh_conf_get_int(root, "over", 0, INT64_MIN, INT64_MAX, &i),
        GH_EINVAL);
    ck_assert_str_eq(gh_conf_error(root),
                     "x.conf:2:29: over: must be between "
                     "-9223372036854775808 and 9223372036854775807, found "
                     "\"9223372036854775808\"");
    ck_assert(i == INT64_MAX);
    gh_conf_free(root);
}
END_TEST

START_TEST(conf_find_returns_the_last_and_marks_all_of_that_name)
{
    gh_conf_section_t *root = parse_ok("a 1;\nb;\na 2;\nc { d; }\n");
    const gh_conf_directive_t *d;
    int64_t v = 0;

    ck_assert_ptr_eq(gh_conf_unused(root), gh_conf_at(root, 0));
    d = gh_conf_find(root, "a");
    ck_assert_ptr_eq(d, gh_conf_at(root, 2));
    ck_assert_ptr_eq(gh_conf_unused(root), gh_conf_at(root, 1));
    ck_assert_ptr_null(gh_conf_find(root, "zzz"));
    gh_conf_use(gh_conf_at(root, 1));
    ck_assert_ptr_eq(gh_conf_unused(root), gh_conf_at(root, 3));
    /* Blocks are not searched. */
    ck_assert_ptr_nonnull(gh_conf_find(root, "c"));
    ck_assert_ptr_null(gh_conf_unused(root));
    ck_assert_ptr_eq(gh_conf_unused(gh_conf_block(gh_conf_at(root, 3))),
                     gh_conf_at(gh_conf_block(gh_conf_at(root, 3)), 0));
    gh_conf_free(root);

    /* A getter marks too, even when the value is bad. */
    root = parse_ok("x 1;\ny bad;\nx 2;\nz;");
    ck_assert_int_eq(gh_conf_get_int(root, "x", 0, 0, 9, &v), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_ptr_eq(gh_conf_unused(root), gh_conf_at(root, 1));
    ck_assert_int_eq(gh_conf_get_int(root, "y", 0, 0, 9, &v), GH_EINVAL);
    ck_assert_ptr_eq(gh_conf_unused(root), gh_conf_at(root, 3));
    ck_assert_str_eq(gh_conf_name(gh_conf_unused(root)), "z");
    gh_conf_use(NULL);
    gh_conf_free(root);
}
END_TEST

START_TEST(conf_errorf_prefixes_the_position)
{
    gh_conf_section_t *root = parse_ok("a;\n  route /x {\n    k v;\n  }\n");
    const gh_conf_section_t *b = gh_conf_block(gh_conf_at(root, 1));

    ck_assert_ptr_null(gh_conf_error(root));
    ck_assert_int_eq(gh_conf_errorf(b, gh_conf_at(b, 0), "k: bad %s %d", "v",
                                    7),
                     GH_EINVAL);
    ck_assert_str_eq(gh_conf_error(root), "x.conf:3:5: k: bad v 7");
    ck_assert_str_eq(gh_conf_error(b), "x.conf:3:5: k: bad v 7");
    /* About the section: its opening directive. */
    gh_conf_errorf(b, NULL, "no handler");
    ck_assert_str_eq(gh_conf_error(b), "x.conf:2:3: no handler");
    /* About the root: the file alone. */
    gh_conf_errorf(root, NULL, "no listen");
    ck_assert_str_eq(gh_conf_error(root), "x.conf: no listen");
    ck_assert_int_eq(gh_conf_errorf(NULL, NULL, "x"), GH_EINVAL);
    gh_conf_free(root);
}
END_TEST

/* ---- the value syntax ------------------------------------------------------ */

START_TEST(conf_sizes_parse_with_units_and_reject_garbage)
{
    static const struct {
        const char *text;
        int rc;
        uint64_t v;
    } cases[] = {
        {"0", 0, 0},
        {"512", 0, 512},
        {"64k", 0, 65536},
        {"64K", 0, 65536},
        {"1m", 0, 1048576},
        {"1M", 0, 1048576},
        {"2g", 0, 2147483648ull},
        {"007", 0, 7},
        {"18446744073709551615", 0, UINT64_MAX},
        {"17179869183g", 0, 17179869183ull << 30},
        {"18446744073709551616", GH_ERANGE, 0},
        {"17179869184g", GH_ERANGE, 0},
        {"99999999999999999999999k", GH_ERANGE, 0},
        {"", GH_EINVAL, 0},
        {"k", GH_EINVAL, 0},
        {"-1", GH_EINVAL, 0},
        {"+1", GH_EINVAL, 0},
        {"1kb", GH_EINVAL, 0},
        {"1 k", GH_EINVAL, 0},
        {" 1", GH_EINVAL, 0},
        {"1 ", GH_EINVAL, 0},
        {"1.5k", GH_EINVAL, 0},
        {"1t", GH_EINVAL, 0},
        {"0x10", GH_EINVAL, 0},
        {"99999999999999999999999x", GH_EINVAL, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int rc = gh_conf_parse_size(cases[i].text, &v);

        ck_assert_msg(rc == cases[i].rc, "\"%s\": rc %d", cases[i].text, rc);
        ck_assert_msg(v == (rc == 0 ? cases[i].v : 12345),
                      "\"%s\": %llu", cases[i].text, (unsigned long long)v);
    }
    ck_assert_int_eq(gh_conf_parse_size(NULL, NULL), GH_EINVAL);
}
END_TEST

START_TEST(conf_durations_parse_with_units_and_reject_garbage)
{
    static const struct {
        const char *text;
        int rc;
        int64_t v;
    } cases[] = {
        {"0", 0, 0},
        {"45", 0, 45 * GH_SECOND},
        {"500ms", 0, 500 * GH_MILLISECOND},
        {"30s", 0, 30 * GH_SECOND},
        {"5m", 0, 5 * GH_MINUTE},
        {"1h", 0, GH_HOUR},
        {"1d", 0, 24 * GH_HOUR},
        {"0s", 0, 0},
        {"1h30m", 0, 90 * GH_MINUTE},
        {"1m30s", 0, 90 * GH_SECOND},
        {"2s500ms", 0, 2500 * GH_MILLISECOND},
        {"1d23h59m59s999ms", 0, 2 * 24 * GH_HOUR - GH_MILLISECOND},
        {"9223372036s", 0, 9223372036 * GH_SECOND},
        {"9223372036854ms", 0, 9223372036854 * GH_MILLISECOND},
        {"106751d", 0, 106751 * 24 * GH_HOUR},
        {"9223372037", GH_ERANGE, 0},
        {"9223372037s", GH_ERANGE, 0},
        {"106752d", GH_ERANGE, 0},
        {"106751d23h59m", GH_ERANGE, 0},
        {"99999999999999999999999ms", GH_ERANGE, 0},
        {"", GH_EINVAL, 0},
        {"s", GH_EINVAL, 0},
        {"-1s", GH_EINVAL, 0},
        {"-1", GH_EINVAL, 0},
        {"1x", GH_EINVAL, 0},
        {"1.5s", GH_EINVAL, 0},
        {"1h30", GH_EINVAL, 0},
        {"30m1h", GH_EINVAL, 0},
        {"1h1h", GH_EINVAL, 0},
        {"1 s", GH_EINVAL, 0},
        {"1S", GH_EINVAL, 0},
        {"1us", GH_EINVAL, 0},
        {"1sm", GH_EINVAL, 0},
        {"soon", GH_EINVAL, 0},
        {"99999999999999999999999x", GH_EINVAL, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = 12345;
        int rc = gh_conf_parse_duration(cases[i].text, &v);

        ck_assert_msg(rc == cases[i].rc, "\"%s\": rc %d", cases[i].text, rc);
        ck_assert_msg(v == (rc == 0 ? cases[i].v : 12345), "\"%s\": %lld",
                      cases[i].text, (long long)v);
    }
    ck_assert_int_eq(gh_conf_parse_duration(NULL, NULL), GH_EINVAL);
}
END_TEST

START_TEST(conf_flags_parse_in_three_spellings)
{
    static const char *const yes[] = {"on", "yes", "true", "ON", "True"};
    static const char *const no[] = {"off", "no", "false", "OFF", "No"};
    static const char *const bad[] = {"", "1", "0", "onn", "o", "enabled",
                                      " on"};
    bool b;

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        b = false;
        ck_assert_int_eq(gh_conf_parse_bool(yes[i], &b), 0);
        ck_assert_msg(b, "%s", yes[i]);
        ck_assert_int_eq(gh_conf_parse_bool(no[i], &b), 0);
        ck_assert_msg(!b, "%s", no[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = true;
        ck_assert_int_eq(gh_conf_parse_bool(bad[i], &b), GH_EINVAL);
        ck_assert(b);
    }
}
END_TEST

START_TEST(conf_efbig_is_in_the_error_table)
{
    ck_assert_int_eq(GH_EFBIG, -EFBIG);
    ck_assert_str_eq(gh_strerror(GH_EFBIG), "file too large");
    ck_assert_str_eq(gh_err_name(GH_EFBIG), "EFBIG");
}
END_TEST

static Suite *conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("parse");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, conf_parses_a_realistic_file_into_a_tree);
    tcase_add_test(tc, conf_directives_remember_file_line_and_column);
    tcase_add_test(tc, conf_positions_after_multiline_strings_and_crlf);
    tcase_add_test(tc, conf_quotes_escapes_and_word_boundaries);
    tcase_add_test(tc, conf_empty_and_comment_only_files_are_empty_trees);
    tcase_add_test(tc,
                   conf_missing_semicolon_names_the_directive_and_what_came);
    tcase_add_test(tc, conf_long_directive_is_cut_short_in_messages);
    tcase_add_test(tc, conf_stray_punctuation_is_unexpected);
    tcase_add_test(tc, conf_unclosed_block_names_where_it_opened);
    tcase_add_test(tc, conf_strings_errors);
    tcase_add_test(tc, conf_nul_bytes_are_errors_everywhere);
    tcase_add_test(tc, conf_limits_are_enforced_with_clear_messages);
    tcase_add_test(tc, conf_nesting_is_limited_to_sixteen_blocks);
    tcase_add_test(tc, conf_text_over_the_file_limit_is_efbig);
    tcase_add_test(tc, conf_error_buffer_is_always_terminated);
    suite_add_tcase(s, tc);

    tc = tcase_create("include");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, basedir_make, basedir_remove);
    tcase_add_checked_fixture(tc, tmpdir_make, tmpdir_remove);
    tcase_add_test(tc, conf_include_glob_is_sorted_and_spliced_in_place);
    tcase_add_test(tc, conf_include_paths_are_relative_to_the_including_file);
    tcase_add_test(tc,
                   conf_include_missing_file_is_an_error_unless_a_wildcard);
    tcase_add_test(tc, conf_include_needs_one_argument_and_no_block);
    tcase_add_test(tc, conf_include_cycles_are_errors);
    tcase_add_test(tc, conf_include_depth_is_limited_to_eight);
    tcase_add_test(tc, conf_errors_in_included_files_name_that_file);
    tcase_add_test(tc, conf_unreadable_files_report_path_and_reason);
    suite_add_tcase(s, tc);

    tc = tcase_create("get");
    tcase_add_test(tc, conf_getters_read_good_values);
    tcase_add_test(tc, conf_getters_give_the_default_when_absent);
    tcase_add_test(tc, conf_getters_reject_bad_values_with_positions);
    tcase_add_test(tc, conf_int_getter_covers_the_whole_int64_range);
    tcase_add_test(tc, conf_find_returns_the_last_and_marks_all_of_that_name);
    tcase_add_test(tc, conf_errorf_prefixes_the_position);
    tcase_add_test(tc, conf_sizes_parse_with_units_and_reject_garbage);
    tcase_add_test(tc, conf_durations_parse_with_units_and_reject_garbage);
    tcase_add_test(tc, conf_flags_parse_in_three_spellings);
    tcase_add_test(tc, conf_efbig_is_in_the_error_table);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(conf_suite)
