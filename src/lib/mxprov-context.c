/* mxprov-context.c: the run's key/value store. */
#include "config.h"

#include <mxprov/mxprov-context.h>
#include <mxprov/mxprov-error.h>
#include <mxprov/mxprov-secret.h>

typedef struct {
  gchar *value;
  MxprovContextFlags flags;
} ContextEntry;

struct _MxprovContext {
  GHashTable *entries; /* key -> ContextEntry */
  MxprovHttp *http;    /* not owned */
};

static void
context_entry_free (ContextEntry *entry)
{
  if (entry->flags & MXPROV_CONTEXT_FLAG_SECRET)
    mxprov_secret_free (entry->value);
  else
    g_free (entry->value);
  g_free (entry);
}

MxprovContext *
mxprov_context_new (void)
{
  MxprovContext *self = g_new0 (MxprovContext, 1);
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) context_entry_free);
  return self;
}

void
mxprov_context_free (MxprovContext *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->entries);
  g_free (self);
}

void
mxprov_context_take (MxprovContext *self, const gchar *key, gchar *value,
                     MxprovContextFlags flags)
{
  ContextEntry *entry;

  g_return_if_fail (self != NULL);
  g_return_if_fail (key != NULL);
  g_return_if_fail (value != NULL);

  entry = g_new0 (ContextEntry, 1);
  entry->value = value;
  entry->flags = flags;
  /* Once secret, always secret: a later non-secret set of the same key
   * must not make an earlier secret printable by accident. */
  {
    ContextEntry *old = g_hash_table_lookup (self->entries, key);
    if (old != NULL && (old->flags & MXPROV_CONTEXT_FLAG_SECRET))
      entry->flags |= MXPROV_CONTEXT_FLAG_SECRET;
  }
  g_hash_table_replace (self->entries, g_strdup (key), entry);
}

void
mxprov_context_set (MxprovContext *self, const gchar *key, const gchar *value,
                    MxprovContextFlags flags)
{
  mxprov_context_take (self, key, g_strdup (value), flags);
}

const gchar *
mxprov_context_get (MxprovContext *self, const gchar *key)
{
  ContextEntry *entry;

  g_return_val_if_fail (self != NULL, NULL);
  entry = g_hash_table_lookup (self->entries, key);
  return entry != NULL ? entry->value : NULL;
}

const gchar *
mxprov_context_lookup (MxprovContext *self, const gchar *key, GError **error)
{
  const gchar *value = mxprov_context_get (self, key);

  if (value == NULL)
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                   "context key '%s' is not set", key);
      return NULL;
    }
  return value;
}

gboolean
mxprov_context_has (MxprovContext *self, const gchar *key)
{
  return mxprov_context_get (self, key) != NULL;
}

gboolean
mxprov_context_is_secret (MxprovContext *self, const gchar *key)
{
  ContextEntry *entry = g_hash_table_lookup (self->entries, key);
  return entry != NULL && (entry->flags & MXPROV_CONTEXT_FLAG_SECRET);
}

void
mxprov_context_remove (MxprovContext *self, const gchar *key)
{
  g_hash_table_remove (self->entries, key);
}

static gint
compare_strings (gconstpointer a, gconstpointer b, gpointer user_data)
{
  return g_strcmp0 (*(const gchar *const *) a, *(const gchar *const *) b);
}

gchar **
mxprov_context_list_keys (MxprovContext *self)
{
  g_autofree const gchar **keys =
    (const gchar **) g_hash_table_get_keys_as_array (self->entries, NULL);
  GStrvBuilder *builder = g_strv_builder_new ();
  gchar **result;

  for (gsize i = 0; keys[i] != NULL; i++)
    g_strv_builder_add (builder, keys[i]);
  result = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  g_qsort_with_data (result, g_strv_length (result), sizeof (gchar *),
                     compare_strings, NULL);
  return result;
}

MxprovHttp *
mxprov_context_get_http (MxprovContext *self)
{
  return self->http;
}

void
mxprov_context_set_http (MxprovContext *self, MxprovHttp *http)
{
  self->http = http;
}
