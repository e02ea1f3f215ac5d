#!/usr/bin/env bash
# The two everyday commands of the project. Each first runs scripts/install.sh (quick when
# everything is in place), then:
#   bash scripts/advex.sh site [--scale smoke|course|full|paper] [--only TEXT] [--out DIR] ...
#       executes the notebooks and writes the HTML course site (default: site/, scale course)
#   bash scripts/advex.sh test [deno test arguments]
#       runs the test suite, including the headless-browser check of the exported site
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  cat <<'EOF'
usage: bash scripts/advex.sh <command> [arguments]

commands:
  site [--scale smoke|course|full|paper] [--only TEXT] [--out DIR] [--export-only] [--force]
        [--timeout SECONDS]
        execute notebooks/*.ipynb and export the HTML course site (default scale: course, out: site/)
  test [deno test arguments]
        run the test suite
EOF
}

command="${1:-}"
case "$command" in
  site | test) shift ;;
  -h | --help | help)
    usage
    exit 0
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac

bash "$ROOT/scripts/install.sh"

# shellcheck source=/dev/null
. "$ROOT/.cache/advex/env"
export DENO_DIR
export DENO_NO_UPDATE_CHECK=1
PATH="$(dirname "$ADVEX_DENO_BIN"):$PATH"
export PATH

cd "$ROOT"
case "$command" in
  site) exec "$ADVEX_DENO_BIN" task site "$@" ;;
  test) exec "$ADVEX_DENO_BIN" task test "$@" ;;
esac
