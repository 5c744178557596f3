#!/bin/sh
# Cut a distroless root filesystem out of installed Debian packages, as chisel does for the
# official images: a merged-/usr skeleton, the packages' shared libraries (the *_libs slices),
# the CA bundle, os-release, root and app in passwd/group, /home/app, and a dpkg status file
# so image scanners still see the packages.
# Usage: cut-rootfs ROOTFS PACKAGE...
set -eu
rootfs=$1
shift

mkdir -p "$rootfs"
cd "$rootfs"
mkdir -p usr/bin usr/lib usr/lib64 usr/sbin etc/ssl/certs root home tmp run var/lib/dpkg usr/lib/ssl
ln -s usr/bin bin
ln -s usr/lib lib
ln -s usr/lib64 lib64
ln -s usr/sbin sbin
chmod 1777 tmp
chmod 0700 root

for package in "$@"; do
    dpkg-query -L "$package" | while read -r path; do
        case "$path" in
            */gconv/*) ;;
            /lib/*.so|/lib/*.so.*|/lib64/*.so.*|/usr/lib/*.so|/usr/lib/*.so.*|/usr/lib64/*.so.*)
                if [ -f "$path" ] || [ -L "$path" ]; then cp -a --parents "$path" .; fi ;;
        esac
    done
    dpkg-query -s "$package" >> var/lib/dpkg/status
    echo >> var/lib/dpkg/status
done

# ca-certificates_data: the generated bundle, and where OpenSSL looks for it
cp -a /etc/ssl/certs/ca-certificates.crt etc/ssl/certs/
ln -s /etc/ssl/certs usr/lib/ssl/certs
ln -s /etc/ssl/certs/ca-certificates.crt usr/lib/ssl/cert.pem
# base-files_release-info
cp -a --parents /etc/os-release /usr/lib/os-release /etc/debian_version .

# cp --parents leaves the folders it creates through the lib -> usr/lib link as 0700
find usr etc var -type d -exec chmod 0755 {} +

grep -E '^(root|app):' /etc/passwd > etc/passwd
grep -E '^(root|app):' /etc/group > etc/group
install -d -m 0755 -o "$APP_UID" -g "$APP_UID" home/app
