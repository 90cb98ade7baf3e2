"""`make bench`: the archive core's figures, printed as a table (targets beside them; nothing asserts).

Rows:
  import (no OCR) of ~100 KB scanned PDFs, documents/s — embedded, and PostgreSQL + S3;
  case lookup latency p50/p99, including the access decision and its audit entry — PostgreSQL with
    1,000,000 documents in 100,000 cases, SQLite with 100,000;
  wall time of the whole process `ekakte case show CASE` on the embedded archive.

Sizes can be lowered for a quick look: BENCH_IMPORT_DOCS, BENCH_PG_DOCS, BENCH_SQLITE_DOCS.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import sample_scans  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from ekakte.actor import Actor  # noqa: E402
from ekakte.archive import Archive, initialize  # noqa: E402
from ekakte.config import load_settings  # noqa: E402
from ekakte.documents import case_documents  # noqa: E402
from ekakte.hotfolder import import_directory  # noqa: E402
from ekakte.ingest import DocumentMeta  # noqa: E402
from tests.services import free_port, postgres_database  # noqa: E402

IMPORT_DOCS = int(os.environ.get("BENCH_IMPORT_DOCS", "300"))
PG_DOCS = int(os.environ.get("BENCH_PG_DOCS", "1000000"))
SQLITE_DOCS = int(os.environ.get("BENCH_SQLITE_DOCS", "100000"))
DOCS_PER_CASE = 10
LOOKUPS = 1000
ACTOR = Actor.from_os()  # the whole-process row runs the CLI as this login

rows: list[tuple[str, str, str]] = []


def row(what: str, figure: str, target: str) -> None:
    rows.append((what, figure, target))
    print(f"  {what}: {figure}   (target {target})", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextmanager
def moto_process() -> Iterator[str]:
    """moto's S3 server in a process of its own, so it does not share the importer's GIL."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import urllib.request

        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def write_scans(folder: Path, n: int) -> int:
    """n distinct one-page scanned PDFs of about 100 KB each, with sidecars; returns total bytes."""
    folder.mkdir(parents=True)
    total = 0
    for i in range(n):
        data = sample_scans.pdf_bytes(
            [sample_scans.LETTERS["Antrag"] + [f"Vorgang {i}"]], dpi=200, quality=92, seed=i
        )
        (folder / f"scan-{i:05d}.pdf").write_bytes(data)
        total += len(data)
    return total


def prepare(env: dict[str, str]) -> int:
    """A fresh archive where ACTOR is admin, scan operator and caseworker of one team; returns the team id."""
    from ekakte.principals import add_team, grant

    settings = load_settings(env)
    initialize(settings, admin=ACTOR)
    with Archive.open(settings) as archive:
        add_team(archive, ACTOR, "bench-team")
        grant(archive, ACTOR, ACTOR.name, ["scan_operator", "caseworker"], ["bench-team"])
        with archive.reading() as session:
            return int(session.execute(text("SELECT id FROM teams WHERE name = 'bench-team'")).scalar_one())


def bench_import(label: str, env: dict[str, str], inbox: Path, target: str) -> None:
    settings = load_settings(env)
    prepare(env)
    with Archive.open(settings) as archive:
        start = time.perf_counter()
        report = import_directory(archive, ACTOR, inbox, defaults=DocumentMeta("12345BG0001234", "Antrag"))
        elapsed = time.perf_counter() - start
    assert report.stored == IMPORT_DOCS and not report.rejected, report.summary()
    row(
        f"import without OCR, {label}",
        f"{IMPORT_DOCS / elapsed:.0f} docs/s ({IMPORT_DOCS} docs in {elapsed:.1f} s)",
        target,
    )


SEED_CASES = {
    "postgresql": """
        INSERT INTO cases (id, case_number, team_id, opened_on, created_at)
        SELECT g, lpad((g - 1)::text, 5, '0') || 'BG' || lpad((g - 1)::text, 7, '0'), :team,
               date '2020-01-01', now()
        FROM generate_series(1, :cases) g""",
    "sqlite": """
        WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < :cases)
        INSERT INTO cases (id, case_number, team_id, opened_on, created_at)
        SELECT x, printf('%05dBG%07d', x - 1, x - 1), :team, '2020-01-01', '2020-01-01 00:00:00' FROM g""",
}
SEED_DOCUMENTS = {
    "postgresql": """
        INSERT INTO documents (id, case_id, document_type, received_on, station, operator, original_filename,
                               media_type, size_bytes, sha256, storage_key, page_count, state, created_at)
        SELECT md5(g::text)::uuid, (g % :cases) + 1, 'Antrag', date '2020-01-01' + (g % 1500),
               'bench', 'bench', 'scan.pdf', 'application/pdf', 100000, encode(sha256(g::text::bytea), 'hex'),
               'originals/bench/' || g, 1, 'stored', now()
        FROM generate_series(1, :docs) g""",
    "sqlite": """
        WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < :docs)
        INSERT INTO documents (id, case_id, document_type, received_on, station, operator, original_filename,
                               media_type, size_bytes, sha256, storage_key, page_count, state, created_at)
        SELECT printf('%032x', x), (x % :cases) + 1, 'Antrag',
               date('2020-01-01', '+' || (x % 1500) || ' days'), 'bench', 'bench', 'scan.pdf',
               'application/pdf', 100000, printf('%064x', x),
               'originals/bench/' || x, 1, 'stored', '2020-01-01 00:00:00'
        FROM g""",
}


def seed(url: str, docs: int, team: int) -> float:
    cases = docs // DOCS_PER_CASE
    engine = create_engine(url)
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(SEED_CASES[engine.dialect.name]), {"cases": cases, "team": team})
        conn.execute(text(SEED_DOCUMENTS[engine.dialect.name]), {"cases": cases, "docs": docs})
    # Measure the steady state, not the aftermath of the bulk load: statistics and visibility map up to date,
    # and the seed's dirty pages written out, so that a checkpoint does not stall the lookups' commits.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
        if engine.dialect.name == "postgresql":
            conn.execute(text("CHECKPOINT"))
    engine.dispose()
    return time.perf_counter() - start


def bench_lookup(label: str, env: dict[str, str], docs: int, target: str) -> str:
    settings = load_settings(env)
    took = seed(settings.database_url, docs, prepare(env))
    print(f"  seeded {docs} documents in {docs // DOCS_PER_CASE} cases in {took:.0f} s", file=sys.stderr)
    rng = random.Random(1)
    numbers = [f"{n:05d}BG{n:07d}" for n in (rng.randrange(docs // DOCS_PER_CASE) for _ in range(LOOKUPS))]
    with Archive.open(settings) as archive:
        for number in numbers[:50]:  # warm the connection pool and caches
            case_documents(archive, ACTOR, number)
        times = []
        for number in numbers:
            start = time.perf_counter()
            view = case_documents(archive, ACTOR, number)
            times.append((time.perf_counter() - start) * 1000)
            assert len(view.documents) == DOCS_PER_CASE
    row(
        f"case lookup, {label}, {docs:,} docs",
        f"p50 {statistics.median(times):.2f} ms, p99 {percentile(times, 99):.2f} ms",
        target,
    )
    return numbers[0]


def bench_case_show_process(env: dict[str, str], case_number: str) -> None:
    command = [str(Path(sys.executable).parent / "ekakte"), "case", "show", case_number]
    full_env = {**os.environ, **env}
    subprocess.run(command, env=full_env, check=True, capture_output=True)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        subprocess.run(command, env=full_env, check=True, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    floor = []
    for _ in range(10):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sqlalchemy, click"], check=True)
        floor.append((time.perf_counter() - start) * 1000)
    row(
        "`ekakte case show` whole process, embedded",
        f"median {statistics.median(times):.0f} ms, p95 {percentile(times, 95):.0f} ms"
        f" (python + import of sqlalchemy and click alone: {statistics.median(floor):.0f} ms)",
        "<= 250 ms",
    )


def main() -> None:
    print(f"ekakte bench on {os.cpu_count()} cores", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="ekakte-bench-") as tmp:
        base = Path(tmp)
        size = write_scans(base / "scans", IMPORT_DOCS)
        print(f"  {IMPORT_DOCS} sample PDFs, mean {size / IMPORT_DOCS / 1024:.0f} KiB", file=sys.stderr)

        import shutil

        shutil.copytree(base / "scans", base / "inbox-embedded")
        bench_import(
            "embedded (SQLite + folder)",
            {"EKAKTE_HOME": str(base / "emb")},
            base / "inbox-embedded",
            ">= 100 docs/s",
        )

        with postgres_database() as pg_url, moto_process() as s3_endpoint:
            shutil.copytree(base / "scans", base / "inbox-server")
            server_env = {
                "EKAKTE_HOME": str(base / "srv"),
                "EKAKTE_DATABASE_URL": pg_url,
                "EKAKTE_STORAGE": "s3://ekakte-bench",
                "EKAKTE_S3_ENDPOINT": s3_endpoint,
                "EKAKTE_S3_ACCESS_KEY": "bench",
                "EKAKTE_S3_SECRET_KEY": "bench-secret",
            }
            bench_import("PostgreSQL + S3 (moto)", server_env, base / "inbox-server", ">= 50 docs/s")

        with postgres_database() as pg_url:
            bench_lookup(
                "PostgreSQL",
                {"EKAKTE_HOME": str(base / "pg"), "EKAKTE_DATABASE_URL": pg_url},
                PG_DOCS,
                "p99 <= 5 ms",
            )

        sqlite_env = {"EKAKTE_HOME": str(base / "lite")}
        some_case = bench_lookup("SQLite", sqlite_env, SQLITE_DOCS, "(reported)")
        bench_case_show_process(sqlite_env, some_case)

    width = max(len(r[0]) for r in rows)
    fig = max(len(r[1]) for r in rows)
    print(f"\n{'benchmark'.ljust(width)}  {'result'.ljust(fig)}  target")
    for what, figure, target in rows:
        print(f"{what.ljust(width)}  {figure.ljust(fig)}  {target}")


if __name__ == "__main__":
    main()
