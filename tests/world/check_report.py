#!/usr/bin/python3
"""check_report.py - parse a TLS-RPT report back the way a receiver would.

  check_report.py http FILE DOMAIN DAY
      FILE is one request stored by `aux-server collect`: it must be a POST
      with Content-Type application/tlsrpt+gzip whose body gunzips to an
      RFC 8460 JSON report for DOMAIN covering UTC day DAY.
  check_report.py mail MBOX DOMAIN DAY KEY.pem
      The last message in an smtp-sink spool: multipart/report;
      report-type="tlsrpt", the TLS-Report-* headers, a text part and an
      application/tlsrpt+gzip attachment with the RFC 8460 §5.1 file name,
      whose JSON is the report for DOMAIN and DAY; and a DKIM signature
      that python3-dkim verifies with the public half of KEY.pem (on the
      clock STSGUARD_TEST_NOW, epoch seconds, when that is set).

  check_report.py out DIR DAY KEY.pem [EXPECT...]
      What `stsguard report send --dry-run --out DIR` wrote for DAY: every
      SUBMITTER!DOMAIN!BEGIN!END!ID.json.gz is the report for DOMAIN and DAY
      (BEGIN/END the day's first and last second), every .eml passes the
      mail checks above for its DOMAIN. EXPECT is DOMAIN=success (the
      report counts a successful session), DOMAIN=RESULT-TYPE (its failure
      details have that result type) or !DOMAIN (no report for DOMAIN).

Prints one "ok ..." line per check; exit 1 on the first failure.
"""
import base64
import email
import email.policy
import gzip
import json
import os
import re
import subprocess
import sys
import types


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def ok(msg):
    print("ok   " + msg)


def check_json(raw, domain, day, where):
    try:
        rep = json.loads(gzip.decompress(raw))
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        fail(f"{where}: not gzipped JSON: {e}")
    for k in ("organization-name", "date-range", "contact-info", "report-id", "policies"):
        if k not in rep:
            fail(f"{where}: no {k}")
    if rep["date-range"] != {"start-datetime": day + "T00:00:00Z", "end-datetime": day + "T23:59:59Z"}:
        fail(f"{where}: date-range {rep['date-range']}")
    doms = {p["policy"]["policy-domain"] for p in rep["policies"]}
    if doms != {domain}:
        fail(f"{where}: policy domains {doms}")
    ok(f"{where}: gzip JSON report for {domain}, {day}, report-id {rep['report-id']}")
    return rep


def cmd_http(path, domain, day):
    data = open(path, "rb").read()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"POST "):
        fail(f"{path}: request line {lines[0]!r}")
    hdrs = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip() for l in lines[1:] if b":" in l}
    if hdrs.get(b"content-type") != b"application/tlsrpt+gzip":
        fail(f"{path}: content-type {hdrs.get(b'content-type')!r}")
    ok(f"POST {lines[0].split()[1].decode()} with Content-Type application/tlsrpt+gzip")
    check_json(body, domain, day, "HTTPS report")


def last_message(mbox):
    text = open(mbox, "rb").read()
    recs = re.findall(rb"X-Sink-Begin: [^\n]*\n(.*?)\nX-Sink-End: ", text, re.S)
    if not recs:
        fail(f"{mbox}: no message")
    rec = recs[-1]
    meta, _, msg = rec.partition(b"\n\n")
    return meta, msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def cmd_mail(mbox, domain, day, key):
    meta, raw = last_message(mbox)
    check_message(raw, domain, day, key)
    return meta


def check_message(raw, domain, day, key):
    m = email.message_from_bytes(raw, policy=email.policy.compat32)
    if m.get_content_type() != "multipart/report" or m.get_param("report-type") != "tlsrpt":
        fail(f"Content-Type {m.get('Content-Type')}")
    ok('multipart/report; report-type="tlsrpt"')
    for h, want in (("TLS-Report-Domain", domain), ("TLS-Report-Submitter", "reporter.test"),
                    ("TLS-Required", "No"), ("Auto-Submitted", "auto-generated")):
        if m.get(h) != want:
            fail(f"{h}: {m.get(h)!r}, want {want!r}")
    subj = m.get("Subject", "")
    if not re.fullmatch(rf"Report Domain: {re.escape(domain)} Submitter: reporter\.test Report-ID: <[^>]+>", subj):
        fail(f"Subject {subj!r}")
    ok("TLS-Report-Domain, TLS-Report-Submitter, TLS-Required: No, Subject as RFC 8460 §5.3")
    parts = m.get_payload()
    if len(parts) != 2 or parts[0].get_content_type() != "text/plain" or \
            parts[1].get_content_type() != "application/tlsrpt+gzip":
        fail(f"parts {[p.get_content_type() for p in parts]}")
    fn = parts[1].get_filename()
    if not re.fullmatch(rf"reporter\.test!{re.escape(domain)}!\d+!\d+\.json\.gz", fn or ""):
        fail(f"attachment name {fn!r}")
    ok(f"two parts, attachment {fn}")
    check_json(parts[1].get_payload(decode=True), domain, day, "mailed report")
    # DKIM, verified independently
    import dkim
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    rec = b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:])
    # A sender on a test clock (STSGUARD_TEST_NOW, e.g. "tomorrow 01:00Z" so that
    # today counts as finished) signs with t= in the future; python3-dkim refuses
    # t= more than 10 h ahead of its clock, so it verifies on the same clock.
    if os.environ.get("STSGUARD_TEST_NOW", "").isdigit():
        clock = float(os.environ["STSGUARD_TEST_NOW"])
        dkim.time = types.SimpleNamespace(time=lambda: clock)
    if not dkim.verify(raw, dnsfunc=lambda name, timeout=5: rec if name == b"tlsrpt._domainkey.reporter.test." else None):
        fail("DKIM signature does not verify")
    ok("DKIM signature (ed25519-sha256) verifies with python3-dkim")


def cmd_out(outdir, day, key, expects):
    import calendar
    import time as _time
    begin = calendar.timegm(_time.strptime(day, "%Y-%m-%d"))
    reports = {}
    for name in sorted(os.listdir(outdir)):
        path = os.path.join(outdir, name)
        if name.endswith(".json.gz"):
            f = re.fullmatch(r"reporter\.test!([a-z0-9.-]+)!(\d+)!(\d+)(?:![A-Za-z0-9._-]+)?\.json\.gz", name)
            if not f:
                fail(f"report file name {name!r} (RFC 8460 §5.1)")
            if (int(f.group(2)), int(f.group(3))) != (begin, begin + 86399):
                fail(f"{name}: begin/end {f.group(2)}/{f.group(3)}, want {begin}/{begin + 86399}")
            domain = f.group(1)
            if domain in reports:
                fail(f"two reports for {domain}")
            reports[domain] = check_json(open(path, "rb").read(), domain, day, name)
        elif name.endswith(".eml"):
            f = re.fullmatch(r"reporter\.test!([a-z0-9.-]+)!.*\.rua\d+\.eml", name)
            if not f:
                fail(f"mail file name {name!r}")
            raw = open(path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            check_message(raw, f.group(1), day, key)
    if not reports:
        fail(f"{outdir}: no report")
    for e in expects:
        if e.startswith("!"):
            if e[1:] in reports:
                fail(f"a report for {e[1:]}, which publishes no TLSRPT record")
            ok(f"no report for {e[1:]}")
            continue
        domain, _, want = e.partition("=")
        rep = reports.get(domain)
        if rep is None:
            fail(f"no report for {domain} (have {sorted(reports)})")
        pols = rep["policies"]
        if want == "success":
            n = sum(p["summary"]["total-successful-session-count"] for p in pols)
            if n < 1:
                fail(f"{domain}: no successful session counted")
            ok(f"{domain}: {n} successful session(s)")
        else:
            types = {d["result-type"] for p in pols for d in p.get("failure-details", [])}
            if want not in types:
                fail(f"{domain}: no {want} in failure-details (have {sorted(types)})")
            ok(f"{domain}: failure-details has {want}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "http":
        cmd_http(*sys.argv[2:])
    elif len(sys.argv) >= 5 and sys.argv[1] == "out":
        cmd_out(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif len(sys.argv) == 6 and sys.argv[1] == "mail":
        meta = cmd_mail(*sys.argv[2:])
        sys.stdout.write(meta.decode(errors="replace") + "\n")
    else:
        print(__doc__)
        sys.exit(2)
