#!/usr/bin/env bash
# Make sure a Mosquitto broker answers on 127.0.0.1:1883 (anonymous) and that its clients
# mosquitto_pub/mosquitto_sub are installed: the MQTT intake is tested against it.
# Used by CI; on a developer machine without a broker the MQTT tests skip instead.
set -euo pipefail

answers() { (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; }

if ! command -v mosquitto >/dev/null || ! command -v mosquitto_pub >/dev/null || ! command -v mosquitto_sub >/dev/null; then
  echo "Installing Mosquitto from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q mosquitto mosquitto-clients
fi

if answers; then
  echo "An MQTT broker answers on 127.0.0.1:1883"
  exit 0
fi

config=/etc/mosquitto/mosquitto.conf
if [ ! -f "$config" ] || ! grep -q "^listener 1883" "$config"; then
  # Mosquitto 2 without a listener line accepts only local clients, anonymously; say so
  # explicitly in a config of our own rather than depend on that default.
  config=$(mktemp --suffix=.conf)
  printf 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\n' >"$config"
  chmod 644 "$config"
fi
# Debian's config writes its pid and log under these (mosquitto drops to its own user).
mkdir -p /run/mosquitto /var/log/mosquitto /var/lib/mosquitto
if id mosquitto >/dev/null 2>&1; then
  chown mosquitto: /run/mosquitto /var/log/mosquitto /var/lib/mosquitto
fi
mosquitto -d -c "$config"

for _ in $(seq 1 30); do
  answers && { echo "Mosquitto started on 127.0.0.1:1883 ($config)"; exit 0; }
  sleep 0.5
done
echo "Mosquitto did not start on 127.0.0.1:1883; see /var/log/mosquitto/mosquitto.log" >&2
exit 1
