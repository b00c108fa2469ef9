/* mxprov-secure-alloc.c: allocators that wipe memory before freeing it,
 * for libcurl and OpenSSL.
 *
 * Their internal buffers (receive buffers, header copies, TLS records)
 * hold the admin password and tokens in clear text and are freed without
 * being wiped. Both libraries let the host replace their allocator, so
 * every block they release is zeroed first. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#ifdef HAVE_MALLOC_H
#include <malloc.h>
#endif
#include <curl/curl.h>
#include <openssl/crypto.h>

#include <mxprov/mxprov-secret.h>
#include "mxprov-secure-alloc-private.h"
#include "mxprov-secret-private.h"

/* Without malloc_usable_size the block's size is unknown: no wiping. */
static gsize
block_size (void *ptr)
{
#ifdef HAVE_MALLOC_USABLE_SIZE
  return malloc_usable_size (ptr);
#else
  return 0;
#endif
}

void
mxprov_secure_free (void *ptr)
{
  gsize size;

  if (ptr == NULL)
    return;
  size = block_size (ptr);
  OPENSSL_cleanse (ptr, size);
  mxprov_secret_run_free_hook (ptr, size);
  free (ptr);
}

/* Never realloc in place: glibc may move the block and free the old one
 * unwiped. Copy, then wipe and free the old block ourselves. */
void *
mxprov_secure_realloc (void *ptr, size_t size)
{
  void *moved;
  gsize old_size;

  if (ptr == NULL)
    return malloc (size);
  if (size == 0)
    {
      mxprov_secure_free (ptr);
      return NULL;
    }
  moved = malloc (size);
  if (moved == NULL)
    return NULL;
  old_size = block_size (ptr);
  memcpy (moved, ptr, MIN (old_size, size));
  mxprov_secure_free (ptr);
  return moved;
}

static void *
secure_malloc (size_t size)
{
  return malloc (size);
}

static char *
secure_strdup (const char *text)
{
  size_t len = strlen (text) + 1;
  char *copy = malloc (len);

  if (copy != NULL)
    memcpy (copy, text, len);
  return copy;
}

static void *
secure_calloc (size_t n, size_t size)
{
  return calloc (n, size);
}

static void *
openssl_malloc (size_t size, const char *file, int line)
{
  return malloc (size);
}

static void *
openssl_realloc (void *ptr, size_t size, const char *file, int line)
{
  return mxprov_secure_realloc (ptr, size);
}

static void
openssl_free (void *ptr, const char *file, int line)
{
  mxprov_secure_free (ptr);
}

gboolean
mxprov_secure_alloc_install (gboolean *out_wiping)
{
  gboolean wiping = TRUE;

  /* OpenSSL refuses once it has allocated anything: call this first. */
  if (!CRYPTO_set_mem_functions (openssl_malloc, openssl_realloc, openssl_free))
    wiping = FALSE;
  if (curl_global_init_mem (CURL_GLOBAL_DEFAULT, secure_malloc, mxprov_secure_free,
                            mxprov_secure_realloc, secure_strdup, secure_calloc) != CURLE_OK)
    {
      wiping = FALSE;
      if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return FALSE;
    }
  if (out_wiping != NULL)
    *out_wiping = wiping;
  return TRUE;
}
