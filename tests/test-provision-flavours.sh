#!/bin/sh
# Every provisioning case of tests/test-provision again, against the test
# homeserver's synapse-latest flavour (Synapse 1.157: strict booleans,
# login-as 404 for a missing user, Retry-After, the 1.79 login limits,
# rc_room_creation, room IDs without a server part) as well as the default
# Synapse 1.67. TAP, as the test program prints it.
MXPROV_TEST_FLAVOUR=synapse-latest
export MXPROV_TEST_FLAVOUR
exec "${G_TEST_BUILDDIR:?run me from make check}/test-provision" "$@"
