#!/bin/sh
# make demo: start the bundled test homeserver on 127.0.0.1, provision one
# account on it with the default (Synapse) pipeline, show the bundle and its
# decoded JSON with the password masked, and stop the server.
set -eu

: "${MXPROV:?}" "${HOMESERVER:?}"
work=$(mktemp -d "${TMPDIR:-/tmp}/mxprov-demo.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

umask 077
# A random admin password, kept in a 0600 file: never on a command line.
od -An -N18 -tx1 /dev/urandom | tr -d ' \n' > "$work/admin-password"

# The server exits by itself after 60 s even if this script is killed.
"$HOMESERVER" --server-name demo.test --admin-user admin \
    --admin-password-file "$work/admin-password" \
    --url-file "$work/url" --lifetime 60 > "$work/server.log" 2>&1 &
server_pid=$!
i=0
while [ ! -s "$work/url" ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ] || ! kill -0 "$server_pid" 2>/dev/null; then
        echo "demo: the test homeserver did not start:" >&2; cat "$work/server.log" >&2; exit 1
    fi
    sleep 0.1
done
url=$(cat "$work/url")
echo "demo: test homeserver listening at $url (server name demo.test)"
echo "demo: \$ mxprov provision --homeserver $url --admin-user admin --admin-password-file FILE --username lotti_sync_demo -v"
"$MXPROV" provision --homeserver "$url" --admin-user admin \
    --admin-password-file "$work/admin-password" --username lotti_sync_demo -v \
    > "$work/bundle"
echo
echo "Bundle (give this to the desktop client):"
cat "$work/bundle"
echo
echo "Decoded, password masked:"
# URL-safe Base64 without padding -> standard Base64 with padding.
b64=$(tr -- '-_' '+/' < "$work/bundle" | tr -d '\n')
case $(( ${#b64} % 4 )) in 2) b64="$b64==" ;; 3) b64="$b64=" ;; esac
printf '%s' "$b64" | base64 -d | sed 's/"password":"[^"]*"/"password":"********"/'
echo
echo
echo "demo: this is a version 1 bundle, the original plan's and mxprov's default."
echo "demo: current Lotti releases (0.9.976, April 2026, and later) accept only version 2:"
echo "demo: add --bundle-version 2 (and serve the homeserver over https://, which the app requires)."
echo
echo "demo: \$ mxprov status --homeserver $url --admin-user admin --admin-password-file FILE lotti_sync_demo"
"$MXPROV" status --homeserver "$url" --admin-user admin \
    --admin-password-file "$work/admin-password" lotti_sync_demo
