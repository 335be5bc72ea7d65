#!/bin/bash
# Installs what the VM test needs from Debian's packages and unpacks the kernel
# image and the gpio-sim sources into the cache (the host's kernel is never
# touched: the image is extracted, not installed). Idempotent.
set -euo pipefail
. "$(dirname "$0")/env.sh"

need_pkgs=(qemu-system-x86 busybox-static cpio xz-utils make gcc libgpiod-dev gpiod)
missing=()
for p in "${need_pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done

if [ -z "$KVER" ]; then
  # First run with this cache: fresh lists, so the kernel we pin is one the mirror
  # still has (it keeps only the newest ABI).
  log "apt-get update"; apt-get update -qq
  KVER="$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: linux-image-\(.*\)$/\1/p' | head -1)"
  [ -n "$KVER" ] || die "cannot tell which kernel linux-image-amd64 is"
  case "$KVER" in "$KSERIES".*) ;; *) die "linux-image-amd64 is $KVER, not the $KSERIES series these scripts expect";; esac
  echo "$KVER" > "$CACHE/kver"
fi
dpkg-query -W -f='${Status}' "linux-headers-$KVER" 2>/dev/null | grep -q 'ok installed' || missing+=("linux-headers-$KVER")

if [ "${#missing[@]}" -gt 0 ]; then
  apt-cache show "${missing[@]}" >/dev/null 2>&1 || { log "apt-get update"; apt-get update -qq; }
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$CACHE/apt-install.log" 2>&1 \
    || { tail -20 "$CACHE/apt-install.log"; die "apt-get install failed"; }
fi

mkdir -p "$CACHE/debs"
fetch() { # fetch PACKAGE -> prints the .deb path (downloaded once)
  local f; f="$(ls "$CACHE/debs/$1"_*.deb 2>/dev/null | head -1 || true)"
  if [ -z "$f" ]; then
    log "apt-get download $1"
    (cd "$CACHE/debs" && apt-get download -q "$1" 2>&1 | grep -v 'unsandboxed' >&2 || true)
    f="$(ls "$CACHE/debs/$1"_*.deb 2>/dev/null | head -1 || true)"
    [ -n "$f" ] || die "could not download $1"
  fi
  echo "$f"
}

# The kernel image and its modules, unpacked (not installed).
if [ ! -f "$CACHE/image/boot/vmlinuz-$KVER" ] || [ ! -f "$CACHE/image/version" ]; then
  deb="$(fetch "linux-image-$KVER")"
  rm -rf "$CACHE/image.tmp"; mkdir -p "$CACHE/image.tmp"
  dpkg-deb -x "$deb" "$CACHE/image.tmp"
  dpkg-deb -f "$deb" Version > "$CACHE/image.tmp/version"
  rm -rf "$CACHE/image"; mv "$CACHE/image.tmp" "$CACHE/image"
  rm -f "$deb"
fi
imgver="$(cat "$CACHE/image/version")"

# The few source files the module needs, from the linux-source of the same version.
SRC="$CACHE/src/linux-source-$KSERIES"
if [ ! -f "$SRC/drivers/gpio/gpio-sim.c" ]; then
  deb="$(fetch "linux-source-$KSERIES")"
  srcver="$(dpkg-deb -f "$deb" Version)"
  [ "$srcver" = "$imgver" ] || die "linux-source-$KSERIES is $srcver but linux-image-$KVER is $imgver: delete $CACHE and run again once the mirror has both at one version"
  log "extracting gpio-sim sources from linux-source-$KSERIES $srcver"
  rm -rf "$CACHE/src"; mkdir -p "$CACHE/src"
  dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/linux-source-$KSERIES.tar.xz" \
    | tar -xJ -C "$CACHE/src" \
      "linux-source-$KSERIES/drivers/gpio/gpio-sim.c" "linux-source-$KSERIES/drivers/gpio/gpiolib.h" \
      "linux-source-$KSERIES/kernel/irq/irq_sim.c" "linux-source-$KSERIES/include/uapi/linux/gpio.h" \
      "linux-source-$KSERIES/tools/gpio"
  rm -f "$deb"   # 139 MB, and only these few files were needed
fi
log "setup: kernel $KVER ($imgver), qemu $(qemu-system-x86_64 --version | head -1 | awk '{print $4}')"
