/* mxprov-secret.c: wiping secrets, generating passwords, Base64url. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <mxprov/mxprov-error.h>
#include <mxprov/mxprov-secret.h>
#include "mxprov-secret-private.h"

static MxprovSecretFreeHook free_hook = NULL;

void
mxprov_secret_set_free_hook_for_testing (MxprovSecretFreeHook hook)
{
  free_hook = hook;
}

void
mxprov_secret_run_free_hook (gconstpointer data, gsize len)
{
  if (free_hook != NULL)
    free_hook (data, len);
}

void
mxprov_secret_wipe (gpointer data, gsize len)
{
  if (data != NULL && len > 0)
    OPENSSL_cleanse (data, len);
}

void
mxprov_secret_free (gchar *secret)
{
  gsize len;

  if (secret == NULL)
    return;
  len = strlen (secret);
  mxprov_secret_wipe (secret, len);
  if (free_hook != NULL)
    free_hook (secret, len);
  g_free (secret);
}

void
mxprov_secret_gstring_free (GString *buf)
{
  if (buf == NULL)
    return;
  /* allocated_len, not len: a GString that grew may have copied the
   * secret's earlier bytes beyond the current length. */
  mxprov_secret_wipe (buf->str, buf->allocated_len);
  g_string_free (buf, TRUE);
}

static const gchar base64url_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

gchar *
mxprov_base64url_encode (const guint8 *data, gsize len)
{
  gchar *out = g_malloc ((len + 2) / 3 * 4 + 1);
  gsize o = 0;
  gsize i = 0;

  for (; i + 3 <= len; i += 3)
    {
      guint32 v = (guint32) data[i] << 16 | (guint32) data[i + 1] << 8 | data[i + 2];
      out[o++] = base64url_alphabet[(v >> 18) & 0x3f];
      out[o++] = base64url_alphabet[(v >> 12) & 0x3f];
      out[o++] = base64url_alphabet[(v >> 6) & 0x3f];
      out[o++] = base64url_alphabet[v & 0x3f];
    }
  if (len - i == 1)
    {
      guint32 v = (guint32) data[i] << 16;
      out[o++] = base64url_alphabet[(v >> 18) & 0x3f];
      out[o++] = base64url_alphabet[(v >> 12) & 0x3f];
    }
  else if (len - i == 2)
    {
      guint32 v = (guint32) data[i] << 16 | (guint32) data[i + 1] << 8;
      out[o++] = base64url_alphabet[(v >> 18) & 0x3f];
      out[o++] = base64url_alphabet[(v >> 12) & 0x3f];
      out[o++] = base64url_alphabet[(v >> 6) & 0x3f];
    }
  out[o] = '\0';
  return out;
}

static gint
base64url_value (gchar c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

guint8 *
mxprov_base64url_decode (const gchar *text, gsize *out_len, GError **error)
{
  gsize len = strlen (text);
  g_autofree guint8 *out = NULL;
  gsize o = 0;
  guint32 acc = 0;
  guint bits = 0;

  for (gsize i = 0; i < len; i++)
    {
      gint v = base64url_value (text[i]);
      if (v < 0)
        {
          const gchar *why = text[i] == '=' ? "padding '=' is not allowed"
                           : (text[i] == '+' || text[i] == '/') ? "standard Base64 alphabet, expected URL-safe"
                           : "character not in the URL-safe Base64 alphabet";
          g_set_error (error, G_CONVERT_ERROR, G_CONVERT_ERROR_ILLEGAL_SEQUENCE,
                       "invalid Base64url at offset %" G_GSIZE_FORMAT ": %s", i, why);
          return NULL;
        }
    }
  /* One leftover character carries only 6 bits, less than a byte: the
   * text was cut short. */
  if (len % 4 == 1)
    {
      g_set_error_literal (error, G_CONVERT_ERROR, G_CONVERT_ERROR_PARTIAL_INPUT,
                           "invalid Base64url: truncated (length leaves a partial byte)");
      return NULL;
    }

  out = g_malloc (len / 4 * 3 + 3 + 1);
  for (gsize i = 0; i < len; i++)
    {
      acc = acc << 6 | (guint32) base64url_value (text[i]);
      bits += 6;
      if (bits >= 8)
        {
          bits -= 8;
          out[o++] = (guint8) (acc >> bits);
        }
    }
  /* Non-zero leftover bits mean the encoder was not canonical or the text
   * was altered: refuse rather than silently ignore them. */
  if ((acc & ((1u << bits) - 1)) != 0)
    {
      mxprov_secret_wipe (out, o);
      g_set_error_literal (error, G_CONVERT_ERROR, G_CONVERT_ERROR_ILLEGAL_SEQUENCE,
                           "invalid Base64url: non-zero trailing bits (truncated or altered)");
      return NULL;
    }
  out[o] = '\0';
  if (out_len != NULL)
    *out_len = o;
  return g_steal_pointer (&out);
}

gchar *
mxprov_secret_generate_password (gsize nbytes, GError **error)
{
  guint8 raw[64];
  gchar *password;

  /* bcrypt reads at most 72 bytes; 64 bytes of entropy encode to 86
   * characters, so keep well under the notes' 64-character ceiling. */
  if (nbytes == 0 || nbytes > 48)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED,
                   "password length of %" G_GSIZE_FORMAT " random bytes is out of range (1-48)",
                   nbytes);
      return NULL;
    }
  if (RAND_bytes (raw, (int) nbytes) != 1)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED,
                   "the OpenSSL random generator failed (error %lu)", ERR_get_error ());
      return NULL;
    }
  password = mxprov_base64url_encode (raw, nbytes);
  mxprov_secret_wipe (raw, sizeof raw);
  return password;
}

/* A password is one line; a file larger than this is not a password file. */
#define MAX_SECRET_FILE_SIZE 4096

static gchar *
first_line_of (GString *buf, const gchar *source, const gchar *what, GError **error)
{
  gchar *end = memchr (buf->str, '\n', buf->len);
  gsize len = end != NULL ? (gsize) (end - buf->str) : buf->len;

  if (len > 0 && buf->str[len - 1] == '\r')
    len--;
  if (len == 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: the %s is empty", source, what);
      return NULL;
    }
  if (memchr (buf->str, '\0', len) != NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: the %s contains a NUL byte",
                   source, what);
      return NULL;
    }
  return g_strndup (buf->str, len);
}

gchar *
mxprov_secret_read_file (const gchar *filename, const gchar *what, GError **error)
{
  GString *buf = g_string_sized_new (128);
  gchar chunk[512];
  gchar *secret;
  gint fd;
  gboolean is_stdin = g_strcmp0 (filename, "-") == 0;
  const gchar *source = is_stdin ? "standard input" : filename;
  struct stat st;

  if (is_stdin)
    fd = STDIN_FILENO;
  else
    {
      fd = open (filename, O_RDONLY | O_CLOEXEC | O_NOCTTY);
      if (fd < 0)
        {
          gint saved = errno;
          mxprov_secret_gstring_free (buf);
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                       "cannot open %s file %s: %s", what, filename, g_strerror (saved));
          return NULL;
        }
      /* Others who can read the file can read the admin password. */
      if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        g_warning ("%s is readable by other users (mode %04o); run: chmod 600 %s",
                   filename, (guint) (st.st_mode & 07777), filename);
    }

  for (;;)
    {
      gssize n = read (fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          gint saved = errno;
          mxprov_secret_wipe (chunk, sizeof chunk);
          mxprov_secret_gstring_free (buf);
          if (!is_stdin)
            close (fd);
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                       "cannot read %s from %s: %s", what, source, g_strerror (saved));
          return NULL;
        }
      if (n == 0)
        break;
      g_string_append_len (buf, chunk, n);
      if (buf->len > MAX_SECRET_FILE_SIZE)
        {
          mxprov_secret_wipe (chunk, sizeof chunk);
          mxprov_secret_gstring_free (buf);
          if (!is_stdin)
            close (fd);
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                       "%s: more than %d bytes; a %s file holds one line",
                       source, MAX_SECRET_FILE_SIZE, what);
          return NULL;
        }
    }
  mxprov_secret_wipe (chunk, sizeof chunk);
  if (!is_stdin)
    close (fd);
  secret = first_line_of (buf, source, what, error);
  mxprov_secret_gstring_free (buf);
  return secret;
}

