/*
 * static_mime.c - the table that maps a file name's extension to its
 * Content-Type, either compiled in (the common web types) or read from a
 * mime.types file at init.
 *
 * The table is built once, sorted by extension and searched with bsearch;
 * after gh__static_mime_finish() it is read-only, so every request may
 * search it concurrently.  Extensions are kept in lower case and looked up
 * case-insensitively.  A type gets the configured charset appended once,
 * here, so that serving a file formats nothing.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gohttpd.h>

#include "static.h"

#define EXT_MAX 32 /* longest extension accepted */

/* The fallback when no mime_types file is configured. */
static const char *const builtin[][2] = {
    {"html", "text/html"}, {"htm", "text/html"},
    {"css", "text/css"}, {"js", "application/javascript"},
    {"mjs", "application/javascript"}, {"json", "application/json"},
    {"map", "application/json"}, {"txt", "text/plain"},
    {"md", "text/markdown"}, {"csv", "text/csv"}, {"xml", "text/xml"},
    {"svg", "image/svg+xml"}, {"png", "image/png"},
    {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"},
    {"webp", "image/webp"}, {"avif", "image/avif"},
    {"ico", "image/x-icon"}, {"bmp", "image/bmp"},
    {"woff", "font/woff"}, {"woff2", "font/woff2"}, {"ttf", "font/ttf"},
    {"otf", "font/otf"}, {"wasm", "application/wasm"},
    {"pdf", "application/pdf"}, {"zip", "application/zip"},
    {"gz", "application/gzip"}, {"tar", "application/x-tar"},
    {"br", "application/x-brotli"}, {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"}, {"wav", "audio/wav"}, {"mp4", "video/mp4"},
    {"webm", "video/webm"}, {"webmanifest", "application/manifest+json"},
    {"rss", "application/rss+xml"}, {"atom", "application/atom+xml"},
    {"yaml", "text/yaml"}, {"yml", "text/yaml"},
};

/* ---- building -------------------------------------------------------- */

static int add(gh__static_mime_t *m, const char *ext, size_t elen,
               const char *type)
{
    gh__static_mime_ent_t *e;

    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        if (!(e = realloc(m->ents, cap * sizeof(*e))))
            return GH_ENOMEM;
        m->ents = e;
        m->cap = cap;
    }
    e = &m->ents[m->n];
    e->ext = strndup(ext, elen);
    e->ctype = strdup(type);
    if (!e->ext || !e->ctype) {
        free(e->ext);
        free(e->ctype);
        return GH_ENOMEM;
    }
    for (char *p = e->ext; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    e->seq = m->n++; /* qsort is not stable: this orders duplicates */
    return 0;
}

int gh__static_mime_builtin(gh__static_mime_t *m)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < sizeof(builtin) / sizeof(*builtin);
         i++)
        rc = add(m, builtin[i][0], strlen(builtin[i][0]), builtin[i][1]);
    return rc;
}

/* ---- the file -------------------------------------------------------- */

/* RFC 9110 token characters, which a type and subtype are made of. */
static bool is_tchar(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool gh__static_mime_valid(const char *t)
{
    const char *slash = strchr(t, '/');
    size_t i;

    if (!slash || slash == t || !slash[1])
        return false;
    for (i = 0; t[i]; i++)
        if (t + i != slash && !is_tchar((unsigned char)t[i]))
            return false;
    return true;
}

static bool valid_ext(const char *e, size_t n)
{
    if (n == 0 || n > EXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)e[i]) && !strchr("-_+", e[i]))
            return false;
    return true;
}

/*
 * One line, comments already cut: "type ext ext" with an optional ';' at
 * the end, or the "types {" / "}" that wrap nginx's file.  0, GH_EINVAL
 * with a message (no position: the caller adds it) or GH_ENOMEM.
 */
static int parse_line(gh__static_mime_t *m, char *line, char *msg,
                      size_t msglen)
{
    char *save = NULL, *type, *tok;
    int rc;

    if (!(type = strtok_r(line, " \t\r\n;", &save)))
        return 0;
    if (strcmp(type, "}") == 0 ||
        (strcmp(type, "types") == 0 && (tok = strtok_r(NULL, " \t\r\n", &save))
         && strcmp(tok, "{") == 0))
        return 0;
    if (!gh__static_mime_valid(type)) {
        snprintf(msg, msglen, "expected a media type (type/subtype), not "
                 "\"%.64s\"", type);
        return GH_EINVAL;
    }
    while ((tok = strtok_r(NULL, " \t\r\n;", &save))) {
        if (!valid_ext(tok, strlen(tok))) {
            snprintf(msg, msglen, "\"%.64s\" is not a file extension "
                     "(letters, digits, - _ +)", tok);
            return GH_EINVAL;
        }
        if ((rc = add(m, tok, strlen(tok), type)) < 0)
            return rc;
    }
    return 0;
}

int gh__static_mime_load(gh__static_mime_t *m, const char *path, char *err,
                         size_t errlen)
{
    char *line = NULL, msg[160];
    size_t cap = 0;
    int lineno = 0, rc = 0;
    FILE *f = fopen(path, "re");

    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, gh_strerror(rc));
        return rc;
    }
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        char *hash = strchr(line, '#');
        lineno++;
        if (hash)
            *hash = '\0';
        if ((rc = parse_line(m, line, msg, sizeof(msg))) == GH_EINVAL)
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
    }
    if (rc == 0 && ferror(f)) {
        rc = GH_EIO;
        snprintf(err, errlen, "%s: %s", path, gh_strerror(rc));
    } else if (rc == GH_ENOMEM) {
        snprintf(err, errlen, "%s: %s", path, gh_strerror(rc));
    }
    free(line);
    fclose(f);
    return rc;
}

/* ---- finishing and lookup -------------------------------------------- */

/* Types that are text and so carry a charset parameter. */
static bool takes_charset(const char *type)
{
    return strncmp(type, "text/", 5) == 0 ||
           strcmp(type, "application/javascript") == 0 ||
           strcmp(type, "application/json") == 0;
}

char *gh__static_ctype(const char *type, const char *charset)
{
    char *s;

    if (!charset || !takes_charset(type))
        return strdup(type);
    if (asprintf(&s, "%s; charset=%s", type, charset) < 0)
        return NULL;
    return s;
}

/* By extension, then by position, so that the later of two lines wins. */
static int cmp_ent(const void *a, const void *b)
{
    const gh__static_mime_ent_t *x = a, *y = b;
    int c = strcmp(x->ext, y->ext);

    return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

int gh__static_mime_finish(gh__static_mime_t *m, const char *charset)
{
    size_t out = 0;

    for (size_t i = 0; i < m->n; i++) {
        char *ct = gh__static_ctype(m->ents[i].ctype, charset);
        if (!ct)
            return GH_ENOMEM;
        free(m->ents[i].ctype);
        m->ents[i].ctype = ct;
    }
    if (m->n > 1)
        qsort(m->ents, m->n, sizeof(*m->ents), cmp_ent);
    for (size_t i = 0; i < m->n; i++) {
        if (out > 0 && strcmp(m->ents[out - 1].ext, m->ents[i].ext) == 0) {
            free(m->ents[out - 1].ext);
            free(m->ents[out - 1].ctype);
            out--;
        }
        m->ents[out++] = m->ents[i];
    }
    m->n = out;
    return 0;
}

static int cmp_key(const void *key, const void *ent)
{
    return strcasecmp(key, ((const gh__static_mime_ent_t *)ent)->ext);
}

const char *gh__static_mime_find(const gh__static_mime_t *m,
                                 const char *name)
{
    const char *dot = strrchr(name, '.');
    const gh__static_mime_ent_t *e;

    if (!dot || !dot[1] || m->n == 0)
        return NULL;
    e = bsearch(dot + 1, m->ents, m->n, sizeof(*m->ents), cmp_key);
    return e ? e->ctype : NULL;
}

void gh__static_mime_fini(gh__static_mime_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->ents[i].ext);
        free(m->ents[i].ctype);
    }
    free(m->ents);
    memset(m, 0, sizeof(*m));
}
