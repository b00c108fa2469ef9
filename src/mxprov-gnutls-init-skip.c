/* mxprov-gnutls-init-skip.c: keep GnuTLS from initialising itself.
 *
 * mxprov talks TLS through libcurl with OpenSSL and never uses GnuTLS, but
 * Debian's libcurl links librtmp and libldap, which link GnuTLS, so GnuTLS
 * is loaded into every run, and its library constructor initialises it
 * (ASN.1 trees, crypto back-ends, its configuration files): 0.8 MB of
 * memory and about 1 ms of start-up for nothing (see bench/README.md).
 *
 * GnuTLS lets a program opt out by defining this function: it is what the
 * GNUTLS_SKIP_GLOBAL_INIT macro of <gnutls/gnutls.h> expands to (spelled
 * out here so that building mxprov does not need the GnuTLS headers).
 * A library that does use GnuTLS still calls gnutls_global_init() itself,
 * as libldap does, and that still works. The executable must export the
 * symbol (see mxprov_LDFLAGS) so that libgnutls's call resolves to it. */
#include "config.h"

int _gnutls_global_init_skip (void);

int
_gnutls_global_init_skip (void)
{
  return 1;
}
