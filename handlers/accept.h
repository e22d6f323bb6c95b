/*
 * accept.h - reading Accept headers, shared by the built-in plugins that
 * answer in more than one format or coding (compiled into each module;
 * not part of the library's API).
 */
#ifndef GH_ACCEPT_H
#define GH_ACCEPT_H

#include <stdbool.h>

/*
 * The weight that Accept value accept gives the media type type
 * ("application/json"): 0 (not acceptable) to 1000 (q in thousandths),
 * from the most specific media range that covers it (RFC 9110 12.5.1: one
 * that names the type and subtype, else one that names the type with any
 * subtype, else the range of any type), 0 when none does.
 * *named (may be NULL): whether that range names type itself rather than
 * a wildcard.  Names compare without regard to case; parameters other
 * than q are not compared.
 */
int gh__accept_q(const char *accept, const char *type, bool *named);

/*
 * The weight of one list element whose parameters are [p, end) (what
 * follows its token, up to the next comma): its q in thousandths, 1000
 * without one, 0 for a malformed one (so that a garbled refusal still
 * refuses).  RFC 9110 12.4.2.
 */
int gh__accept_weight(const char *p, const char *end);

#endif
