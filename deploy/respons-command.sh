#!/bin/sh
# Installed as /usr/local/bin/respons (docs/operations.md): runs a `respons` command the way
# respons.service runs the server, as the respons user, with /etc/respons/respons.env and in
# /var/lib/respons, so a migration, a backup or a report by hand sees the same database and
# writes files the service may read.
set -eu

RESPONS_USER=respons
RESPONS_ENV_FILE=/etc/respons/respons.env
RESPONS_STATE=/var/lib/respons
RESPONS_BIN=/opt/respons/venv/bin/respons

if [ "$(id -un)" != "$RESPONS_USER" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "respons: run as root or as the $RESPONS_USER user" >&2
        exit 1
    fi
    exec runuser -u "$RESPONS_USER" -- "$0" "$@"
fi
set -a
. "$RESPONS_ENV_FILE"
set +a
cd "$RESPONS_STATE"
exec "$RESPONS_BIN" "$@"
