/* mxprov-secret-private.h: test hooks, not installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Called by mxprov_secret_free after wiping and before g_free, so a test can
 * check that the bytes are zero at that moment. */
typedef void (*MxprovSecretFreeHook) (const gchar *secret, gsize len);
void mxprov_secret_set_free_hook_for_testing (MxprovSecretFreeHook hook);
/* Call the hook, if one is set (for the library's other wiping frees). */
void mxprov_secret_run_free_hook (gconstpointer data, gsize len);

G_END_DECLS
