#!/usr/bin/env bash
# Make sure the programs `make bench` compares ekakte with or drives it by are installed: tesseract with
# deu+eng (the OCR ceiling; scripts/ensure-ocr.sh), OCRmyPDF, and wrk (the HTTP load of the `api` group).
# Installs them from Debian's packages when run as root; otherwise says what is missing and goes on: the
# bench prints "not installed" in the rows that need it.
set -euo pipefail
cd "$(dirname "$0")"

bash ensure-ocr.sh || echo "ensure-bench-tools: no tesseract; the OCR rows will fail" >&2

missing=()
command -v ocrmypdf >/dev/null || missing+=(ocrmypdf)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-bench-tools: ${missing[*]} missing and I am not root: apt-get install ${missing[*]}" >&2
  exit 0
fi
echo "ensure-bench-tools: installing ${missing[*]} from the Debian packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
for program in "${missing[@]}"; do
  command -v "$program" >/dev/null
done
