#!/bin/bash
# Tears down what run.sh leaves: the cache (kernel, module, initramfs, VM results).
# With --purge also the apt packages setup.sh installed for the VM (qemu, busybox,
# the kernel headers); libgpiod-dev and gpiod stay (the repo's own build needs them).
set -euo pipefail
. "$(dirname "$0")/env.sh"
if [ "${1:-}" = --purge ] && [ -n "$KVER" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq qemu-system-x86 busybox-static "linux-headers-$KVER" >/dev/null
fi
rm -rf "$CACHE"
log "removed $CACHE"
