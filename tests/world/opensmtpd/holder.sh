#!/bin/sh
# holder.sh OS_DIR PASSWD GROUP - the mount namespace OpenSMTPD runs in
# (tests/world/test_opensmtpd.sh). Run inside the world's network namespace
# (world.sh spawn); it makes a private mount namespace in which smtpd's
# compiled-in paths point into OS_DIR, then sleeps. smtpd, smtpctl and the
# mail client are started in it with nsenter. Nothing on the host changes:
#   /var/spool/smtpd           <- tmpfs (smtpd creates its queue there)
#   /var/lib/opensmtpd/empty   <- tmpfs (smtpd's chroot)
#   /usr/libexec/opensmtpd     <- OS_DIR/libexec (Debian's helpers, our table and filter)
#   /run                       <- OS_DIR/run (/var/run/smtpd.sock, the control socket)
#   /etc/passwd, /etc/group    <- PASSWD, GROUP when given (users opensmtpd, opensmtpq)
set -eu
OS=$1
exec unshare --mount --propagation private /bin/sh -eu -c '
OS=$1 PW=$2 GR=$3
mount -t tmpfs -o mode=755 stsg-spool /var/spool
mkdir -m 711 /var/spool/smtpd
mount -t tmpfs -o mode=755 stsg-varlib /var/lib
mkdir -p -m 755 /var/lib/opensmtpd/empty
mount -t tmpfs -o mode=755 stsg-libexec /usr/libexec
mkdir -m 755 /usr/libexec/opensmtpd
mount --bind "$OS/libexec" /usr/libexec/opensmtpd
mount --bind "$OS/run" /run
if [ -n "$PW" ]; then mount --bind "$PW" /etc/passwd; mount --bind "$GR" /etc/group; fi
echo ready >"$OS/holder.ready"
exec sleep infinity
' holder "$OS" "${2:-}" "${3:-}"
