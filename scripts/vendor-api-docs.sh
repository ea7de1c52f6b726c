#!/bin/sh
# Refresh the vendored API documentation pages (Swagger UI at /docs, ReDoc at /redoc).
# They are committed, not fetched at run time: a response centre's network is often closed.
# Run by hand when upgrading; needs npm (the npm registry) and writes src/respons/web/static/vendor/.
set -eu

SWAGGER_UI_VERSION=5.35.0
REDOC_VERSION=2.5.4

here=$(cd "$(dirname "$0")/.." && pwd)
vendor="$here/src/respons/web/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "swagger-ui-dist@$SWAGGER_UI_VERSION" >/dev/null
npm pack --silent "redoc@$REDOC_VERSION" >/dev/null
mkdir swagger redoc
tar -xzf "swagger-ui-dist-$SWAGGER_UI_VERSION.tgz" -C swagger
tar -xzf "redoc-$REDOC_VERSION.tgz" -C redoc

# The source map comment would make a browser's developer tools ask for a file we do not ship.
sed '/^\/\/# sourceMappingURL=/d' swagger/package/swagger-ui-bundle.js > "$vendor/swagger-ui-bundle.js"
sed '/^\/\*# sourceMappingURL=.*\*\/$/d' swagger/package/swagger-ui.css > "$vendor/swagger-ui.css"
cp swagger/package/LICENSE "$vendor/swagger-ui.LICENSE"
cp swagger/package/NOTICE "$vendor/swagger-ui.NOTICE"
# ReDoc's sidebar shows its maker's logo from a CDN: point it at our own icon instead (the
# pages also carry a Content-Security-Policy that allows this server only; web/api_docs.py).
sed -e '/^\/\/# sourceMappingURL=/d' -e 's#https://cdn\.redoc\.ly/redoc/logo-mini\.svg#/static/icon.svg#g' \
    redoc/package/bundles/redoc.standalone.js > "$vendor/redoc.standalone.js"
cp redoc/package/LICENSE "$vendor/redoc.LICENSE"
if [ -f redoc/package/bundles/redoc.standalone.js.LICENSE.txt ]; then
    cp redoc/package/bundles/redoc.standalone.js.LICENSE.txt "$vendor/redoc.standalone.js.LICENSE.txt"
fi
printf 'swagger-ui-dist %s\nredoc %s\n' "$SWAGGER_UI_VERSION" "$REDOC_VERSION" > "$vendor/api-docs.VERSIONS"
echo "Vendored swagger-ui-dist $SWAGGER_UI_VERSION and redoc $REDOC_VERSION into $vendor"
