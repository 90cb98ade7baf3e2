#!/usr/bin/env bash
# `make demo`: a fresh embedded archive (SQLite + local folder, no server), a batch of sample scans
# imported as a scanning station would, the case shown as a caseworker sees it, and a full verify.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
export EKAKTE_HOME="$PWD/demo-data/archive"
# The scanning station's inbox lies outside the archive's home: nothing is ever imported from there.
INBOX="$PWD/demo-data/inbox"
unset EKAKTE_DATABASE_URL EKAKTE_STORAGE EKAKTE_CONFIG
CASE=12345BG0001234
# The hot folder refuses root unless told (docs/security.md); a demo in a root container tells it.
AS_ROOT=()
[ "$(id -u)" = 0 ] && AS_ROOT=(--allow-root)

rm -rf "$PWD/demo-data"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "python scripts/sample_scans.py demo-data/inbox"
"$BIN/python" scripts/sample_scans.py "$INBOX" --case "$CASE" | sed 's/^/  /'

step "ekakte init   # the OS user running it becomes the first admin"
"$BIN/ekakte" init

ME=$(id -un)
step "ekakte team add Leistung-1; ekakte user grant $ME --role scan_operator --role caseworker --role auditor --team Leistung-1"
"$BIN/ekakte" team add Leistung-1
"$BIN/ekakte" user grant "$ME" --role scan_operator --role caseworker --role auditor --team Leistung-1
echo "(one person with every role, for the demo only: in production scanning, casework and audit are separate users)"

step "ekakte case assign $CASE --team Leistung-1"
"$BIN/ekakte" case assign "$CASE" --team Leistung-1

step "ekakte import --batch demo-data/inbox --ocr   # scan-0005.pdf is not a PDF: refused, exit code 12"
"$BIN/ekakte" import --batch "$INBOX" ${AS_ROOT[@]+"${AS_ROOT[@]}"} --ocr || echo "(exit code $?)"
ls "$INBOX/rejected"

step "ekakte import demo-data/inbox/done/scan-0001.pdf --case $CASE --type Antrag   # the same bytes again"
"$BIN/ekakte" import "$INBOX/done/scan-0001.pdf" --case "$CASE" --type Antrag

step "ekakte case show $CASE"
"$BIN/ekakte" case show "$CASE"

step "ekakte search Mietvertrag   # words are ANDed; \"a phrase\" in quotes"
"$BIN/ekakte" search Mietvertrag

step "ekakte search '\"Gutschrift Jobcenter\"' --case $CASE"
"$BIN/ekakte" search '"Gutschrift Jobcenter"' --case "$CASE"

first=$("$BIN/ekakte" case show "$CASE" --type Antrag --json | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)["documents"][0]["id"])')
step "ekakte doc get $first -o demo-data/antrag.pdf"
"$BIN/ekakte" doc get "$first" -o "$PWD/demo-data/antrag.pdf"

step "ekakte doc show $first --text   # the OCR text, page by page"
"$BIN/ekakte" doc show "$first" --text

step "ekakte verify   # every original against its SHA-256 (admin)"
"$BIN/ekakte" verify

step "ekakte case show 54321BG7654321   # not a case of Leistung-1 (or no case at all: the answer is the same)"
"$BIN/ekakte" case show 54321BG7654321 || echo "(exit code $?)"

step "ekakte audit show --case $CASE"
"$BIN/ekakte" audit show --case "$CASE" --limit 8

step "ekakte audit verify"
"$BIN/ekakte" audit verify

# The web app on the demo archive, until Ctrl-C (DEMO_SERVE=0 skips it, for scripts).
if [ "${DEMO_SERVE:-1}" != 0 ]; then
  PASSWORD="demo-$("$BIN/python" -c 'import secrets; print(secrets.token_hex(6))')"
  step "ekakte user password $ME --stdin; ekakte serve --port 8080   # the web app"
  printf '%s\n' "$PASSWORD" | "$BIN/ekakte" user password "$ME" --stdin
  printf '\n  Open http://127.0.0.1:8080 and sign in as \033[1m%s\033[0m with the password \033[1m%s\033[0m\n' "$ME" "$PASSWORD"
  printf '  (a local password for the demo; production signs in through the identity provider). Ctrl-C ends it.\n\n'
  exec "$BIN/ekakte" serve --host 127.0.0.1 --port 8080
fi
