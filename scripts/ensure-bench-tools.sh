#!/usr/bin/env bash
# Make sure the programs `make bench` compares ekakte with are installed: tesseract with deu+eng (the OCR
# ceiling; scripts/ensure-ocr.sh) and OCRmyPDF. Installs them from Debian's packages when run as root;
# otherwise says what is missing and goes on: the bench prints "not installed" in that row.
set -euo pipefail
cd "$(dirname "$0")"

bash ensure-ocr.sh || echo "ensure-bench-tools: no tesseract; the OCR rows will fail" >&2

if command -v ocrmypdf >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-bench-tools: ocrmypdf is missing and I am not root: apt-get install ocrmypdf" >&2
  exit 0
fi
echo "ensure-bench-tools: installing ocrmypdf from the Debian packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq ocrmypdf >/dev/null
command -v ocrmypdf >/dev/null
