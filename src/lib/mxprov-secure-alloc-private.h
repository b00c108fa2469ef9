/* mxprov-secure-alloc-private.h: wiping allocators for libcurl and OpenSSL. */
#pragma once

#include <stddef.h>
#include <glib.h>

G_BEGIN_DECLS

/* Install the wiping allocators and initialise libcurl (in place of
 * curl_global_init). Call first thing in main, before anything uses
 * OpenSSL. *out_wiping is FALSE if a library refused the allocator (it
 * then keeps its own); FALSE only if libcurl cannot be initialised. */
gboolean mxprov_secure_alloc_install (gboolean *out_wiping);

/* Exposed for tests: free wipes the whole block first; realloc never
 * leaves an unwiped copy behind. */
void mxprov_secure_free (void *ptr);
void *mxprov_secure_realloc (void *ptr, size_t size);

G_END_DECLS
