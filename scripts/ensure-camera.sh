#!/usr/bin/env bash
# Make sure the simulated camera can run (docs/supervision.md, "The camera"): GStreamer's
# command line and the plugins for a live test picture encoded as VP8 and sent as RTP, from
# Debian's packages. The gateway's streaming plugin comes with Janus (scripts/ensure-voice.sh).
# Used by CI and `make demo`; without them the camera tests skip with a message
# (RESPONS_REQUIRE_CAMERA=1 turns that into a failure) and the demo has no camera.
set -euo pipefail

missing=()
command -v gst-launch-1.0 >/dev/null 2>&1 || missing+=(gstreamer1.0-tools)
has() { command -v gst-inspect-1.0 >/dev/null 2>&1 && gst-inspect-1.0 "$1" >/dev/null 2>&1; }
has videotestsrc || missing+=(gstreamer1.0-plugins-base)
has vp8enc && has rtpvp8pay && has udpsink || missing+=(gstreamer1.0-plugins-good)

if [ ${#missing[@]} -eq 0 ]; then
  echo "Camera: $(command -v gst-launch-1.0) (videotestsrc, vp8enc, rtpvp8pay)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "Camera: ${missing[*]} missing and not root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "Camera: $(command -v gst-launch-1.0) (videotestsrc, vp8enc, rtpvp8pay)"
