#!/usr/bin/python3
"""mini-sendmail.py [-oi] -f SENDER RCPT... < message

A tiny sendmail(1) stand-in for the world tests: `report_sendmail` points at
it instead of a real MTA. For each recipient domain it looks up the MX (and
the MX host's A record) with drill through the world's resolver
(WORLD_RESOLVER, default 127.0.0.2), connects to port 25, uses STARTTLS when
offered without verifying the certificate (the report carries TLS-Required:
No, RFC 8689), and submits the message with SMTP. Exit 0 when every
recipient was accepted, 75 (EX_TEMPFAIL) otherwise, 64 for usage errors.
"""
import smtplib
import ssl
import subprocess
import sys
import os

args = sys.argv[1:]
sender, rcpts = None, []
i = 0
while i < len(args):
    a = args[i]
    if a == "-f" and i + 1 < len(args):
        sender = args[i + 1]
        i += 2
        continue
    if a.startswith("-o"):
        i += 1
        continue
    if a.startswith("-"):
        print(f"mini-sendmail: unknown option {a}", file=sys.stderr)
        sys.exit(64)
    rcpts.append(a)
    i += 1
if sender is None or not rcpts:
    print("mini-sendmail: need -f SENDER and recipients", file=sys.stderr)
    sys.exit(64)

msg = sys.stdin.buffer.read()
resolver = os.environ.get("WORLD_RESOLVER", "127.0.0.2")


def drill(qtype, name):
    out = subprocess.run(["drill", "-Q", name, qtype, "@" + resolver],
                         capture_output=True, text=True, timeout=20).stdout
    return [l.split() for l in out.splitlines() if l.strip()]


by_domain = {}
for r in rcpts:
    by_domain.setdefault(r.rsplit("@", 1)[1], []).append(r)

for domain, rs in by_domain.items():
    mx = sorted(((int(p), h.rstrip(".")) for p, h in drill("MX", domain)), key=lambda x: x[0])
    hosts = [h for _, h in mx] or [domain]
    delivered = False
    for host in hosts:
        addrs = [x[0] for x in drill("A", host)]
        for addr in addrs:
            try:
                with smtplib.SMTP(addr, 25, local_hostname="reporter.test", timeout=20) as s:
                    s.ehlo()
                    if s.has_extn("starttls"):
                        ctx = ssl.create_default_context()
                        ctx.check_hostname = False
                        ctx.verify_mode = ssl.CERT_NONE
                        s.starttls(context=ctx)
                        s.ehlo()
                    refused = s.sendmail(sender, rs, msg)
                    if not refused:
                        delivered = True
                        break
            except (OSError, smtplib.SMTPException) as e:
                print(f"mini-sendmail: {host} [{addr}]: {e}", file=sys.stderr)
        if delivered:
            break
    if not delivered:
        print(f"mini-sendmail: could not deliver to {domain}", file=sys.stderr)
        sys.exit(75)
sys.exit(0)
