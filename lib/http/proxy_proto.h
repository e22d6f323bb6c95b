/*
 * proxy_proto.h - the PROXY protocol (v1 text and v2 binary) header
 * parser, as HAProxy's proxy-protocol.txt describes it (never installed).
 *
 * The parser is pure: given the bytes read so far from a connection it
 * says whether they hold a whole valid header (and how long it is, and the
 * addresses it carries), may still become one (need more), or never can
 * (invalid).  It never reads past the header: bytes after it are the
 * HTTP request.  Everything is bounded: a v1 line by its 107 bytes, a v2
 * header by the caller's max.
 */
#ifndef GH_PROXY_PROTO_H
#define GH_PROXY_PROTO_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#define GH__PP_V1_MAX 107   /* the longest v1 line, CRLF included */
#define GH__PP_V2_HEAD 16   /* the v2 fixed part */
#define GH__PP_V2_MAX 4096  /* a sane bound on a whole v2 header */

enum {
    GH__PP_NEED = 0,        /* a valid prefix: read more */
    GH__PP_INVALID = -1     /* never a valid header */
};

typedef union gh__pp_addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    struct sockaddr_un un;
} gh__pp_addr_t;

typedef struct gh__pp {
    int version;            /* 1 or 2 */
    bool local;             /* no addresses (v1 UNKNOWN, v2 LOCAL or an
                             * unspecified family): keep the real peer */
    gh__pp_addr_t src, dst; /* the original client and server */
    socklen_t src_len, dst_len; /* 0 when local */
} gh__pp_t;

/*
 * gh__pp_parse - parse the header at the start of buf[0 .. len).  Returns
 * its length (> 0) with *out filled in, GH__PP_NEED, or GH__PP_INVALID.
 * max bounds a v2 header's total length (16 + its length field; at most
 * GH__PP_V2_MAX, 0 meaning that).  Deterministic: a longer read that
 * starts with the same bytes gives the same header.
 */
int gh__pp_parse(const void *buf, size_t len, size_t max, gh__pp_t *out);

#endif /* GH_PROXY_PROTO_H */
