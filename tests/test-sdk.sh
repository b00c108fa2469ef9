#!/bin/bash
# The plugin SDK from an integrator's side (TAP): install mxprov into a
# temporary prefix, build examples/plugin-skeleton against it with
# pkg-config only, and provision an account with the installed mxprov
# running the skeleton as its bundle step.
set -u
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mxprov-sdk.XXXXXX")
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

echo "1..6"
n=0
check() {
    n=$((n + 1))
    local what=$1; shift
    if "$@" > "$work/log.$n" 2>&1; then
        echo "ok $n $what"
    else
        echo "not ok $n $what"; sed 's/^/# /' "$work/log.$n"
        echo "Bail out! $what failed"; exit 1
    fi
}

prefix=$(sed -n 's/^prefix=//p' "$builddir/mxprov-plugin.pc")
root="$work/root$prefix"
check "make install into a temporary root" \
    make -C "$builddir" install DESTDIR="$work/root"

# the installed .pc, relocated to the temporary root (only ours: glib's
# and json-c's stay where the system has them)
mkdir -p "$work/pkgconfig"
sed "s|^prefix=.*|prefix=$root|" "$root/lib/pkgconfig/mxprov-plugin.pc" > "$work/pkgconfig/mxprov-plugin.pc"
export PKG_CONFIG_PATH="$work/pkgconfig"
pc="pkg-config"
check "pkg-config publishes plugindir and the ABI version" \
    bash -c "test \"\$($pc --variable=plugindir mxprov-plugin)\" = '$root/lib/mxprov/plugins' \
             && test \"\$($pc --variable=abi_version mxprov-plugin)\" -ge 1"

cp -r "$srcdir/examples/plugin-skeleton" "$work/skeleton"
chmod -R u+w "$work/skeleton"
check "the skeleton builds against the installed SDK alone" \
    make -C "$work/skeleton" PKG_CONFIG="$pc"

export LD_LIBRARY_PATH="$root/lib"
export MXPROV_PLUGIN_PATH="$root/lib/mxprov/plugins"
check "the installed mxprov lists it" \
    bash -c "MXPROV_PLUGIN_PATH='$work/skeleton' '$root/bin/mxprov' plugins | grep -q '^skeleton-bundle  *bundle  *example'"

# the bundled test homeserver, on loopback, stopping by itself
head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/pw"; chmod 600 "$work/pw"
"$builddir/tests/mxprov-test-homeserver" --admin-user admin --admin-password-file "$work/pw" \
    --url-file "$work/url" --lifetime 60 > /dev/null 2>&1 &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
cat > "$work/mxprov.conf" <<CONF
[pipeline]
steps=auth;user;room;bundle
plugin-dir=$work/skeleton
[auth]
plugin=synapse-auth
[user]
plugin=synapse-user
[room]
plugin=matrix-room
[bundle]
plugin=skeleton-bundle
greeting=from the SDK test
CONF
check "the installed mxprov provisions with the skeleton plugin" \
    bash -c "'$root/bin/mxprov' provision --config '$work/mxprov.conf' --homeserver \"\$(cat '$work/url')\" \
             --admin-user admin --admin-password-file '$work/pw' --username sdkuser -v \
             > '$work/bundle' 2> '$work/err' && grep -q 'from the SDK test' '$work/err'"
check "its bundle is valid" \
    bash -c "'$root/bin/mxprov' inspect '$work/bundle' | grep -q '^user: *@sdkuser:'"
