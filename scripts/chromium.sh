#!/usr/bin/env bash
# Debian's chromium and chromium-driver, for the tests that load the episode pages in a real browser.
# Installed with apt where missing (as root, or through sudo); nothing happens where both are present.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo -n"; else
  echo "error: chromium is missing and this user cannot install it (not root, no sudo):" >&2
  echo "       apt-get install chromium chromium-driver" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing Debian's chromium and chromium-driver (for the episode-page tests)..."
$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null
}
/usr/bin/chromium --version
