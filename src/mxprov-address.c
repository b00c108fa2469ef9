/* mxprov-address.c: what an IP address literal points at.
 *
 * inet_pton rather than GInetAddress: this is all the host needed GIO for,
 * and not loading GIO (with libmount, libselinux, libblkid and GObject)
 * saves every run ~1 MB of memory and part of its start-up. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "mxprov-address.h"

/* TRUE for an IPv4 literal in 127.0.0.0/8 or the IPv6 literal ::1 (no
 * brackets, no port); FALSE for anything else, host names included: a name
 * can resolve anywhere. */
gboolean
mxprov_address_is_loopback (const gchar *literal)
{
  struct in_addr v4;
  struct in6_addr v6;

  if (literal == NULL)
    return FALSE;
  if (inet_pton (AF_INET, literal, &v4) == 1)
    return (ntohl (v4.s_addr) >> 24) == 127;
  if (inet_pton (AF_INET6, literal, &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK (&v6);
  return FALSE;
}
