#!/bin/bash
# Builds gpio-sim.ko (only that module) out of tree for the Debian kernel in
# $KVER: the driver source and the IRQ simulator it needs (Debian's config has
# neither CONFIG_GPIO_SIM nor CONFIG_IRQ_SIM) come from the matching
# linux-source package, the build system from linux-headers-$KVER.
# Cached: does nothing when $CACHE/gpio-sim/gpio-sim.ko is newer than its inputs.
set -euo pipefail
. "$(dirname "$0")/env.sh"

SRC="$CACHE/src/linux-source-$KSERIES"
OUT="$CACHE/gpio-sim"
KO="$OUT/gpio-sim.ko"
if [ -f "$KO" ] && [ "$KO" -nt "$SRC/drivers/gpio/gpio-sim.c" ] && [ "$KO" -nt "$0" ]; then
  log "module: cached $KO"; exit 0
fi
[ -d "/usr/src/linux-headers-$KVER" ] || die "linux-headers-$KVER is not installed (run scripts/setup.sh)"
rm -rf "$OUT"; mkdir -p "$OUT"
# gpio-sim.c becomes gpio-sim-core.c so the module (two objects) can keep the name gpio-sim.
cp "$SRC/drivers/gpio/gpio-sim.c" "$OUT/gpio-sim-core.c"
cp "$SRC/drivers/gpio/gpiolib.h" "$OUT/"      # gpio-sim reads struct gpio_device/gpio_desc flags
# irq_sim.c calls handle_simple_irq(irq_to_desc(n)); irq_to_desc is not exported to
# modules, and generic_handle_irq(n) does the same for this domain (its handler is
# handle_simple_irq, set in irq_sim_domain_map).
sed 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' "$SRC/kernel/irq/irq_sim.c" > "$OUT/irq_sim.c"
grep -q 'generic_handle_irq(irqnum);' "$OUT/irq_sim.c" || die "irq_sim.c changed upstream: the irq_to_desc patch no longer applies"
cat > "$OUT/Kbuild" <<'KB'
obj-m := gpio-sim.o
gpio-sim-y := gpio-sim-core.o irq_sim.o
KB
log "module: building gpio-sim.ko against /usr/src/linux-headers-$KVER"
make -s -C "/lib/modules/$KVER/build" M="$OUT" modules >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; die "module build failed"; }
# modpost warns (does not fail) on symbols the kernel does not export: treat that as an error.
if grep -q 'undefined!' "$OUT/build.log"; then cat "$OUT/build.log"; die "gpio-sim.ko uses symbols the kernel does not export"; fi
tr "\\0" "\\n" < "$KO" | grep -aE "^(vermagic|depends)=" | sed "s/^/  /"
log "module: built $KO"
