#!/bin/sh
# Container entry point, in the mautrix docker-run.sh style: the first run writes the config
# and stops, the second writes the registration and stops, later runs start the bridge.
set -e
CONFIG="${TANDEM_CONFIG:-/data/bridge.yaml}"
if [ "$1" = "start" ] && [ ! -f "$CONFIG" ]; then
  # A short file: keys it leaves out take the image's defaults (config/docker.yaml), which the
  # full example's explicit values (127.0.0.1 listeners, relative paths) would override.
  cp /app/config/docker-bridge.yaml "$CONFIG"
  echo "Wrote $CONFIG. Set homeserver.url, homeserver.domain and appservice.address, then run the container again."
  exit 0
fi
if [ "$1" = "start" ] && [ ! -f /data/tandem-registration.yaml ]; then
  node /app/dist/cli.js generate-registration -c "$CONFIG"
  echo "Load /data/tandem-registration.yaml into your homeserver, then run the container again."
  exit 0
fi
exec node /app/dist/cli.js "$@" -c "$CONFIG"
