#!/bin/sh
# install-deps.sh - the Debian 12 packages needed to build stsguard and run
# every test (as root). MTA packages are never installed: the tests fetch
# them with apt-get download and unpack them into the build tree.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
	cmake ninja-build gcc clang libclang-rt-14-dev pkg-config make \
	libssl-dev libldns-dev libcurl4-openssl-dev zlib1g-dev \
	nsd unbound nginx ldnsutils iproute2 openssl ca-certificates curl \
	valgrind procps jq \
	libmilter-dev m4 libwrap0 liblockfile1 libopendkim-dev python3-dkim \
	groff-base systemd dpkg-dev debhelper fakeroot lintian rpm
# libmilter-dev builds stsguard-milter; m4, libwrap0 and liblockfile1 are what
# the unpacked (never installed) Debian sendmail needs in tests/world/test_sendmail.sh.
# groff-base and systemd (systemd-analyze) check the manual pages and units
# (tests/lint); dpkg-dev, debhelper, fakeroot and lintian build and check the
# Debian packages (tests/packaging/test_deb.sh); rpm checks packaging/rpm.
