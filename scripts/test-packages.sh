#!/usr/bin/env bash
# Debian packages the tests use beyond the control plane's: lua5.4 (the Argo CD health checks), prometheus (promtool
# checks and unit-tests the alert rules) and chromium (the report is rendered in a real browser). Installs what is
# missing; quiet when everything is there.
set -euo pipefail
needed=(lua5.4:lua5.4 promtool:prometheus chromium:chromium)
missing=()
for pair in "${needed[@]}"; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "[test-packages] installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
