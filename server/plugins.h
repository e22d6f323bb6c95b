/*
 * plugins.h - handler plugins and the generation of routes that serves
 * requests.
 *
 * A generation is what one configuration serves with: the plugin modules
 * it loaded, an instance (init'ed state) per route, and the router over
 * them.  gd_serve(), the server's one handler, runs every request in the
 * current generation; a reload builds a new one and swaps it in, and the
 * old one is finished (fini) once the requests that were using it are
 * done.  No request ever sees half of a configuration.
 */
#ifndef GD_PLUGINS_H
#define GD_PLUGINS_H

#include "server/settings.h"

typedef struct gd_gen gd_gen_t;

/* Where plugins named without a '/' are looked for, in order. */
typedef struct gd_plugin_path {
    const char *dirs[4];
    int n;
} gd_plugin_path_t;

/* Load every route's plugin and run its init.  0 and the generation, or
 * GH_E* with the reason in err (nothing is left loaded).  The generation
 * serves c's error pages from c, which must outlive it. */
int gd_gen_build(const gd_config_t *c, const gd_plugin_path_t *path,
                 gd_gen_t **out, char *err, size_t errlen);

/* Make g the generation new requests use; returns the one it replaces
 * (NULL the first time), for gd_gen_retire(). */
gd_gen_t *gd_gen_swap(gd_gen_t *g);

/* Wait until no request uses g (it must have been swapped out, or never
 * in), then fini its instances and unload it.  Parks; NULL is ignored. */
void gd_gen_retire(gd_gen_t *g);

/* The server's readiness check (gh_ready_fn): every instance of the
 * current generation whose plugin has a ready callback says yes. */
bool gd_ready(void *udata, char *why, size_t len);

/* The server's handler: route req in the current generation, and answer
 * a canned status 400..599 with its error_page, if it has one. */
int gd_serve(void *udata, gh_req_t *req, gh_resp_t *resp);

#endif /* GD_PLUGINS_H */
