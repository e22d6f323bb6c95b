/*
 * gohttpd/conf.h - the configuration file format and the typed getters
 * that handler plugins read their settings with.
 *
 * The format is nginx's shape: a file is a list of directives; a directive
 * is a name, zero or more arguments and either ';' or a block in braces
 * holding more directives.  '#' starts a comment that runs to the end of
 * the line.  An argument is a bare word (anything but white space and
 * ; { } # " '), or a string in double quotes (escapes \" \\ \n \t \r and
 * \$) or in single quotes (no escapes).  "include PATTERN;" anywhere is
 * replaced by the directives of the files PATTERN matches (a glob, relative
 * to the including file's directory; no match is an error unless PATTERN
 * holds a wildcard), nested up to 8 deep, never in a cycle.
 *
 *     workers 2;
 *     listen 127.0.0.1:8080 backlog=1024;
 *     route /static/ {
 *         handler static;
 *         root    /srv/www;
 *         max_age 1h;
 *     }
 *
 * Every directive remembers its file, line and column, and every error
 * message starts with them: "conf/gohttpd.conf:12:5: ...".  Sizes take the
 * units k, m and g (powers of 1024: "64k"); durations ms, s, m, h and d
 * ("500ms", "30s", "1h"; a bare number is seconds).
 *
 * A handler plugin gets its route's block as a gh_conf_section_t and reads
 * it with the gh_conf_get_*() calls from its init callback.  Each getter
 * marks what it read; a directive nobody read is reported by the daemon as
 * unknown, so a typo in a setting is an error, not silence.  Sections are
 * read-only to everyone but the parser and are not thread-safe: read them
 * from init only (copy what serve needs into the plugin's state).
 */
#ifndef GOHTTPD_CONF_H
#define GOHTTPD_CONF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gohttpd/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gh_conf_section gh_conf_section_t;     /**< a block; opaque */
typedef struct gh_conf_directive gh_conf_directive_t; /**< one directive */

/** Limits of the parser (a config file is trusted, but still bounded). */
#define GH_CONF_MAX_FILE (4u << 20)  /**< bytes in one file */
#define GH_CONF_MAX_TOKEN 4096       /**< bytes in one word or string */
#define GH_CONF_MAX_ARGS 64          /**< arguments of one directive */
#define GH_CONF_MAX_DEPTH 16         /**< nested blocks */
#define GH_CONF_MAX_INCLUDE 8        /**< nested includes */

/**
 * gh_conf_parse_file - parse the file at path (and what it includes) into
 * a tree.  Returns 0 and the root section in *out (free it with
 * gh_conf_free()), or GH_EINVAL (a syntax error), GH_ENOENT, GH_EACCES,
 * GH_EFBIG ... with a message in err ("path:line:col: what was expected";
 * for a file that cannot be read, "path: reason"), truncated to errlen.
 */
GH_API int gh_conf_parse_file(const char *path, gh_conf_section_t **out,
                              char *err, size_t errlen);

/**
 * gh_conf_parse_string - parse len bytes of text as if read from a file
 * called name (used in messages; includes are resolved relative to its
 * directory; NULL: "(string)").  As gh_conf_parse_file() otherwise.
 */
GH_API int gh_conf_parse_string(const char *name, const char *text,
                                size_t len, gh_conf_section_t **out,
                                char *err, size_t errlen);

/** gh_conf_free - free a tree from gh_conf_parse_*().  NULL is ignored. */
GH_API void gh_conf_free(gh_conf_section_t *root);

/* ---- walking a section ------------------------------------------------ */

/** The number of directives in s. */
GH_API int gh_conf_count(const gh_conf_section_t *s);

/** Directive i (0 .. count-1) of s, in file order; NULL out of range. */
GH_API const gh_conf_directive_t *gh_conf_at(const gh_conf_section_t *s,
                                             int i);

/**
 * gh_conf_find - the last directive called name in s (a later setting
 * overrides an earlier one, as in nginx), marked as used; NULL if none.
 */
GH_API const gh_conf_directive_t *gh_conf_find(const gh_conf_section_t *s,
                                               const char *name);

/** The directive's name. */
GH_API const char *gh_conf_name(const gh_conf_directive_t *d);

/** The number of its arguments. */
GH_API int gh_conf_nargs(const gh_conf_directive_t *d);

/** Argument i (0 .. nargs-1), unquoted; NULL out of range. */
GH_API const char *gh_conf_arg(const gh_conf_directive_t *d, int i);

/** Its block, or NULL when it ended with ';'. */
GH_API const gh_conf_section_t *gh_conf_block(const gh_conf_directive_t *d);

/** The file it was read from, and its line and column (from 1). */
GH_API const char *gh_conf_file(const gh_conf_directive_t *d);
GH_API int gh_conf_line(const gh_conf_directive_t *d);  /**< see above */
GH_API int gh_conf_col(const gh_conf_directive_t *d);   /**< see above */

/** Mark d as used (gh_conf_find() and the getters do it). */
GH_API void gh_conf_use(const gh_conf_directive_t *d);

/**
 * gh_conf_unused - the first directive of s that nothing marked as used,
 * or NULL.  Blocks are not searched: each owner checks its own.
 */
GH_API const gh_conf_directive_t *gh_conf_unused(const gh_conf_section_t *s);

/* ---- typed getters ----------------------------------------------------
 *
 * Each reads the last directive called key in s, which must have exactly
 * one argument and no block.  When the key is absent *out is set to dflt
 * and 0 is returned.  A malformed value returns GH_EINVAL and records a
 * message naming the file, line, column and key (gh_conf_error()); *out is
 * then left alone.  A NULL section reads as an empty one.
 */

/** Any string.  *out lives as long as the tree. */
GH_API int gh_conf_get_str(const gh_conf_section_t *s, const char *key,
                           const char *dflt, const char **out);

/** A decimal integer within [min, max]. */
GH_API int gh_conf_get_int(const gh_conf_section_t *s, const char *key,
                           int64_t dflt, int64_t min, int64_t max,
                           int64_t *out);

/** A size: a number with an optional unit k, m or g ("64k"), in bytes. */
GH_API int gh_conf_get_size(const gh_conf_section_t *s, const char *key,
                            uint64_t dflt, uint64_t *out);

/** A duration ("500ms", "30s", "5m", "1h", "1d"; a bare number is
 * seconds), in nanoseconds. */
GH_API int gh_conf_get_duration(const gh_conf_section_t *s, const char *key,
                                int64_t dflt, int64_t *out);

/** A flag: on/off, yes/no, true/false. */
GH_API int gh_conf_get_bool(const gh_conf_section_t *s, const char *key,
                            bool dflt, bool *out);

/**
 * gh_conf_get_list - every argument of the last directive called key (one
 * or more): *out points to an array of *n strings that lives as long as
 * the tree.  Absent: *out = NULL, *n = 0, returns 0.
 */
GH_API int gh_conf_get_list(const gh_conf_section_t *s, const char *key,
                            const char *const **out, int *n);

/**
 * gh_conf_errorf - record an error about d (or, with d NULL, about the
 * section as a whole: its opening directive's position) in s's tree:
 * "file:line:col: " and the formatted message.  Returns GH_EINVAL, so a
 * plugin's init can `return gh_conf_errorf(conf, d, "...")`.
 */
GH_API int gh_conf_errorf(const gh_conf_section_t *s,
                          const gh_conf_directive_t *d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** The last message recorded in s's tree, or NULL. */
GH_API const char *gh_conf_error(const gh_conf_section_t *s);

/* ---- the value syntax on its own (for the daemon's own settings) ---- */

/** "64k" -> 65536.  0, or GH_EINVAL (syntax) / GH_ERANGE (overflow). */
GH_API int gh_conf_parse_size(const char *text, uint64_t *out);

/** "30s" -> 30 * GH_SECOND; parts may be combined, largest unit first
 * ("1h30m", "2s500ms").  0, or GH_EINVAL / GH_ERANGE. */
GH_API int gh_conf_parse_duration(const char *text, int64_t *out);

/** "on" -> true.  0, or GH_EINVAL. */
GH_API int gh_conf_parse_bool(const char *text, bool *out);

#ifdef __cplusplus
}
#endif
#endif /* GOHTTPD_CONF_H */
