#!/usr/bin/env bash
# Builds sample/solaris-root.cpio.gz: a tiny tree shaped like a Solaris 10 root, archived by
# GNU cpio (-H newc, the format of Solaris `cpio -c` and of flash archives) and compressed by
# gzip. Real tools make it so the quick start exercises a real archive. Run as root so owners
# (root, bin, sys) and the device node are recorded; deterministic (fixed mtimes, sorted list).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
r="$work/root"
mkdir -p "$r"/{etc/default,etc/inet,usr/bin,usr/sbin,usr/lib,var/adm,var/svc/profile,dev,tmp,export/home}
printf 'root:x:0:0:Super-User:/:/sbin/sh\ndaemon:x:1:1::/:\nbin:x:2:2::/usr/bin:\nsys:x:3:3::/:\n' > "$r/etc/passwd"
printf 'root::0:\nother::1:root\nbin::2:root,daemon\nsys::3:root,bin,adm\n' > "$r/etc/group"
printf 'sample-host\n' > "$r/etc/nodename"
printf '127.0.0.1\tlocalhost\n192.0.2.10\tsample-host loghost\n' > "$r/etc/inet/hosts"
ln -s ./inet/hosts "$r/etc/hosts"
printf '#device\tdevice\tmount\tFS\tfsck\tmount\tmount\n/dev/dsk/c0t0d0s0\t/dev/rdsk/c0t0d0s0\t/\tufs\t1\tno\t-\n' > "$r/etc/vfstab"
printf 'TZ=US/Pacific\nCMASK=022\n' > "$r/etc/default/init"
for tool in ls cat cp mv grep; do head -c $((20000 + ${#tool} * 3000)) /dev/zero | tr '\0' "${tool:0:1}" > "$r/usr/bin/$tool"; done
printf '#!/sbin/sh\necho passwd\n' > "$r/usr/bin/passwd"
chmod 4555 "$r/usr/bin/passwd"
ln "$r/usr/bin/cp" "$r/usr/bin/ln"
ln "$r/usr/bin/cp" "$r/usr/bin/mv2"
ln -s ../usr/bin "$r/bin-rel"
ln -s /usr/bin "$r/bin"
printf 'lib\n' > "$r/usr/lib/libc.so.1"
ln -s libc.so.1 "$r/usr/lib/libc.so"
: > "$r/var/adm/messages"
printf '<?xml version="1.0"?>\n<service_bundle type="profile" name="generic"/>\n' > "$r/var/svc/profile/generic.xml"
chmod 1777 "$r/tmp"
mkfifo "$r/etc/initpipe"
if [ "$(id -u)" = 0 ]; then
  mknod "$r/dev/null" c 13 2
  chown -R 2:2 "$r/usr/bin"; chown 0:3 "$r/usr/bin/passwd"; chmod 4555 "$r/usr/bin/passwd"; chown 3:3 "$r/var/adm"
fi
find "$r" -depth -exec touch -h -d '2009-10-08 12:00:00 UTC' {} +
touch -d '2011-01-02 03:04:05 UTC' "$r/etc/passwd"
mkdir -p "$here/sample"
(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9n > "$here/sample/solaris-root.cpio.gz")
echo "wrote sample/solaris-root.cpio.gz ($(wc -c < "$here/sample/solaris-root.cpio.gz") bytes)"
