#!/bin/sh
# The man pages and the bash completion keep up with the code (TAP).
#
#  - each page renders with groff without a single warning;
#  - mxprov(1) has an entry for every command of `mxprov --help', and for
#    every option of `mxprov [COMMAND] --help' (e.g. "-s, --homeserver=URL")
#    in that command's OPTIONS subsection, and no option the command lacks;
#  - completion/mxprov loads in bash and offers exactly those commands and
#    each command's long options.
#
# Runs from the build directory; the sources are found from this script's
# own location.  Needs groff (Debian: groff-base) and bash; skips nothing.
set -u

top_srcdir=$(cd "$(dirname "$0")/.." && pwd) || exit 1
pages="man/mxprov.1 man/mxprov.conf.5 man/mxprov-plugin.7"
completion=$top_srcdir/completion/mxprov
mxprov=${MXPROV_BINARY:-}

bail () { echo "1..0"; echo "Bail out! $*"; exit 1; }
[ -n "$mxprov" ] && [ -x "$mxprov" ] || bail "MXPROV_BINARY (the built mxprov) is not set or not executable"
command -v groff >/dev/null 2>&1 || bail "groff not found (Debian: apt-get install groff-base)"
command -v bash >/dev/null 2>&1 || bail "bash not found"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results
: >"$results"
n=0
ok () { n=$((n + 1)); echo "ok $n - $*" >>"$results"; }
not_ok () { n=$((n + 1)); echo "not ok $n - $*" >>"$results"; }
check () { # check DESCRIPTION COMMAND...
    d=$1; shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# --- every page renders without warnings ------------------------------------
for page in $pages; do
    if [ ! -f "$top_srcdir/$page" ]; then
        not_ok "$page exists"
        continue
    fi
    LC_ALL=C.UTF-8 MANROFFSEQ='' groff -man -ww -z -Tutf8 "$top_srcdir/$page" \
        >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && [ ! -s "$tmp/out" ]; then
        ok "$page renders without warnings"
    else
        not_ok "$page renders without warnings (groff exit $rc)"
        sed 's/^/# /' "$tmp/err" "$tmp/out" >>"$results"
    fi
done

# --- mxprov(1) against --help ------------------------------------------------
# The page as plain text, lines long enough that no option is broken, no
# hyphenation, runs of spaces squeezed.
LC_ALL=C.UTF-8 groff -man -Tascii -rLL=250n -rHY=0 -P-c -P-b -P-u -P-o \
    "$top_srcdir/man/mxprov.1" 2>/dev/null >"$tmp/page" || true
[ -s "$tmp/page" ] || not_ok "man/mxprov.1 renders as text"

# The OPTIONS subsections of COMMAND ("" for mxprov itself): those whose
# heading names "mxprov COMMAND"; with $2 = all, also "every command".
options_section () {
    awk -v cmd="$1" -v every="$2" '
        /^[^ ]/ { in_options = ($0 ~ /^OPTIONS/); sel = 0; next }
        /^   [^ ]/ {
            sel = 0
            if (in_options) {
                if (cmd != "" && index($0 " ", "mxprov " cmd " ") > 0) sel = 1
                if ((cmd == "" || every == "all") && $0 ~ /every command/) sel = 1
            }
            next
        }
        sel' "$tmp/page"
}
# The option tags of a section (.TP tags are indented 7, their text 14):
# "-s, --homeserver=URL".
section_tags () {
    sed -n 's/^       -/-/p' | sed 's/  .*//; s/ *$//'
}
# The option specs of `mxprov [COMMAND] --help', one per line.
help_specs () {
    # shellcheck disable=SC2086 # $1 is one word or none
    LC_ALL=C "$mxprov" $1 --help 2>/dev/null | sed -n 's/^  *\(-[^ ].*\)$/\1/p' | sed 's/  .*//'
}

LC_ALL=C "$mxprov" --help >"$tmp/help" 2>&1
check "mxprov --help succeeds" [ $? -eq 0 ]
commands=$(sed -n '/^Commands:/,/^$/s/^  *\([a-z][a-z-]*\) .*/\1/p' "$tmp/help")
[ -n "$commands" ] || not_ok "mxprov --help lists commands"

# Each command has an entry under COMMANDS.
awk '/^[^ ]/ { sel = ($0 ~ /^COMMANDS/); next } sel' "$tmp/page" >"$tmp/commands"
for cmd in $commands; do
    check "mxprov.1 describes command '$cmd'" grep -Eq "^       $cmd( |\$)" "$tmp/commands"
done

for cmd in "" $commands; do
    name="mxprov${cmd:+ $cmd}"
    if ! help_specs "$cmd" >"$tmp/specs" || [ ! -s "$tmp/specs" ]; then
        not_ok "$name --help lists options"
        continue
    fi
    options_section "$cmd" all | tr -s ' ' >"$tmp/section"
    while IFS= read -r spec; do
        # the spec whole: not a prefix of a longer option
        if grep -Eq -e "(^|[^A-Za-z0-9=-])$spec([^A-Za-z0-9=-]|\$)" "$tmp/section"; then
            ok "mxprov.1 documents '$spec' of $name"
        else
            not_ok "mxprov.1 documents '$spec' of $name (under OPTIONS, a subsection naming '$name')"
        fi
    done <"$tmp/specs"
    # ... and nothing the command does not have (left over from old code)
    options_section "$cmd" own | section_tags >"$tmp/tags"
    stale=$(grep -vxF -f "$tmp/specs" "$tmp/tags" | tr '\n' ';')
    if [ -z "$stale" ]; then
        ok "mxprov.1 documents no option $name lacks"
    else
        not_ok "mxprov.1 documents no option $name lacks: $stale"
    fi
done

# --- the bash completion -----------------------------------------------------
if bash -c 'source "$1" && complete -p mxprov' sh "$completion" >"$tmp/out" 2>&1 \
    && grep -q -- '-F _mxprov mxprov' "$tmp/out"; then
    ok "completion/mxprov loads in bash and completes mxprov"
else
    not_ok "completion/mxprov loads in bash and completes mxprov"
    sed 's/^/# /' "$tmp/out" >>"$results"
fi

# What the completion offers for `mxprov WORD...', one word per line.
complete_words () {
    bash -c 'source "$1" >/dev/null 2>&1; shift
             COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
             _mxprov; printf "%s\n" "${COMPREPLY[@]}"' sh "$completion" "$@" 2>&1 | sort -u
}
same_words () { # same_words WHAT EXPECTED-FILE OFFERED-FILE
    missing=$(comm -23 "$2" "$3" | tr '\n' ' ')
    extra=$(comm -13 "$2" "$3" | tr '\n' ' ')
    if [ -z "$missing$extra" ]; then
        ok "completion offers $1"
    else
        not_ok "completion offers $1 (missing: ${missing:-none}; not in --help: ${extra:-none})"
    fi
}

printf '%s\n' $commands | sort -u >"$tmp/expected"
complete_words mxprov '' | grep -v -e '^-' -e '^help$' >"$tmp/offered"
same_words "the commands of mxprov --help" "$tmp/expected" "$tmp/offered"
for cmd in $commands; do
    help_specs "$cmd" | grep -o -e '--[a-z][a-z0-9-]*' | sort -u >"$tmp/expected"
    complete_words mxprov "$cmd" -- >"$tmp/offered"
    same_words "the long options of mxprov $cmd --help" "$tmp/expected" "$tmp/offered"
done

echo "1..$n"
cat "$results"
exit 0
