#!/bin/bash
# bench/bench.sh: mxprov's benchmark, run by `make bench` (see bench/README.md).
#
# Measures, against the bundled test homeserver on 127.0.0.1:
#   1. one `mxprov provision`: wall time vs the time spent waiting for the
#      server (mxprov -v's "N requests, X ms waiting for the server"),
#      median of BENCH_SINGLE_RUNS runs, with no simulated server delay,
#      with BENCH_DELAY_MS per request, and with Synapse's measured costs;
#   2. `mxprov batch` of BENCH_ACCOUNTS accounts at -j 1, 4 and 16 with a
#      simulated server cost of BENCH_DELAY_MS per request: accounts/s,
#      client CPU per account, client peak RSS;
#   3. the same work as separate `mxprov provision` runs in a loop (on
#      BENCH_LOOP_ACCOUNTS accounts, per-account figures), with the login
#      rate limit off, plus 5 loop iterations with the rate limit on.
# Prints a table, writes bench/results/bench.json and bench/results/bench.txt.
#
# Environment (all optional; `make bench` sets the first five):
#   BENCH_BUILDDIR       top build directory (default: the parent of this script's)
#   BENCH_ACCOUNTS       accounts per batch measurement (1000)
#   BENCH_LOOP_ACCOUNTS  accounts in the provision loop (BENCH_ACCOUNTS)
#   BENCH_SINGLE_RUNS    single provision runs for the overhead median (20)
#   BENCH_DELAY_MS       simulated server cost per request for 1 (second series), 2 and 3 (20)
#   BENCH_RESULTS_DIR    where to write the results (BENCH_BUILDDIR/bench/results)
#   BENCH_KEEP=1         keep the scratch directory (logs, outputs) afterwards
#
# Exit status: 0 when every measurement ran and checked out (a MISS against
# a target is reported, not an error); 1 when something failed (then the
# scratch directory is kept and named); 2 on bad usage or a missing build.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
B=${BENCH_BUILDDIR:-$(cd "$here/.." && pwd)}
N_ACCOUNTS=${BENCH_ACCOUNTS:-1000}
N_LOOP=${BENCH_LOOP_ACCOUNTS:-$N_ACCOUNTS}
N_SINGLE=${BENCH_SINGLE_RUNS:-20}
DELAY_MS=${BENCH_DELAY_MS:-20}
N_RATELIMITED=5
JOBS_LIST="1 4 16"
RESULTS=${BENCH_RESULTS_DIR:-$B/bench/results}
HS_LIFETIME=900

# Targets
T_OVERHEAD_PCT=5
T_CPU_MS=0.5
T_RSS_MB=12
T_SPEEDUP=10

RUN=$B/bench/mxprov-bench-run
HS=$B/tests/mxprov-test-homeserver

die () { echo "bench: $*" >&2; exit 2; }
for n in N_ACCOUNTS N_LOOP N_SINGLE DELAY_MS; do
    [[ ${!n} =~ ^[0-9]+$ ]] && [ "${!n}" -gt 0 ] || die "$n must be a positive integer (got '${!n}')"
done
[ -x "$RUN" ] || die "$RUN is missing: run 'make bench' (or 'make bench/mxprov-bench-run')"
[ -x "$HS" ] || die "$HS is missing: run 'make bench' (or 'make tests/mxprov-test-homeserver')"

# --- scratch directory, cleanup --------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/mxprov-bench.XXXXXX")
hs_pids=()
ok=0
cleanup () {
    local p
    for p in "${hs_pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ "$ok" = 1 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -rf "$work"
    else
        echo "bench: scratch directory kept: $work" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail () {
    echo "bench: FAILED: $*" >&2
    exit 1
}

# --- a snapshot of the built mxprov -----------------------------------------
# ./mxprov is a libtool wrapper script: measuring it would measure a shell
# too. Run the real binary with the uninstalled library and plugins, copied
# here so a rebuild during the run cannot change what is measured.
real=
for cand in "$B/.libs/lt-mxprov" "$B/.libs/mxprov"; do
    if [ -x "$cand" ] && { [ -z "$real" ] || [ "$cand" -nt "$real" ]; }; then real=$cand; fi
done
[ -n "$real" ] || die "no real mxprov binary in $B/.libs: run 'make'"
mkdir -p "$work/bin" "$work/lib" "$work/plugins" "$work/xdg"
cp "$real" "$work/bin/mxprov"
cp -P "$B"/.libs/libmxprov.so* "$work/lib/"
cp "$B"/plugins/.libs/*.so "$work/plugins/"
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export MXPROV_PLUGIN_PATH="$work/plugins"
# No user or system config: the built-in Synapse pipeline.
export XDG_CONFIG_HOME="$work/xdg"
MX="$work/bin/mxprov"
if ldd "$MX" | grep -q 'not found'; then
    ldd "$MX" >&2; die "the mxprov snapshot does not find its libraries"
fi
mx_version=$("$MX" --version 2>&1 | head -n 1)

umask 077
# A random admin password in a 0600 file: never on a command line.
od -An -N18 -tx1 /dev/urandom | tr -d ' \n' > "$work/admin-password"
PW="$work/admin-password"

# --- helpers -----------------------------------------------------------------
# start_hs TAG DELAY_MS RATE_LIMIT(on|off) [EXTRA ARGS...]: start a fresh
# homeserver, set hs_url and hs_pid.
hs_url=
hs_pid=
start_hs () {
    local tag=$1 delay=$2 rl=$3 i=0
    shift 3
    local args=(--server-name bench.test --admin-user admin --admin-password-file "$PW"
                --url-file "$work/$tag.url" --lifetime "$HS_LIFETIME" --request-delay-ms "$delay" "$@")
    [ "$rl" = off ] && args+=(--no-login-rate-limit)
    rm -f "$work/$tag.url"
    "$HS" "${args[@]}" > "$work/$tag.hs.log" 2>&1 < /dev/null &
    hs_pid=$!
    hs_pids+=("$hs_pid")
    while [ ! -s "$work/$tag.url" ]; do
        i=$((i + 1))
        if [ "$i" -gt 100 ] || ! kill -0 "$hs_pid" 2>/dev/null; then
            cat "$work/$tag.hs.log" >&2
            fail "the test homeserver ($tag) did not start"
        fi
        sleep 0.1
    done
    hs_url=$(head -n 1 "$work/$tag.url")
}
stop_hs () {
    kill "$hs_pid" 2>/dev/null || true
    wait "$hs_pid" 2>/dev/null || true
}

# jget FILE KEY: a number from mxprov-bench-run's one-line JSON.
jget () {
    sed -n "s/.*\"$2\":\\(-\\{0,1\\}[0-9.]*\\).*/\\1/p" "$1"
}
# median: of the numbers on standard input, one a line.
median () {
    sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else { v = (a[NR / 2] + a[NR / 2 + 1]) / 2; if (v == int(v)) print v; else printf "%.3f\n", v } }'
}
# calc EXPR: floating-point arithmetic, printed with 3 decimals.
calc () { awk "BEGIN { printf \"%.3f\", $1 }"; }
# verdict COND: PASS when the awk condition holds, else MISS.
verdict () { awk "BEGIN { exit !($1) }" && echo PASS || echo MISS; }
now_ms () { date +%s%3N; }

provision () { # provision USERNAME [extra args]: the plain single-account command
    local u=$1; shift
    "$MX" provision --homeserver "$hs_url" --admin-user admin --admin-password-file "$PW" \
        --username "$u" "$@"
}

bench_start=$(now_ms)
echo "bench: mxprov $mx_version ($real), $(nproc) CPUs; scratch $work"

# --- 0. baseline: start-up alone ------------------------------------------------
# `mxprov --version` loads the same libraries (GLib, libcurl, OpenSSL, json-c)
# and exits: the floor under every figure below.
: > "$work/baseline.tsv"
for i in 1 2 3 4 5; do
    "$RUN" "$work/baseline.json" "$MX" --version > /dev/null || fail "mxprov --version failed"
    printf '%s\t%s\t%s\n' "$(jget "$work/baseline.json" wall_ms)" \
        "$(calc "$(jget "$work/baseline.json" user_ms) + $(jget "$work/baseline.json" sys_ms)")" \
        "$(jget "$work/baseline.json" maxrss_kb)" >> "$work/baseline.tsv"
done
z_wall=$(cut -f1 "$work/baseline.tsv" | median)
z_cpu=$(cut -f2 "$work/baseline.tsv" | median)
z_rss=$(cut -f3 "$work/baseline.tsv" | median)

# --- 1. one provision: tool overhead -------------------------------------------
# single_runs TAG DELAY_MS [SERVER ARGS...]: N_SINGLE provisions against a
# fresh server answering after DELAY_MS; one line per run in single-TAG.tsv.
# The admin credential of single_runs: a password file, or (token) the
# admin token the test homeserver wrote.
cred=(--admin-user admin --admin-password-file "$PW")
single_runs () {
    local tag=$1 delay=$2 i u line nreq waited wall cpu rss
    shift 2
    start_hs "single-$tag" "$delay" off "$@"
    : > "$work/single-$tag.tsv"
    for i in $(seq 1 "$N_SINGLE"); do
        u=$(printf 'bench_single_%s_%03d' "$tag" "$i")
        if ! "$RUN" "$work/single-$tag-$i.json" "$MX" provision --homeserver "$hs_url" "${cred[@]}" \
                --username "$u" -v > /dev/null 2> "$work/single-$tag-$i.err"; then
            cat "$work/single-$tag-$i.err" >&2; fail "single provision $tag/$i exited $(jget "$work/single-$tag-$i.json" exit)"
        fi
        line=$(sed -n 's/^mxprov: \([0-9][0-9]*\) requests, \([0-9.][0-9.]*\) ms waiting for the server$/\1 \2/p' "$work/single-$tag-$i.err")
        [ -n "$line" ] || { cat "$work/single-$tag-$i.err" >&2; fail "no 'N requests, X ms waiting for the server' line from mxprov -v"; }
        read -r nreq waited <<< "$line"
        wall=$(jget "$work/single-$tag-$i.json" wall_ms)
        cpu=$(calc "$(jget "$work/single-$tag-$i.json" user_ms) + $(jget "$work/single-$tag-$i.json" sys_ms)")
        rss=$(jget "$work/single-$tag-$i.json" maxrss_kb)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$wall" "$waited" "$(calc "$wall - $waited")" \
            "$(calc "($wall - $waited) * 100 / $wall")" "$cpu" "$nreq $rss" >> "$work/single-$tag.tsv"
    done
    stop_hs
}
# column TAG N: the median of column N of single-TAG.tsv
column () { cut -f"$2" "$work/single-$1.tsv" | median; }

echo "bench: [1/4] $N_SINGLE single provisions each with no server delay, ${DELAY_MS} ms/request, Synapse's costs ..."
single_runs fast 0
single_runs slow "$DELAY_MS"
single_runs synapse 0 --synapse-costs
# the same with an admin access token: no admin login, one bcrypt less
cred=(--admin-token-file "$work/admin-token")
single_runs synapse-token 0 --synapse-costs --admin-token-file "$work/admin-token"
cred=(--admin-user admin --admin-password-file "$PW")
# the MAS pipeline (the shipped examples/mas.conf) on the mas flavour, at
# the same server cost: MAS's admin API and a personal session instead of
# Synapse's. mxprov -v counts only the homeserver's requests (MAS has its
# own client), so only the wall times compare.
od -An -N18 -tx1 /dev/urandom | tr -d ' \n' > "$work/mas-secret"
MXPROV_MAS_CLIENT_SECRET=$(cat "$work/mas-secret")
export MXPROV_MAS_CLIENT_SECRET
cred=(--config "$here/../examples/mas.conf")
single_runs mas "$DELAY_MS" --flavour mas --mas-client-id 01J00000000000000000000000 \
    --mas-client-secret-file "$work/mas-secret"
unset MXPROV_MAS_CLIENT_SECRET
cred=(--admin-user admin --admin-password-file "$PW")
s_wall=$(column fast 2); s_wait=$(column fast 3); s_over=$(column fast 4); s_pct=$(column fast 5)
s_cpu=$(column fast 6)
s_req=$(cut -f7 "$work/single-fast.tsv" | cut -d' ' -f1 | median)
s_rss=$(cut -f7 "$work/single-fast.tsv" | cut -d' ' -f2 | median)
s_verdict=$(verdict "$s_pct < $T_OVERHEAD_PCT")
d_wall=$(column slow 2); d_wait=$(column slow 3); d_over=$(column slow 4); d_pct=$(column slow 5)
d_cpu=$(column slow 6)
d_verdict=$(verdict "$d_pct < $T_OVERHEAD_PCT")
y_wall=$(column synapse 2); y_wait=$(column synapse 3); y_over=$(column synapse 4); y_pct=$(column synapse 5)
y_cpu=$(column synapse 6)
y_verdict=$(verdict "$y_pct < $T_OVERHEAD_PCT")
t_wall=$(column synapse-token 2); t_wait=$(column synapse-token 3); t_req=$(cut -f7 "$work/single-synapse-token.tsv" | cut -d' ' -f1 | median)
t_ratio=$(calc "$t_wall / $y_wall")
m_wall=$(column mas 2); m_cpu=$(column mas 6)
m_ratio=$(calc "$m_wall / $d_wall")

# --- 2. batch at -j 1, 4, 16 ---------------------------------------------------
batch_ok=0
batch_skip_reason=
if "$MX" batch --help > /dev/null 2>&1; then
    batch_ok=1
else
    batch_skip_reason="'mxprov batch' is not in this build (mxprov batch --help failed)"
    echo "bench: [2/4] SKIPPED: $batch_skip_reason" >&2
fi
declare -A b_rate b_cpu b_rss b_wall b_user b_sys b_verdict_cpu b_verdict_rss
if [ "$batch_ok" = 1 ]; then
    for j in $JOBS_LIST; do
        echo "bench: [2/4] batch of $N_ACCOUNTS accounts at -j $j, server cost $DELAY_MS ms/request ..."
        start_hs "batch-j$j" "$DELAY_MS" on
        seq -f "bench_batch_j${j}_%05g" 1 "$N_ACCOUNTS" > "$work/batch-j$j.in"
        out="$work/batch-j$j.out.jsonl"
        rm -f "$out"
        rc=0
        "$RUN" "$work/batch-j$j.json" "$MX" batch --homeserver "$hs_url" --admin-user admin \
            --admin-password-file "$PW" --input "$work/batch-j$j.in" --output "$out" \
            -j "$j" --timeout 900 > "$work/batch-j$j.stdout" 2> "$work/batch-j$j.err" || rc=$?
        stop_hs
        created=0
        [ -f "$out" ] && created=$(grep -c '"status" *: *"created"' "$out" || true)
        if [ "$rc" != 0 ] || [ "$created" != "$N_ACCOUNTS" ]; then
            tail -n 20 "$work/batch-j$j.err" >&2
            [ -f "$out" ] && { echo "statuses in $out:" >&2; grep -o '"status" *: *"[a-z]*"' "$out" | sort | uniq -c >&2; }
            fail "batch -j $j exited $rc with $created of $N_ACCOUNTS accounts \"created\""
        fi
        b_wall[$j]=$(jget "$work/batch-j$j.json" wall_ms)
        b_user[$j]=$(jget "$work/batch-j$j.json" user_ms)
        b_sys[$j]=$(jget "$work/batch-j$j.json" sys_ms)
        b_rate[$j]=$(calc "$N_ACCOUNTS * 1000 / ${b_wall[$j]}")
        b_cpu[$j]=$(calc "(${b_user[$j]} + ${b_sys[$j]}) / $N_ACCOUNTS")
        b_rss[$j]=$(calc "$(jget "$work/batch-j$j.json" maxrss_kb) / 1024")
        b_verdict_cpu[$j]=$(verdict "${b_cpu[$j]} < $T_CPU_MS")
        b_verdict_rss[$j]=$(verdict "${b_rss[$j]} < $T_RSS_MB")
    done
    speedup=$(calc "${b_rate[16]} / ${b_rate[1]}")
    speedup_verdict=$(verdict "$speedup >= $T_SPEEDUP")
fi

# --- 3. the same as a loop of single provisions -----------------------------------
echo "bench: [3/4] loop of $N_LOOP single provisions, server cost $DELAY_MS ms/request, login rate limit off ..."
start_hs loop "$DELAY_MS" off
: > "$work/loop.tsv"
loop_start=$(now_ms)
for i in $(seq 1 "$N_LOOP"); do
    u=$(printf 'bench_loop_%05d' "$i")
    if ! "$RUN" "$work/loop-run.json" "$MX" provision --homeserver "$hs_url" --admin-user admin \
            --admin-password-file "$PW" --username "$u" > /dev/null 2> "$work/loop-run.err"; then
        cat "$work/loop-run.err" >&2; fail "loop provision $i of $N_LOOP exited $(jget "$work/loop-run.json" exit)"
    fi
    printf '%s\t%s\t%s\n' "$(jget "$work/loop-run.json" user_ms)" "$(jget "$work/loop-run.json" sys_ms)" \
        "$(jget "$work/loop-run.json" maxrss_kb)" >> "$work/loop.tsv"
done
loop_ms=$(( $(now_ms) - loop_start ))
stop_hs
l_rate=$(calc "$N_LOOP * 1000 / $loop_ms")
l_cpu=$(awk -F'\t' -v n="$N_LOOP" '{ s += $1 + $2 } END { printf "%.3f", s / n }' "$work/loop.tsv")
l_rss=$(awk -F'\t' '$3 > m { m = $3 } END { printf "%.3f", m / 1024 }' "$work/loop.tsv")
l_proj_s=$(calc "$N_ACCOUNTS / $l_rate")
if [ "$batch_ok" = 1 ]; then
    r_b1_loop=$(calc "${b_rate[1]} / $l_rate")
    r_b16_loop=$(calc "${b_rate[16]} / $l_rate")
fi

# --- 4. the loop with Synapse's login rate limit on ---------------------------------
echo "bench: [4/4] $N_RATELIMITED single provisions in a loop with the login rate limit on ..."
start_hs ratelimited "$DELAY_MS" on
rl_failed=0
rl_limited=0
rl_walls=()
rl_exits=()
rl_start=$(now_ms)
for i in $(seq 1 "$N_RATELIMITED"); do
    u=$(printf 'bench_rl_%02d' "$i")
    rc=0
    "$RUN" "$work/rl-$i.json" "$MX" provision --homeserver "$hs_url" --admin-user admin \
        --admin-password-file "$PW" --username "$u" -v > /dev/null 2> "$work/rl-$i.err" || rc=$?
    [ "$rc" != 0 ] && rl_failed=$((rl_failed + 1))
    grep -q -- '-> 429' "$work/rl-$i.err" && rl_limited=$((rl_limited + 1))
    rl_walls+=("$(calc "$(jget "$work/rl-$i.json" wall_ms) / 1000")")
    rl_exits+=("$rc")
done
rl_ms=$(( $(now_ms) - rl_start ))
stop_hs
# What a loop of BENCH_ACCOUNTS would take with the limit on: the runs that
# got a 429 show the cost of each one past the burst.
rl_limited_mean_s=$(for i in $(seq 1 "$N_RATELIMITED"); do
    grep -q -- '-> 429' "$work/rl-$i.err" && calc "$(jget "$work/rl-$i.json" wall_ms) / 1000" && echo
done | awk 'NF { s += $1; n++ } END { printf "%.3f", n ? s / n : 0 }')
rl_fast=$((N_RATELIMITED - rl_limited))
rl_proj_min=$(calc "($rl_fast * ${rl_walls[0]} + ($N_ACCOUNTS - $rl_fast) * $rl_limited_mean_s) / 60")
rl_walls_s=$(IFS=' '; echo "${rl_walls[*]}")
rl_exits_s=$(IFS=' '; echo "${rl_exits[*]}")
rl_json_walls=$(IFS=,; echo "${rl_walls[*]}")
rl_json_exits=$(IFS=,; echo "${rl_exits[*]}")

bench_s=$(calc "($(now_ms) - $bench_start) / 1000")

# --- report ----------------------------------------------------------------------
mkdir -p "$RESULTS"
{
    printf 'mxprov benchmark: %s, %s CPUs, %s\n' "$mx_version" "$(nproc)" "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf '\n1. Single provision, login rate limit off (median of %s runs each, %s requests a run)\n' "$N_SINGLE" "$s_req"
    printf '   server cost  %9s %20s %15s %11s\n' "wall ms" "waiting for server" "overhead ms" "% of wall"
    printf '   %-11s %9.1f %20.1f %15.1f %5.1f [%s]\n' "none" "$s_wall" "$s_wait" "$s_over" "$s_pct" "$s_verdict"
    printf '   %-11s %9.1f %20.1f %15.1f %5.1f [%s]\n' "$DELAY_MS ms/req" "$d_wall" "$d_wait" "$d_over" "$d_pct" "$d_verdict"
    printf '   %-11s %9.1f %20.1f %15.1f %5.1f [%s]\n' "Synapse's" "$y_wall" "$y_wait" "$y_over" "$y_pct" "$y_verdict"
    printf "   (Synapse's: --synapse-costs, the server times of matrix-api-notes.md: bcrypt 280 ms, createRoom 200 ms, others 5 ms)\n"
    printf "   with an admin token (--admin-token-file) instead of the password: %.1f ms wall, %s requests; %.3f of the password run's wall\n" \
        "$t_wall" "$t_req" "$t_ratio"
    printf "   the MAS pipeline (examples/mas.conf, mas flavour) at %s ms/request: %.1f ms wall, client CPU %.1f ms; %.3f of the Synapse pipeline's wall at that cost\n" \
        "$DELAY_MS" "$m_wall" "$m_cpu" "$m_ratio"
    printf '   target: overhead < %s %% of wall. client CPU %.1f ms (no delay), %.1f ms (%s ms); peak RSS %.1f MB\n' \
        "$T_OVERHEAD_PCT" "$s_cpu" "$d_cpu" "$DELAY_MS" "$(calc "$s_rss / 1024")"
    printf '   start-up alone (mxprov --version): wall %.1f ms, CPU %.1f ms, peak RSS %.1f MB\n' \
        "$z_wall" "$z_cpu" "$(calc "$z_rss / 1024")"
    printf '\n2. mxprov batch, %s accounts, server cost %s ms/request, login rate limit on\n' "$N_ACCOUNTS" "$DELAY_MS"
    if [ "$batch_ok" = 1 ]; then
        printf '   %-6s %10s %9s %16s %14s\n' "jobs" "accounts/s" "wall s" "CPU ms/account" "peak RSS MB"
        for j in $JOBS_LIST; do
            printf '   -j %-3s %10.1f %9.1f %9.3f [%s] %7.1f [%s]\n' "$j" "${b_rate[$j]}" \
                "$(calc "${b_wall[$j]} / 1000")" "${b_cpu[$j]}" "${b_verdict_cpu[$j]}" "${b_rss[$j]}" "${b_verdict_rss[$j]}"
        done
        printf '   targets: CPU < %s ms/account, peak RSS < %s MB\n' "$T_CPU_MS" "$T_RSS_MB"
        printf '   speedup -j16 / -j1: %.2fx   [target >= %s: %s]\n' "$speedup" "$T_SPEEDUP" "$speedup_verdict"
    else
        printf '   SKIPPED: %s\n' "$batch_skip_reason"
    fi
    printf '\n3. Loop of separate provisions (sequential), server cost %s ms/request\n' "$DELAY_MS"
    printf '   login rate limit OFF (--no-login-rate-limit): a real Synapse rate-limits the admin\n'
    printf '   login (burst 3, then 1 per 6 s), so this loop cannot run at this rate there.\n'
    printf '   measured on %s accounts: %.2f accounts/s, CPU %.1f ms/account, peak RSS %.1f MB\n' \
        "$N_LOOP" "$l_rate" "$l_cpu" "$l_rss"
    if [ "$N_LOOP" = "$N_ACCOUNTS" ]; then
        printf '   %s accounts: %.0f s\n' "$N_ACCOUNTS" "$l_proj_s"
    else
        printf '   %s accounts at that rate: %.0f s (extrapolated from %s)\n' "$N_ACCOUNTS" "$l_proj_s" "$N_LOOP"
    fi
    if [ "$batch_ok" = 1 ]; then
        printf '   batch -j1 / loop: %.2fx   batch -j16 / loop: %.2fx\n' "$r_b1_loop" "$r_b16_loop"
    fi
    printf '\n4. Loop of %s provisions WITH the login rate limit on (as Synapse)\n' "$N_RATELIMITED"
    printf '   failed: %s of %s (exit codes: %s); rate-limited (got a 429): %s; total %.1f s\n' \
        "$rl_failed" "$N_RATELIMITED" "$rl_exits_s" "$rl_limited" "$(calc "$rl_ms / 1000")"
    printf '   wall per run, s: %s\n' "$rl_walls_s"
    printf '   (mxprov waits out a 429 for its retry_after and retries, so a limited run is slow, not failed)\n'
    if [ "$rl_limited" -gt 0 ]; then
        printf '   a %s-account loop at that pace: ~%.0f min (%s fast, then %.1f s each)\n' \
            "$N_ACCOUNTS" "$rl_proj_min" "$rl_fast" "$rl_limited_mean_s"
    fi
    printf '\nbench took %.0f s\n' "$bench_s"
} > "$RESULTS/bench.txt"
cat "$RESULTS/bench.txt"

json_batch=null
if [ "$batch_ok" = 1 ]; then
    json_batch="{\"accounts\":$N_ACCOUNTS,\"server_delay_ms\":$DELAY_MS,\"login_rate_limit\":true,\"runs\":["
    sep=
    for j in $JOBS_LIST; do
        json_batch+="$sep{\"jobs\":$j,\"wall_ms\":${b_wall[$j]},\"user_ms\":${b_user[$j]},\"sys_ms\":${b_sys[$j]},"
        json_batch+="\"accounts_per_s\":${b_rate[$j]},\"cpu_ms_per_account\":${b_cpu[$j]},\"peak_rss_mb\":${b_rss[$j]},"
        json_batch+="\"cpu_target\":\"${b_verdict_cpu[$j]}\",\"rss_target\":\"${b_verdict_rss[$j]}\"}"
        sep=,
    done
    json_batch+="],\"speedup_j16_over_j1\":$speedup,\"speedup_target\":\"$speedup_verdict\","
    json_batch+="\"ratio_j1_over_loop\":$r_b1_loop,\"ratio_j16_over_loop\":$r_b16_loop}"
fi
json_runs () {
    awk -F'\t' 'BEGIN { s = "" } { split($7, a, " "); s = s (NR > 1 ? "," : "") sprintf("{\"wall_ms\":%s,\"server_wait_ms\":%s,\"overhead_ms\":%s,\"overhead_pct\":%s,\"cpu_ms\":%s,\"requests\":%s,\"maxrss_kb\":%s}", $2, $3, $4, $5, $6, a[1], a[2]) } END { print s }' "$work/single-$1.tsv"
}
json_single_runs=$(json_runs fast)
json_slow_runs=$(json_runs slow)
json_synapse_runs=$(json_runs synapse)
cat > "$RESULTS/bench.json.tmp" <<EOF
{
  "date": "$(date -u '+%Y-%m-%dT%H:%M:%SZ')",
  "machine": {"uname": "$(uname -srm)", "cpu": "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | tr -d '"\\')", "cpus": $(nproc), "mem_kb": $(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)},
  "mxprov_version": "$(printf '%s' "$mx_version" | tr -d '"\\')",
  "targets": {"overhead_pct_max": $T_OVERHEAD_PCT, "cpu_ms_per_account_max": $T_CPU_MS, "peak_rss_mb_max": $T_RSS_MB, "speedup_j16_over_j1_min": $T_SPEEDUP},
  "baseline_version": {"runs": 5, "median_wall_ms": $z_wall, "median_cpu_ms": $z_cpu, "median_maxrss_kb": $z_rss},
  "single": {"runs": $N_SINGLE, "server_delay_ms": 0, "login_rate_limit": false,
    "median_wall_ms": $s_wall, "median_server_wait_ms": $s_wait, "median_overhead_ms": $s_over,
    "median_overhead_pct": $s_pct, "median_cpu_ms": $s_cpu, "median_requests": $s_req, "median_maxrss_kb": $s_rss,
    "overhead_target": "$s_verdict", "per_run": [$json_single_runs]},
  "single_with_server_cost": {"runs": $N_SINGLE, "server_delay_ms": $DELAY_MS, "login_rate_limit": false,
    "median_wall_ms": $d_wall, "median_server_wait_ms": $d_wait, "median_overhead_ms": $d_over,
    "median_overhead_pct": $d_pct, "median_cpu_ms": $d_cpu, "overhead_target": "$d_verdict",
    "per_run": [$json_slow_runs]},
  "single_with_synapse_costs": {"runs": $N_SINGLE, "server_delay_ms": "synapse-costs", "login_rate_limit": false,
    "median_wall_ms": $y_wall, "median_server_wait_ms": $y_wait, "median_overhead_ms": $y_over,
    "median_overhead_pct": $y_pct, "median_cpu_ms": $y_cpu, "overhead_target": "$y_verdict",
    "per_run": [$json_synapse_runs]},
  "single_with_synapse_costs_admin_token": {"runs": $N_SINGLE, "median_wall_ms": $t_wall,
    "median_server_wait_ms": $t_wait, "requests": $t_req, "wall_ratio_to_password": $t_ratio},
  "single_mas_pipeline": {"runs": $N_SINGLE, "server_delay_ms": $DELAY_MS, "median_wall_ms": $m_wall,
    "median_cpu_ms": $m_cpu, "wall_ratio_to_synapse_pipeline": $m_ratio},
  "batch": $json_batch,
  "batch_skipped": $(if [ "$batch_ok" = 1 ]; then echo null; else echo "\"$batch_skip_reason\""; fi),
  "loop": {"accounts_measured": $N_LOOP, "server_delay_ms": $DELAY_MS, "login_rate_limit": false,
    "wall_ms": $loop_ms, "accounts_per_s": $l_rate, "cpu_ms_per_account": $l_cpu, "peak_rss_mb": $l_rss,
    "projected_s_for_accounts": $l_proj_s, "projected_for_accounts": $N_ACCOUNTS, "extrapolated": $([ "$N_LOOP" = "$N_ACCOUNTS" ] && echo false || echo true)},
  "loop_rate_limited": {"runs": $N_RATELIMITED, "server_delay_ms": $DELAY_MS, "login_rate_limit": true,
    "failed": $rl_failed, "rate_limited": $rl_limited, "wall_ms": $rl_ms, "exit_codes": [$rl_json_exits], "wall_s": [$rl_json_walls],
    "mean_limited_run_s": $rl_limited_mean_s, "projected_min_for_accounts": $rl_proj_min},
  "bench_s": $bench_s
}
EOF
mv "$RESULTS/bench.json.tmp" "$RESULTS/bench.json"
echo "bench: wrote $RESULTS/bench.json and $RESULTS/bench.txt"
ok=1
