# Shared settings for the kernel-gpio scripts (sourced, not run).
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Downloads, extracted kernel, module, initramfs. Safe to delete; everything is rebuilt.
CACHE="${KGPIO_CACHE:-$HERE/.cache}"
# The repository whose claw node is tested (its node_modules must be installed):
# the one these scripts sit in (claw-node/test/kernel-gpio/), unless KGPIO_REPO
# names another checkout (then that checkout's own vm/ tests run).
REPO="${KGPIO_REPO:-$(cd "$HERE/../../.." && pwd)}"
[ -f "$REPO/claw-node/test/kernel-gpio/vm/main.sh" ] || { echo "KGPIO_REPO=$REPO: not a ClawGate checkout with claw-node/test/kernel-gpio" >&2; exit 1; }
# Debian bookworm's kernel series: the stock linux-image-amd64 (the only one whose
# image, headers and source are all in bookworm + bookworm-security at one version).
KSERIES="${KGPIO_KSERIES:-6.1}"
# The VM mounts its own /tmp, /run, /dev, /proc and /sys over the host's: the cache
# (which holds the VM's writable folder) must live elsewhere.
case "$CACHE/" in /tmp/*|/run/*|/dev/*|/proc/*|/sys/*) echo "KGPIO_CACHE=$CACHE: must not be under /tmp, /run, /dev, /proc or /sys" >&2; exit 1;; esac
mkdir -p "$CACHE"
log() { printf '[kernel-gpio %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# The ABI name (6.1.0-NN-amd64) is fixed when setup.sh first runs and kept in the cache,
# so a later point release on the mirror does not silently mix versions.
if [ -f "$CACHE/kver" ]; then KVER="$(cat "$CACHE/kver")"; else KVER=""; fi
