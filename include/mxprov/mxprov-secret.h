/* mxprov-secret.h: secret strings that are wiped before their memory is freed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Overwrite the string's bytes with zeros (OPENSSL_cleanse, which the
 * compiler may not elide) and free it. NULL is allowed. */
void mxprov_secret_free (gchar *secret);
/* Wipe len bytes in place. */
void mxprov_secret_wipe (gpointer data, gsize len);
/* A GString wiped on free: for buffers that held a password or token. */
void mxprov_secret_gstring_free (GString *buf);

/* A new random password: `nbytes` bytes from OpenSSL's CSPRNG encoded as
 * URL-safe Base64 without padding (32 bytes -> 43 ASCII characters). */
gchar *mxprov_secret_generate_password (gsize nbytes, GError **error);

/* Read the first line of `filename` ("-" = standard input), without its
 * line end, as a secret (free with mxprov_secret_free). Warns when the file
 * is readable by other users; refuses empty, binary or oversized files.
 * `what` names the secret in messages ("admin password"). */
gchar *mxprov_secret_read_file (const gchar *filename, const gchar *what, GError **error);

/* URL-safe Base64 without padding (RFC 4648 section 5). */
gchar *mxprov_base64url_encode (const guint8 *data, gsize len);
/* Strict decoder: refuses padding, whitespace and the standard alphabet's
 * '+' and '/'. The result is NUL-terminated (not counted in out_len). */
guint8 *mxprov_base64url_decode (const gchar *text, gsize *out_len, GError **error);

/* g_autoptr(MxprovSecret) for a gchar * holding a secret. */
typedef gchar MxprovSecret;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovSecret, mxprov_secret_free)

G_END_DECLS
