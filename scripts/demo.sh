#!/usr/bin/env bash
# Set up everything, then run `podium demo` on its embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/podium demo "$@"
