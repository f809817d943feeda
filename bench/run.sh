#!/bin/bash
# run.sh - side-by-side benchmark: stsguardd vs postfix-mta-sts-resolver (PMSR).
#
# Adapted from the anchor harness (shared/bench/anchor-resolver/run.sh): one
# private "internet" is built ONCE in network namespace $NS, then the identical
# workload runs against PMSR and stsguardd back to back (same namespace, same
# data, same client), and ONE table with both columns and the ratio is printed.
#
#   unbound (127.0.0.53:53 in $NS, local-data for d0001.test..dNNNN.test + n*.test)
#   nginx   (:443 in $NS, one cert per mta-sts.<domain> from a generated test CA)
#   daemon  (127.0.0.1:$PORT for PMSR, 127.0.0.1:$((PORT+1)) for stsguardd, in $NS)
#
# usage:  sudo bench/run.sh                (REPS=3; ~4-5 min on 2 cores)
#         REPS=1 sudo -E bench/run.sh      (~2 min)
#         SMOKE=1 bench/run.sh             (setup + correctness check only)
# env:    REPS=3 N_COLD=1000 N_WARM=100000 N_BIG=10000 (0 = skip the 10k/RSS test)
#         N_NOPOL=10000  HERD=50  CACHE_GRACE=86400 (PMSR; its default is 60)
#         PORT=13471 NS=perfns2 OUT=dir (default: fresh /tmp/stsguard-bench.XXXXXX)
#         DAEMONS="pmsr stsguardd"   which columns to measure
#         STSGUARDD=path   (default build/release/core/stsguardd)
#         STSG_BUILD=1     run the release build first (0 = use the binary as is)
#         STSG_LOG_LEVEL=info  STSG_WORKERS= (unset: daemon default)
#         STSG_CONF_EXTRA='key = value\n...'  extra lines for stsguardd's config
#         STSG_NOTE='...'  free text for the stsguardd line of the header (e.g. which commit
#                          an external STSGUARDD binary was built from)
#         PIN=1            warm/no-policy phases: client on CPU $CLIENT_CPU (0),
#                          daemon (all threads) on CPU $DAEMON_CPU (1); 0 = no pinning
#         QUIET_WAIT=180 QUIET_PCT=15  before each daemon start wait up to QUIET_WAIT s
#                          until other work uses < QUIET_PCT % of a core (0 = don't wait)
#         TRANSPORT=inet   inet (127.0.0.1:PORT, as the anchor) or unix (a socket in $OUT/sock)
#         CA_BUNDLE=test   trust store given to both daemons: test = the test CA only;
#                          system = test CA + /etc/ssl/certs/ca-certificates.crt (~140
#                          CAs, what a real install trusts: shows per-fetch CA loading)
#         HOLD=1           with SMOKE=1: keep the world up for manual experiments until
#                          $OUT/stop exists (max 1 h); prints how to use it
#         NOISE_PCT=25 NOISE_RETRIES=2  a daemon instance (fresh start + its phases)
#                          during which other work used > NOISE_PCT % of a core in a
#                          phase is discarded (kept in discarded.tsv) and run again, at
#                          most NOISE_RETRIES times; then kept and flagged in the table
#         SETTLE=35        after the 10k fill, wait this long idle and record RSS again
#                          ("settled": a daemon that trims its heap periodically has
#                          done so by then); 0 = skip
#         CLIENT_TIMEOUT=120   seconds per client run before it gives up
#         BAD=0            1 = also ask both daemons the anchor's bad-input domains
#         SAVE=dir         also copy table.md, results.tsv, correctness.txt, run.log there
# Only loopback addresses inside $NS are used; everything started is stopped by PID.
set -u
BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
REPS=${REPS:-3}
N_COLD=${N_COLD:-1000}
N_WARM=${N_WARM:-100000}
N_BIG=${N_BIG:-10000}
N_NOPOL=${N_NOPOL:-10000}
HERD=${HERD:-50}
CACHE_GRACE=${CACHE_GRACE:-86400}
PORT=${PORT:-13471}
NS=${NS:-perfns2}
OUT=${OUT:-}
DAEMONS=${DAEMONS:-pmsr stsguardd}
STSGUARDD=${STSGUARDD:-$REPO/build/release/core/stsguardd}
STSG_BUILD=${STSG_BUILD:-1}
STSG_LOG_LEVEL=${STSG_LOG_LEVEL:-info}
STSG_WORKERS=${STSG_WORKERS:-}
STSG_CONF_EXTRA=${STSG_CONF_EXTRA:-}
STSG_NOTE=${STSG_NOTE:-}
PIN=${PIN:-1}
TRANSPORT=${TRANSPORT:-inet}
CA_BUNDLE=${CA_BUNDLE:-test}
HOLD=${HOLD:-0}
QUIET_WAIT=${QUIET_WAIT:-180}
QUIET_PCT=${QUIET_PCT:-15}
NOISE_PCT=${NOISE_PCT:-25}
NOISE_RETRIES=${NOISE_RETRIES:-2}
SETTLE=${SETTLE:-35}
CLIENT_CPU=${CLIENT_CPU:-0}
DAEMON_CPU=${DAEMON_CPU:-1}
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-120}
BAD=${BAD:-0}
SMOKE=${SMOKE:-0}
SAVE=${SAVE:-}
DNS_IP=127.0.0.53
PY=/usr/bin/python3
NCPU=$(nproc)

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

case "$CA_BUNDLE" in test|system) ;; *) echo "CA_BUNDLE must be test or system" >&2; exit 2;; esac
case "$TRANSPORT" in inet|unix) ;; *) echo "TRANSPORT must be inet or unix" >&2; exit 2;; esac
case "$NS" in perfns*) ;; *) echo "NS must be named perfns*" >&2; exit 2;; esac
[ "$(id -u)" = 0 ] || { echo "must run as root (network namespace)" >&2; exit 2; }

# ------------------------------------------------------- prerequisites ----
# Nothing is installed here. Missing world tools abort; a missing daemon only
# drops its column (clearly marked in the table).
APT_LINE="apt-get install -y postfix-mta-sts-resolver unbound nginx libnginx-mod-http-echo ldnsutils gcc curl python3-cryptography iproute2 util-linux cmake ninja-build pkg-config libldns-dev libcurl4-openssl-dev libssl-dev zlib1g-dev"
missing=()
for c in ip unbound nginx gcc curl drill taskset flock; do command -v $c >/dev/null || missing+=("$c"); done
[ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ] || missing+=("libnginx-mod-http-echo")
$PY -c 'import cryptography' 2>/dev/null || missing+=("python3-cryptography (for $PY)")
if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]}" >&2
    echo "install once with: $APT_LINE" >&2
    exit 2
fi
SKIPPED=()       # "daemon: reason"
REQUESTED=$DAEMONS
want() { [[ " $REQUESTED " == *" $1 "* ]]; }
if want pmsr && ! command -v mta-sts-daemon >/dev/null; then
    SKIPPED+=("pmsr: mta-sts-daemon not installed (apt-get install -y postfix-mta-sts-resolver)")
    DAEMONS=${DAEMONS//pmsr/}
fi
if want stsguardd; then
    if [ "$STSG_BUILD" = 1 ]; then
        if command -v cmake >/dev/null && command -v ninja >/dev/null; then
            log "building stsguardd (cmake release preset)"
            blog=$(mktemp)
            ( cd "$REPO" && { [ -f build/release/build.ninja ] || cmake --preset release; } &&
              { cmake --build --preset release --target stsguardd 2>/dev/null ||
                cmake --build --preset release; } ) > "$blog" 2>&1 ||
                log "release build FAILED (last lines below); using an existing binary if there is one"
            tail -n 5 "$blog" >&2; rm -f "$blog"
        else
            log "cmake/ninja missing: not building stsguardd"
        fi
    fi
    if [ ! -x "$STSGUARDD" ]; then
        SKIPPED+=("stsguardd: binary $STSGUARDD missing (not built yet?)")
        DAEMONS=${DAEMONS//stsguardd/}
    fi
fi
DAEMONS=$(echo $DAEMONS)
for s in "${SKIPPED[@]}"; do log "SKIPPED $s"; done
[ -n "$DAEMONS" ] || { log "no daemon to measure"; exit 2; }

if [ -z "$OUT" ]; then
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/stsguard-bench.XXXXXX") || exit 2
fi
mkdir -p "$OUT" && chmod 755 "$OUT"    # nginx workers (not root) read the certs below it
exec 9>"$OUT/.lock"
flock -n 9 || { echo "another run.sh is using $OUT" >&2; exit 2; }
# keep a copy of everything printed on stderr
exec 2> >(tee -a "$OUT/run.log" >&2)

NSX="ip netns exec $NS"
RESW=/dev/null
UNBOUND_PID= NGINX_PID= DAEMON_PID= ETC_NETNS_CREATED=0
CAFILE=$OUT/data/ca.crt
RES=$OUT/results.tsv
META=$OUT/meta.txt
LOGDIR=$OUT/logs
SMC=$OUT/smclient

alive() { [ -d /proc/$1 ] && [ "$(sed 's/.*) //' /proc/$1/stat 2>/dev/null | cut -d' ' -f1)" != Z ]; }

stop_pid() {  # stop_pid PID [signal]; waits up to 20 s, then SIGKILL (by PID)
    local p=$1 sig=${2:-TERM} i
    [ -n "$p" ] || return 0
    alive "$p" || { wait "$p" 2>/dev/null; return 0; }
    kill -"$sig" "$p" 2>/dev/null
    for i in $(seq 1 200); do alive "$p" || break; sleep 0.1; done
    if alive "$p"; then log "PID $p ignored SIG$sig, sending SIGKILL"; kill -KILL "$p" 2>/dev/null; sleep 0.2; fi
    wait "$p" 2>/dev/null
    return 0
}

teardown() {
    log "teardown"
    stop_pid "$DAEMON_PID"
    stop_pid "$NGINX_PID" QUIT
    stop_pid "$UNBOUND_PID"
    ip netns del "$NS" 2>/dev/null
    rm -rf "/etc/netns/$NS"
    [ "$ETC_NETNS_CREATED" = 1 ] && rmdir /etc/netns 2>/dev/null
}
trap teardown EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- setup ----
T_START=$(date +%s)
log "machine: $NCPU cpus ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), load: $(cut -d' ' -f1-3 /proc/loadavg)"
log "daemons: $DAEMONS; OUT=$OUT"
rm -rf "$OUT/data" "$LOGDIR"; mkdir -p "$LOGDIR"
echo "# meta n_cold=$N_COLD n_warm=$N_WARM n_big=$N_BIG n_nopol=$N_NOPOL herd=$HERD reps=$REPS cache_grace=$CACHE_GRACE pin=$PIN transport=$TRANSPORT ca_bundle=$CA_BUNDLE settle=$SETTLE" > "$RES"
gcc -O2 -Wall -o "$SMC" "$BENCH/smclient.c" || exit 1
NGEN=$(( N_BIG > N_COLD ? N_BIG : N_COLD ))
log "generating $NGEN domains (DNS data, certs, nginx conf)"
$PY "$BENCH/gen_data.py" "$OUT/data" "$NGEN" "$DNS_IP" >&2 || exit 1
DAEMON_CA=$CAFILE
if [ "$CA_BUNDLE" = system ]; then
    DAEMON_CA=$OUT/data/ca-bundle.pem
    cat "$CAFILE" /etc/ssl/certs/ca-certificates.crt > "$DAEMON_CA" || exit 1
fi
head -n "$N_COLD" "$OUT/data/domains.txt" > "$OUT/cold.txt"
head -n "$N_BIG" "$OUT/data/domains.txt" > "$OUT/big.txt"
echo herd.test > "$OUT/herd.txt"
HERD_LOG=$OUT/data/nginx/herd_access.log

# PMSR config (as in the anchor harness)
PMSR_PORT=$PORT
mkdir -p "$OUT/sock"
cat > "$OUT/pmsr.yml" <<EOF
# benchmark config for postfix-mta-sts-resolver (mta-sts-daemon)
$( [ "$TRANSPORT" = unix ] && echo "path: $OUT/sock/pmsr.sock" || printf 'host: 127.0.0.1\nport: %s' "$PMSR_PORT")
reuse_port: true
shutdown_timeout: 5
# default cache_grace is 60 s: a cached entry older than that triggers a DNS TXT
# re-check on the next query. Raised so "warm" really measures pure cache hits.
cache_grace: $CACHE_GRACE
proactive_policy_fetching:
  enabled: false
cache:
  type: internal
  options:
    cache_size: 20000
default_zone:
  strict_testing: false
  timeout: 4
EOF
# stsguardd config
STSG_PORT=$((PORT + 1))
STSG_CACHE=$OUT/stsguardd-cache
{
echo "# benchmark config for stsguardd"
[ "$TRANSPORT" = unix ] && echo "listen = unix:$OUT/sock/stsguardd.sock" || echo "listen = inet:127.0.0.1:$STSG_PORT"
echo "cache_dir = $STSG_CACHE"
echo "ca_file = $DAEMON_CA"
echo "resolver = $DNS_IP"
echo "log_level = $STSG_LOG_LEVEL"
[ -n "$STSG_WORKERS" ] && echo "workers = $STSG_WORKERS"
[ -n "$STSG_CONF_EXTRA" ] && printf '%b\n' "$STSG_CONF_EXTRA"
} > "$OUT/stsguardd.conf"

if ip netns list | grep -qw "$NS"; then log "removing stale namespace $NS"; ip netns del "$NS"; fi
ip netns add "$NS" || exit 1
$NSX ip link set lo up
[ -d /etc/netns ] || ETC_NETNS_CREATED=1
mkdir -p "/etc/netns/$NS"
echo "nameserver $DNS_IP" > "/etc/netns/$NS/resolv.conf"

$NSX unbound -d -c "$OUT/data/dns/unbound.conf" > "$LOGDIR/unbound.log" 2>&1 &
UNBOUND_PID=$!
$NSX nginx -c "$OUT/data/nginx/nginx.conf" > "$LOGDIR/nginx.log" 2>&1 &
NGINX_PID=$!
for i in $(seq 1 100); do
    $NSX drill @$DNS_IP _mta-sts.d0001.test TXT 2>/dev/null | grep -q 'v=STSv1' &&
    $NSX curl -s --cacert "$CAFILE" -o /dev/null https://mta-sts.d0001.test/.well-known/mta-sts.txt && break
    sleep 0.2
done
$NSX curl -sS --cacert "$CAFILE" https://mta-sts.d0001.test/.well-known/mta-sts.txt >/dev/null || { log "DNS/HTTPS setup failed"; exit 1; }
# stsguardd also asks MX, TLSA of the MX hosts, AAAA: all must be answered at once
{
echo "## DNS answers of the test world (must be immediate, never a timeout)"
for q in "_mta-sts.d0001.test TXT" "_mta-sts.n0001.test TXT" "d0001.test MX" "mx1.d0001.test A" \
         "mx1.d0001.test AAAA" "_25._tcp.mx1.d0001.test TLSA" "mta-sts.d0001.test A" \
         "mta-sts.d0001.test AAAA" "_smtp._tls.d0001.test TXT" "n0001.test MX" "_25._tcp.mx1.n0001.test TLSA"; do
    set -- $q
    r=$($NSX drill @$DNS_IP "$1" "$2" 2>&1)
    printf '%-34s %-5s rcode=%-8s answers=%s %s\n' "$1" "$2" \
        "$(sed -n 's/.*rcode: \([A-Z]*\).*/\1/p' <<<"$r")" \
        "$(sed -n 's/.*ANSWER: \([0-9]*\).*/\1/p' <<<"$r")" "$(grep -o 'Query time: [0-9]* msec' <<<"$r")"
done
} > "$OUT/dns_check.txt"
cat "$OUT/dns_check.txt" >&2
if grep -q 'rcode= ' "$OUT/dns_check.txt" || ! grep -q 'Query time' "$OUT/dns_check.txt"; then
    log "DNS check failed (a query got no answer)"; exit 1
fi
log "unbound pid $UNBOUND_PID, nginx pid $NGINX_PID up"

# ------------------------------------------------------------- meta ----
{
echo "date: $(date -u +%FT%TZ)"
echo "machine: $NCPU cpus, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/{printf "%d MiB RAM", $2/1024}' /proc/meminfo), kernel $(uname -r)"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pmsr: postfix-mta-sts-resolver $(dpkg-query -W -f='${Version}' postfix-mta-sts-resolver 2>/dev/null || echo n/a) (python3 $(dpkg-query -W -f='${Version}' python3 2>/dev/null), uvloop $(dpkg-query -W -f='${Version}' python3-uvloop 2>/dev/null || echo none), aiohttp $(dpkg-query -W -f='${Version}' python3-aiohttp 2>/dev/null)); internal cache 20000, cache_grace $CACHE_GRACE, proactive fetching off"
if [ -x "$STSGUARDD" ]; then
    echo "stsguardd: $STSGUARDD${STSG_NOTE:+ ($STSG_NOTE)}, work tree $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet HEAD -- core 2>/dev/null || echo '+uncommitted core changes'), $(timeout 5 "$STSGUARDD" -V 2>/dev/null | head -1) (release preset: $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$(dirname "$(dirname "$STSGUARDD")")/CMakeCache.txt" 2>/dev/null)), binary $(date -u -r "$STSGUARDD" +%FT%TZ)"
else
    echo "stsguardd: not measured ($( want stsguardd && echo "${SKIPPED[*]}" || echo "not requested: DAEMONS=$DAEMONS"))"
fi
echo "world: nginx $(nginx -v 2>&1 | sed 's/.*\///'), unbound $(dpkg-query -W -f='${Version}' unbound), $(openssl version | cut -d' ' -f1-2), libcurl $(dpkg-query -W -f='${Version}' libcurl4 2>/dev/null), ldns $(dpkg-query -W -f='${Version}' libldns3 2>/dev/null), client gcc $(gcc -dumpfullversion)"
if [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ]; then
    echo "pinning: warm and no-policy phases: client on CPU $CLIENT_CPU, daemon (all threads) on CPU $DAEMON_CPU; unbound/nginx unpinned; cold phases unpinned"
else
    echo "pinning: none"
fi
} > "$META"

# ------------------------------------------------------------ daemons ----
DAEMON_N=0
CUR=          # current daemon key
DPORT=
start_daemon() {  # start_daemon label ; 0 = up, 1 = failed (logged)
    DAEMON_N=$((DAEMON_N+1))
    LOG=$LOGDIR/$CUR.$DAEMON_N.$1.log
    local cmd
    case $CUR in
    pmsr)      DPORT=$PMSR_PORT; DSOCK=$OUT/sock/pmsr.sock
               cmd="mta-sts-daemon -v info -c $OUT/pmsr.yml -l $LOG" ;;
    stsguardd) DPORT=$STSG_PORT; DSOCK=$OUT/sock/stsguardd.sock
               rm -rf "$STSG_CACHE"; mkdir -p "$STSG_CACHE"        # cold = really cold
               cmd="$STSGUARDD -f -c $OUT/stsguardd.conf" ;;
    esac
    if [ "$TRANSPORT" = unix ]; then CONN=(-U "$DSOCK"); rm -f "$DSOCK"; else CONN=(-p "$DPORT"); fi
    $NSX env SSL_CERT_FILE="$DAEMON_CA" bash -c "exec $cmd" > "$LOGDIR/$CUR.$DAEMON_N.$1.out" 2>&1 &
    DAEMON_PID=$!
    local i
    for i in $(seq 1 200); do
        if [ "$TRANSPORT" = unix ]; then
            [ -S "$DSOCK" ] && $PY -c 'import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$DSOCK" 2>/dev/null &&
                { sleep 0.3; return 0; }
        else
            $NSX bash -c "exec 3<>/dev/tcp/127.0.0.1/$DPORT" 2>/dev/null && { sleep 0.3; return 0; }
        fi
        alive "$DAEMON_PID" || break
        sleep 0.1
    done
    log "$CUR failed to start: $cmd"; tail -n 20 "$LOGDIR/$CUR.$DAEMON_N.$1.out" >&2
    printf '%s\tstartfail\t%s\tlabel=%s\n' "$CUR" "$REP" "$1" >> "$RES"
    stop_pid "$DAEMON_PID"; DAEMON_PID=
    return 1
}
stop_daemon() {
    if [ -n "$DAEMON_PID" ] && ! alive "$DAEMON_PID"; then
        wait "$DAEMON_PID"; local rc=$?
        log "$CUR (PID $DAEMON_PID) had DIED before stop, exit status $rc; last log lines:"
        tail -n 20 "$LOGDIR/$CUR.$DAEMON_N."*.out >&2
        printf '%s\tdied\t%s\tstatus=%s instance=%s\n' "$CUR" "$REP" "$rc" "$DAEMON_N" >> "$RES"
    fi
    stop_pid "$DAEMON_PID"; DAEMON_PID=
}
cpu_snap() {  # "utime_ticks stime_ticks schedstat_ns(live threads)"
    local st ns=0 f v
    st=$(sed 's/.*) //' /proc/$DAEMON_PID/stat 2>/dev/null) || { echo "0 0 0"; return; }
    for f in /proc/$DAEMON_PID/task/*/schedstat; do read -r v _ < "$f" 2>/dev/null && ns=$((ns + v)); done
    echo "$(awk '{print $12, $13}' <<<"$st") $ns"
}
# machine-wide busy ticks (user+nice+system+steal) and ticks of every process in $NS:
# "foreign" CPU = busy - ours, to flag runs disturbed by other work on the machine
sys_busy() { awk '/^cpu /{print $2+$3+$4+$9; exit}' /proc/stat; }
ns_ticks() {
    local f=() p
    for p in $(ip netns pids "$NS" 2>/dev/null); do f+=("/proc/$p/stat"); done
    [ ${#f[@]} -gt 0 ] || { echo 0; return; }
    awk '{sub(/.*\) /, ""); t += $12 + $13} END {print t + 0}' "${f[@]}" 2>/dev/null || echo 0
}
now() { date +%s.%N; }
# wait_quiet: before each daemon start, wait (up to QUIET_WAIT s) until the rest of
# the machine uses less than QUIET_PCT % of one core (sampled over 0.5 s while our
# daemon is stopped and unbound/nginx are idle), so other work (builds, test
# suites) does not land inside a measurement. Waits are logged and counted.
QUIET_WAITED=0
wait_quiet() {
    [ "$QUIET_WAIT" -gt 0 ] || return 0
    local start b0 b1 pct waited=0; start=$(date +%s)
    while :; do
        b0=$(sys_busy); sleep 0.5; b1=$(sys_busy)
        pct=$(( (b1 - b0) * 100 * 2 / TCK ))
        [ "$pct" -lt "$QUIET_PCT" ] && break
        if [ $(( $(date +%s) - start )) -ge "$QUIET_WAIT" ]; then
            log "machine still busy (${pct}% of a core by other work) after ${QUIET_WAIT}s: measuring anyway"; break
        fi
        [ $waited = 0 ] && log "machine busy (${pct}% of a core by other work): waiting for it to calm down"
        waited=1; sleep 2
    done
    [ $waited = 1 ] && { QUIET_WAITED=$((QUIET_WAITED + $(date +%s) - start)); log "waited $(( $(date +%s) - start ))s"; }
    return 0
}
mem() { awk '/^VmRSS/{r=$2} /^VmHWM/{h=$2} /^RssAnon/{a=$2} /^RssFile/{f=$2} /^Threads/{t=$2}
             END{print "rss_kb=" r " hwm_kb=" h " anon_kb=" a " file_kb=" f " threads=" t}' /proc/$DAEMON_PID/status 2>/dev/null; }
TCK=$(getconf CLK_TCK)
PINNED=0
pin()   { [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ] || return 0
          taskset -a -p -c "$DAEMON_CPU" "$DAEMON_PID" >/dev/null 2>&1 && PINNED=1; }
unpin() { [ "$PINNED" = 1 ] || return 0
          taskset -a -p -c "0-$((NCPU-1))" "$DAEMON_PID" >/dev/null 2>&1; PINNED=0; }

# bench GROUP smclient-args... : runs the client, records result + daemon CPU
bench() {
    local g=$1; shift
    if [ -z "$DAEMON_PID" ] || ! alive "$DAEMON_PID"; then
        log "$CUR $g rep$REP: SKIPPED, daemon not running"
        printf '%s\t%s\t%s\tskipped=daemon_not_running\n' "$CUR" "$g" "$REP" >> "$RES"; return 1
    fi
    local u0 s0 n0 u1 s1 n1 out rc pre=
    [ "$PINNED" = 1 ] && pre="taskset -c $CLIENT_CPU"
    local b0 b1 k0 k1 t0 t1
    t0=$(now); b0=$(sys_busy); k0=$(ns_ticks)
    read -r u0 s0 n0 < <(cpu_snap)
    out=$($NSX $pre "$SMC" "${CONN[@]}" -t "$CLIENT_TIMEOUT" "$@" 2>"$LOGDIR/client.err"); rc=$?
    read -r u1 s1 n1 < <(cpu_snap)
    k1=$(ns_ticks); b1=$(sys_busy); t1=$(now)
    local ccpu; ccpu=$(sed -n 's/.*client_cpu_s=\([0-9.]*\).*/\1/p' <<<"$out"); ccpu=${ccpu:-0}
    [ -s "$LOGDIR/client.err" ] && { log "client stderr ($g):"; head -n 5 "$LOGDIR/client.err" >&2; }
    local q; q=$(sed -n 's/.*queries=\([0-9]*\).*/\1/p' <<<"$out"); [ -n "$q" ] && [ "$q" -gt 0 ] || q=1
    local extra
    extra=$(awk -v u=$((u1-u0)) -v s=$((s1-s0)) -v n=$((n1-n0)) -v t="$TCK" -v q="$q" -v rc=$rc \
              -v busy=$((b1-b0)) -v ours=$((k1-k0)) -v cc="$ccpu" -v win="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" 'BEGIN{
        f = (busy - ours) / t - cc; if (f < 0) f = 0
        printf "cpu_user_s=%.2f cpu_sys_s=%.2f cpu_per_q_us=%.2f user_per_q_us=%.2f sys_per_q_us=%.2f sched_per_q_us=%.2f client_rc=%d foreign_cpu_pct=%.0f",
        u/t, s/t, (u+s)/t/q*1e6, u/t/q*1e6, s/t/q*1e6, n/1e3/q, rc, f / win * 100}')
    printf '%s\t%s\t%s\t%s %s\n' "$CUR" "$g" "$REP" "$out" "$extra" >> "$RESW"
    log "$CUR $g rep$REP: $out $extra"
    local fp; fp=$(sed -n 's/.*foreign_cpu_pct=\([0-9]*\).*/\1/p' <<<"$extra")
    if [ "${fp:-0}" -gt "$NOISE_PCT" ] && awk -v w="$(sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' <<<"$out")" 'BEGIN{exit !(w > 0.3)}'; then
        NOISY=1; log "NOISE: other work used ${fp}% of a core during $CUR $g"
    fi
    if ! alive "$DAEMON_PID"; then log "$CUR DIED during $g"; return 1; fi
    return 0
}
recmem() { local m; m=$(mem); printf '%s\t%s\t%s\t%s\n' "$CUR" "$1" "$REP" "$m" >> "$RESW"; log "$CUR $1 rep$REP: $m"; }
herd_count() { if [ -f "$HERD_LOG" ]; then wc -l < "$HERD_LOG"; else echo 0; fi; }
herd() {  # HERD connections ask for the same uncached domain at once, then again
    alive "$DAEMON_PID" || return 1
    local c0 c1 c2 o1 o2
    c0=$(herd_count)
    o1=$($NSX "$SMC" "${CONN[@]}" -t 60 -c "$HERD" -n "$HERD" "$OUT/herd.txt" 2>>"$LOGDIR/client.err")
    sleep 1; c1=$(herd_count)
    o2=$($NSX "$SMC" "${CONN[@]}" -t 60 -c "$HERD" -n "$HERD" "$OUT/herd.txt" 2>>"$LOGDIR/client.err")
    sleep 0.5; c2=$(herd_count)
    printf '%s\therd\t%s\tfetches=%d fetches2=%d %s\n' "$CUR" "$REP" $((c1-c0)) $((c2-c1)) "$o1" >> "$RESW"
    printf '%s\therd2\t%s\t%s\n' "$CUR" "$REP" "$o2" >> "$RESW"
    log "$CUR herd rep$REP: $HERD simultaneous queries -> $((c1-c0)) HTTPS fetches, second burst -> $((c2-c1)); $o1"
}

# ---------------------------------------------------------- correctness ----
REP=0
: > "$OUT/correctness.txt"
CORRECT=
for CUR in $DAEMONS; do
    {
    echo "## $CUR: d0001.test d0002.test (policy) and n0001.test (no policy), 1 conn"
    [ "$CUR" = pmsr ] && { echo "\$ mta-sts-query d0001.test"; $NSX env SSL_CERT_FILE="$CAFILE" mta-sts-query d0001.test 2>&1; }
    } >> "$OUT/correctness.txt"
    if start_daemon correctness; then
        printf 'd0001.test\nd0002.test\nn0001.test\nd0001.test\n' |
            $NSX "$SMC" -P "${CONN[@]}" -t 30 - >> "$OUT/correctness.txt" 2>&1
        echo "raw socketmap exchange (request '18:postfix d0001.test,'):" >> "$OUT/correctness.txt"
        $NSX $PY -c "
import socket
if '$TRANSPORT' == 'unix':
    s = socket.socket(socket.AF_UNIX); s.connect('$DSOCK')
else:
    s = socket.create_connection(('127.0.0.1', $DPORT))
s.settimeout(10); s.sendall(b'18:postfix d0001.test,'); print(s.recv(1000).decode())" >> "$OUT/correctness.txt" 2>&1
        stop_daemon
        ok=1
        blk=$(awk -v h="## $CUR:" 'index($0,h)==1{p=1} p' "$OUT/correctness.txt")   # this daemon's block
        grep -q "^d0001.test.*OK secure match=mx1.d0001.test" <<<"$blk" && grep -q "^n0001.test.*NOTFOUND" <<<"$blk" || ok=0
        if [ $ok = 1 ]; then CORRECT+=" $CUR"; echo "=> $CUR: correct" >> "$OUT/correctness.txt"
        else echo "=> $CUR: WRONG ANSWERS (see above); benchmark continues, mismatches are counted" >> "$OUT/correctness.txt"; fi
        echo >> "$OUT/correctness.txt"
    else
        echo "=> $CUR: did not start" >> "$OUT/correctness.txt"
        [ "$CUR" = pmsr ] && { cat "$OUT/correctness.txt" >&2; exit 1; }
        SKIPPED+=("stsguardd: did not start (see $LOGDIR)"); DAEMONS=${DAEMONS//stsguardd/}
    fi
done
DAEMONS=$(echo $DAEMONS)
cat "$OUT/correctness.txt" >&2
if [ "$SMOKE" = 1 ]; then
    if [ "$HOLD" = 1 ]; then
        cat >&2 <<HOLDMSG
HOLD=1: the world is up in namespace $NS (unbound pid $UNBOUND_PID, nginx pid $NGINX_PID).
  start a daemon:  ip netns exec $NS env SSL_CERT_FILE=$CAFILE mta-sts-daemon -c $OUT/pmsr.yml
                   ip netns exec $NS $STSGUARDD -f -c $OUT/stsguardd.conf
  query:           ip netns exec $NS $SMC -P ${CONN[*]} $OUT/cold.txt
  stop the world:  touch $OUT/stop   (stop your own daemons first; max 1 h)
HOLDMSG
        for i in $(seq 1 3600); do [ -e "$OUT/stop" ] && break; sleep 1; done
    fi
    log "SMOKE=1: correctness only, done"; exit 0
fi
[ -n "$DAEMONS" ] || { log "no daemon left to measure"; exit 1; }

# ----------------------------------------------------------- benchmarks ----
# Per rep and daemon (PMSR first, then stsguardd, same data, same client):
#   A fresh: idle RSS; cold N_COLD @1 conn
#   B fresh: idle RSS; cold N_COLD @50; herd; warm N_WARM @1 and @16 (pinned);
#            no-policy N_NOPOL @1 and @16 (pinned)
#   C fresh: idle RSS; cold N_BIG @50; RSS with N_BIG cached
inst_cold1() {
    start_daemon cold1 || return
    bench cold1 -c 1 -m seq "$OUT/cold.txt"
    stop_daemon
}
inst_main() {
    start_daemon main || return
    recmem mem_idle_b
    bench cold50 -c 50 -m seq "$OUT/cold.txt"
    recmem mem_1k
    herd
    pin
    bench warm1 -c 1 -n "$N_WARM" -m rand "$OUT/cold.txt"
    bench warm16 -c 16 -n "$N_WARM" -m rand "$OUT/cold.txt"
    recmem mem_after_warm
    bench nopol1 -c 1 -n "$N_NOPOL" -m rand "$OUT/data/nopol.txt"
    bench nopol16 -c 16 -n "$N_NOPOL" -m rand "$OUT/data/nopol.txt"
    unpin
    stop_daemon
}
inst_big() {
    start_daemon big || return
    recmem mem_idle
    bench cold10k -c 50 -m seq "$OUT/big.txt"
    sleep 1
    recmem mem_10k
    if [ "$SETTLE" -gt 0 ]; then sleep "$SETTLE"; recmem mem_10k_settled; fi
    stop_daemon
}
N_DISCARDED=0
instance() {  # instance FUNC: run one fresh-daemon block; redo it if it was disturbed
    local try=0
    while :; do
        NOISY=0; RESW=$OUT/part.tsv; : > "$RESW"
        wait_quiet
        "$1"
        if [ "$NOISY" = 1 ] && [ "$try" -lt "$NOISE_RETRIES" ]; then
            try=$((try + 1)); N_DISCARDED=$((N_DISCARDED + 1))
            sed 's/$/ discarded=noisy/' "$RESW" >> "$OUT/discarded.tsv"
            log "$CUR $1 rep$REP disturbed by other work: discarded, running it again ($try/$NOISE_RETRIES)"
            continue
        fi
        [ "$NOISY" = 1 ] && sed -i 's/$/ noisy=1/' "$RESW"
        cat "$RESW" >> "$RES"; break
    done
}
for REP in $(seq 1 "$REPS"); do
  for CUR in $DAEMONS; do
    log "=== rep $REP/$REPS: $CUR"
    instance inst_cold1
    instance inst_main
    [ "$N_BIG" -gt 0 ] && instance inst_big
  done
done

# ------------------------------------------------------------ bad input ----
if [ "$BAD" = 1 ]; then
    log "bad-input domains (answers only)"
    BADL="big bigchunked ctype ctcharset redirect badcert untrusted twotxt noid nosts notfound testing slow crlf wildmx badmaxage nomx"
    { for b in $BADL; do echo "$b.test"; done; echo "nxdomain.test"; } > "$OUT/bad_domains.txt"
    : > "$OUT/badinput.txt"
    for CUR in $DAEMONS; do
        start_daemon badinput || continue
        { echo "## $CUR: first pass (fresh daemon), then second pass"
          $NSX "$SMC" -P "${CONN[@]}" -t 120 "$OUT/bad_domains.txt" 2>&1
          $NSX "$SMC" -P "${CONN[@]}" -t 120 "$OUT/bad_domains.txt" 2>&1
          echo "## $CUR: protocol probes"
          if [ "$TRANSPORT" = inet ]; then $NSX $PY "$BENCH/robust_probe.py" 127.0.0.1 "$DPORT" 2>&1
          else echo "(probes need TRANSPORT=inet)"; fi; echo; } >> "$OUT/badinput.txt"
        stop_daemon
    done
fi

# ------------------------------------------------------------- teardown ----
trap - EXIT
teardown
{
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg); run time $(( $(date +%s) - T_START )) s (of which ${QUIET_WAITED} s waiting for other work on the machine to stop; $N_DISCARDED disturbed daemon runs discarded and redone, see discarded.tsv)"
for s in "${SKIPPED[@]}"; do echo "SKIPPED $s"; done
} >> "$META"
$PY "$BENCH/table.py" "$RES" "$META" | tee "$OUT/table.md"
echo
echo "raw results: $RES ; correctness: $OUT/correctness.txt ; logs: $LOGDIR ; log: $OUT/run.log"
if [ -n "$SAVE" ]; then
    mkdir -p "$SAVE" && cp "$OUT/table.md" "$RES" "$OUT/correctness.txt" "$OUT/dns_check.txt" "$OUT/run.log" "$SAVE"/ &&
        for f in badinput.txt discarded.tsv stsguardd.conf pmsr.yml; do [ -f "$OUT/$f" ] && cp "$OUT/$f" "$SAVE"/; done
    echo "saved to $SAVE"
fi
