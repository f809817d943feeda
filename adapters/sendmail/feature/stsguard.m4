divert(-1)
dnl
dnl stsguard.m4 - MTA-STS (RFC 8461) enforcement and TLS-RPT (RFC 8460)
dnl recording for Sendmail 8.17+ built with _FFR_MTA_STS, through stsguardd.
dnl
dnl Install as <cf dir>/feature/stsguard.m4 (Debian: /usr/share/sendmail/cf/feature/)
dnl and add ONE line to sendmail.mc, after FEATURE(`access_db') and before MAILER():
dnl
dnl   FEATURE(`stsguard', `unix:/run/stsguard/stsguardd.sock')dnl
dnl
dnl Arguments:
dnl   1  stsguardd's endpoint for the `sts' map: unix:/path or inet:port@127.0.0.1.
dnl      Required: there is deliberately no default, so Sendmail never asks
dnl      whatever else listens on 5461/8461 (FEATURE(sts)'s default) by accident.
dnl   2  `failclosed' (default) or `failopen': what happens while stsguardd is
dnl      unreachable.  failclosed: every delivery defers ("STS lookup temp fail"),
dnl      also to domains without a policy.  failopen: the `sts' map is optional
dnl      (-o): mail goes out as without MTA-STS.
dnl   3  unix:/path of the TLS-RPT recorder map `tlsrpt' (default: argument 1),
dnl      or `none' for no recording.  stsguardd answers `tlsrpt' on unix
dnl      sockets only.  A second listener is better: Sendmail shares one
dnl      connection among all socket maps with the same endpoint and closes it
dnl      on any error.  With `failopen', see docs/sendmail.md: a unix socket
dnl      that is MISSING (stsguardd stopped and removed it) makes Sendmail
dnl      log SYSERR and defer the first delivery of each queue run that
dnl      reaches the recorder; a socket file left in place (connection
dnl      refused) does not.
dnl
dnl What it adds:
dnl   * FEATURE(`sts') against that endpoint (stsguardd's `sts' map answers in
dnl     the grammar Sendmail 8.17 accepts, docs/PROTOCOL.md section 5.1);
dnl   * Local_tls_server: after every outbound STARTTLS attempt, one lookup in
dnl     the `tlsrpt' map (docs/PROTOCOL.md) with the session's TLS facts.  The
dnl     answer is thrown away and the ruleset never returns $#, so recording can
dnl     never reject or defer mail; a dead recorder costs at most its -d timeout;
dnl   * Local_tls_rcpt: the certificate-name check of RFC 8461 section 4.1
dnl     with wildcards.  proto.m4's STS_SAN (8.17.1.9, unchanged in 8.18.1)
dnl     never accepts a `*.parent' certificate: it strips a label from the MX
dnl     name and then looks for a literal `*.' the workspace no longer has, so
dnl     every wildcard certificate defers ("not listed in SANs").  FEATURE(sts)
dnl     gets NO_SAN_TST and this ruleset makes the check instead (exact name,
dnl     or `*.' + the MX name minus its first label);
dnl   * with FEATURE(`access_db'): the per-server opt-out `Clt_Features:<mx> M'
dnl     that 8.17.1.9's clt_features ruleset looks up under the wrong name
dnl     (${client_name} instead of the server).  8.18 fixed it upstream.
dnl
dnl This feature defines Local_tls_server, Local_tls_rcpt and
dnl Local_clt_features: a .mc that uses it must not define LOCAL_TLS_SERVER,
dnl LOCAL_TLS_RCPT or LOCAL_CLT_FEATURES itself.
dnl
dnl (Comments in this file are dnl lines: m4 expands macro names inside # comments.)
ifelse(defn(`_ARG_'), `',
	`errprint(`*** ERROR: FEATURE(`stsguard') needs the stsguardd endpoint, e.g. FEATURE(`stsguard', `unix:/run/stsguard/stsguardd.sock')
')m4exit(1)')
define(`_STSGUARD_EP_', defn(`_ARG_'))
define(`_STSGUARD_MODE_', ifelse(_ARG2_, `', `failclosed', _ARG2_))
define(`_STSGUARD_RPT_EP_', ifelse(_ARG3_, `', defn(`_STSGUARD_EP_'), _ARG3_))
ifelse(_STSGUARD_MODE_, `failclosed', `define(`_STSGUARD_OPT_', `')',
	_STSGUARD_MODE_, `failopen', `define(`_STSGUARD_OPT_', `-o ')',
	`errprint(`*** ERROR: FEATURE(`stsguard'): second argument must be failclosed or failopen, not '_STSGUARD_MODE_`
')m4exit(1)')

FEATURE(`sts', `socket '_STSGUARD_OPT_`-d5 -T<TMPF> '_STSGUARD_EP_, `NO_SAN_TST')

LOCAL_CONFIG
# stsguard: the certificate names for Local_tls_rcpt; the sts feature sets
# this only without NO_SAN_TST
O SetCertAltnames=true

define(`_LOCAL_TLS_RCPT_')
divert(9)
# stsguard: under a "secure" (enforce) policy the certificate must name the
# MX: exactly, or by a wildcard for its parent (RFC 8461 section 4.1, RFC 6125
# section 6.4.3).  Input: the recipient.  Runs before STS_Check (MX patterns).
SLocal_tls_rcpt
# no {rcpt_addr}: STS is off for this connection (Clt_Features M), as in STS_Check
R$*			$: <$&{rcpt_addr}> $1
R<> $*			$@ ok
R<$*> $*		$: <$2>
R<$*@$+>		$: $2
R<$*>			$@ ok
R$+.			$1
R$+			$: $(sts $1 $: none $)
# a failed lookup is STS_Check's to report (it asks the same map next)
R$* <TMPF>		$@ ok
R$* secure $*		$: $>Stsguard_san $&{server_name}
Rok			$@ ok
Rfail			$#error $@ 4.7.0 $: 450 $&{server_name} not listed in SANs
R$*			$@ ok

# stsguard: does the certificate name this MX?  Input: the MX name; ok/fail.
# Class {cert_altnames} holds the certificate's names (SetCertAltnames).
SStsguard_san
R$={cert_altnames}	$@ ok
R$-.$+			$: *.$2
R$={cert_altnames}	$@ ok
R$*			$@ fail
divert(-1)

ifelse(_STSGUARD_RPT_EP_, `none', `divert(-1)', `
LOCAL_CONFIG
# stsguard: TLS-RPT recorder (the reply is ignored; -o: no error at startup)
Ktlsrpt socket -o -f -d2 -T<TMPF> _STSGUARD_RPT_EP_
# stsguard: "name= value" or "name=.value" (how Sendmail joins the tokens of
# a map key: BlankSub between words) -> "name=value"; an empty value does not
# match and the field is left out
Kstsguard_kv regex -s1,2 -d ([a-z]+=)[[:space:].]([^[:space:]]+)

define(`_LOCAL_TLS_SERVER_')
divert(9)')
# stsguard: record this session for TLS-RPT.  Input ${verify}; the result is
# ignored by tls_server unless it is $# (never returned here).
SLocal_tls_server
R$*			$: $(macro {stsguard_san} $) <$&{rcpt_addr}>
# no {rcpt_addr}: STS is off for this connection (flag M, or no recipient)
R<>			$@ none
R<$*@$+>		$: $2
R<$*>			$@ none
R$+.			$1
# TEMP, FAILURE: the sts lookup itself failed (stsguardd away); CONFIG:
# Sendmail's own TLS setup failed.  None says anything about the MX.
R$+			$: $1 $| $&{verify}
R$+ $| TEMP		$@ none
R$+ $| FAILURE		$@ none
R$+ $| CONFIG		$@ none
# san=ok/fail: is the MX name in the certificate (the check Local_tls_rcpt
# makes next)?  Only when a TLS session exists.
R$+ $| $*		$: $1 $| $&{cipher}
R$+ $| $+		$: $1 $| $>Stsguard_san $&{server_name}
R$+ $| ok		$: $(macro {stsguard_san} $@ ok $) $1
R$+ $| fail		$: $(macro {stsguard_san} $@ fail $) $1
R$+ $| $*		$: $1
# addresses without Sendmail's "IPv6:" prefix
R$+			$: $1 $| $>Stsguard_ip $&{server_addr}
R$+ $| $*		$: $(macro {stsguard_ip} $@ $2 $) $1
R$+			$: $1 $| $>Stsguard_ip $&{if_addr_out}
R$+ $| $*		$: $(macro {stsguard_src} $@ $2 $) $1
R$+	$: $(stsguard_kv domain= $1 $: $) $(stsguard_kv verify= $&{verify} $: $) $(stsguard_kv tlsv= $&{tls_version} $: $) $(stsguard_kv cipher= $&{cipher} $: $) $(stsguard_kv sni= $&{sts_sni} $: $) $(stsguard_kv san= $&{stsguard_san} $: $) $(stsguard_kv mx= $&{server_name} $: $) $(stsguard_kv ip= $&{stsguard_ip} $: $) $(stsguard_kv src= $&{stsguard_src} $: $)
R$+			$: $(tlsrpt $1 $: norec $)
R$*			$@ recorded

SStsguard_ip
RIPv6 : $+		$@ $1
R$*			$@ $1
ifdef(`_ACCESS_TABLE_', `divert(9)
define(`_LOCAL_CLT_FEATURES_')
# stsguard: 8.17.1.9 clt_features keys on ${client_name}; look up the server
# (input "server name $| server address") so "Clt_Features:<mx> M" turns STS
# off for that MX.
SLocal_clt_features
R$* $| $*		$1
R$* .			$1
R$*			$: <$(access Clt_Features:$1 $: ? $)>
R<?>			$@ OK
R<$+>			$# $1
', `dnl')
divert(-1)
