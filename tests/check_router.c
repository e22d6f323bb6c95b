/*
 * check_router.c - the router (lib/http/router.c): pattern checks in
 * gh_router_add(), and the routing decision of gh__router_match() -
 * precedence, parameters, percent-decoding, 405 and Allow, not found, and
 * hostile paths.
 *
 * gh_router_serve() needs a server request and is left to the integration
 * tests; everything it decides comes from gh__router_match().  Most tests
 * go through route(), which matches a method and path and describes the
 * outcome as a short string: the route's label (its udata) followed by
 * " name=value" for each decoded parameter, or "404", "405 <Allow>", "400".
 */
#include "check_gh.h"

#include <gohttpd/http.h>

#include "http/router.h"

static int handler(void *udata, gh_req_t *req, gh_resp_t *resp)
{
    return 0;
}

static int not_found(void *udata, gh_req_t *req, gh_resp_t *resp)
{
    return 404;
}

/* Add a route labelled label; the test fails unless it is accepted. */
static void add(gh_router_t *r, const char *methods, const char *pattern,
                const char *label)
{
    int rc = gh_router_add(r, methods, pattern, handler, (void *)label);

    ck_assert_msg(rc == 0, "gh_router_add(%s, %s) = %s", methods, pattern,
                  gh_err_name(rc));
}

static int add_rc(gh_router_t *r, const char *methods, const char *pattern)
{
    return gh_router_add(r, methods, pattern, handler, (void *)"x");
}

static void describe_found(const char *path, const gh__route_match_t *m,
                           char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s", (const char *)m->udata);

    for (int i = 0; i < m->nparams && n < cap; i++) {
        char val[256];
        ssize_t len;
        ck_assert_uint_lt(m->values[i].len, sizeof val);
        len =
            gh__route_unescape(path + m->values[i].off, m->values[i].len, val);
        ck_assert_int_gt(len, 0);
        val[len] = '\0';
        n += (size_t)snprintf(out + n, cap - n, " %s=%s", m->names[i], val);
    }
}

/* Route method and path; see the top of the file for the result. */
static const char *route(const gh_router_t *r, const char *method,
                         const char *path)
{
    static char out[1024];
    char allow[256];
    gh__route_match_t m;

    switch (gh__router_match(r, method, path, strlen(path), &m, allow,
                             sizeof allow)) {
    case GH__ROUTE_FOUND:
        ck_assert_ptr_eq(m.fn, handler);
        describe_found(path, &m, out, sizeof out);
        return out;
    case GH__ROUTE_NOT_FOUND:
        ck_assert_int_eq(m.nparams, 0);
        return "404";
    case GH__ROUTE_BAD_METHOD:
        snprintf(out, sizeof out, "405 %s", allow);
        return out;
    case GH__ROUTE_BAD_PATH:
        return "400";
    }
    ck_abort_msg("unknown result");
    return NULL;
}

#define ROUTE_IS(r, method, path, want)                                        \
    ck_assert_str_eq(route((r), (method), (path)), (want))

/* ---- what matches ---------------------------------------------------- */

START_TEST(router_exact_pattern_matches_only_that_path)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/a/b", "ab");
    ROUTE_IS(r, "GET", "/a/b", "ab");
    ROUTE_IS(r, "GET", "/a/b/", "404");
    ROUTE_IS(r, "GET", "/a", "404");
    ROUTE_IS(r, "GET", "/a/b/c", "404");
    ROUTE_IS(r, "GET", "/a/bc", "404");
    ROUTE_IS(r, "GET", "/A/b", "404");
    ROUTE_IS(r, "GET", "/", "404");
    gh_router_free(r);
}
END_TEST

START_TEST(router_prefix_pattern_matches_everything_under_it)
{
    gh_router_t *r = gh_router_new();
    gh__route_match_t m;
    const char *path = "/static/css/site.css";

    add(r, "GET", "/static/", "static");
    ROUTE_IS(r, "GET", "/static/", "static");
    ROUTE_IS(r, "GET", "/static/a", "static");
    ROUTE_IS(r, "GET", "/static/a/b/", "static");
    ROUTE_IS(r, "GET", "/static//x", "static");
    /* The slash is part of a prefix pattern: no redirect, no match. */
    ROUTE_IS(r, "GET", "/static", "404");
    ROUTE_IS(r, "GET", "/staticx/a", "404");
    ck_assert_int_eq(
        gh__router_match(r, "GET", path, strlen(path), &m, NULL, 0),
        GH__ROUTE_FOUND);
    ck_assert_str_eq(path + m.rest, "css/site.css");
    ck_assert(m.prefix);
    gh_router_free(r);
}
END_TEST

START_TEST(router_star_suffix_is_the_same_prefix_pattern)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/files/*", "files");
    ROUTE_IS(r, "GET", "/files/", "files");
    ROUTE_IS(r, "GET", "/files/x/y", "files");
    ROUTE_IS(r, "GET", "/files", "404");
    ck_assert_int_eq(add_rc(r, "GET", "/files/"), GH_EEXIST);
    gh_router_free(r);
}
END_TEST

START_TEST(router_root_prefix_catches_every_path)
{
    gh_router_t *r = gh_router_new();

    add(r, NULL, "/", "root");
    ROUTE_IS(r, "GET", "/", "root");
    ROUTE_IS(r, "GET", "/anything/at/all", "root");
    ROUTE_IS(r, "GET", "//", "root");
    gh_router_free(r);
}
END_TEST

START_TEST(router_exact_beats_prefix)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/", "root");
    add(r, "GET", "/a/", "a-prefix");
    add(r, "GET", "/a/b/", "ab-prefix");
    add(r, "GET", "/a/{x}/c", "exact-param");
    ROUTE_IS(r, "GET", "/a/b/c", "exact-param x=b");
    ROUTE_IS(r, "GET", "/a/b/d", "ab-prefix");
    ROUTE_IS(r, "GET", "/a/z/c", "exact-param x=z");
    gh_router_free(r);
}
END_TEST

START_TEST(router_longest_prefix_wins)
{
    gh_router_t *r = gh_router_new();

    /* Added shortest last, so the order added cannot be what decides. */
    add(r, "GET", "/a/b/c/", "abc");
    add(r, "GET", "/a/b/", "ab");
    add(r, "GET", "/a/", "a");
    add(r, "GET", "/", "root");
    ROUTE_IS(r, "GET", "/a/b/c/d", "abc");
    ROUTE_IS(r, "GET", "/a/b/c/", "abc");
    ROUTE_IS(r, "GET", "/a/b/c", "ab");
    ROUTE_IS(r, "GET", "/a/b/x", "ab");
    ROUTE_IS(r, "GET", "/a/x", "a");
    ROUTE_IS(r, "GET", "/a", "root");
    ROUTE_IS(r, "GET", "/x", "root");
    gh_router_free(r);
}
END_TEST

START_TEST(router_literal_beats_param_at_the_same_position)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/users/{id}", "by-id");
    add(r, "GET", "/users/me", "me");
    add(r, "GET", "/{section}/list", "any-list");
    add(r, "GET", "/users/{id}/", "user-tree");
    add(r, "GET", "/users/me/", "me-tree");
    ROUTE_IS(r, "GET", "/users/me", "me");
    ROUTE_IS(r, "GET", "/users/42", "by-id id=42");
    ROUTE_IS(r, "GET", "/users/list", "by-id id=list");
    ROUTE_IS(r, "GET", "/posts/list", "any-list section=posts");
    ROUTE_IS(r, "GET", "/users/me/x", "me-tree");
    ROUTE_IS(r, "GET", "/users/7/x", "user-tree id=7");
    gh_router_free(r);
}
END_TEST

START_TEST(router_dead_end_literal_branch_falls_back_to_param)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/a/b/c", "abc");
    add(r, "GET", "/a/{x}/d", "axd");
    add(r, "GET", "/a/b/c/", "abc-tree");
    add(r, "GET", "/a/{x}/", "ax-tree");
    ROUTE_IS(r, "GET", "/a/b/c", "abc");
    ROUTE_IS(r, "GET", "/a/b/d", "axd x=b");
    ROUTE_IS(r, "GET", "/a/b/e", "ax-tree x=b");
    ROUTE_IS(r, "GET", "/a/b/c/e", "abc-tree");
    gh_router_free(r);
}
END_TEST

START_TEST(router_literal_first_beats_longer_prefix_after_a_param)
{
    gh_router_t *r = gh_router_new();

    /* Rule 2 of router.c: the first differing position decides. */
    add(r, "GET", "/a/{x}/c/", "axc");
    add(r, "GET", "/a/b/", "ab");
    ROUTE_IS(r, "GET", "/a/b/c/d", "ab");
    ROUTE_IS(r, "GET", "/a/z/c/d", "axc x=z");
    gh_router_free(r);
}
END_TEST

/* ---- parameters ------------------------------------------------------ */

START_TEST(router_params_are_spans_of_the_raw_path)
{
    gh_router_t *r = gh_router_new();
    const char *path = "/users/a%20b/posts/7";
    gh__route_match_t m;

    add(r, "GET", "/users/{user}/posts/{post}", "post");
    ck_assert_int_eq(
        gh__router_match(r, "GET", path, strlen(path), &m, NULL, 0),
        GH__ROUTE_FOUND);
    ck_assert_int_eq(m.nparams, 2);
    ck_assert_str_eq(m.names[0], "user");
    ck_assert_str_eq(m.names[1], "post");
    ck_assert_uint_eq(m.values[0].off, 7);
    ck_assert_uint_eq(m.values[0].len, 5);
    ck_assert_uint_eq(m.values[1].off, 19);
    ck_assert_uint_eq(m.values[1].len, 1);
    ck_assert_uint_eq(m.rest, strlen(path));
    ck_assert(!m.prefix);
    ck_assert_str_eq((const char *)m.udata, "post");
    gh_router_free(r);
}
END_TEST

START_TEST(router_param_values_are_decoded)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/f/{name}", "f");
    ROUTE_IS(r, "GET", "/f/a%20b", "f name=a b");
    ROUTE_IS(r, "GET", "/f/caf%C3%a9", "f name=caf\xc3\xa9");
    ROUTE_IS(r, "GET", "/f/a%2Fb", "f name=a/b");
    ROUTE_IS(r, "GET", "/f/a+b", "f name=a+b");
    ROUTE_IS(r, "GET", "/f/%25", "f name=%");
    gh_router_free(r);
}
END_TEST

START_TEST(router_param_needs_one_non_empty_segment)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/u/{id}", "u");
    add(r, "GET", "/u/{id}/edit", "edit");
    ROUTE_IS(r, "GET", "/u/1", "u id=1");
    ROUTE_IS(r, "GET", "/u/", "404");
    ROUTE_IS(r, "GET", "/u//edit", "404");
    ROUTE_IS(r, "GET", "/u/1/2", "404");
    ROUTE_IS(r, "GET", "/u/1/edit", "edit id=1");
    gh_router_free(r);
}
END_TEST

START_TEST(router_params_work_in_prefix_patterns)
{
    gh_router_t *r = gh_router_new();
    const char *path = "/users/9/files/a/b.txt";
    gh__route_match_t m;

    add(r, "GET", "/users/{id}/files/", "files");
    ROUTE_IS(r, "GET", "/users/9/files/a/b.txt", "files id=9");
    ROUTE_IS(r, "GET", "/users/9/files/", "files id=9");
    ROUTE_IS(r, "GET", "/users/9/files", "404");
    ck_assert_int_eq(
        gh__router_match(r, "GET", path, strlen(path), &m, NULL, 0),
        GH__ROUTE_FOUND);
    ck_assert_str_eq(path + m.rest, "a/b.txt");
    gh_router_free(r);
}
END_TEST

START_TEST(router_param_names_belong_to_each_route)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/u/{id}", "get");
    add(r, "POST", "/u/{uid}", "post");
    add(r, "GET", "/u/{name}/x", "x");
    ROUTE_IS(r, "GET", "/u/1", "get id=1");
    ROUTE_IS(r, "POST", "/u/1", "post uid=1");
    ROUTE_IS(r, "GET", "/u/1/x", "x name=1");
    gh_router_free(r);
}
END_TEST

START_TEST(router_sixteen_params_are_accepted_and_extracted)
{
    gh_router_t *r = gh_router_new();
    char pattern[512], path[512], want[512];
    size_t pn = 0, qn = 0, wn = 0;

    wn += (size_t)snprintf(want, sizeof want, "many");
    for (int i = 0; i < GH__ROUTE_MAX_PARAMS; i++) {
        pn += (size_t)snprintf(pattern + pn, sizeof pattern - pn, "/{p%d}", i);
        qn += (size_t)snprintf(path + qn, sizeof path - qn, "/v%d", i);
        wn += (size_t)snprintf(want + wn, sizeof want - wn, " p%d=v%d", i, i);
    }
    add(r, "GET", pattern, "many");
    ROUTE_IS(r, "GET", path, want);
    gh_router_free(r);
}
END_TEST

/* ---- percent-decoding ------------------------------------------------ */

START_TEST(router_percent_encoded_path_matches_its_literal)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/abc/def", "abc");
    add(r, "GET", "/a%20b", "space");
    add(r, "GET", "/caf\xc3\xa9", "cafe");
    ROUTE_IS(r, "GET", "/a%62c/def", "abc");
    ROUTE_IS(r, "GET", "/%61%62%63/%64ef", "abc");
    ROUTE_IS(r, "GET", "/a%20b", "space");
    ROUTE_IS(r, "GET", "/a b", "space");
    ROUTE_IS(r, "GET", "/caf%c3%A9", "cafe");
    ROUTE_IS(r, "GET", "/a%62", "404");
    ROUTE_IS(r, "GET", "/a%62cd/def", "404");
    gh_router_free(r);
}
END_TEST

START_TEST(router_encoded_slash_never_splits_a_segment)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/a/b", "a-b");
    add(r, "GET", "/a%2Fb", "a-slash-b");
    add(r, "GET", "/{one}", "one");
    add(r, "GET", "/x/", "x-tree");
    ROUTE_IS(r, "GET", "/a/b", "a-b");
    ROUTE_IS(r, "GET", "/a%2Fb", "a-slash-b");
    ROUTE_IS(r, "GET", "/a%2fb", "a-slash-b");
    ROUTE_IS(r, "GET", "/c%2Fd", "one one=c/d");
    ROUTE_IS(r, "GET", "/x%2Fy", "one one=x/y");
    gh_router_free(r);
}
END_TEST

START_TEST(router_bad_escapes_in_the_path_are_bad_path)
{
    gh_router_t *r = gh_router_new();

    add(r, NULL, "/", "root");
    ROUTE_IS(r, "GET", "/a%", "400");
    ROUTE_IS(r, "GET", "/a%2", "400");
    ROUTE_IS(r, "GET", "/a%zz/b", "400");
    ROUTE_IS(r, "GET", "/a%00b", "400");
    ROUTE_IS(r, "GET", "/%2/x", "400");
    ROUTE_IS(r, "GET", "/ok%01", "root");
    gh_router_free(r);
}
END_TEST

START_TEST(router_unescape_checks_and_decodes)
{
    char out[16];

    ck_assert_int_eq(gh__route_unescape("a%41%7e+", 8, out), 4);
    ck_assert_int_eq(memcmp(out, "aA~+", 4), 0);
    ck_assert_int_eq(gh__route_unescape("abc", 3, NULL), 3);
    ck_assert_int_eq(gh__route_unescape("", 0, NULL), 0);
    ck_assert_int_eq(gh__route_unescape("%4", 2, out), GH_EINVAL);
    ck_assert_int_eq(gh__route_unescape("%4g", 3, out), GH_EINVAL);
    ck_assert_int_eq(gh__route_unescape("%00", 3, out), GH_EINVAL);
    /* The length bounds the input: "%41" cut after two bytes is bad. */
    ck_assert_int_eq(gh__route_unescape("%41", 2, out), GH_EINVAL);
}
END_TEST

/* ---- methods, 405 and Allow ------------------------------------------ */

START_TEST(router_wrong_method_is_405_with_allow)
{
    gh_router_t *r = gh_router_new();

    /* Added out of order and twice over: Allow is fixed and deduplicated. */
    add(r, "DELETE, POST", "/item", "write");
    add(r, "GET", "/item", "read");
    add(r, "PUT", "/item/", "tree");
    ROUTE_IS(r, "PATCH", "/item", "405 GET, HEAD, POST, DELETE");
    ROUTE_IS(r, "get", "/item", "405 GET, HEAD, POST, DELETE");
    ROUTE_IS(r, "GET", "/item", "read");
    ROUTE_IS(r, "POST", "/item", "write");
    ROUTE_IS(r, "GET", "/item/x", "405 PUT");
    ROUTE_IS(r, "GET", "/other", "404");
    gh_router_free(r);
}
END_TEST

START_TEST(router_allow_joins_every_route_matching_the_path)
{
    gh_router_t *r = gh_router_new();

    add(r, "POST", "/a/{x}", "ax");
    add(r, "PUT", "/a/b", "ab");
    add(r, "OPTIONS", "/a/", "a-tree");
    add(r, "GET", "/", "root");
    add(r, "PATCH", "/a/b/", "not-this-path");
    ROUTE_IS(r, "DELETE", "/a/b", "405 GET, HEAD, POST, PUT, OPTIONS");
    gh_router_free(r);
}
END_TEST

START_TEST(router_method_chooses_among_matching_routes)
{
    gh_router_t *r = gh_router_new();

    /* The best path lacks the method: the next best path that has it. */
    add(r, "GET", "/a/{x}", "get-ax");
    add(r, "POST", "/a/b", "post-ab");
    add(r, "DELETE", "/a/", "del-tree");
    ROUTE_IS(r, "GET", "/a/b", "get-ax x=b");
    ROUTE_IS(r, "POST", "/a/b", "post-ab");
    ROUTE_IS(r, "DELETE", "/a/b", "del-tree");
    ROUTE_IS(r, "PUT", "/a/b", "405 GET, HEAD, POST, DELETE");
    gh_router_free(r);
}
END_TEST

START_TEST(router_any_method_route_never_gives_405)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/x", "get");
    add(r, "*", "/x", "any");
    add(r, " * ", "/y", "any-y");
    ROUTE_IS(r, "GET", "/x", "get");
    ROUTE_IS(r, "HEAD", "/x", "get");
    ROUTE_IS(r, "POST", "/x", "any");
    ROUTE_IS(r, "BREW", "/x", "any");
    ROUTE_IS(r, "get", "/y", "any-y");
    gh_router_free(r);
}
END_TEST

START_TEST(router_head_is_answered_by_a_get_route)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/page", "page");
    add(r, "GET", "/both", "get");
    add(r, "HEAD", "/both", "head");
    add(r, "POST", "/form", "form");
    ROUTE_IS(r, "HEAD", "/page", "page");
    ROUTE_IS(r, "HEAD", "/both", "head");
    ROUTE_IS(r, "GET", "/both", "get");
    ROUTE_IS(r, "HEAD", "/form", "405 POST");
    ROUTE_IS(r, "DELETE", "/page", "405 GET, HEAD");
    gh_router_free(r);
}
END_TEST

START_TEST(router_methods_are_case_sensitive_tokens)
{
    gh_router_t *r = gh_router_new();

    add(r, "PROPFIND,MKCOL", "/dav/", "dav");
    add(r, "get", "/odd", "odd");
    ROUTE_IS(r, "PROPFIND", "/dav/x", "dav");
    ROUTE_IS(r, "propfind", "/dav/x", "405 PROPFIND, MKCOL");
    ROUTE_IS(r, "get", "/odd", "odd");
    ROUTE_IS(r, "GET", "/odd", "405 get");
    ROUTE_IS(r, NULL, "/odd", "405 get");
    gh_router_free(r);
}
END_TEST

START_TEST(router_small_allow_buffer_is_cut_at_a_whole_method)
{
    gh_router_t *r = gh_router_new();
    gh__route_match_t m;
    char allow[64];

    add(r, "GET,POST,DELETE", "/x", "x");
    ck_assert_uint_ge(gh__router_allow_max(r),
                      strlen("GET, HEAD, POST, DELETE") + 1);
    /* Exactly enough, then one byte short, down to nothing. */
    ck_assert_int_eq(gh__router_match(r, "PUT", "/x", 2, &m, allow, 24),
                     GH__ROUTE_BAD_METHOD);
    ck_assert_str_eq(allow, "GET, HEAD, POST, DELETE");
    ck_assert_int_eq(gh__router_match(r, "PUT", "/x", 2, &m, allow, 23),
                     GH__ROUTE_BAD_METHOD);
    ck_assert_str_eq(allow, "GET, HEAD, POST");
    ck_assert_int_eq(gh__router_match(r, "PUT", "/x", 2, &m, allow, 4),
                     GH__ROUTE_BAD_METHOD);
    ck_assert_str_eq(allow, "GET");
    ck_assert_int_eq(gh__router_match(r, "PUT", "/x", 2, &m, allow, 3),
                     GH__ROUTE_BAD_METHOD);
    ck_assert_str_eq(allow, "");
    allow[0] = 'z';
    ck_assert_int_eq(gh__router_match(r, "PUT", "/x", 2, &m, allow, 0),
                     GH__ROUTE_BAD_METHOD);
    ck_assert_int_eq(allow[0], 'z');
    ck_assert_int_eq(gh__router_match(r, "PUT", "/x", 2, &m, NULL, 0),
                     GH__ROUTE_BAD_METHOD);
    gh_router_free(r);
}
END_TEST

START_TEST(router_allow_max_covers_custom_methods)
{
    gh_router_t *r = gh_router_new();
    gh__route_match_t m;
    char name[32], *allow;
    size_t cap;

    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "CUSTOM_METHOD_%02d", i);
        ck_assert_int_eq(gh_router_add(r, name, "/x", handler, NULL), 0);
    }
    add(r, "GET", "/x", "get");
    cap = gh__router_allow_max(r);
    allow = malloc(cap);
    ck_assert_ptr_nonnull(allow);
    ck_assert_int_eq(gh__router_match(r, "PUT", "/x", 2, &m, allow, cap),
                     GH__ROUTE_BAD_METHOD);
    ck_assert_uint_eq(strlen(allow),
                      strlen("GET, HEAD") + 40 * strlen(", CUSTOM_METHOD_00"));
    ck_assert_ptr_nonnull(strstr(allow, "CUSTOM_METHOD_00, CUSTOM_"));
    ck_assert_int_eq(strncmp(allow, "GET, HEAD, ", 11), 0);
    free(allow);
    gh_router_free(r);
}
END_TEST

/* ---- not found ------------------------------------------------------- */

START_TEST(router_unmatched_path_is_not_found)
{
    gh_router_t *r = gh_router_new();
    gh__route_match_t m;

    ROUTE_IS(r, "GET", "/", "404");
    add(r, "GET", "/a", "a");
    ck_assert_int_eq(gh__router_match(r, "GET", "/b", 2, &m, NULL, 0),
                     GH__ROUTE_NOT_FOUND);
    ck_assert_ptr_null(m.fn);
    ck_assert_int_eq(gh_router_not_found(r, not_found, (void *)"nf"), 0);
    ck_assert_int_eq(gh__router_match(r, "GET", "/b", 2, &m, NULL, 0),
                     GH__ROUTE_NOT_FOUND);
    ck_assert_ptr_eq(m.fn, not_found);
    ck_assert_str_eq((const char *)m.udata, "nf");
    ck_assert_int_eq(gh_router_not_found(r, NULL, NULL), 0);
    ck_assert_int_eq(gh__router_match(r, "GET", "/b", 2, &m, NULL, 0),
                     GH__ROUTE_NOT_FOUND);
    ck_assert_ptr_null(m.fn);
    ck_assert_int_eq(gh_router_not_found(NULL, not_found, NULL), GH_EINVAL);
    gh_router_free(r);
}
END_TEST

START_TEST(router_empty_path_and_asterisk_match_nothing)
{
    gh_router_t *r = gh_router_new();
    gh__route_match_t m;

    add(r, NULL, "/", "root");
    ck_assert_int_eq(gh__router_match(r, "OPTIONS", "*", 1, &m, NULL, 0),
                     GH__ROUTE_NOT_FOUND);
    ck_assert_int_eq(gh__router_match(r, "GET", "", 0, &m, NULL, 0),
                     GH__ROUTE_NOT_FOUND);
    ck_assert_int_eq(gh__router_match(r, "GET", "a/b", 3, &m, NULL, 0),
                     GH__ROUTE_NOT_FOUND);
    gh_router_free(r);
}
END_TEST

START_TEST(router_dot_segments_are_not_normalised)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/a/b", "ab");
    add(r, "GET", "/pub/", "pub");
    add(r, "GET", "/d/{x}", "dx");
    ROUTE_IS(r, "GET", "/a/./b", "404");
    ROUTE_IS(r, "GET", "/a/x/../b", "404");
    ROUTE_IS(r, "GET", "/pub/../etc/passwd", "pub");
    ROUTE_IS(r, "GET", "/d/..", "dx x=..");
    ROUTE_IS(r, "GET", "/d/%2e%2e", "dx x=..");
    gh_router_free(r);
}
END_TEST

/* ---- pattern and method errors --------------------------------------- */

START_TEST(router_malformed_patterns_are_einval)
{
    static const char *const bad[] = {
        "",       "a",        "a/b",    "//",         "/a//b",  "//a",
        "/a/*/b", "/*/",      "/**",    "/a*",        "/{",     "/{}",
        "/{id",   "/id}",     "/a{id}", "/{id}b",     "/{i{d}", "/{i-d}",
        "/{1id}", "/{id...}", "/{$}",   "/{id}/{id}", "/a}",    "/a b",
        "/a\tb",  "/a?b",     "/a#b",   "/a%",        "/a%2",   "/a%zz",
        "/a%00",  "/a\x7f",
    };
    gh_router_t *r = gh_router_new();

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(add_rc(r, "GET", bad[i]) == GH_EINVAL,
                      "pattern \"%s\" accepted", bad[i]);
    ck_assert_int_eq(add_rc(r, "GET", NULL), GH_EINVAL);
    ck_assert_int_eq(gh_router_add(r, "GET", "/ok", NULL, NULL), GH_EINVAL);
    ck_assert_int_eq(gh_router_add(NULL, "GET", "/ok", handler, NULL),
                     GH_EINVAL);
    /* Nothing half-added: every path is still unrouted. */
    ROUTE_IS(r, "GET", "/a", "404");
    ROUTE_IS(r, "GET", "/ok", "404");
    gh_router_free(r);
}
END_TEST

START_TEST(router_unusual_but_valid_patterns_are_accepted)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET", "/a%2A", "star-in-literal");
    add(r, "GET", "/%7Bid%7D", "braces");
    add(r, "GET", "/{_id9}/x", "underscore");
    add(r, "GET", "/%25", "percent");
    ROUTE_IS(r, "GET", "/a*", "star-in-literal");
    ROUTE_IS(r, "GET", "/%7bid%7d", "braces");
    ROUTE_IS(r, "GET", "/q/x", "underscore _id9=q");
    ROUTE_IS(r, "GET", "/%25", "percent");
    gh_router_free(r);
}
END_TEST

START_TEST(router_malformed_method_lists_are_einval)
{
    static const char *const bad[] = {
        "",         " ",        ",",     "GET,",  ",GET", "GET,,POST",
        "GET POST", "GET;POST", "GET,*", "*,GET", "G(T",  "GET\r\n",
    };
    gh_router_t *r = gh_router_new();

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(add_rc(r, bad[i], "/x") == GH_EINVAL,
                      "methods \"%s\" accepted", bad[i]);
    ROUTE_IS(r, "GET", "/x", "404");
    add(r, " GET , POST\t", "/x", "ok");
    ROUTE_IS(r, "POST", "/x", "ok");
    gh_router_free(r);
}
END_TEST

START_TEST(router_same_pattern_and_method_twice_is_eexist)
{
    gh_router_t *r = gh_router_new();

    add(r, "GET,POST", "/a", "a");
    ck_assert_int_eq(add_rc(r, "GET", "/a"), GH_EEXIST);
    ck_assert_int_eq(add_rc(r, "PUT,POST", "/a"), GH_EEXIST);
    add(r, "PUT", "/a", "a-put");
    add(r, NULL, "/a", "a-any");
    ck_assert_int_eq(add_rc(r, "*", "/a"), GH_EEXIST);
    add(r, "GET", "/a/", "a-tree");
    ck_assert_int_eq(add_rc(r, "GET", "/a/*"), GH_EEXIST);
    add(r, "GET", "/u/{id}", "u");
    ck_assert_int_eq(add_rc(r, "GET", "/u/{other}"), GH_EEXIST);
    add(r, "GET", "/%61b", "ab");
    ck_assert_int_eq(add_rc(r, "GET", "/ab"), GH_EEXIST);
    /* The refused routes changed nothing. */
    ROUTE_IS(r, "GET", "/a", "a");
    ROUTE_IS(r, "PUT", "/a", "a-put");
    ROUTE_IS(r, "TRACE", "/a", "a-any");
    ROUTE_IS(r, "GET", "/u/1", "u id=1");
    gh_router_free(r);
}
END_TEST

START_TEST(router_too_many_params_is_einval)
{
    gh_router_t *r = gh_router_new();
    char pattern[512];
    size_t n = 0;

    for (int i = 0; i <= GH__ROUTE_MAX_PARAMS; i++)
        n += (size_t)snprintf(pattern + n, sizeof pattern - n, "/{p%d}", i);
    ck_assert_int_eq(add_rc(r, "GET", pattern), GH_EINVAL);
    gh_router_free(r);
}
END_TEST

START_TEST(router_too_many_segments_is_einval)
{
    gh_router_t *r = gh_router_new();
    char pattern[2 * GH__ROUTE_MAX_SEGMENTS + 8];
    size_t n = 0;

    for (int i = 0; i < GH__ROUTE_MAX_SEGMENTS; i++)
        n += (size_t)snprintf(pattern + n, sizeof pattern - n, "/a");
    add(r, "GET", pattern, "deep");
    ROUTE_IS(r, "GET", pattern, "deep");
    /* A trailing slash adds no segment; another "/a" does. */
    pattern[n] = '/';
    pattern[n + 1] = '\0';
    add(r, "GET", pattern, "deep-tree");
    memcpy(pattern + n, "/a", 3);
    ck_assert_int_eq(add_rc(r, "GET", pattern), GH_EINVAL);
    ROUTE_IS(r, "GET", pattern, "deep-tree");
    gh_router_free(r);
}
END_TEST

START_TEST(router_too_many_methods_is_einval)
{
    gh_router_t *r = gh_router_new();
    char name[16];
    int i, rc = 0;

    /* The nine standard methods hold their slots from the start. */
    for (i = 0; i < GH__ROUTE_MAX_METHODS && rc == 0; i++) {
        snprintf(name, sizeof name, "M%d", i);
        rc = gh_router_add(r, name, "/x", handler, NULL);
    }
    ck_assert_int_eq(rc, GH_EINVAL);
    ck_assert_int_eq(i - 1, GH__ROUTE_MAX_METHODS - 9);
    add(r, "GET", "/x", "get");
    gh_router_free(r);
}
END_TEST

/* ---- robustness ------------------------------------------------------ */

static char *repeat(const char *unit, size_t times)
{
    size_t len = strlen(unit);
    char *s = malloc(len * times + 1);

    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * len, unit, len);
    s[len * times] = '\0';
    return s;
}

START_TEST(router_long_hostile_paths_are_harmless)
{
    gh_router_t *r = gh_router_new();
    char *slashes = repeat("/", 8192), *as = repeat("/a", 4096);
    char *escaped = repeat("/%61", 2048), *one = repeat("a", 8192);
    gh__route_match_t m;

    add(r, "GET", "/a/{x}/a/{y}/", "axay");
    add(r, "GET", "/a/a/a/a", "aaaa");
    add(r, "GET", "/{x}", "x");
    ROUTE_IS(r, "GET", as, "axay x=a y=a");
    ROUTE_IS(r, "GET", escaped, "axay x=a y=a");
    ROUTE_IS(r, "GET", slashes, "404");
    one[0] = '/';
    ck_assert_int_eq(gh__router_match(r, "GET", one, 8192, &m, NULL, 0),
                     GH__ROUTE_FOUND);
    ck_assert_uint_eq(m.values[0].off, 1);
    ck_assert_uint_eq(m.values[0].len, 8191);
    ROUTE_IS(r, "POST", as, "405 GET, HEAD");
    free(slashes);
    free(as);
    free(escaped);
    free(one);
    gh_router_free(r);
}
END_TEST

START_TEST(router_order_of_adding_does_not_change_results)
{
    static const char *const pats[] = {
        "/",       "/a/",    "/a/b",     "/a/{x}", "/a/b/",  "/a/{x}/c",
        "/a/{x}/", "/{s}/b", "/{s}/{t}", "/{s}/",  "/a/b/c",
    };
    static const char *const paths[] = {
        "/",      "/a",   "/a/",  "/a/b",   "/a/z",   "/a/b/c",
        "/a/z/c", "/q/b", "/q/r", "/q/r/s", "/a/b/d", "/a/z/d/e",
    };
    enum { NP = sizeof pats / sizeof pats[0] };
    char first[sizeof paths / sizeof paths[0]][128];

    for (int rot = 0; rot < NP; rot++) {
        gh_router_t *r = gh_router_new();
        for (int i = 0; i < NP; i++)
            add(r, "GET", pats[(i * (rot % 2 ? NP - 1 : 1) + rot) % NP],
                pats[(i * (rot % 2 ? NP - 1 : 1) + rot) % NP]);
        for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
            const char *got = route(r, "GET", paths[p]);
            if (rot == 0)
                snprintf(first[p], sizeof first[p], "%s", got);
            ck_assert_str_eq(got, first[p]);
        }
        gh_router_free(r);
    }
    ck_assert_str_eq(first[1], "/");
    ck_assert_str_eq(first[3], "/a/b");
    ck_assert_str_eq(first[5], "/a/b/c");
    ck_assert_str_eq(first[6], "/a/{x}/c x=z");
    ck_assert_str_eq(first[7], "/{s}/b s=q");
    ck_assert_str_eq(first[9], "/{s}/ s=q");
    ck_assert_str_eq(first[10], "/a/b/");
    ck_assert_str_eq(first[11], "/a/{x}/ x=z");
}
END_TEST

START_TEST(router_many_routes_each_find_their_own)
{
    gh_router_t *r = gh_router_new();
    char pat[64], path[64], want[64];

    for (int i = 0; i < 50; i++) {
        snprintf(pat, sizeof pat, "/api/v%d/items/{id}", i);
        ck_assert_int_eq(
            gh_router_add(r, "GET", pat, handler, (void *)(intptr_t)(i + 1)),
            0);
    }
    for (int i = 49; i >= 0; i--) {
        gh__route_match_t m;
        snprintf(path, sizeof path, "/api/v%d/items/%d", i, i * 7);
        snprintf(want, sizeof want, "%d", i * 7);
        ck_assert_int_eq(
            gh__router_match(r, "GET", path, strlen(path), &m, NULL, 0),
            GH__ROUTE_FOUND);
        ck_assert_int_eq((int)(intptr_t)m.udata, i + 1);
        ck_assert_uint_eq(m.values[0].len, strlen(want));
        ck_assert_int_eq(memcmp(path + m.values[0].off, want, strlen(want)), 0);
    }
    gh_router_free(r);
}
END_TEST

START_TEST(router_free_accepts_null)
{
    gh_router_free(NULL);
}
END_TEST

static Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 30 * (double)gh_test_time_scale());
    tcase_add_test(tc, router_exact_pattern_matches_only_that_path);
    tcase_add_test(tc, router_prefix_pattern_matches_everything_under_it);
    tcase_add_test(tc, router_star_suffix_is_the_same_prefix_pattern);
    tcase_add_test(tc, router_root_prefix_catches_every_path);
    tcase_add_test(tc, router_exact_beats_prefix);
    tcase_add_test(tc, router_longest_prefix_wins);
    tcase_add_test(tc, router_literal_beats_param_at_the_same_position);
    tcase_add_test(tc, router_dead_end_literal_branch_falls_back_to_param);
    tcase_add_test(tc, router_literal_first_beats_longer_prefix_after_a_param);
    tcase_add_test(tc, router_params_are_spans_of_the_raw_path);
    tcase_add_test(tc, router_param_values_are_decoded);
    tcase_add_test(tc, router_param_needs_one_non_empty_segment);
    tcase_add_test(tc, router_params_work_in_prefix_patterns);
    tcase_add_test(tc, router_param_names_belong_to_each_route);
    tcase_add_test(tc, router_sixteen_params_are_accepted_and_extracted);
    tcase_add_test(tc, router_percent_encoded_path_matches_its_literal);
    tcase_add_test(tc, router_encoded_slash_never_splits_a_segment);
    tcase_add_test(tc, router_bad_escapes_in_the_path_are_bad_path);
    tcase_add_test(tc, router_unescape_checks_and_decodes);
    tcase_add_test(tc, router_wrong_method_is_405_with_allow);
    tcase_add_test(tc, router_allow_joins_every_route_matching_the_path);
    tcase_add_test(tc, router_method_chooses_among_matching_routes);
    tcase_add_test(tc, router_any_method_route_never_gives_405);
    tcase_add_test(tc, router_head_is_answered_by_a_get_route);
    tcase_add_test(tc, router_methods_are_case_sensitive_tokens);
    tcase_add_test(tc, router_small_allow_buffer_is_cut_at_a_whole_method);
    tcase_add_test(tc, router_allow_max_covers_custom_methods);
    tcase_add_test(tc, router_unmatched_path_is_not_found);
    tcase_add_test(tc, router_empty_path_and_asterisk_match_nothing);
    tcase_add_test(tc, router_dot_segments_are_not_normalised);
    tcase_add_test(tc, router_malformed_patterns_are_einval);
    tcase_add_test(tc, router_unusual_but_valid_patterns_are_accepted);
    tcase_add_test(tc, router_malformed_method_lists_are_einval);
    tcase_add_test(tc, router_same_pattern_and_method_twice_is_eexist);
    tcase_add_test(tc, router_too_many_params_is_einval);
    tcase_add_test(tc, router_too_many_segments_is_einval);
    tcase_add_test(tc, router_too_many_methods_is_einval);
    tcase_add_test(tc, router_long_hostile_paths_are_harmless);
    tcase_add_test(tc, router_order_of_adding_does_not_change_results);
    tcase_add_test(tc, router_many_routes_each_find_their_own);
    tcase_add_test(tc, router_free_accepts_null);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(router_suite)
