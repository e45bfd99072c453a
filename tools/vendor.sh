#!/usr/bin/env bash
# Re-vendors the front-end packages from the npm registry into static/vendor.
# The files are committed: the portal never needs npm or the internet at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
HTMX=2.0.11
BOOTSTRAP=5.3.9
ECHARTS=6.1.0
AXE=4.14.1   # axe-core: a test tool, vendored under tests/vendor (never served to users)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fetch() { (cd "$work" && npm pack --silent "$1@$2" >/dev/null && mkdir -p "$1" && tar -xzf "$1"-*.tgz -C "$1" && rm "$1"-*.tgz); }
fetch htmx.org "$HTMX"; fetch bootstrap "$BOOTSTRAP"; fetch echarts "$ECHARTS"; fetch axe-core "$AXE"
rm -rf static/vendor && mkdir -p static/vendor/htmx static/vendor/bootstrap static/vendor/echarts
cp "$work/htmx.org/package/dist/htmx.min.js" static/vendor/htmx/
cp "$work/htmx.org/package/LICENSE" static/vendor/htmx/
cp "$work/bootstrap/package/dist/css/bootstrap.min.css" "$work/bootstrap/package/dist/js/bootstrap.bundle.min.js" static/vendor/bootstrap/
cp "$work/bootstrap/package/LICENSE" static/vendor/bootstrap/
cp "$work/echarts/package/dist/echarts.min.js" "$work/echarts/package/i18n/langZH.js" static/vendor/echarts/
cp "$work/echarts/package/LICENSE" static/vendor/echarts/
rm -rf tests/vendor/axe-core && mkdir -p tests/vendor/axe-core
cp "$work/axe-core/package/axe.min.js" "$work/axe-core/package/LICENSE" tests/vendor/axe-core/
sed -i '/sourceMappingURL/d' static/vendor/*/*.js static/vendor/*/*.css
cat > static/vendor/VERSIONS.txt <<TXT
# Vendored from the npm registry by tools/vendor.sh; never loaded from a CDN.
htmx.org $HTMX   (2.x line, pinned; npm 'latest' is 4.x)
bootstrap $BOOTSTRAP
echarts $ECHARTS   (with i18n/langZH.js)
axe-core $AXE   (test tool: tests/vendor/axe-core/axe.min.js, never served)
TXT
( cd static/vendor && sha256sum */*.js */*.css >> VERSIONS.txt )
( cd tests/vendor && sha256sum axe-core/axe.min.js | sed 's|  |  ../../tests/vendor/|' >> ../../static/vendor/VERSIONS.txt )
