#!/usr/bin/python3
"""Generate the local "internet" for the MTA-STS resolver benchmark.

Usage: gen_data.py OUTDIR NDOMAINS DNS_IP [NNOPOL]

Creates under OUTDIR:
  ca.crt                 test CA (ECDSA P-256) -> SSL_CERT_FILE for the resolver
  certs/leaf.key         one shared ECDSA P-256 key for all leaf certs
  certs/<host>.crt       one leaf cert per policy host (mta-sts.dNNNN.test), nginx
                         picks it per handshake via $ssl_server_name
  dns/unbound.conf       unbound with local-data for every test domain
  nginx/nginx.conf       nginx serving https://mta-sts.<domain>/.well-known/mta-sts.txt
  www/                   static files for the bad-input cases
  domains.txt            list of benchmark domains (one per line)
  nopol.txt              NNOPOL (default 1000) domains n0001.test.. with MX but
                         no _mta-sts TXT record (the common real-world case)
Uses system python (/usr/bin/python3) with python3-cryptography.
"""
import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

out, n, dns_ip = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n_nopol = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
STS_ID = "2026112801"
for sub in ("certs", "dns", "nginx", "nginx/tmp", "www"):
    os.makedirs(os.path.join(out, sub), exist_ok=True)

now = datetime.datetime.utcnow()
NB, NA = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)


def pem(path, data):
    with open(path, "wb") as f:
        f.write(data)


def mk_ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NB).not_valid_after(NA)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


ca_key, ca_cert = mk_ca("stsguard-bench test CA")
pem(os.path.join(out, "ca.crt"), ca_cert.public_bytes(serialization.Encoding.PEM))
other_key, other_ca = mk_ca("stsguard-bench UNTRUSTED CA")

leaf_key = ec.generate_private_key(ec.SECP256R1())
pem(os.path.join(out, "certs/leaf.key"),
    leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption()))
leaf_pub = leaf_key.public_key()
ca_ski = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())


def leaf(host, issuer_key=ca_key, issuer=ca_cert):
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(issuer.subject).public_key(leaf_pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NB).not_valid_after(NA)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(issuer_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


domains = ["d%04d.test" % i for i in range(1, n + 1)]
with open(os.path.join(out, "domains.txt"), "w") as f:
    f.write("\n".join(domains) + "\n")
nopol = ["n%04d.test" % i for i in range(1, n_nopol + 1)]
with open(os.path.join(out, "nopol.txt"), "w") as f:
    f.write("\n".join(nopol) + "\n")

# ---- special (bad input) domains -------------------------------------------
#  name        -> description; all have one valid TXT unless noted
SPECIAL = ["big", "bigchunked", "ctype", "redirect", "badcert", "untrusted", "twotxt",
           "notfound", "testing", "slow", "crlf", "noid", "wildmx", "badmaxage", "nomx",
           "ctcharset", "nosts", "herd"]

for d in domains + [s + ".test" for s in SPECIAL]:
    host = "mta-sts." + d
    if d == "badcert.test":
        data = leaf("mta-sts.d0001.test")          # valid CA, wrong name
    elif d == "untrusted.test":
        data = leaf(host, other_key, other_ca)      # right name, unknown CA
    else:
        data = leaf(host)
    pem(os.path.join(out, "certs", host + ".crt"), data)

# ---- DNS (unbound local-data) ----------------------------------------------
lines = []
def rr(s):
    lines.append("  local-data: '%s'" % s)

for i, d in enumerate(domains + [s + ".test" for s in SPECIAL]):
    ip = "127.0.0.%d" % (1 + i % 250)
    if d == "twotxt.test":
        rr('_mta-sts.%s. 3600 IN TXT "v=STSv1; id=1;"' % d)
        rr('_mta-sts.%s. 3600 IN TXT "v=STSv1; id=2;"' % d)
    elif d == "noid.test":
        rr('_mta-sts.%s. 3600 IN TXT "v=STSv1;"' % d)
    elif d == "nosts.test":
        pass  # domain exists (MX) but has no _mta-sts TXT record
    else:
        rr('_mta-sts.%s. 3600 IN TXT "v=STSv1; id=%s;"' % (d, STS_ID))
    rr("mta-sts.%s. 3600 IN A %s" % (d, ip))
    rr("%s. 3600 IN MX 10 mx1.%s." % (d, d))
    rr("mx1.%s. 3600 IN A %s" % (d, ip))

for i, d in enumerate(nopol):
    rr("%s. 3600 IN MX 10 mx1.%s." % (d, d))
    rr("mx1.%s. 3600 IN A 127.0.0.%d" % (d, 1 + i % 250))

with open(os.path.join(out, "dns/unbound.conf"), "w") as f:
    f.write("""server:
  interface: {ip}@53
  do-ip6: no
  do-tcp: yes
  username: ""
  chroot: ""
  directory: "{out}/dns"
  pidfile: "{out}/dns/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  do-daemonize: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "test." static
{data}
remote-control:
  control-enable: no
""".format(ip=dns_ip, out=out, data="\n".join(lines)))

# ---- HTTPS (nginx) ----------------------------------------------------------
POL = "version: STSv1\\nmode: enforce\\nmx: mx1.$stsdom\\nmax_age: 86400\\n"
big = ("version: STSv1\nmode: enforce\nmx: mx1.big.test\nmax_age: 86400\n"
       + "".join("x-pad%05d: %s\n" % (k, "y" * 64) for k in range(1200)))  # ~88 KiB
assert len(big) > 64 * 1024
with open(os.path.join(out, "www/big.txt"), "w") as f:
    f.write(big)
with open(os.path.join(out, "www/crlf.txt"), "w") as f:
    f.write("version: STSv1\r\nmode: enforce\r\nmx: mx1.crlf.test\r\nmax_age: 86400\r\n")

def srv(name, body):
    return """
    server {
        listen 443 ssl;
        server_name mta-sts.%s.test;
        location = /.well-known/mta-sts.txt {
%s
        }
    }""" % (name, body)

special_servers = "".join([
    srv("big", "            default_type text/plain;\n            alias %s/www/big.txt;" % out),
    srv("bigchunked", "            default_type text/plain;\n"
        '            echo "version: STSv1\\nmode: enforce\\nmx: mx1.bigchunked.test\\nmax_age: 86400";\n'
        '            echo_duplicate 1200 "x-pad: yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\\n";'),
    srv("ctype", "            default_type text/html;\n            return 200 \"%s\";" % POL),
    srv("ctcharset", "            default_type \"text/plain; charset=utf-8\";\n            return 200 \"%s\";" % POL),
    srv("redirect", "            return 301 https://mta-sts.d0001.test/.well-known/mta-sts.txt;"),
    srv("notfound", "            return 404;"),
    srv("testing", "            default_type text/plain;\n"
        "            return 200 \"version: STSv1\\nmode: testing\\nmx: mx1.testing.test\\nmax_age: 86400\\n\";"),
    srv("slow", "            default_type text/plain;\n            echo_sleep 10;\n"
        '            echo "version: STSv1\\nmode: enforce\\nmx: mx1.slow.test\\nmax_age: 86400";'),
    srv("crlf", "            default_type text/plain;\n            alias %s/www/crlf.txt;" % out),
    srv("wildmx", "            default_type text/plain;\n"
        "            return 200 \"version: STSv1\\nmode: enforce\\nmx: *.wildmx.test\\nmx: mx1.wildmx.test\\nmax_age: 86400\\n\";"),
    srv("badmaxage", "            default_type text/plain;\n"
        "            return 200 \"version: STSv1\\nmode: enforce\\nmx: mx1.badmaxage.test\\nmax_age: 99999999999\\n\";"),
    srv("herd", "            access_log %s/nginx/herd_access.log;\n            default_type text/plain;\n"
        "            return 200 \"version: STSv1\\nmode: enforce\\nmx: mx1.herd.test\\nmax_age: 86400\\n\";" % out),
    srv("nomx", "            default_type text/plain;\n"
        "            return 200 \"version: STSv1\\nmode: enforce\\nmax_age: 86400\\n\";"),
])

with open(os.path.join(out, "nginx/nginx.conf"), "w") as f:
    f.write("""load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
worker_processes 1;
daemon off;
master_process on;
pid {out}/nginx/nginx.pid;
error_log {out}/nginx/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {out}/nginx/tmp/body;
    proxy_temp_path {out}/nginx/tmp/proxy;
    fastcgi_temp_path {out}/nginx/tmp/fastcgi;
    uwsgi_temp_path {out}/nginx/tmp/uwsgi;
    scgi_temp_path {out}/nginx/tmp/scgi;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate {out}/certs/$ssl_server_name.crt;
    ssl_certificate_key {out}/certs/leaf.key;
    keepalive_timeout 10;
    map $host $stsdom {{ ~^mta-sts\\.(?<d>.+)$ $d; default invalid; }}
    server {{
        listen 443 ssl default_server;
        server_name _;
        location = /.well-known/mta-sts.txt {{
            default_type text/plain;
            return 200 "{pol}";
        }}
        location / {{ return 404; }}
    }}
{special}
}}
""".format(out=out, pol=POL, special=special_servers))

print("generated %d domains + %d special under %s" % (n, len(SPECIAL), out))
