/* mxprov-loader.h: find and open step plugins (GModule), refusing any
 * whose descriptor the host cannot trust. */
#pragma once

#include <glib.h>
#include "lib/mxprov-plugin-private.h"

G_BEGIN_DECLS

#define MXPROV_LOADER_ERROR (mxprov_loader_error_quark ())
typedef enum {
  MXPROV_LOADER_ERROR_NOT_FOUND,    /* no NAME.so in any plugin directory */
  MXPROV_LOADER_ERROR_OPEN,         /* dlopen failed */
  MXPROV_LOADER_ERROR_NO_GETTER,    /* mxprov_plugin_get_info not exported */
  MXPROV_LOADER_ERROR_ABI_MISMATCH, /* built for another ABI version */
  MXPROV_LOADER_ERROR_INVALID,      /* a required descriptor field is missing or wrong */
  MXPROV_LOADER_ERROR_WRONG_STEP,   /* configured for a step it does not implement */
} MxprovLoaderError;
GQuark mxprov_loader_error_quark (void);

/* The directories searched, in order: $MXPROV_PLUGIN_PATH (':'-separated),
 * then `config_dir` ([pipeline] plugin-dir), then the compiled-in one. */
gchar **mxprov_loader_search_path (const gchar *config_dir);

/* Open `filename` and check its descriptor. */
MxprovPlugin *mxprov_loader_open (const gchar *filename, GError **error);
/* Find NAME.so in `dirs`, open it and check it implements `step`. */
MxprovPlugin *mxprov_loader_load (const gchar *const *dirs, const gchar *name,
                                  const gchar *step, GError **error);

/* Every plugin in `dirs` (first occurrence of each name wins). Files that
 * fail to load go to `out_errors` as messages. */
GPtrArray *mxprov_loader_scan (const gchar *const *dirs, GPtrArray **out_errors);

G_END_DECLS
