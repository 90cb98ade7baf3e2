#!/usr/bin/env bash
# Make sure the browser tests can run: Debian's Chromium at /usr/bin/chromium (Playwright launches it by its
# path; Playwright's own browser download is not reachable here) and the npm packages of
# tests/browser/package-lock.json (axe-core, injected into the pages under test) installed with `npm ci`.
# Installs Chromium from the Debian packages only when it is missing and this runs as root.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/browser"
chromium=/usr/bin/chromium

if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-browser: $chromium is missing and I am not root: apt-get install chromium" >&2
    exit 1
  fi
  echo "ensure-browser: installing Chromium from the Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if ! apt-get install -y -qq chromium >/dev/null || [ ! -x "$chromium" ]; then
    echo "ensure-browser: apt-get install chromium failed" >&2
    exit 1
  fi
fi

if ! command -v npm >/dev/null; then
  echo "ensure-browser: npm is missing (scripts/ensure-oidc.sh installs Node.js, or: apt-get install nodejs npm)" >&2
  exit 1
fi

installed="$dir/node_modules/.package-lock.json"
if [ -f "$installed" ] && [ ! "$dir/package-lock.json" -nt "$installed" ]; then
  exit 0
fi
echo "ensure-browser: installing axe-core for the browser tests (npm ci in tests/browser)" >&2
if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
  echo "ensure-browser: npm ci in tests/browser failed" >&2
  exit 1
fi
