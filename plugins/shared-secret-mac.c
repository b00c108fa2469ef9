/* shared-secret-mac.c: HMAC-SHA1 for shared-secret registration. */
#include "config.h"

#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <mxprov/mxprov-secret.h>
#include "shared-secret-mac.h"

gchar *
shared_secret_registration_mac (const gchar *secret, const gchar *nonce, const gchar *username,
                                const gchar *password, gboolean admin, const gchar *user_type)
{
  GString *message = g_string_new (NULL);
  guint8 digest[EVP_MAX_MD_SIZE];
  guint digest_len = 0;
  GString *hex;

  /* g_string_append_len keeps the NUL separators */
  g_string_append (message, nonce);
  g_string_append_len (message, "", 1);
  g_string_append (message, username);
  g_string_append_len (message, "", 1);
  g_string_append (message, password);
  g_string_append_len (message, "", 1);
  g_string_append (message, admin ? "admin" : "notadmin");
  if (user_type != NULL)
    {
      g_string_append_len (message, "", 1);
      g_string_append (message, user_type);
    }
  HMAC (EVP_sha1 (), secret, (int) strlen (secret), (const guint8 *) message->str,
        message->len, digest, &digest_len);
  /* the message holds the new password */
  mxprov_secret_gstring_free (message);

  hex = g_string_sized_new (digest_len * 2);
  for (guint i = 0; i < digest_len; i++)
    g_string_append_printf (hex, "%02x", digest[i]);
  mxprov_secret_wipe (digest, sizeof digest);
  return g_string_free (hex, FALSE);
}
