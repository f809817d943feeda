#!/usr/bin/python3
"""dkim_verify.py MESSAGE PRIVATE-KEY.pem [--expect-fail]

Verify the DKIM signature of MESSAGE with an independent implementation
(Debian's python3-dkim, dkim.verify), answering the key lookup of
s=/d= from PRIVATE-KEY.pem's public half instead of DNS. Exit 0 when the
result is what was expected (valid, or invalid with --expect-fail), 1
otherwise, 77 when python3-dkim is missing.
"""
import base64
import re
import subprocess
import sys

try:
    import dkim
except ImportError:
    print("SKIP: python3-dkim is not installed")
    sys.exit(77)

msg_path, key_path = sys.argv[1], sys.argv[2]
expect_fail = "--expect-fail" in sys.argv[3:]
msg = open(msg_path, "rb").read()

der = subprocess.run(["openssl", "pkey", "-in", key_path, "-pubout", "-outform", "DER"],
                     check=True, capture_output=True).stdout
kind = subprocess.run(["openssl", "pkey", "-in", key_path, "-noout", "-text"],
                      check=True, capture_output=True).stdout
if b"ED25519" in kind:
    # RFC 8463 §4.2: p= is the raw 32-byte public key, not an SPKI.
    record = b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:])
else:
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)

sig = re.search(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", msg, re.S | re.M)
if sig is None:
    print(f"{msg_path}: no DKIM-Signature")
    sys.exit(1)
tags = dict((m.group(1).strip(), re.sub(rb"\s+", b"", m.group(2)))
            for m in re.finditer(rb"([a-z]+)=([^;]*)", sig.group(1)))
want_name = tags[b"s"] + b"._domainkey." + tags[b"d"] + b"."
asked = []


def dnsfunc(name, timeout=5):
    asked.append(name)
    return record if name == want_name else None


ok = dkim.verify(msg, dnsfunc=dnsfunc)
print(f"{msg_path}: dkim.verify={ok} a={tags.get(b'a', b'?').decode()} asked={asked}")
sys.exit(0 if ok != expect_fail else 1)
