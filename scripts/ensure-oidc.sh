#!/usr/bin/env bash
# Make sure the test OpenID provider (tests/oidc: oidc-provider under Node.js) can run: Node.js 20.18 or
# newer, and the npm packages of tests/oidc/package-lock.json installed with `npm ci`.
# Installs Node.js from the Debian packages only when node is missing and this runs as root.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/oidc"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-oidc: Node.js (node and npm) is missing and I am not root: apt-get install nodejs npm" >&2
    exit 1
  fi
  echo "ensure-oidc: installing Node.js from the Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi

# oidc-provider 9 calls URL.parse and crypto.hash: Node.js 20.18 or newer.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 18) ? 0 : 1)'; then
  echo "ensure-oidc: Node.js $(node --version) is too old for oidc-provider 9 (needs 20.18 or newer)" >&2
  exit 1
fi

installed="$dir/node_modules/.package-lock.json"
if [ -f "$installed" ] && [ ! "$dir/package-lock.json" -nt "$installed" ]; then
  exit 0
fi
echo "ensure-oidc: installing the test OpenID provider's npm packages (npm ci in tests/oidc)" >&2
if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
  echo "ensure-oidc: npm ci in tests/oidc failed" >&2
  exit 1
fi
