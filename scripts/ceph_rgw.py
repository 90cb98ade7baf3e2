"""A one-node Ceph cluster with its S3 gateway (RadosGW) on loopback: a real S3 Object Lock server for tests.

Usage: python scripts/ceph_rgw.py DIR      starts it in DIR, prints the endpoint and keys, runs until Ctrl-C

The tests start it the same way (tests/services.py, `Cluster(DIR).start()`). One monitor, one OSD on
memstore (the data lives in the OSD's memory and is gone when it stops), no manager, authentication
between the daemons off, everything bound to 127.0.0.1 on free ports, every file under DIR. The daemons
run in the foreground as children of the process that started them and get SIGTERM when it dies
(PR_SET_PDEATHSIG), so a killed test run leaves no cluster behind.

Needs Debian's packages ceph-mon, ceph-osd and radosgw (scripts/ensure-rgw.sh installs them as root).
Known to bite, and set here: radosgw's built-in client settings (cephx, secure mode) make it hang for
minutes unless overridden; the beast frontend needs tcp_nodelay=1 (else every keep-alive GET waits ~44 ms
for Nagle); RGW creates seven pools, so pools are small (pg_num 8, one replica).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

PROGRAMS = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph")
ACCESS_KEY = "ekakte-test"
SECRET_KEY = "ekakte-test-secret"
START_TIMEOUT = 120.0

_CONF = """\
[global]
fsid = {fsid}
mon_host = v2:127.0.0.1:{mon_port}
mon_initial_members = a
public_addr = 127.0.0.1
public_network = 127.0.0.0/8
ms_bind_ipv4 = true
ms_bind_ipv6 = false
ms_bind_msgr1 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
auth_allow_insecure_global_id_reclaim = true
ms_client_mode = crc
ms_cluster_mode = crc
ms_service_mode = crc
ms_mon_client_mode = crc
ms_mon_cluster_mode = crc
ms_mon_service_mode = crc
keyring = /dev/null
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
mon_data_avail_warn = 1
mon_data_avail_crit = 0
run_dir = {dir}/run
pid_file = {dir}/run/$name.pid
admin_socket = {dir}/run/$name.$pid.asok
log_file = {dir}/log/$name.log
log_to_stderr = false
err_to_stderr = true
debug_rgw = 0/0
debug_ms = 0/0

[mon]
mon_data = {dir}/mon

[osd]
osd_data = {dir}/osd
osd_objectstore = memstore
memstore_device_bytes = {osd_bytes}

[client.rgw]
rgw_frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw_data = {dir}/rgw
rgw_thread_pool_size = 64
rgw_enable_usage_log = false
"""


def missing_programs() -> list[str]:
    return [p for p in PROGRAMS if shutil.which(p) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with(parent: int) -> Callable[[], None]:
    def arm() -> None:
        # PR_SET_PDEATHSIG = 1: the daemon gets SIGTERM when the process that started it ends, however.
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
        if os.getppid() != parent:  # it ended before the signal was armed
            os._exit(1)

    return arm


@dataclass(frozen=True)
class Endpoint:
    endpoint: str  # http://127.0.0.1:port
    access_key: str
    secret_key: str


class Cluster:
    """The cluster in `directory`: start() it, stop() it; stop() also removes its data."""

    def __init__(self, directory: Path, osd_bytes: int = 1 << 30) -> None:
        self.dir = directory
        self.conf = directory / "ceph.conf"
        self.osd_bytes = osd_bytes
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[BinaryIO] = []

    def _run(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [*args, "-c", str(self.conf)], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        return done.stdout

    def _daemon(self, *args: str) -> None:
        log = (self.dir / "log" / f"{args[0]}.out").open("ab")
        self.logs.append(log)
        self.procs.append(
            subprocess.Popen(
                [*args, "-f", "-c", str(self.conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with(os.getpid()),
            )
        )

    def _wait(self, what: str, ready: Callable[[], object], deadline: float) -> None:
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    name = str(proc.args[0])  # type: ignore[index]
                    raise RuntimeError(
                        f"{name} ended ({proc.returncode}) waiting for {what}; see {self.dir}/log"
                    )
            try:
                if ready():
                    return
            except (OSError, RuntimeError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}; see {self.dir}/log")

    def start(self) -> Endpoint:
        missing = missing_programs()
        if missing:
            raise RuntimeError(f"not installed: {', '.join(missing)} (scripts/ensure-rgw.sh installs them)")
        for sub in ("run", "log", "mon", "osd", "rgw"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        fsid, rgw_port = str(uuid.uuid4()), _free_port()
        self.conf.write_text(
            _CONF.format(
                fsid=fsid, mon_port=_free_port(), rgw_port=rgw_port, dir=self.dir, osd_bytes=self.osd_bytes
            )
        )
        deadline = time.monotonic() + START_TIMEOUT
        try:
            monmap = self.dir / "monmap"
            mon_host = self.conf.read_text().split("mon_host = ", 1)[1].split("\n", 1)[0]
            self._run("monmaptool", "--create", "--addv", "a", f"[{mon_host}]", "--fsid", fsid, str(monmap))
            self._run("ceph-mon", "--mkfs", "-i", "a", "--monmap", str(monmap))
            self._daemon("ceph-mon", "-i", "a")
            self._wait("the monitor", lambda: self._run("ceph", "mon", "stat", timeout=5), deadline)
            osd_uuid = str(uuid.uuid4())
            osd_id = self._run("ceph", "osd", "new", osd_uuid).strip()
            self._run("ceph-osd", "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid)
            self._daemon("ceph-osd", "-i", osd_id)
            self._wait(
                "the OSD",
                lambda: (
                    json.loads(self._run("ceph", "osd", "stat", "-f", "json", timeout=5))["num_up_osds"] == 1
                ),
                deadline,
            )
            self._daemon("radosgw", "-n", "client.rgw")
            url = f"http://127.0.0.1:{rgw_port}/"
            self._wait("RadosGW", lambda: urllib.request.urlopen(url, timeout=2).status == 200, deadline)
            self._run(
                "radosgw-admin", "-n", "client.rgw", "user", "create", "--uid", ACCESS_KEY,
                "--display-name", "ekakte tests", "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY,
            )  # fmt: skip
        except BaseException:
            self.stop()
            raise
        return Endpoint(url.rstrip("/"), ACCESS_KEY, SECRET_KEY)

    def stop(self) -> None:
        for proc in reversed(self.procs):  # the gateway first, the monitor last
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()
        for log in self.logs:
            log.close()
        self.logs.clear()
        for sub in ("mon", "osd", "rgw", "run"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    cluster = Cluster(Path(sys.argv[1]).resolve())
    started = time.monotonic()
    endpoint = cluster.start()
    print(
        f"RadosGW ready in {time.monotonic() - started:.1f} s: EKAKTE_S3_ENDPOINT={endpoint.endpoint}"
        f" EKAKTE_S3_ACCESS_KEY={endpoint.access_key} EKAKTE_S3_SECRET_KEY={endpoint.secret_key}",
        flush=True,
    )
    # Blocked only now: the daemons inherit the signal mask, and must still obey SIGTERM.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
