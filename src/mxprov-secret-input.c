/* mxprov-secret-input.c: getting the admin password without exposing it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <mxprov/mxprov-secret.h>
#include "mxprov-secret-input.h"

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

gchar *
mxprov_secret_prompt (const gchar *prompt, GError **error)
{
  struct termios saved, noecho;
  GString *buf;
  gchar *secret;
  gint fd;
  gchar c;

  fd = open ("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0 || !isatty (fd))
    {
      if (fd >= 0)
        close (fd);
      g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                           "no terminal to ask for the password on");
      return NULL;
    }
  if (tcgetattr (fd, &saved) != 0)
    {
      close (fd);
      g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                           "cannot switch off echo on the terminal");
      return NULL;
    }
  noecho = saved;
  noecho.c_lflag &= ~(tcflag_t) (ECHO | ECHONL);
  noecho.c_lflag |= ICANON;
  if (write (fd, prompt, strlen (prompt)) < 0)
    { /* the prompt is a courtesy; reading still works */ }
  tcsetattr (fd, TCSAFLUSH, &noecho);

  buf = g_string_sized_new (64);
  while (read (fd, &c, 1) == 1 && c != '\n')
    g_string_append_c (buf, c);
  c = 0;
  tcsetattr (fd, TCSAFLUSH, &saved);
  if (write (fd, "\n", 1) < 0)
    { /* nothing to do */ }
  close (fd);

  if (buf->len == 0)
    {
      mxprov_secret_gstring_free (buf);
      g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "no password entered");
      return NULL;
    }
  secret = g_strndup (buf->str, buf->len);
  mxprov_secret_gstring_free (buf);
  return secret;
}
