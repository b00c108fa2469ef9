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

echo "1..7"
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

# Where `make install` puts things, as this build was configured (Debian's
# libdir is /usr/lib/<triplet>): never a layout assumed here.
for var in MXPROV_INSTALL_BINDIR MXPROV_INSTALL_LIBDIR MXPROV_INSTALL_PKGCONFIGDIR \
           MXPROV_INSTALL_PLUGINDIR; do
    eval "value=\${$var:-}"
    case $value in
        /*) ;;
        *) echo "1..0"; echo "Bail out! $var is '$value', not an absolute path (run me from make check)"; exit 1 ;;
    esac
done
root="$work/root"
check "make install into a temporary root" \
    make -C "$builddir" install DESTDIR="$root"

# the installed .pc, relocated to the temporary root: every variable holding
# an absolute path gets the root in front (prefix, and libdir when it was
# configured outside the prefix); glib's and json-c's .pc stay the system's
mkdir -p "$work/pkgconfig"
check "the .pc is installed in the configured pkgconfigdir" \
    test -f "$root$MXPROV_INSTALL_PKGCONFIGDIR/mxprov-plugin.pc"
sed -E "s|^([A-Za-z_][A-Za-z0-9_]*)=/|\\1=$root/|" "$root$MXPROV_INSTALL_PKGCONFIGDIR/mxprov-plugin.pc" \
    > "$work/pkgconfig/mxprov-plugin.pc"
export PKG_CONFIG_PATH="$work/pkgconfig"
pc="pkg-config"
check "pkg-config publishes plugindir and the ABI version" \
    bash -c "test \"\$($pc --variable=plugindir mxprov-plugin)\" = '$root$MXPROV_INSTALL_PLUGINDIR' \
             && test \"\$($pc --variable=abi_version mxprov-plugin)\" -ge 1"

cp -r "$srcdir/examples/plugin-skeleton" "$work/skeleton"
chmod -R u+w "$work/skeleton"
check "the skeleton builds against the installed SDK alone" \
    make -C "$work/skeleton" PKG_CONFIG="$pc"

export LD_LIBRARY_PATH="$root$MXPROV_INSTALL_LIBDIR"
export MXPROV_PLUGIN_PATH="$root$MXPROV_INSTALL_PLUGINDIR"
mxprov="$root$MXPROV_INSTALL_BINDIR/mxprov"
check "the installed mxprov lists it" \
    bash -c "MXPROV_PLUGIN_PATH='$work/skeleton' '$mxprov' plugins | grep -q '^skeleton-bundle  *bundle  *example'"

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
    bash -c "'$mxprov' provision --config '$work/mxprov.conf' --homeserver \"\$(cat '$work/url')\" \
             --admin-user admin --admin-password-file '$work/pw' --username sdkuser -v \
             > '$work/bundle' 2> '$work/err' && grep -q 'from the SDK test' '$work/err'"
check "its bundle is valid" \
    bash -c "'$mxprov' inspect '$work/bundle' | grep -q '^user: *@sdkuser:'"
