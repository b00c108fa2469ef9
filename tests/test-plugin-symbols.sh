#!/bin/sh
# Every built plugin exports exactly one symbol, mxprov_plugin_get_info (TAP).
set -u
dir=${MXPROV_PLUGIN_PATH:?}
plugins=$(ls "$dir"/*.so 2>/dev/null)
n=$(echo "$plugins" | grep -c .)
if [ "$n" -eq 0 ]; then echo "1..0 # no plugins in $dir"; echo "Bail out! no plugins built"; exit 1; fi
echo "1..$n"
i=0
for so in $plugins; do
    i=$((i + 1))
    exported=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort | tr '\n' ' ')
    if [ "$exported" = "mxprov_plugin_get_info " ]; then
        echo "ok $i $(basename "$so") exports only mxprov_plugin_get_info"
    else
        echo "not ok $i $(basename "$so") exports: $exported"
    fi
done
