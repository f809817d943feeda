#!/usr/bin/env bash
# tests/world/world.sh - a throwaway "internet" for the stsguard tests.
#
# Everything runs inside a network namespace of its own (only `lo`, no route
# anywhere else) and everything generated lives in DIR.  See README.md.
#
#   world.sh up DIR                     build and start a world in a fresh DIR
#   world.sh down DIR                   stop every PID started for DIR, delete the
#                                       namespace (idempotent)
#   world.sh exec DIR CMD...            run CMD inside the namespace (with DIR/resolv.conf
#                                       bind-mounted on /etc/resolv.conf for CMD only)
#   world.sh spawn DIR NAME CMD...      start CMD in the background inside the namespace,
#                                       record its PID (down kills it), print the PID
#   world.sh set-txt DIR DOMAIN 'TXT'   replace the _mta-sts.DOMAIN TXT ('|' = several)
#   world.sh del-txt DIR DOMAIN         remove _mta-sts.DOMAIN
#   world.sh set-policy DIR DOMAIN SPEC replace what https://mta-sts.DOMAIN serves
#                                       (SPEC: a policies/ name, a file path or a keyword)
#   world.sh adopt DIR NAME PID         record a process already running in the namespace
#                                       (e.g. a detached MTA daemon) so down kills it
#   world.sh wait-mail DIR HOST [N] [T] wait until HOST's sink spool has N messages
#   world.sh status DIR                 show recorded PIDs and whether they are alive
#
# Environment: WORLD_NS (namespace name for `up`), WORLD_TABLE (default
# domains.tsv next to this script), WORLD_POLICIES (default policies/).
set -euo pipefail

WORLD_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORLD_SH="$WORLD_HOME/$(basename "${BASH_SOURCE[0]}")"
WORLD_TABLE=${WORLD_TABLE:-$WORLD_HOME/domains.tsv}
WORLD_POLICIES=${WORLD_POLICIES:-$WORLD_HOME/policies}

ADDR_AUTH=127.0.1.1      # nsd, authoritative for ".", "test." and every domain
ADDR_RESOLVER=127.0.0.2  # unbound, validating recursive resolver
ADDR_HTTPS=127.0.2.1     # nginx, every policy host (SNI) + reports.test
ADDR_HANG=127.0.2.2      # aux-server hang: :443 for "hang", :80 upstream of "hang-after-tls"
ADDR_COLLECT=127.0.2.3   # aux-server collect :8080, upstream of https://reports.test/
REPORTS_HOST=reports.test
TTL=300

msg() { printf 'world: %s\n' "$*" >&2; }
die() { msg "error: $*"; exit 1; }

# ---------------------------------------------------------------- PIDs

proc_start_time() { # PID -> REPLY = start time in clock ticks (field 22 of /proc/PID/stat)
	local s
	local -a fld
	{ read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
	s=${s##*) }
	read -r -a fld <<<"$s"
	REPLY=${fld[19]}
}

record_pid() { # NAME PID
	local st
	st=gone # died already: never matches a live process
	proc_start_time "$2" && st=$REPLY
	printf '%s %s %s\n' "$1" "$2" "$st" >>"$DIR/pids"
}

proc_pgid() { # PID -> REPLY = process group id (field 5)
	local s
	local -a fld
	{ read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
	s=${s##*) }
	read -r -a fld <<<"$s"
	REPLY=${fld[2]}
}

# is PID (recorded with start time ST) still the very process we started?
pid_is_ours() { # PID ST
	proc_start_time "$1" || return 1
	[[ $REPLY == "$2" ]]
}

# Start CMD in the background inside the namespace, in its own session, with
# output into LOG.  `ip netns exec` execs (no fork) and setsid does not fork
# either (we are not a process group leader), so $! is the daemon itself.
LAST_PID=
ns_start() { # NAME LOG CMD...
	local name=$1 log=$2
	shift 2
	setsid ip netns exec "$NS" "$@" </dev/null >>"$log" 2>&1 &
	LAST_PID=$!
	record_pid "$name" "$LAST_PID"
}

nsx() { ip netns exec "$NS" "$@"; }

# ---------------------------------------------------------------- table

declare -a DOMAINS=() ZONES=() HOSTS=() AREC=()
declare -A TXT=() POL=() PCERT=() MXS=() MXCERT=() SEC=() RPT=()
declare -A DMX=() HADDR=() HVAR=() HDOM=()

is_kw_policy() {
	case ${1%%:*} in
	404 | 500 | redirect301 | redirect302 | html | charset | big | bigchunked | hang | hang-after-tls | -) return 0 ;;
	esac
	return 1
}

policy_file_path() { # SPEC -> path of the body file (for file specs and KEYWORD:FILE)
	local f=$1
	if is_kw_policy "$f"; then
		if [[ $f == *:* ]]; then f=${f#*:}; else f=enforce.txt; fi
	fi
	if [[ $f == /* ]]; then printf '%s\n' "$f"; else printf '%s\n' "$WORLD_POLICIES/$f"; fi
}

check_policy_spec() { # SPEC WHERE
	local kw=${1%%:*}
	case $kw in
	404 | 500 | hang | hang-after-tls | -)
		[[ $1 != *:* ]] || die "$2: keyword $kw takes no file"
		return 0
		;;
	esac
	[[ -f $(policy_file_path "$1") ]] || die "$2: policy file $(policy_file_path "$1") not found"
}

valid_name() { [[ $1 =~ ^([a-z0-9_*]([a-z0-9_-]*[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]*[a-z0-9])?$ ]]; }

read_table() { # FILE
	local f=$1 line n=0 d
	local -a c
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		line=${line%$'\r'}
		[[ -z ${line//[[:space:]]/} || $line == \#* ]] && continue
		IFS=$'\t' read -r -a c <<<"$line"
		((${#c[@]} == 8)) || die "$f:$n: expected 8 TAB-separated columns, got ${#c[@]}"
		d=${c[0],,}
		d=${d%.}
		valid_name "$d" || die "$f:$n: bad domain '$d'"
		[[ $d != test ]] || die "$f:$n: 'test' itself cannot be a test domain"
		[[ -z ${TXT[$d]+x} ]] || die "$f:$n: duplicate domain $d"
		check_policy_spec "${c[2]}" "$f:$n"
		case ${c[3]} in valid | untrusted | wrongname | expired | wildcard | -) ;; *) die "$f:$n: bad policy_cert '${c[3]}'" ;; esac
		case ${c[5]} in valid | selfsigned | wrongname | expired | wildcard | nostarttls | nolisten | noaddr) ;; *) die "$f:$n: bad mx_cert '${c[5]}'" ;; esac
		case ${c[6]} in signed | signed-notlsa | signed-badtlsa | unsigned | bogus) ;; *) die "$f:$n: bad dnssec '${c[6]}'" ;; esac
		DOMAINS+=("$d")
		TXT[$d]=${c[1]}
		POL[$d]=${c[2]}
		PCERT[$d]=${c[3]}
		MXS[$d]=${c[4]}
		MXCERT[$d]=${c[5]}
		SEC[$d]=${c[6]}
		RPT[$d]=${c[7]}
	done <"$f"
	((${#DOMAINS[@]} > 0)) || die "$f: no domains"
}

write_table() { # FILE
	local d
	for d in "${DOMAINS[@]}"; do
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$d" "${TXT[$d]}" "${POL[$d]}" "${PCERT[$d]}" \
			"${MXS[$d]}" "${MXCERT[$d]}" "${SEC[$d]}" "${RPT[$d]}"
	done >"$1.tmp"
	mv -f "$1.tmp" "$1"
}

policy_addr() { # DOMAIN -> address of mta-sts.DOMAIN ('' = no such host)
	case ${POL[$1]%%:*} in
	-) printf '' ;;
	hang) printf '%s' "$ADDR_HANG" ;;
	*) printf '%s' "$ADDR_HTTPS" ;;
	esac
}

# Derive MX hosts (addresses 127.0.3.1, .2, ... in table order), A records and zones.
compute_world() {
	local d it pref rest host var n=0 a
	local -a items
	HOSTS=() AREC=() ZONES=(. test.)
	DMX=() HADDR=() HVAR=() HDOM=()
	for d in "${DOMAINS[@]}"; do
		ZONES+=("$d.")
		DMX[$d]=
		[[ ${MXS[$d]} == - ]] && continue
		IFS=, read -r -a items <<<"${MXS[$d]}"
		for it in "${items[@]}"; do
			[[ $it == *:* ]] || die "$d: bad mx item '$it' (want pref:host)"
			pref=${it%%:*}
			rest=${it#*:}
			[[ $pref =~ ^[0-9]+$ ]] || die "$d: bad mx preference '$pref'"
			if [[ $rest == . ]]; then
				DMX[$d]+="$pref .;"
				continue
			fi
			host=${rest%%=*}
			host=${host,,}
			host=${host%.}
			var=${MXCERT[$d]}
			[[ $rest == *=* ]] && var=${rest#*=}
			case $var in valid | selfsigned | wrongname | expired | wildcard | nostarttls | nolisten | noaddr) ;; *) die "$d: bad mx variant '$var'" ;; esac
			valid_name "$host" || die "$d: bad mx host '$host'"
			DMX[$d]+="$pref $host;"
			if [[ -z ${HVAR[$host]+x} ]]; then
				HOSTS+=("$host")
				HVAR[$host]=$var
				HDOM[$host]=$d
				if [[ $var == noaddr ]]; then
					HADDR[$host]=
				else
					n=$((n + 1))
					((n <= 254 * 250)) || die "too many MX hosts"
					HADDR[$host]=127.0.$((3 + (n - 1) / 254)).$(((n - 1) % 254 + 1))
					AREC+=("$host ${HADDR[$host]}")
				fi
			fi
		done
	done
	for d in "${DOMAINS[@]}"; do
		a=$(policy_addr "$d")
		[[ -n $a ]] && AREC+=("mta-sts.$d $a")
	done
	AREC+=("$REPORTS_HOST $ADDR_HTTPS")
}

# longest zone containing NAME (no trailing dot) -> REPLY
zone_of() {
	local n="$1." z
	REPLY=.
	for z in "${ZONES[@]}"; do
		[[ $z == . ]] && continue
		if [[ $n == "$z" || $n == *".$z" ]]; then
			if [[ $REPLY == . ]] || ((${#z} > ${#REPLY})); then REPLY=$z; fi
		fi
	done
}

parent_zone() { # ZONE -> REPLY
	local z=$1
	if [[ $z == . ]]; then REPLY=; return; fi
	z=${z%.}
	if [[ $z == *.* ]]; then zone_of "${z#*.}"; else REPLY=.; fi
}

zfile() { if [[ $1 == . ]]; then printf 'root'; else printf '%s' "${1%.}"; fi; }

zone_signed() { # ZONE
	[[ $1 == . || $1 == test. ]] && return 0
	case ${SEC[${1%.}]:-unsigned} in signed | signed-notlsa | signed-badtlsa | bogus) return 0 ;; esac
	return 1
}

load_world() {
	[[ -f $DIR/world.tsv ]] || die "$DIR is not a world directory (no world.tsv)"
	NS=$(cat "$DIR/ns")
	read_table "$DIR/world.tsv"
	compute_world
}

# ---------------------------------------------------------------- certificates

write_openssl_cnf() {
	cat >"$DIR/ca/openssl.cnf" <<EOF
SAN = DNS:placeholder.invalid
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = placeholder
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = \$ENV::SAN
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = $DIR/ca
database = $DIR/ca/db/index.txt
new_certs_dir = $DIR/ca/db/new
serial = $DIR/ca/db/serial
certificate = $DIR/ca/ca.pem
private_key = $DIR/ca/ca.key
default_md = sha256
policy = pol_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ pol_any ]
commonName = supplied
EOF
	mkdir -p "$DIR/ca/db/new"
	: >"$DIR/ca/db/index.txt"
	echo 1000 >"$DIR/ca/db/serial"
}

OSSL_NEWKEY=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)

make_ca() { # BASE CN
	SAN=DNS:ca.invalid openssl req -x509 -config "$DIR/ca/openssl.cnf" -extensions v3_ca \
		"${OSSL_NEWKEY[@]}" -keyout "$1.key" -out "$1.pem" -subj "/CN=$2" -days 3650 2>>"$DIR/log/openssl.log"
}

# make_cert OUTBASE VARIANT NAME: key OUTBASE.key, cert OUTBASE.pem
make_cert() {
	local out=$1 var=$2 name=$3 cn san
	cn=$name
	case $var in
	wrongname) cn=wrongname.invalid ;;
	wildcard) cn="*.${name#*.}" ;;
	esac
	san="DNS:$cn"
	local -a req=(openssl req -config "$DIR/ca/openssl.cnf" -extensions v3_leaf "${OSSL_NEWKEY[@]}"
		-keyout "$out.key" -subj "/CN=$cn")
	case $var in
	selfsigned)
		SAN=$san "${req[@]}" -x509 -days 825 -out "$out.pem" ;;
	untrusted)
		SAN=$san "${req[@]}" -x509 -days 825 -CA "$DIR/ca/other-ca.pem" -CAkey "$DIR/ca/other-ca.key" -out "$out.pem" ;;
	expired)
		SAN=$san "${req[@]}" -new -out "$out.csr" &&
			SAN=$san openssl ca -batch -config "$DIR/ca/openssl.cnf" -extensions v3_leaf -notext \
				-startdate 20200101000000Z -enddate 20210101000000Z -in "$out.csr" -out "$out.pem" ;;
	*)
		SAN=$san "${req[@]}" -x509 -days 825 -CA "$DIR/ca/ca.pem" -CAkey "$DIR/ca/ca.key" -out "$out.pem" ;;
	esac
}

make_all_certs() {
	local d h pids=() p rc=0
	mkdir -p "$DIR/ca" "$DIR/certs"
	write_openssl_cnf
	make_ca "$DIR/ca/ca" "stsguard test world CA"
	make_ca "$DIR/ca/other-ca" "untrusted other CA"
	cp "$DIR/ca/ca.pem" "$DIR/ca/ca.crt"
	# `openssl ca` (expired variants) shares a database: run those one by one,
	# everything else in parallel.
	{
		make_cert "$DIR/certs/default" valid default.invalid
		make_cert "$DIR/certs/$REPORTS_HOST" valid "$REPORTS_HOST"
		for d in "${DOMAINS[@]}"; do
			[[ ${POL[$d]} == - || ${POL[$d]} == hang || ${PCERT[$d]} == expired ]] && continue
			make_cert "$DIR/certs/mta-sts.$d" "${PCERT[$d]/#-/valid}" "mta-sts.$d"
		done
	} 2>>"$DIR/log/openssl.log" &
	pids+=($!)
	{
		for h in "${HOSTS[@]}"; do
			[[ ${HVAR[$h]} == expired ]] && continue
			make_cert "$DIR/certs/$h" "${HVAR[$h]}" "$h"
		done
	} 2>>"$DIR/log/openssl.log" &
	pids+=($!)
	{
		for d in "${DOMAINS[@]}"; do
			[[ ${POL[$d]} != - && ${POL[$d]} != hang && ${PCERT[$d]} == expired ]] || continue
			make_cert "$DIR/certs/mta-sts.$d" expired "mta-sts.$d"
		done
		for h in "${HOSTS[@]}"; do
			[[ ${HVAR[$h]} == expired ]] || continue
			make_cert "$DIR/certs/$h" expired "$h"
		done
	} >>"$DIR/log/openssl.log" 2>&1 &
	pids+=($!)
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	((rc == 0)) || die "certificate generation failed (see $DIR/log/openssl.log)"
	# TLSA 3 1 1 data for every MX host, plus one that matches nothing we serve
	for h in "${HOSTS[@]}"; do
		spki_sha256 "$DIR/certs/$h.pem" >"$DIR/certs/$h.tlsa311"
	done
	spki_sha256 "$DIR/ca/other-ca.pem" >"$DIR/certs/bad.tlsa311"
}

spki_sha256() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}

# ---------------------------------------------------------------- DNS

txt_rdata() { # STRING -> quoted TXT rdata (split into <=255 byte strings)
	local s=$1 out="" chunk
	if [[ $s == \"* ]]; then
		printf '%s' "$s"
		return
	fi
	local LC_ALL=C
	while :; do
		chunk=${s:0:255}
		s=${s:255}
		chunk=${chunk//\\/\\\\}
		chunk=${chunk//\"/\\\"}
		out+="\"$chunk\""
		[[ -n $s ]] || break
		out+=" "
	done
	printf '%s' "$out"
}

txt_records() { # OWNER VALUE
	local owner=$1 v=$2 r
	local -a recs
	[[ $v == - ]] && return 0
	IFS='|' read -r -a recs <<<"$v"
	for r in "${recs[@]}"; do
		printf '%s %s IN TXT %s\n' "$owner" "$TTL" "$(txt_rdata "$r")"
	done
}

gen_keys() { # ZONE
	local z=$1 f base alt
	f=$(zfile "$z")
	base=$(cd "$DIR/dns/keys" && ldns-keygen -a ECDSAP256SHA256 -k "$z")
	echo "$DIR/dns/keys/$base" >"$DIR/dns/keys/$f.base"
	if [[ $z != . && ${SEC[${z%.}]:-} == bogus ]]; then
		# publish a DS for a key that never signs anything: the zone is bogus
		alt=$(cd "$DIR/dns/keys" && ldns-keygen -a ECDSAP256SHA256 -k "$z")
		ldns-key2ds -n -2 "$DIR/dns/keys/$alt.key" >"$DIR/dns/keys/$f.ds"
	else
		ldns-key2ds -n -2 "$DIR/dns/keys/$base.key" >"$DIR/dns/keys/$f.ds"
	fi
}

gen_zone_records() { # ZONE -> records (no SOA) on stdout
	local z=$1 c d item pref host sec rec name addr
	local -a items
	printf '%s %s IN NS ns.test.\n' "$z" "$TTL"
	if [[ $z == . || $z == test. ]]; then
		printf 'ns.test. %s IN A %s\n' "$TTL" "$ADDR_AUTH"
	fi
	for c in "${ZONES[@]}"; do
		[[ $c == . || $c == "$z" ]] && continue
		parent_zone "$c"
		[[ $REPLY == "$z" ]] || continue
		printf '%s %s IN NS ns.test.\n' "$c" "$TTL"
		if zone_signed "$c"; then
			sed -e 's/[[:space:]]\+/ /g' "$DIR/dns/keys/$(zfile "$c").ds"
		fi
	done
	d=${z%.}
	if [[ $z != . && -n ${TXT[$d]+x} ]]; then
		txt_records "_mta-sts.$d." "${TXT[$d]}"
		IFS=';' read -r -a items <<<"${DMX[$d]}"
		for item in "${items[@]}"; do
			[[ -n $item ]] || continue
			pref=${item%% *}
			host=${item#* }
			[[ $host == . ]] || host="$host."
			printf '%s. %s IN MX %s %s\n' "$d" "$TTL" "$pref" "$host"
		done
		txt_records "_smtp._tls.$d." "${RPT[$d]}"
	fi
	for rec in "${AREC[@]}"; do
		name=${rec% *}
		addr=${rec#* }
		zone_of "$name"
		[[ $REPLY == "$z" ]] && printf '%s. %s IN A %s\n' "$name" "$TTL" "$addr"
	done
	# TLSA for the MX hosts of signed domains, in whatever zone holds the name
	for d in "${DOMAINS[@]}"; do
		sec=${SEC[$d]}
		[[ $sec == signed || $sec == signed-badtlsa ]] || continue
		IFS=';' read -r -a items <<<"${DMX[$d]}"
		for item in "${items[@]}"; do
			host=${item#* }
			[[ -n $item && $host != . ]] || continue
			zone_of "_25._tcp.$host"
			[[ $REPLY == "$z" ]] || continue
			if [[ $sec == signed ]]; then
				printf '_25._tcp.%s. %s IN TLSA 3 1 1 %s\n' "$host" "$TTL" "$(cat "$DIR/certs/$host.tlsa311")"
			else
				printf '_25._tcp.%s. %s IN TLSA 3 1 1 %s\n' "$host" "$TTL" "$(cat "$DIR/certs/bad.tlsa311")"
			fi
		done
	done
}

# (Re)write ZONE's file if its records changed (or FORCE=1).  Returns 0 and
# sets ZONE_SERIAL when a new file was written, 1 when nothing changed.
ZONE_SERIAL=
write_zone() { # ZONE
	local z=$1 f body old now serial inc exp
	f=$(zfile "$z")
	body=$(gen_zone_records "$z" | sort -u)
	if [[ ${FORCE:-0} != 1 && -f $DIR/dns/$f.body && "$(cat "$DIR/dns/$f.body")" == "$body" ]]; then
		return 1
	fi
	old=$(cat "$DIR/dns/$f.serial" 2>/dev/null || echo 0)
	now=$(date +%s)
	serial=$((now > old ? now : old + 1))
	{
		printf '$ORIGIN %s\n$TTL %s\n' "$z" "$TTL"
		printf '%s %s IN SOA ns.test. hostmaster.test. %s 3600 600 86400 60\n' "$z" "$TTL" "$serial"
		printf '%s\n' "$body"
	} >"$DIR/dns/$f.zone.tmp"
	if zone_signed "$z"; then
		inc=$(date -u -d '-1 day' +%Y%m%d%H%M%S)
		exp=$(date -u -d '+30 days' +%Y%m%d%H%M%S)
		ldns-signzone -i "$inc" -e "$exp" -o "$z" -f "$DIR/dns/$f.zone.signed.tmp" \
			"$DIR/dns/$f.zone.tmp" "$(cat "$DIR/dns/keys/$f.base")" ||
			die "ldns-signzone failed for $z"
		mv -f "$DIR/dns/$f.zone.signed.tmp" "$DIR/dns/$f.zone.signed"
	fi
	mv -f "$DIR/dns/$f.zone.tmp" "$DIR/dns/$f.zone"
	printf '%s' "$body" >"$DIR/dns/$f.body"
	echo "$serial" >"$DIR/dns/$f.serial"
	ZONE_SERIAL=$serial
	return 0
}

zone_served_file() { # ZONE -> file nsd loads
	if zone_signed "$1"; then printf '%s' "$DIR/dns/$(zfile "$1").zone.signed"; else printf '%s' "$DIR/dns/$(zfile "$1").zone"; fi
}

make_dns() {
	local z
	mkdir -p "$DIR/dns/keys"
	for z in "${ZONES[@]}"; do
		zone_signed "$z" && gen_keys "$z"
	done
	for z in "${ZONES[@]}"; do
		FORCE=1 write_zone "$z"
	done
	# trust anchor = root KSK; root hints = our nsd
	sed -e 's/[[:space:]]\+/ /g' "$(cat "$DIR/dns/keys/root.base").key" >"$DIR/dns/root.anchor"
	printf '. 3600000 IN NS ns.test.\nns.test. 3600000 IN A %s\n' "$ADDR_AUTH" >"$DIR/dns/root.hints"

	{
		cat <<EOF
server:
    ip-address: $ADDR_AUTH
    port: 53
    do-ip6: no
    username: ""
    chroot: ""
    database: ""
    zonesdir: "$DIR/dns"
    zonelistfile: "$DIR/run/nsd.zonelist"
    xfrdfile: "$DIR/run/nsd.xfrd.state"
    xfrdir: "$DIR/run"
    pidfile: "$DIR/run/nsd.pid"
    logfile: "$DIR/log/nsd.log"
    server-count: 1
    reuseport: no
    hide-version: yes
    verbosity: 1
    refuse-any: no
remote-control:
    control-enable: yes
    control-interface: "$DIR/run/nsd.ctl"
EOF
		for z in "${ZONES[@]}"; do
			printf 'zone:\n    name: "%s"\n    zonefile: "%s"\n' "$z" "$(zone_served_file "$z")"
		done
	} >"$DIR/nsd.conf"

	cat >"$DIR/unbound.conf" <<EOF
server:
    interface: $ADDR_RESOLVER
    port: 53
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$DIR/run"
    pidfile: "$DIR/run/unbound.pid"
    logfile: "$DIR/log/unbound.log"
    use-syslog: no
    log-time-ascii: yes
    verbosity: 1
    val-log-level: 2
    num-threads: 1
    so-reuseport: no
    outgoing-range: 128
    num-queries-per-thread: 64
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    # never leave the namespace: the only root server is our nsd
    root-hints: "$DIR/dns/root.hints"
    trust-anchor-file: "$DIR/dns/root.anchor"
    local-zone: "test." nodefault
    module-config: "validator iterator"
    cache-max-negative-ttl: 60
    trust-anchor-signaling: no
    root-key-sentinel: no
    prefetch: no
    serve-expired: no
remote-control:
    control-enable: yes
    control-interface: "$DIR/run/unbound.ctl"
EOF
}

# ---------------------------------------------------------------- HTTPS

# Write DIR/www/DOMAIN/policy.txt (and big.txt when needed) for DOMAIN.
make_www() { # DOMAIN
	local d=$1 spec=${POL[$1]} kw src tmp i
	kw=${spec%%:*}
	mkdir -p "$DIR/www/$d"
	case $kw in - | 404 | 500 | hang | hang-after-tls) return 0 ;; esac
	src=$(policy_file_path "$spec")
	tmp="$DIR/www/$d/.policy.tmp"
	sed -e "s/@DOMAIN@/$d/g" "$src" >"$tmp"
	if [[ $(basename "$src") == *-crlf.txt ]]; then
		sed -i -e 's/\r$//' -e 's/$/\r/' "$tmp"
	fi
	mv -f "$tmp" "$DIR/www/$d/policy.txt"
	if [[ $kw == big || $kw == bigchunked ]]; then
		# a valid policy followed by >64 KiB of (ignorable) extension fields
		{
			cat "$DIR/www/$d/policy.txt"
			for ((i = 0; i < 1200; i++)); do
				printf 'x-padding-%04d: %s\n' "$i" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			done
		} >"$DIR/www/$d/.big.tmp"
		mv -f "$DIR/www/$d/.big.tmp" "$DIR/www/$d/big.txt"
	fi
}

nginx_policy_location() { # DOMAIN
	local d=$1 spec=${POL[$1]} w="$DIR/www/$1"
	case ${spec%%:*} in
	404) echo "        location = /.well-known/mta-sts.txt { return 404; }" ;;
	500) echo "        location = /.well-known/mta-sts.txt { return 500; }" ;;
	redirect301) echo "        location = /.well-known/mta-sts.txt { return 301 https://mta-sts.$d/policy-moved.txt; }" ;;
	redirect302) echo "        location = /.well-known/mta-sts.txt { return 302 https://mta-sts.$d/policy-moved.txt; }" ;;
	html) echo "        location = /.well-known/mta-sts.txt { types { } default_type text/html; alias $w/policy.txt; }" ;;
	charset) echo "        location = /.well-known/mta-sts.txt { types { } default_type text/plain; charset utf-8; charset_types text/plain; alias $w/policy.txt; }" ;;
	big) echo "        location = /.well-known/mta-sts.txt { types { } default_type text/plain; alias $w/big.txt; }" ;;
	bigchunked)
		# the SSI filter drops Content-Length, so nginx answers chunked
		echo "        location = /.well-known/mta-sts.txt { types { } default_type text/plain; ssi on; ssi_types text/plain; gzip off; alias $w/big.txt; }" ;;
	hang-after-tls)
		echo "        location = /.well-known/mta-sts.txt { proxy_pass http://$ADDR_HANG:80; proxy_read_timeout 3600s; proxy_connect_timeout 5s; }" ;;
	*) echo "        location = /.well-known/mta-sts.txt { types { } default_type text/plain; alias $w/policy.txt; }" ;;
	esac
}

gen_nginx_conf() { # GENERATION
	local d
	cat <<EOF
daemon off;
master_process on;
worker_processes 1;
user root root;
pid $DIR/run/nginx.pid;
error_log $DIR/log/nginx-error.log notice;
events { worker_connections 512; }
http {
    access_log $DIR/log/nginx-access.log;
    client_body_temp_path $DIR/nginx/body;
    proxy_temp_path $DIR/nginx/proxy;
    fastcgi_temp_path $DIR/nginx/fastcgi;
    uwsgi_temp_path $DIR/nginx/uwsgi;
    scgi_temp_path $DIR/nginx/scgi;
    types { text/plain txt; }
    default_type application/octet-stream;
    server_tokens off;
    keepalive_timeout 5s;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen $ADDR_HTTPS:443 ssl default_server;
        server_name _;
        ssl_certificate $DIR/certs/default.pem;
        ssl_certificate_key $DIR/certs/default.key;
        location = /.world-generation { default_type text/plain; return 200 "$1\n"; }
        location / { return 421; }
    }
    server {
        listen $ADDR_HTTPS:443 ssl;
        server_name $REPORTS_HOST;
        ssl_certificate $DIR/certs/$REPORTS_HOST.pem;
        ssl_certificate_key $DIR/certs/$REPORTS_HOST.key;
        client_max_body_size 10m;
        location / { proxy_pass http://$ADDR_COLLECT:8080; proxy_http_version 1.0; proxy_set_header Host \$host; proxy_set_header X-World-SNI \$ssl_server_name; }
    }
EOF
	for d in "${DOMAINS[@]}"; do
		case ${POL[$d]%%:*} in - | hang) continue ;; esac
		cat <<EOF
    server {
        listen $ADDR_HTTPS:443 ssl;
        server_name mta-sts.$d;
        ssl_certificate $DIR/certs/mta-sts.$d.pem;
        ssl_certificate_key $DIR/certs/mta-sts.$d.key;
        root $DIR/www/$d;
$(nginx_policy_location "$d")
        location = /policy-moved.txt { types { } default_type text/plain; alias $DIR/www/$d/policy.txt; }
        location / { return 404; }
    }
EOF
	done
	echo "}"
}

# ---------------------------------------------------------------- helpers run inside the namespace

dns_soa_serial() { # SERVER ZONE
	nsx drill "@$1" "$2" SOA 2>/dev/null | awk '!/^;/ && $4 == "SOA" { print $7; exit }'
}

wait_for() { # DESC PID TIMEOUT CMD... (PID '-' = none to watch)
	local desc=$1 pid=$2 t=$3 deadline
	shift 3
	deadline=$((SECONDS + t))
	until "$@" >/dev/null 2>&1; do
		if [[ $pid != - ]] && ! kill -0 "$pid" 2>/dev/null; then
			msg "$desc died during start-up"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			msg "timeout waiting for $desc"
			return 1
		fi
		sleep 0.05
	done
}

check_nsd() { [[ -n $(dns_soa_serial "$ADDR_AUTH" test.) ]]; }
check_unbound() { nsx drill -D "@$ADDR_RESOLVER" test. SOA 2>/dev/null | grep -q 'flags:.* ad[ ;]'; }
check_nginx() { [[ $(nsx curl -sk --max-time 2 "https://$ADDR_HTTPS/.world-generation") == "$1" ]]; }
check_tcp() { nsx bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2"; }
check_sinks() { # ADDR... : every sink greets with 220
	nsx bash -c 'for a in "$@"; do { read -r -t 2 l <&3 && [[ $l == 220* ]] && printf "XWORLD-PROBE\r\n" >&3 && read -r -t 2 l <&3; } 3<>"/dev/tcp/$a/25" || exit 1; done' _ "$@"
}

# ---------------------------------------------------------------- up

cmd_up() {
	[[ -n ${1:-} ]] || die "usage: world.sh up DIR"
	DIR=$(realpath -m "$1")
	[[ $DIR =~ ^[A-Za-z0-9._/+-]+$ ]] || die "DIR must be a plain path (letters, digits, ._/+-): $DIR"
	((${#DIR} <= 80)) || die "DIR path too long for unix control sockets (max 80 chars): $DIR"
	if [[ -e $DIR ]]; then
		[[ -d $DIR && -z $(ls -A "$DIR") ]] || die "$DIR exists and is not an empty directory"
	fi
	[[ $(id -u) == 0 ]] || die "must run as root (network namespaces)"
	local t0=$SECONDS tool missing=()
	for tool in ip setsid flock nsd nsd-control unbound unbound-control nginx ldns-keygen \
		ldns-signzone ldns-key2ds drill openssl curl cc realpath; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (apt-get install nsd unbound nginx ldnsutils curl openssl libssl-dev gcc iproute2 util-linux)"
	read_table "$WORLD_TABLE"
	compute_world
	mkdir -p "$DIR"/{run,log,spool,reports,cache,nginx,www}
	: >"$DIR/pids"

	NS=${WORLD_NS:-stsgw-$$}
	[[ $NS =~ ^[A-Za-z0-9._-]+$ ]] || die "bad namespace name '$NS'"
	if ip netns list | awk '{print $1}' | grep -qxF "$NS"; then
		[[ -z ${WORLD_NS:-} ]] || die "network namespace $NS already exists"
		NS=stsgw-$$-$RANDOM
	fi
	trap up_exit_trap EXIT
	trap 'exit 130' INT TERM HUP
	ip netns add "$NS"
	echo "$NS" >"$DIR/ns"
	nsx ip link set lo up

	# compile helpers while certificates and zones are generated
	(cc -O2 -Wall -o "$DIR/smtp-sink" "$WORLD_HOME/smtp-sink.c" -lssl -lcrypto &&
		cc -O2 -Wall -o "$DIR/aux-server" "$WORLD_HOME/aux-server.c") >"$DIR/log/cc.log" 2>&1 &
	local cc_pid=$!

	write_table "$DIR/world.tsv"
	make_all_certs
	make_dns
	local d
	for d in "${DOMAINS[@]}"; do make_www "$d"; done
	echo 1 >"$DIR/run/nginx.gen"
	gen_nginx_conf 1 >"$DIR/nginx.conf"
	printf 'nameserver %s\noptions edns0 trust-ad\n' "$ADDR_RESOLVER" >"$DIR/resolv.conf"

	wait "$cc_pid" || {
		cat "$DIR/log/cc.log" >&2
		die "compiling the helpers failed"
	}

	# --- start the servers
	ns_start nsd "$DIR/log/nsd.out" nsd -d -c "$DIR/nsd.conf"
	local pid_nsd=$LAST_PID
	ns_start hang "$DIR/log/hang.out" "$DIR/aux-server" hang "$ADDR_HANG:443" "$ADDR_HANG:80"
	local pid_hang=$LAST_PID
	ns_start collect "$DIR/log/collect.out" "$DIR/aux-server" collect "$ADDR_COLLECT:8080" "$DIR/reports"
	local pid_collect=$LAST_PID
	ns_start nginx "$DIR/log/nginx.out" nginx -c "$DIR/nginx.conf" -p "$DIR" -e "$DIR/log/nginx-error.log"
	local pid_nginx=$LAST_PID
	local h var sink_addrs=()
	local -a args
	: >"$DIR/hosts.tsv"
	for h in "${HOSTS[@]}"; do
		var=${HVAR[$h]}
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$h" "${HADDR[$h]:--}" "$var" "$DIR/spool/$h.mbox" \
			"$DIR/spool/$h.log" "${HDOM[$h]}" >>"$DIR/hosts.tsv"
		[[ $var == noaddr || $var == nolisten ]] && continue
		args=("$DIR/smtp-sink" -l "${HADDR[$h]}:25" -n "$h" -s "$DIR/spool/$h.mbox" -L "$DIR/spool/$h.log")
		if [[ $var == nostarttls ]]; then
			args+=(--no-starttls)
		else
			args+=(-c "$DIR/certs/$h.pem" -k "$DIR/certs/$h.key")
		fi
		ns_start "sink:$h" "$DIR/log/sink.out" "${args[@]}"
		sink_addrs+=("${HADDR[$h]}")
	done

	wait_for nsd "$pid_nsd" 10 check_nsd
	ns_start unbound "$DIR/log/unbound.out" unbound -d -c "$DIR/unbound.conf"
	local pid_unbound=$LAST_PID
	wait_for nginx "$pid_nginx" 10 check_nginx 1
	wait_for hang "$pid_hang" 5 check_tcp "$ADDR_HANG" 443
	wait_for collector "$pid_collect" 5 check_tcp "$ADDR_COLLECT" 8080
	if ((${#sink_addrs[@]} > 0)); then
		wait_for "smtp sinks" - 10 check_sinks "${sink_addrs[@]}"
	fi
	wait_for "unbound (validated SOA test.)" "$pid_unbound" 10 check_unbound

	# every recorded PID must still be the process we meant to start
	local name pid st
	while read -r name pid st; do
		pid_is_ours "$pid" "$st" || die "$name (pid $pid) is not running"
	done <"$DIR/pids"

	cat >"$DIR/stsguard.conf" <<EOF
resolver = $ADDR_RESOLVER
ca_file = $DIR/ca/ca.pem
cache_dir = $DIR/cache
fetch_timeout = 3
EOF
	cat >"$DIR/env" <<EOF
WORLD_NS=$NS
WORLD_DIR=$DIR
WORLD_SH=$WORLD_SH
WORLD_RESOLVER=$ADDR_RESOLVER
WORLD_AUTH=$ADDR_AUTH
WORLD_HTTPS=$ADDR_HTTPS
WORLD_HANG=$ADDR_HANG
WORLD_CA=$DIR/ca/ca.pem
WORLD_CONF=$DIR/stsguard.conf
WORLD_SPOOL=$DIR/spool
WORLD_REPORTS=$DIR/reports
WORLD_HOSTS=$DIR/hosts.tsv
WORLD_RESOLV_CONF=$DIR/resolv.conf
WORLD_PID_NSD=$pid_nsd
WORLD_PID_UNBOUND=$pid_unbound
WORLD_PID_NGINX=$pid_nginx
WORLD_PID_HANG=$pid_hang
WORLD_PID_COLLECT=$pid_collect
WORLD_PIDS="$(awk '{printf "%s%s", sep, $2; sep=" "}' "$DIR/pids")"
EOF
	trap - EXIT INT TERM HUP
	msg "up: namespace $NS, ${#DOMAINS[@]} domains, ${#HOSTS[@]} MX hosts, $(wc -l <"$DIR/pids") processes, $((SECONDS - t0))s; env in $DIR/env"
}

up_exit_trap() {
	local rc=$? j
	trap - EXIT
	if ((rc != 0)); then
		up_failed_logs
		if [[ ${WORLD_KEEP_ON_FAIL:-0} == 1 ]]; then
			msg "up failed (rc=$rc); WORLD_KEEP_ON_FAIL=1: left running, use: world.sh down $DIR"
		else
			# our own background jobs (certificate generation, compiler, daemons)
			for j in $(jobs -pr); do kill "$j" 2>/dev/null || true; done
			msg "up failed (rc=$rc); tearing down"
			cmd_down "$DIR" || true
		fi
	fi
	exit "$rc"
}

up_failed_logs() {
	local f
	for f in "$DIR"/log/*; do
		[[ -s $f ]] || continue
		[[ $f == */openssl.log ]] && ! grep -qi error "$f" && continue
		msg "--- tail of $f"
		grep -v '^-----$' "$f" | tail -n 15 >&2 || true
	done
}

# ---------------------------------------------------------------- down

# Kill everything recorded in DIR/pids: each recorded process (only if its
# start time still matches, so a recycled PID is never hit) and the members
# of its process group that live in our namespace (everything was started
# with setsid, so a recorded PID is also the PGID of whatever it forked).
# Then delete the namespace.  Processes in the namespace that we did not
# start are reported and left alone.
cmd_down() {
	[[ -n ${1:-} ]] || die "usage: world.sh down DIR"
	local dir ns='' name pid st p i sig
	dir=$(realpath -m "$1")
	[[ -d $dir ]] || return 0
	[[ -f $dir/ns ]] && ns=$(cat "$dir/ns")
	if [[ -n $ns ]] && ! ip netns list | awk '{print $1}' | grep -qxF "$ns"; then ns=; fi
	local -A groups=()
	local -a recorded=()
	if [[ -f $dir/pids ]]; then
		while read -r name pid st; do
			[[ -n $pid ]] || continue
			recorded+=("$pid:$st")
			groups[$pid]=1
		done < <(tac "$dir/pids")
	fi
	# targets: recorded processes that are still ours + namespace members of their groups
	down_targets() {
		local e pid st
		TARGETS=()
		for e in "${recorded[@]}"; do
			pid=${e%%:*}
			st=${e#*:}
			pid_is_ours "$pid" "$st" && TARGETS+=("$pid")
		done
		if [[ -n $ns ]]; then
			for pid in $(ip netns pids "$ns" 2>/dev/null); do
				proc_pgid "$pid" && [[ -n ${groups[$REPLY]+x} ]] && TARGETS+=("$pid")
			done
		fi
		return 0
	}
	for sig in TERM KILL; do
		for ((i = 0; i < 60; i++)); do
			down_targets
			((${#TARGETS[@]} == 0)) && break
			((i == 0)) && kill "-$sig" "${TARGETS[@]}" 2>/dev/null
			sleep 0.05
		done
		((${#TARGETS[@]} == 0)) && break
	done
	if [[ -n $ns ]]; then
		local left
		left=$(ip netns pids "$ns" 2>/dev/null || true)
		if [[ -n $left ]]; then
			msg "warning: processes not started by world.sh are still in $ns (left alone; use spawn/adopt):"
			for p in $left; do msg "  $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || echo '?')"; done
		fi
		ip netns del "$ns" 2>/dev/null || msg "warning: could not delete namespace $ns"
	fi
	return 0
}

# ---------------------------------------------------------------- exec / spawn / status

resolv_wrapper() { # prints nothing; builds WRAP array
	WRAP=(ip netns exec "$NS")
	if [[ ${WORLD_EXEC_RESOLV:-1} == 1 ]]; then
		# ip netns exec runs CMD in a private (slave) mount namespace: the bind
		# mount is visible to CMD only, never to the host.
		WRAP+=(/bin/sh -c 'mount --bind "$1" /etc/resolv.conf 2>/dev/null; shift; exec "$@"' sh "$DIR/resolv.conf")
	fi
}

cmd_exec() {
	[[ $# -ge 2 ]] || die "usage: world.sh exec DIR CMD..."
	DIR=$(realpath -m "$1")
	shift
	[[ -f $DIR/ns ]] || die "$DIR: no world here"
	NS=$(cat "$DIR/ns")
	resolv_wrapper
	exec "${WRAP[@]}" "$@"
}

cmd_spawn() {
	[[ $# -ge 3 ]] || die "usage: world.sh spawn DIR NAME CMD..."
	DIR=$(realpath -m "$1")
	local name=${2//[^A-Za-z0-9._-]/_}
	shift 2
	[[ -f $DIR/ns ]] || die "$DIR: no world here"
	NS=$(cat "$DIR/ns")
	resolv_wrapper
	local log="$DIR/log/spawn-$name.log"
	setsid "${WRAP[@]}" "$@" </dev/null >>"$log" 2>&1 &
	local pid=$!
	exec 9>>"$DIR/lock"
	flock 9
	record_pid "spawn:$name" "$pid"
	flock -u 9
	echo "$pid"
}


# Record an already running process (e.g. an MTA daemon that detached; take
# its PID from its pid file) so that `down` kills it.  It must live in the
# world's namespace.
cmd_adopt() {
	[[ $# == 3 ]] || die "usage: world.sh adopt DIR NAME PID"
	DIR=$(realpath -m "$1")
	local name=${2//[^A-Za-z0-9._-]/_} pid=$3
	[[ $pid =~ ^[0-9]+$ ]] || die "bad PID '$pid'"
	[[ -f $DIR/ns ]] || die "$DIR: no world here"
	NS=$(cat "$DIR/ns")
	[[ -e /proc/$pid ]] || die "no process $pid"
	[[ $(readlink "/proc/$pid/ns/net") == "$(nsx readlink /proc/self/ns/net)" ]] ||
		die "process $pid is not in namespace $NS"
	lock_world
	record_pid "adopt:$name" "$pid"
}

# Wait until HOST's spool holds at least N messages (default 1), TIMEOUT
# seconds (default 30).  Prints the count; exit 1 on timeout.
cmd_wait_mail() {
	[[ $# -ge 2 && $# -le 4 ]] || die "usage: world.sh wait-mail DIR HOST [N] [TIMEOUT]"
	DIR=$(realpath -m "$1")
	local host=${2,,} n=${3:-1} t=${4:-30} count deadline
	host=${host%.}
	deadline=$((SECONDS + t))
	while :; do
		count=$(grep -c '^X-Sink-End: ' "$DIR/spool/$host.mbox" 2>/dev/null || true)
		count=${count:-0}
		if ((count >= n)); then
			echo "$count"
			return 0
		fi
		if ((SECONDS >= deadline)); then
			echo "$count"
			msg "timeout: $host has $count message(s), wanted $n"
			return 1
		fi
		sleep 0.1
	done
}

cmd_status() {
	[[ -n ${1:-} ]] || die "usage: world.sh status DIR"
	DIR=$(realpath -m "$1")
	local name pid st rc=0
	[[ -f $DIR/pids ]] || die "$DIR: no world here"
	while read -r name pid st; do
		if pid_is_ours "$pid" "$st"; then echo "alive $pid $name"; else echo "dead  $pid $name"; rc=1; fi
	done <"$DIR/pids"
	return $rc
}

# ---------------------------------------------------------------- run-time changes

lock_world() {
	exec 9>>"$DIR/lock"
	flock 9
}

# Regenerate DOMAIN's zone; if it changed, reload it in nsd, wait for the new
# serial, and flush the zone from unbound's cache.
apply_zone() { # DOMAIN
	local z="$1." f i serial
	write_zone "$z" || return 0
	f=$(zfile "$z")
	serial=$ZONE_SERIAL
	nsd-control -c "$DIR/nsd.conf" reload "$z" >/dev/null || die "nsd-control reload $z failed"
	for ((i = 0; i < 200; i++)); do
		[[ $(dns_soa_serial "$ADDR_AUTH" "$z") == "$serial" ]] && break
		sleep 0.05
	done
	[[ $(dns_soa_serial "$ADDR_AUTH" "$z") == "$serial" ]] || die "nsd did not load serial $serial of $z"
	unbound-control -c "$DIR/unbound.conf" flush_zone "$1" >/dev/null || die "unbound-control flush_zone failed"
	unbound-control -c "$DIR/unbound.conf" flush_negative >/dev/null || true
}

check_domain() { [[ -n ${TXT[$1]+x} ]] || die "unknown domain $1 (not in $DIR/world.tsv)"; }

cmd_set_txt() { # DIR DOMAIN VALUE
	[[ $# == 3 ]] || die "usage: world.sh set-txt DIR DOMAIN 'TXT'"
	DIR=$(realpath -m "$1")
	local d=${2,,}
	d=${d%.}
	[[ $3 != *$'\t'* && $3 != *$'\n'* && -n $3 ]] || die "TXT value must be non-empty, without TAB/newline"
	lock_world
	load_world
	check_domain "$d"
	TXT[$d]=$3
	write_table "$DIR/world.tsv"
	apply_zone "$d"
}

cmd_del_txt() { # DIR DOMAIN
	[[ $# == 2 ]] || die "usage: world.sh del-txt DIR DOMAIN"
	cmd_set_txt "$1" "$2" -
}

cmd_set_policy() { # DIR DOMAIN SPEC
	[[ $# == 3 ]] || die "usage: world.sh set-policy DIR DOMAIN FILE|KEYWORD[:FILE]"
	DIR=$(realpath -m "$1")
	local d=${2,,} spec=$3 gen new
	d=${d%.}
	lock_world
	load_world
	check_domain "$d"
	if ! is_kw_policy "$spec" && [[ $spec == */* ]]; then
		# a file path: keep a copy inside DIR so the world does not depend on it
		[[ -f $spec ]] || die "no such file: $spec"
		mkdir -p "$DIR/policies"
		cp "$spec" "$DIR/policies/$d.txt.tmp"
		mv -f "$DIR/policies/$d.txt.tmp" "$DIR/policies/$d.txt"
		spec="$DIR/policies/$d.txt"
	fi
	check_policy_spec "$spec" set-policy
	if [[ ! -f $DIR/certs/mta-sts.$d.pem ]]; then
		local pv=${PCERT[$d]/#-/valid}
		make_cert "$DIR/certs/mta-sts.$d" "$pv" "mta-sts.$d" >>"$DIR/log/openssl.log" 2>&1 ||
			die "could not make a certificate for mta-sts.$d"
	fi
	POL[$d]=$spec
	write_table "$DIR/world.tsv"
	compute_world
	make_www "$d"
	gen=$(cat "$DIR/run/nginx.gen")
	new=$(gen_nginx_conf "$gen")
	if [[ $new != "$(cat "$DIR/nginx.conf")" ]]; then
		gen=$((gen + 1))
		gen_nginx_conf "$gen" >"$DIR/nginx.conf.tmp"
		nginx -t -q -c "$DIR/nginx.conf.tmp" -p "$DIR" -e "$DIR/log/nginx-error.log" ||
			die "generated nginx configuration is invalid (see $DIR/nginx.conf.tmp)"
		mv -f "$DIR/nginx.conf.tmp" "$DIR/nginx.conf"
		echo "$gen" >"$DIR/run/nginx.gen"
		local name pid st npid=
		while read -r name pid st; do
			[[ $name == nginx ]] && pid_is_ours "$pid" "$st" && npid=$pid
		done <"$DIR/pids"
		[[ -n $npid ]] || die "nginx is not running"
		kill -HUP "$npid"
		wait_for "nginx reload" "$npid" 10 check_nginx "$gen" || die "nginx did not reload"
		# let the old worker finish so no request is answered with the old config
		local i
		for ((i = 0; i < 100; i++)); do
			(($(pgrep -c -P "$npid" || true) <= 1)) && break
			sleep 0.05
		done
	fi
	# the A record of mta-sts.DOMAIN may have moved (e.g. to/from hang or '-')
	apply_zone "$d"
}

# ---------------------------------------------------------------- main

main() {
	local cmd=${1:-help}
	shift || true
	case $cmd in
	up) cmd_up "$@" ;;
	down) cmd_down "$@" ;;
	exec) cmd_exec "$@" ;;
	spawn) cmd_spawn "$@" ;;
	status) cmd_status "$@" ;;
	adopt) cmd_adopt "$@" ;;
	wait-mail) cmd_wait_mail "$@" ;;
	set-txt) cmd_set_txt "$@" ;;
	del-txt) cmd_del_txt "$@" ;;
	set-policy) cmd_set_policy "$@" ;;
	help | -h | --help) sed -n '2,/^set -euo/p' "$WORLD_SH" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' ;;
	*) die "unknown command '$cmd' (try: world.sh help)" ;;
	esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
