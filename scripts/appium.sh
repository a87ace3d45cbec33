#!/usr/bin/env bash
# Appium 3 with the fake driver (tests) and the UiAutomator2 driver (real phones), installed into
# the project folder .appium/ with APPIUM_HOME=.appium/home: nothing global. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
APPIUM_DIR=.appium
export APPIUM_HOME="$PWD/$APPIUM_DIR/home"
APPIUM="$APPIUM_DIR/node_modules/.bin/appium"
# Pinned, so CI and every machine test against the same server and drivers.
APPIUM_VERSION=3.8.0 FAKE_DRIVER=@appium/fake-driver@6.2.4 UIAUTOMATOR2=appium-uiautomator2-driver@8.7.0
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
if [ ! -x "$APPIUM" ]; then
  echo "installing appium@$APPIUM_VERSION into $APPIUM_DIR/"
  npm install --prefix "$APPIUM_DIR" --loglevel=error "appium@$APPIUM_VERSION"
fi
install_driver() {  # quiet unless it fails
  local out
  if ! out=$("$APPIUM" driver install "$@" 2>&1); then echo "$out" >&2; exit 1; fi
  grep -o "Driver .* successfully installed" <<<"$out" || true
}
installed=$("$APPIUM" driver list --installed --json 2>/dev/null || echo '{}')
grep -q '"fake"' <<<"$installed" || install_driver --source=npm "$FAKE_DRIVER"
grep -q '"uiautomator2"' <<<"$installed" || install_driver --source=npm "$UIAUTOMATOR2"
