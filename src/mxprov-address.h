/* mxprov-address.h: what an IP address literal points at. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean mxprov_address_is_loopback (const gchar *literal);

G_END_DECLS
