#!/usr/bin/env bash
# Re-vendors the front-end packages from the npm registry into static/vendor.
# The files are committed: the portal never needs npm or the internet at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
HTMX=2.0.11
BOOTSTRAP=5.3.9
ECHARTS=6.1.0
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fetch() { (cd "$work" && npm pack --silent "$1@$2" >/dev/null && mkdir -p "$1" && tar -xzf "$1"-*.tgz -C "$1" && rm "$1"-*.tgz); }
fetch htmx.org "$HTMX"; fetch bootstrap "$BOOTSTRAP"; fetch echarts "$ECHARTS"
rm -rf static/vendor && mkdir -p static/vendor/htmx static/vendor/bootstrap static/vendor/echarts
cp "$work/htmx.org/package/dist/htmx.min.js" static/vendor/htmx/
cp "$work/htmx.org/package/LICENSE" static/vendor/htmx/
cp "$work/bootstrap/package/dist/css/bootstrap.min.css" "$work/bootstrap/package/dist/js/bootstrap.bundle.min.js" static/vendor/bootstrap/
cp "$work/bootstrap/package/LICENSE" static/vendor/bootstrap/
cp "$work/echarts/package/dist/echarts.min.js" "$work/echarts/package/i18n/langZH.js" static/vendor/echarts/
cp "$work/echarts/package/LICENSE" static/vendor/echarts/
sed -i '/sourceMappingURL/d' static/vendor/*/*.js static/vendor/*/*.css
cat > static/vendor/VERSIONS.txt <<TXT
# Vendored from the npm registry by tools/vendor.sh; never loaded from a CDN.
htmx.org $HTMX   (2.x line, pinned; npm 'latest' is 4.x)
bootstrap $BOOTSTRAP
echarts $ECHARTS   (with i18n/langZH.js)
TXT
( cd static/vendor && sha256sum */*.js */*.css >> VERSIONS.txt )
