#!/usr/bin/env bash
# Set up podium on a fresh machine: a virtual environment in .venv with podium (every extra) and its
# test tools, Debian's chromium for the episode-page tests, and Appium in .appium/ for the phone tests.
# Idempotent: re-running only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "podium needs Python >= 3.11"'
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, pinned: on machines of this kind 2.13.0 is a local CPU build; anything else would
# pull a multi-GB CUDA build. With it in place, podium's `torch>=2.3` installs nothing more.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[all,dev]"
# A real browser for the episode-page tests (Debian's chromium, through apt where missing).
bash scripts/chromium.sh
# Appium for the phone tests (a real server with the fake and UiAutomator2 drivers), if node is here.
if command -v node >/dev/null && command -v npm >/dev/null; then
  bash scripts/appium.sh
else
  echo "note: node and npm are not installed, so Appium is not either: the Appium tests will skip"
fi
