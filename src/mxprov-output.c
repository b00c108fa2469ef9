/* mxprov-output.c: write the bundle to a private file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mxprov/mxprov-secret.h>
#include "mxprov-output.h"

G_DEFINE_QUARK (mxprov-output-error-quark, mxprov_output_error)

struct _MxprovOutput {
  gchar *filename;
  gint fd;
  gboolean committed;
};

gboolean
mxprov_output_make_private (gint fd, const gchar *filename, GError **error)
{
  if (fchmod (fd, 0600) != 0)
    {
      gint saved = errno;
      g_set_error (error, MXPROV_OUTPUT_ERROR, MXPROV_OUTPUT_ERROR_FAILED,
                   "cannot set mode 0600 on %s: %s", filename, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

MxprovOutput *
mxprov_output_create (const gchar *filename, GError **error)
{
  MxprovOutput *self;
  gint fd;

  /* O_NOFOLLOW with O_EXCL: a planted symlink cannot redirect the bundle. */
  fd = open (filename, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      gint saved = errno;
      if (saved == EEXIST)
        g_set_error (error, MXPROV_OUTPUT_ERROR, MXPROV_OUTPUT_ERROR_EXISTS,
                     "%s already exists; mxprov never overwrites a bundle file: choose another --output name",
                     filename);
      else
        g_set_error (error, MXPROV_OUTPUT_ERROR, MXPROV_OUTPUT_ERROR_FAILED,
                     "cannot create %s: %s", filename, g_strerror (saved));
      return NULL;
    }
  if (!mxprov_output_make_private (fd, filename, error))
    {
      close (fd);
      unlink (filename);
      return NULL;
    }
  self = g_new0 (MxprovOutput, 1);
  self->filename = g_strdup (filename);
  self->fd = fd;
  return self;
}

gboolean
mxprov_output_write_line (gint fd, const gchar *text, const gchar *name, GError **error)
{
  /* write(2) rather than stdio: a FILE buffer would keep a copy of the
   * bundle (and its password) in memory we cannot wipe. */
  g_autofree gchar *line = g_strconcat (text, "\n", NULL);
  gsize len = strlen (line);
  gsize done = 0;

  while (done < len)
    {
      gssize n = write (fd, line + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          gint saved = errno;
          mxprov_secret_wipe (line, len);
          g_set_error (error, MXPROV_OUTPUT_ERROR, MXPROV_OUTPUT_ERROR_FAILED,
                       "cannot write the bundle to %s: %s", name, g_strerror (saved));
          return FALSE;
        }
      done += (gsize) n;
    }
  mxprov_secret_wipe (line, len);
  return TRUE;
}

gboolean
mxprov_output_commit (MxprovOutput *self, const gchar *text, GError **error)
{
  if (!mxprov_output_write_line (self->fd, text, self->filename, error))
    return FALSE;
  if (fsync (self->fd) != 0 || close (self->fd) != 0)
    {
      gint saved = errno;
      self->fd = -1;
      g_set_error (error, MXPROV_OUTPUT_ERROR, MXPROV_OUTPUT_ERROR_FAILED,
                   "cannot save %s: %s", self->filename, g_strerror (saved));
      return FALSE;
    }
  self->fd = -1;
  self->committed = TRUE;
  return TRUE;
}

void
mxprov_output_free (MxprovOutput *self)
{
  if (self == NULL)
    return;
  if (self->fd >= 0)
    close (self->fd);
  if (!self->committed)
    unlink (self->filename);
  g_free (self->filename);
  g_free (self);
}
