/*
 * gohttpd.h - the umbrella header of libgohttpd.
 *
 * Include this one header to use the runtime (goroutines, the scheduler,
 * timers, goroutine-aware I/O, channels and select, sync, contexts,
 * defer/panic/recover) from any C program:
 *
 *     #include <gohttpd.h>
 *     cc prog.c $(pkg-config --cflags --libs gohttpd)
 *
 * Define GH_SHORT_NAMES before including it for Go-like short spellings
 * (go(), yield(), ...); they are off by default because they collide easily.
 */
#ifndef GOHTTPD_H
#define GOHTTPD_H

#include "gohttpd/version.h"
#include "gohttpd/error.h"
#include "gohttpd/rt.h"
#include "gohttpd/net.h"
#include "gohttpd/chan.h"
#include "gohttpd/sync.h"
#include "gohttpd/ctx.h"
#include "gohttpd/panic.h"
#include "gohttpd/http.h"
#include "gohttpd/log.h"
#include "gohttpd/conf.h"
#include "gohttpd/handler.h"

#endif /* GOHTTPD_H */
