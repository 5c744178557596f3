#!/bin/sh
# Cut a distroless root filesystem out of installed Debian packages, as chisel does for the
# official images: a merged-/usr skeleton, the packages' shared libraries (the *_libs slices),
# their copyright files, the zoneinfo of tzdata, the CA bundle, os-release, root and app in
# passwd/group, /home/app; then what scanners read: the packages' dpkg records in one status file,
# /var/lib/dpkg/status (what chisel-wrapper --generate-dpkg-status writes for the official images), and
# chisel's manifest, /var/lib/chisel/manifest.wall (jsonwall, zstd).
# Run where apt's lists are still present: the manifest names each package's .deb digest.
# Usage: cut-rootfs ROOTFS PACKAGE...
set -eu
rootfs=$1
shift
taken=$(mktemp)

mkdir -p "$rootfs"
cd "$rootfs"
mkdir -p usr/bin usr/lib usr/lib64 usr/sbin etc/ssl/certs root home tmp run var/lib/dpkg var/lib/chisel \
    usr/lib/ssl
ln -s usr/bin bin
ln -s usr/lib lib
ln -s usr/lib64 lib64
ln -s usr/sbin sbin
chmod 1777 tmp
chmod 0700 root

# take PATH SLICE: copy a file or link of this system into the rootfs, noting the slice it belongs to
take() {
    cp -a --parents "$1" .
    printf '%s\t%s\n' "$1" "$2" >> "$taken"
}

for package in "$@"; do
    dpkg-query -L "$package" | while read -r path; do
        if [ -d "$path" ] && [ ! -L "$path" ]; then continue; fi
        case "$path" in
            */gconv/*) ;;
            /lib/*.so|/lib/*.so.*|/lib64/*.so.*|/usr/lib/*.so|/usr/lib/*.so.*|/usr/lib64/*.so.*)
                take "$path" "${package}_libs" ;;
            /usr/share/zoneinfo/*) take "$path" "${package}_zoneinfo" ;;
            "/usr/share/doc/$package/copyright") take "$path" "${package}_copyright" ;;
        esac
    done
    dpkg-query -s "$package" >> var/lib/dpkg/status
    echo >> var/lib/dpkg/status
done

# ca-certificates_data: the generated bundle; openssl_data: where OpenSSL looks for it
take /etc/ssl/certs/ca-certificates.crt ca-certificates_data
ln -s /etc/ssl/certs usr/lib/ssl/certs
ln -s /etc/ssl/certs/ca-certificates.crt usr/lib/ssl/cert.pem
take /etc/ssl/openssl.cnf openssl_data
for link in /usr/lib/ssl/certs /usr/lib/ssl/cert.pem; do printf '%s\topenssl_data\n' "$link" >> "$taken"; done
# base-files_release-info
for path in /etc/os-release /usr/lib/os-release /etc/debian_version; do take "$path" base-files_release-info; done

# cp --parents leaves the folders it creates through the lib -> usr/lib link as 0700
find usr etc var -type d -exec chmod 0755 {} +

grep -E '^(root|app):' /etc/passwd > etc/passwd
grep -E '^(root|app):' /etc/group > etc/group
install -d -m 0755 -o "$APP_UID" -g "$APP_UID" home/app

# The manifest (chisel's public/manifest schema 1.0): package, slice, path and content entries,
# sorted, after a header that counts itself; the manifest is a path of base-files_chisel.
manifest=/var/lib/chisel/manifest.wall
printf '%s\tbase-files_chisel\n' "$manifest" >> "$taken"
: > "${rootfs%/}$manifest"
entries=$(mktemp)
for package in "$@"; do
    version=$(dpkg-query -W -f '${Version}' "$package")
    arch=$(dpkg-query -W -f '${Architecture}' "$package")
    digest=$(apt-cache show "$package=$version" | sed -n 's/^SHA256: //p' | head -n 1)
    printf '{"kind":"package","name":"%s","version":"%s","sha256":"%s","arch":"%s"}\n' \
        "$package" "$version" "$digest" "$arch"
done > "$entries"
cut -f 2 "$taken" | sort -u | while read -r slice; do
    printf '{"kind":"slice","name":"%s"}\n' "$slice"
done >> "$entries"
while IFS="$(printf '\t')" read -r path slice; do
    printf '{"kind":"content","slice":"%s","path":"%s"}\n' "$slice" "$path"
    mode=0$(stat -c %a ".$path")
    if [ -L ".$path" ]; then
        printf '{"kind":"path","path":"%s","mode":"%s","slices":["%s"],"link":"%s"}\n' \
            "$path" "$mode" "$slice" "$(readlink ".$path")"
    elif [ "$path" = "$manifest" ]; then
        printf '{"kind":"path","path":"%s","mode":"%s","slices":["%s"]}\n' "$path" "$mode" "$slice"
    else
        printf '{"kind":"path","path":"%s","mode":"%s","slices":["%s"],"sha256":"%s","size":%s}\n' \
            "$path" "$mode" "$slice" "$(sha256sum ".$path" | cut -d ' ' -f 1)" "$(stat -c %s ".$path")"
    fi
done < "$taken" >> "$entries"
{
    printf '{"jsonwall":"1.0","schema":"1.0","count":%s}\n' "$(($(wc -l < "$entries") + 1))"
    LC_ALL=C sort "$entries"
} | zstd -q -19 > ".$manifest"
rm -f "$taken" "$entries"
