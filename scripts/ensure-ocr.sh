#!/usr/bin/env bash
# Make sure tesseract and its German and English models (and OSD, for turned pages) are installed, and the
# DejaVu fonts that scripts/sample_scans.py prints its synthetic scans with (umlauts, ß).
# Installs them from Debian's packages when run as root; otherwise says what is missing and fails.
set -euo pipefail

have_all() {
  command -v tesseract >/dev/null || return 1
  local langs
  langs=$(tesseract --list-langs 2>/dev/null)
  for lang in deu eng osd; do
    grep -qx "$lang" <<<"$langs" || return 1
  done
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]
}

if have_all; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-ocr: tesseract with deu, eng and osd (or the DejaVu fonts) is missing and I am not root:" \
    "apt-get install tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng tesseract-ocr-osd fonts-dejavu-core" >&2
  exit 1
fi
echo "ensure-ocr: installing tesseract from the Debian packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng tesseract-ocr-osd \
  fonts-dejavu-core >/dev/null
have_all
