/* mxprov-output.h: the bundle file, created 0600 and never overwritten. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Writing what mxprov was asked to write: a bundle file, batch's output.
 * Exit status 73 for EXISTS, 74 for the rest (see mxprov-exit.c). */
#define MXPROV_OUTPUT_ERROR (mxprov_output_error_quark ())
typedef enum {
  MXPROV_OUTPUT_ERROR_EXISTS, /* never overwritten */
  MXPROV_OUTPUT_ERROR_FAILED, /* cannot create, write, sync or protect it */
} MxprovOutputError;
GQuark mxprov_output_error_quark (void);

typedef struct _MxprovOutput MxprovOutput;

/* Make `fd` (the file `filename`) mode 0600, whatever the umask, an
 * inherited ACL default or an earlier run left: what mxprov writes holds
 * passwords. */
gboolean mxprov_output_make_private (gint fd, const gchar *filename, GError **error);
/* Create `filename` exclusively (O_EXCL, mode 0600) now, before anything
 * is provisioned, so "file exists" cannot waste an account. */
MxprovOutput *mxprov_output_create (const gchar *filename, GError **error);
/* Write `text` and a newline, fsync and close. */
gboolean mxprov_output_commit (MxprovOutput *self, const gchar *text, GError **error);
/* Write `text` and a newline to `fd` (named `name` in errors). */
gboolean mxprov_output_write_line (gint fd, const gchar *text, const gchar *name, GError **error);
/* Remove a file that was created but never committed. */
void mxprov_output_free (MxprovOutput *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovOutput, mxprov_output_free)

G_END_DECLS
