#!/usr/bin/env bash
# Sets up everything advex needs on a Debian machine that has Node.js and npm:
#   - deno (exact version, from npm),
#   - Jupyter with nbconvert/nbclient/ipykernel and headless Chromium (from apt),
#   - a C compiler and OpenBLAS (from apt), and the native CPU kernels built with them,
#   - the project's npm dependencies (deno install),
#   - the project-local Jupyter kernel "advex" in .cache/jupyter/kernels/advex.
# Safe to re-run: every step is skipped when its result is already in place, and a
# re-run needs no network access.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DENO_VERSION="2.9.6"
APT_PACKAGES=(jupyter-notebook jupyter-nbconvert python3-nbclient python3-ipykernel jupyter-client chromium
  gcc libc6-dev libopenblas0-pthread)
KERNEL_TEMPLATE="$ROOT/jupyter/kernel.template.json"
KERNEL_DIR="$ROOT/.cache/jupyter/kernels/advex"
ENV_FILE="$ROOT/.cache/advex/env"

say() { printf '[install] %s\n' "$*"; }
die() {
  printf '[install] error: %s\n' "$*" >&2
  exit 1
}

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
  else
    die "need root for: $* (run as root or install sudo)"
  fi
}

deno_version_of() { "$1" --version 2>/dev/null | awk 'NR == 1 { print $2 }'; }

# --- deno ---------------------------------------------------------------------------
DENO_BIN="$(command -v deno || true)"
if [ -n "$DENO_BIN" ] && [ "$(deno_version_of "$DENO_BIN")" = "$DENO_VERSION" ]; then
  say "deno $DENO_VERSION present: $DENO_BIN"
else
  command -v npm >/dev/null 2>&1 || die "npm not found; install Node.js and npm first"
  if [ -n "$DENO_BIN" ]; then
    say "found deno $(deno_version_of "$DENO_BIN" || echo '?') at $DENO_BIN, need $DENO_VERSION"
  fi
  NPM_PREFIX="$(npm prefix -g)"
  say "installing deno@$DENO_VERSION with npm into $NPM_PREFIX"
  if [ -w "$NPM_PREFIX/lib" ] || { [ ! -e "$NPM_PREFIX/lib" ] && [ -w "$NPM_PREFIX" ]; }; then
    npm install -g --no-fund --no-audit "deno@$DENO_VERSION"
  else
    as_root npm install -g --no-fund --no-audit "deno@$DENO_VERSION"
  fi
  DENO_BIN="$NPM_PREFIX/bin/deno"
  [ -x "$DENO_BIN" ] || die "npm did not install $DENO_BIN"
  got="$(deno_version_of "$DENO_BIN")"
  [ "$got" = "$DENO_VERSION" ] || die "$DENO_BIN reports version '$got', expected $DENO_VERSION"
  say "deno $DENO_VERSION installed: $DENO_BIN"
fi
case "$DENO_BIN" in
  /*) ;;
  *) DENO_BIN="$(cd "$(dirname "$DENO_BIN")" && pwd)/$(basename "$DENO_BIN")" ;;
esac

# --- Jupyter and Chromium (Debian packages) ---------------------------------------------
missing=()
[ -x /usr/bin/jupyter ] || missing+=("/usr/bin/jupyter")
[ -x /usr/bin/jupyter-nbconvert ] || missing+=("/usr/bin/jupyter-nbconvert")
if [ -x /usr/bin/python3 ]; then
  missing_modules="$(/usr/bin/python3 -c '
import importlib.util
print(" ".join(m for m in ("nbconvert", "nbclient", "ipykernel", "jupyter_client") if importlib.util.find_spec(m) is None))
' 2>/dev/null || echo "nbconvert nbclient ipykernel jupyter_client")"
  for module in $missing_modules; do missing+=("python module $module"); done
else
  missing+=("/usr/bin/python3")
fi
[ -x /usr/bin/chromium ] || missing+=("/usr/bin/chromium")
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || missing+=("a C compiler")
[ -f /usr/include/dlfcn.h ] || missing+=("libc headers")
ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\.0' || missing+=("OpenBLAS")

if [ "${#missing[@]}" -eq 0 ]; then
  say "jupyter, nbconvert, nbclient, ipykernel, chromium, a C compiler and OpenBLAS present"
else
  say "missing: ${missing[*]}"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install these by hand: ${APT_PACKAGES[*]}"
  say "apt-get update"
  as_root apt-get update
  say "apt-get install ${APT_PACKAGES[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"
  if [ ! -x /usr/bin/jupyter ] || [ ! -x /usr/bin/chromium ]; then
    die "apt-get finished but jupyter or chromium is still missing"
  fi
fi

# --- npm dependencies of the project --------------------------------------------------
say "deno install (npm dependencies into node_modules/)"
(cd "$ROOT" && "$DENO_BIN" install --quiet)

# --- native CPU kernels (native/*.c; optional: the wasm kernels work without) -------------------
if (cd "$ROOT" && "$DENO_BIN" run -A --cached-only tools/build_native.ts); then
  :
else
  say "warning: the native kernels could not be built; training and attacks run on the wasm kernels"
fi

# --- the bundler ------------------------------------------------------------------------------
# `deno bundle` (the playground page's script) fetches its esbuild binary from the npm registry on first use;
# bundling one tiny file here brings it into Deno's cache, so that site builds work offline afterwards.
bundle_probe="$(mktemp -d)"
printf 'export const x = 1;\n' >"$bundle_probe/probe.ts"
if (cd "$ROOT" && "$DENO_BIN" bundle --quiet --output "$bundle_probe/out.js" "$bundle_probe/probe.ts" >/dev/null 2>&1); then
  :
else
  say "warning: deno bundle could not fetch its esbuild binary; the site's playground page will not build offline"
fi
rm -rf "$bundle_probe"

# --- project-local Jupyter kernel -------------------------------------------------------
DENO_DIR_RESOLVED="$(cd "$ROOT" && "$DENO_BIN" info --json 2>/dev/null |
  sed -n 's/^ *"denoDir": *"\(.*\)",\{0,1\} *$/\1/p' | head -n 1)"
[ -n "$DENO_DIR_RESOLVED" ] || die "could not read denoDir from 'deno info --json'"

# Escapes a value for the replacement side of a sed s||| command.
sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

mkdir -p "$KERNEL_DIR" "$(dirname "$ENV_FILE")"
kernel_json="$(sed -e "s|@DENO_BIN@|$(sed_escape "$DENO_BIN")|g" \
  -e "s|@DENO_DIR@|$(sed_escape "$DENO_DIR_RESOLVED")|g" "$KERNEL_TEMPLATE")"
if [ -f "$KERNEL_DIR/kernel.json" ] && [ "$(cat "$KERNEL_DIR/kernel.json")" = "$kernel_json" ]; then
  say "kernel 'advex' up to date: $KERNEL_DIR/kernel.json"
else
  printf '%s\n' "$kernel_json" >"$KERNEL_DIR/kernel.json.$$.tmp"
  mv -f "$KERNEL_DIR/kernel.json.$$.tmp" "$KERNEL_DIR/kernel.json"
  say "wrote kernel 'advex' (Deno (advex), DENO_DIR=$DENO_DIR_RESOLVED): $KERNEL_DIR/kernel.json"
fi

# Settings for scripts/advex.sh, so that it runs the same deno with the same cache.
env_text="$(printf 'ADVEX_DENO_BIN=%q\nDENO_DIR=%q\n' "$DENO_BIN" "$DENO_DIR_RESOLVED")"
if [ ! -f "$ENV_FILE" ] || [ "$(cat "$ENV_FILE")" != "$env_text" ]; then
  printf '%s\n' "$env_text" >"$ENV_FILE.$$.tmp"
  mv -f "$ENV_FILE.$$.tmp" "$ENV_FILE"
fi
say "ready"
