#!/bin/bash
# Builds the VM's initramfs: busybox-static, /init (guest/init) and the kernel
# modules the guest needs (with their dependencies, in load order). Everything
# else (node, node_modules, the repo, the test scripts) is read from the host
# over virtio-9p at run time, so changing a test does not rebuild this.
# Cached: rebuilt only when an input is newer than the archive.
set -euo pipefail
. "$(dirname "$0")/env.sh"
[ -n "$KVER" ] || die "run scripts/setup.sh first"

OUT="$CACHE/initramfs.cpio.gz"
MODROOT="$CACHE/image/lib/modules/$KVER"
KO="$CACHE/gpio-sim/gpio-sim.ko"
INIT="$HERE/guest/init"
# 9p over virtio-pci for the host's filesystem; configfs + gpio-sim for the chip.
WANT=(virtio_pci 9pnet_virtio 9p configfs)

if [ -f "$OUT" ] && [ "$OUT" -nt "$KO" ] && [ "$OUT" -nt "$INIT" ] && [ "$OUT" -nt "$CACHE/image/version" ] && [ "$OUT" -nt "$0" ] && [ "$OUT" -nt /bin/busybox ]; then
  log "initramfs: cached $OUT"; exit 0
fi
[ -f "$KO" ] || die "build the module first (scripts/build-module.sh)"

# module name (dashes as underscores) -> file
declare -A FILE
while IFS= read -r f; do n="${f##*/}"; n="${n%.ko}"; FILE["${n//-/_}"]="$f"; done < <(find "$MODROOT/kernel" -name '*.ko')
FILE[gpio_sim]="$KO"
depends() { tr '\0' '\n' < "$1" | sed -n 's/^depends=//p' | tr ',' ' '; }
declare -A SEEN; ORDER=()
visit() { # depth-first: dependencies before the module
  local n="${1//-/_}"
  [ -n "${SEEN[$n]:-}" ] && return 0
  SEEN[$n]=1
  [ -n "${FILE[$n]:-}" ] || die "module $n not found in $MODROOT"
  local d; for d in $(depends "${FILE[$n]}"); do visit "$d"; done
  ORDER+=("$n")
}
for m in "${WANT[@]}" gpio_sim; do visit "$m"; done

ROOT="$CACHE/initramfs.d"
rm -rf "$ROOT"; mkdir -p "$ROOT"/{bin,dev,proc,sys,host,lib/modules}
cp /bin/busybox "$ROOT/bin/busybox"
cp "$INIT" "$ROOT/init"; chmod 755 "$ROOT/init"
for n in "${ORDER[@]}"; do cp "${FILE[$n]}" "$ROOT/lib/modules/$n.ko"; echo "$n" >> "$ROOT/lib/modules/load-order"; done
log "initramfs: modules ${ORDER[*]}"
(cd "$ROOT" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "initramfs: built $OUT ($(du -h "$OUT" | cut -f1))"
