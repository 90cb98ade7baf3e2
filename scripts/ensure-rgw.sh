#!/usr/bin/env bash
# Make sure a real S3 Object Lock server can be started for the tests: Ceph's monitor, OSD and RadosGW
# from Debian's packages (scripts/ceph_rgw.py starts a one-node cluster of them on loopback per test run).
# Installs them when run as root; otherwise says what is missing and fails (the suite then skips the
# RadosGW tests locally, and fails under CI=true).
set -euo pipefail

have_all() {
  for program in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
    command -v "$program" >/dev/null || return 1
  done
}

if have_all; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-rgw: Ceph's RadosGW is missing and I am not root:" \
    "apt-get install --no-install-recommends ceph-mon ceph-osd radosgw" >&2
  exit 1
fi
echo "ensure-rgw: installing ceph-mon, ceph-osd and radosgw from the Debian packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends ceph-mon ceph-osd radosgw >/dev/null
have_all
