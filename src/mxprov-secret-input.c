/* mxprov-secret-input.c: asking for the admin password on the terminal. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <mxprov/mxprov-secret.h>
#include "mxprov-secret-input.h"

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
