"""`make bench`: the archive's figures, printed as a table (targets beside them; nothing asserts).

Rows, by group (BENCH_ONLY=ocr,search runs only those groups; default all):
  import  import (no OCR) of ~100 KB scanned PDFs, documents/s — embedded, and PostgreSQL + S3;
  lookup  case lookup latency p50/p99, including the access decision and its audit entry — PostgreSQL
          with 1,000,000 documents in 100,000 cases, SQLite with 100,000; and the wall time of the whole
          process `ekakte case show CASE` on the embedded archive;
  ocr     OCR pages/s and character error rate of `ekakte import --batch --ocr` on 6 synthetic 8-page
          300 dpi scans, beside plain tesseract on the same page images (the ceiling) and ocrmypdf;
  rendition  what the searchable PDF costs (docs/renditions.md): `ekakte import --batch --ocr` of
          BENCH_RENDITION_FILES synthetic scans of BENCH_RENDITION_PAGES 300 dpi pages with the
          renditions off and on (EKAKTE_SEARCHABLE_PDF), BENCH_RENDITION_ROUNDS rounds interleaved, each
          into a new archive: seconds per page of each (median, min-max) and the difference within each
          round as a share of OCR's; tesseract alone on the same page images with and without the
          text-only PDF, page by page; and the making of each rendition alone (laying the layers on,
          hashing, storing, recording), timed in-process per page;
  search  full-text search latency p50/p95 over 200,000 one-page documents, SQLite and PostgreSQL,
          in one team and again with the cases spread over 10 teams (a caseworker of one);
  rss     peak memory of the whole process tree importing and reading one 300-page scan;
  pages   page images for a viewer: the last page of a 300-page scanned PDF and the last frame of a
          30-page bitonal TIFF at 1,200 px, the library's time (and how much of it is streaming the
          verified original), and the whole `ekakte doc page` process's wall time and peak RSS;
  retention  `retention plan` over 1,000,000 documents on PostgreSQL, and sweep throughput (documents
          deleted per second, objects included) on PostgreSQL + S3 (moto), and on PostgreSQL + RadosGW
          with Object Lock (a real server; its versions listed and deleted), beside the rate at which
          ekakte tells RadosGW retain-until dates (what `rules load` costs on a locked bucket);
  aussonderung  the Aussonderung on PostgreSQL + S3 (moto): the offer (0501) of 100,000 due documents in
          10,000 cases, and the hand-over (0503) of 2,000 of them the archive keeps, each with a 512 KiB
          object (MB/s, beside reading the same objects from the store alone), then of 500 more with
          objects 4 times larger (the same bytes: memory must not grow with an object's size); the time
          and peak RSS of each library call, in a process of its own;
  posteingang  the mail room: a stack of 500 pages at 300 dpi with 50 cover sheets, split and stored
          without OCR by the whole `ekakte import --stack` process (time, peak RSS; three runs, each into
          a new archive), as a scanner's grayscale JPEG PDF and as a bitonal CCITT G4 TIFF, on the
          embedded archive and on PostgreSQL + S3 (moto); the detector's time per page alone; and the
          generated corpus of sheets (200/300 dpi, skew -5° to +5°, upside down, grayscale and bitonal):
          how many were found, and how many letters and blank pages were taken for a sheet; the sort
          on letters read by tesseract (the case number as written, with spaces inside, two of them, an
          unknown case, none; the job centre's reference code alone, with the same number in the text,
          with another one there): how many were filed, in the right case or a wrong one, and left; and a
          stack of 60 pages split, stored and read (`import --stack --ocr`) against plain tesseract on
          the same letter pages (the OCR ceiling), side by side;
  oracles what timing tells a caseworker: searches finding nothing it may see, for a word on other
          teams' pages and on its own team's restricted pages against a word on none, and refused
          lookups of another team's case and document against ones that do not exist, interleaved;
  api     the HTTP service, `ekakte serve` (tokens of the tests' OpenID provider): audited case lookups
          on PostgreSQL with 1,000,000 documents driven by wrk with 50 connections (requests/s, p50/p90/
          p99, errors; the CPU of the service, PostgreSQL and wrk; the audit chain's lock sampled in
          pg_locks) with 2 workers, again with 1 and 4, and with 1 connection; `ekakte case show` on the
          same archive; on an embedded archive the download of a 100 MB original and 300 uploads by 4
          clients beside `ekakte import --batch` of the same files; each server process's RSS and PSS;
  scanning  replacement scanning: a batch of 1,000 scanned documents imported through the hot folder,
          then its seal (the manifest of its protocol, transfer notes and hashes built from the database
          and signed with Ed25519, chained to the last seal) alone, seven times in transactions rolled
          back; the whole second person's check (every object read back from the store, the check, the
          seal); and `verify`'s part for the seals; embedded and PostgreSQL + S3 (moto); and what
          drop_blank_pages costs the import of a 100-page scan (every page decoded at about 100 dpi);
  web     the caseworkers' web app, `ekakte serve` with 1 and 2 workers, on the api group's archive with one
          case of 200 documents (one of them a real 10-page scanned PDF in the folder store), signed in
          with a local password: the case page (its first page, 50 rows) and the whole case page by page,
          and page images, each a series of sequential requests from one client in a process of its own
          (the service's time from its access log beside the client's); the case page's largest
          contentful paint in Chromium (Playwright); the parts in-process; `ekakte case show` beside.

Sizes can be lowered for a quick look: BENCH_IMPORT_DOCS, BENCH_PG_DOCS (lookup, api and web),
BENCH_SQLITE_DOCS, BENCH_OCR_FILES, BENCH_OCR_PAGES, BENCH_SEARCH_DOCS, BENCH_RSS_PAGES, BENCH_RETENTION_DOCS,
BENCH_SWEEP_DOCS, BENCH_ORACLE_DOCS, BENCH_ORACLE_RUNS, BENCH_PAGES_PDF, BENCH_PAGES_TIFF; for aussonderung
BENCH_AUSSONDERUNG_DOCS (offered, 100,000), BENCH_HANDOVER_DOCS (handed over, 2,000) and BENCH_HANDOVER_KB
(their objects' size, 512); for api also BENCH_API_SECONDS (each measured wrk run, 30), BENCH_API_WORKERS
(the service's processes, 2), BENCH_API_DOWNLOAD_MB (100) and BENCH_API_UPLOADS (300); for web
BENCH_WEB_REQUESTS (each measured series of case pages, 300); for posteingang BENCH_STACK_PAGES (500),
BENCH_STACK_SHEETS (50), BENCH_STACK_OCR_PAGES (the stack read with OCR, 60) and BENCH_SORT_LETTERS (40);
for scanning BENCH_SEAL_DOCS (the checked batch's documents, 1,000) and BENCH_BLANK_PAGES (100).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import itertools
import json
import os
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import sample_scans  # noqa: E402
from sqlalchemy import Connection, create_engine, inspect, select, text  # noqa: E402

from ekakte.actor import Actor  # noqa: E402
from ekakte.archive import Archive  # noqa: E402
from ekakte.audit import AUDIT_LOCK  # noqa: E402
from ekakte.config import load_settings  # noqa: E402
from ekakte.db.models import Document  # noqa: E402
from ekakte.documents import case_documents  # noqa: E402
from ekakte.hotfolder import import_directory  # noqa: E402
from ekakte.ingest import DocumentMeta, import_document  # noqa: E402
from ekakte.setup import initialize  # noqa: E402
from tests.services import free_port, postgres_database, rgw_server  # noqa: E402

GROUPS = (
    "import", "lookup", "ocr", "rendition", "search", "rss", "pages", "retention", "aussonderung",
    "posteingang", "oracles", "api", "web", "scanning",
)  # fmt: skip
IMPORT_DOCS = int(os.environ.get("BENCH_IMPORT_DOCS", "300"))
PG_DOCS = int(os.environ.get("BENCH_PG_DOCS", "1000000"))
SQLITE_DOCS = int(os.environ.get("BENCH_SQLITE_DOCS", "100000"))
OCR_FILES = int(os.environ.get("BENCH_OCR_FILES", "6"))
OCR_PAGES = int(os.environ.get("BENCH_OCR_PAGES", "8"))
RENDITION_FILES = int(os.environ.get("BENCH_RENDITION_FILES", "4"))
RENDITION_PAGES = int(os.environ.get("BENCH_RENDITION_PAGES", "6"))
RENDITION_ROUNDS = int(os.environ.get("BENCH_RENDITION_ROUNDS", "4"))
SEARCH_DOCS = int(os.environ.get("BENCH_SEARCH_DOCS", "200000"))
RSS_PAGES = int(os.environ.get("BENCH_RSS_PAGES", "300"))
PAGES_PDF = int(os.environ.get("BENCH_PAGES_PDF", "300"))
PAGES_TIFF = int(os.environ.get("BENCH_PAGES_TIFF", "30"))
VIEWER_WIDTH = 1200
DOCS_PER_CASE = 10
LOOKUPS = 1000
SEARCHES = 300
SEARCH_ROUNDS = 3
TEAMS = 10  # the search's second measurement: the same archive's cases spread over this many teams
CASE = "12345BG0001234"
LANGUAGES = "deu+eng"
CORES = os.cpu_count() or 1
ACTOR = Actor.from_os()  # the whole-process rows run the CLI as this login
EKAKTE = str(Path(sys.executable).parent / "ekakte")

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


def pg_s3_env(home: Path, pg_url: str, s3_endpoint: str, bucket: str) -> dict[str, str]:
    """An archive on the run's PostgreSQL database and the bench's moto S3 server."""
    return {
        "EKAKTE_HOME": str(home),
        "EKAKTE_DATABASE_URL": pg_url,
        "EKAKTE_STORAGE": f"s3://{bucket}",
        "EKAKTE_S3_ENDPOINT": s3_endpoint,
        "EKAKTE_S3_ACCESS_KEY": "bench",
        "EKAKTE_S3_SECRET_KEY": "bench-secret",
    }


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
    initialize(settings, ACTOR, first_admin=ACTOR.name)
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
        report = import_directory(
            archive, ACTOR, inbox, defaults=DocumentMeta("12345BG0001234", "Antrag"), allow_root=True
        )
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
        SELECT md5(g::text)::uuid, (g % :cases) + 1, {document_type}, date '2020-01-01' + (g % 1500),
               'bench', 'bench', 'scan.pdf', 'application/pdf', 100000, encode(sha256(g::text::bytea), 'hex'),
               'originals/bench/' || g, 1, 'stored', now()
        FROM generate_series(1, :docs) g""",
    "sqlite": """
        WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :docs)
        INSERT INTO documents (id, case_id, document_type, received_on, station, operator, original_filename,
                               media_type, size_bytes, sha256, storage_key, page_count, state, created_at)
        SELECT printf('%032x', g), (g % :cases) + 1, {document_type},
               date('2020-01-01', '+' || (g % 1500) || ' days'), 'bench', 'bench', 'scan.pdf',
               'application/pdf', 100000, printf('%064x', g),
               'originals/bench/' || g, 1, 'stored', '2020-01-01 00:00:00'
        FROM s""",
}
# The id SEED_DOCUMENTS gives document number g, as the driver wants it.
SEED_DOCUMENT_ID: dict[str, Callable[[int], object]] = {
    "postgresql": lambda g: uuid.UUID(hashlib.md5(str(g).encode()).hexdigest()),
    "sqlite": lambda g: f"{g:032x}",
}


def seed(
    url: str,
    docs: int,
    team: int,
    *,
    document_type: str = "'Antrag'",
    pages: Callable[[Connection], None] | None = None,
) -> float:
    """Bulk-load `docs` documents in docs / 10 cases of `team` (and, through `pages`, their pages)."""
    cases = docs // DOCS_PER_CASE
    engine = create_engine(url)
    dialect = engine.dialect.name
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(SEED_CASES[dialect]), {"cases": cases, "team": team})
        documents = SEED_DOCUMENTS[dialect].format(document_type=document_type)
        conn.execute(text(documents), {"cases": cases, "docs": docs})
        if pages is not None:
            pages(conn)
    # Measure the steady state, not the aftermath of the bulk load: statistics and visibility map up to date,
    # and the seed's dirty pages written out, so that a checkpoint does not stall the lookups' commits.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE"))
        if dialect == "postgresql":
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


# --- ocr: pages/s and character error rate, ekakte beside plain tesseract and ocrmypdf ----------------


def mean_cer(truth: dict[str, list[str]], read: dict[str, list[str]]) -> float:
    """Mean CER over all pages of the truth; a page missing from `read` counts as read as nothing."""
    rates = []
    for name, pages in truth.items():
        got = read.get(name, [])
        rates += [
            sample_scans.character_error_rate(page, got[n] if n < len(got) else "")
            for n, page in enumerate(pages)
        ]
    return statistics.mean(rates)


def embedded_jpegs(pdf: Path, outdir: Path) -> list[Path]:
    """Each page's one JPEG, byte for byte as the scanner wrote it.

    Not pypdf's `page.images[0].data`: that decodes and re-encodes the JPEG (quality "keep") and drops
    its resolution, which would neither be the scanner's bytes nor cost what reading them costs."""
    from pypdf import PdfReader

    paths = []
    for number, page in enumerate(PdfReader(pdf).pages, 1):
        resources: Any = page["/Resources"]
        (image,) = (xobject.get_object() for xobject in resources["/XObject"].values())
        assert image["/Filter"] == "/DCTDecode", f"{pdf.name} p. {number} is not a JPEG"
        path = outdir / f"{pdf.stem}-{number:03d}.jpg"
        path.write_bytes(image.get_data())  # DCTDecode is not decoded by pypdf: these are the JPEG's bytes
        paths.append(path)
    return paths


def run_quietly(command: list[str], env: dict[str, str] | None = None) -> None:
    """Run a command, showing its output only when it fails."""
    result = subprocess.run(command, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} exited with {result.returncode}:\n{result.stdout}{result.stderr}")


def run_tesseract(image: Path) -> str:
    result = subprocess.run(
        ["tesseract", str(image), "-", "-l", LANGUAGES],
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def bench_tesseract_ceiling(corpus: Path, work: Path, truth: dict[str, list[str]]) -> float:
    """Plain tesseract on the scans' own page images, one process per core: what OCR costs at least."""
    work.mkdir()
    images = {pdf.stem: embedded_jpegs(pdf, work) for pdf in sorted(corpus.glob("*.pdf"))}
    flat = [image for pages in images.values() for image in pages]
    start = time.perf_counter()
    with ThreadPoolExecutor(CORES) as pool:
        texts = dict(zip(flat, pool.map(run_tesseract, flat), strict=True))
    rate = len(flat) / (time.perf_counter() - start)
    cer = mean_cer(truth, {name: [texts[image] for image in pages] for name, pages in images.items()})
    row(
        f"OCR ceiling: `tesseract IMG - -l {LANGUAGES}`, {CORES} processes",
        f"{rate:.2f} pages/s, CER {cer:.2%} ({len(flat)} pages)",
        "(reference)",
    )
    return rate


def ekakte_texts(env: dict[str, str]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """The text ekakte recorded for each document (by original file name stem), and the pages by state."""
    engine = create_engine(load_settings(env).database_url)
    query = text(
        "SELECT d.original_filename, p.number, p.text, p.ocr_state FROM pages p"
        " JOIN documents d ON d.id = p.document_id ORDER BY d.original_filename, p.number"
    )
    texts: dict[str, list[str]] = {}
    states: dict[str, int] = {}
    with engine.connect() as conn:
        for filename, _number, page_text, state in conn.execute(query):
            texts.setdefault(Path(filename).stem, []).append(page_text or "")
            states[state] = states.get(state, 0) + 1
    engine.dispose()
    return texts, states


def bench_ekakte_ocr(corpus: Path, base: Path, truth: dict[str, list[str]], ceiling: float) -> float:
    env = {"EKAKTE_HOME": str(base / "ocr-home"), "EKAKTE_STATION": "bench"}
    prepare(env)  # ACTOR is the scan operator
    inbox = base / "ocr-inbox"
    shutil.copytree(corpus, inbox, ignore=shutil.ignore_patterns("truth"))
    pages = sum(len(p) for p in truth.values())
    start = time.perf_counter()
    run_quietly(
        [EKAKTE, "import", "--allow-root", "--batch", str(inbox), "--ocr", "--workers", str(CORES)], env
    )
    rate = pages / (time.perf_counter() - start)
    texts, states = ekakte_texts(env)
    assert states == {"done": pages}, f"pages by OCR state: {states}"
    row(
        "OCR `ekakte import --batch --ocr`, embedded",
        f"{rate:.2f} pages/s = {rate / ceiling:.0%} of the ceiling, CER {mean_cer(truth, texts):.2%}"
        " (import and OCR)",
        ">= 90 % of the ceiling",
    )
    return rate


def bench_ocrmypdf(corpus: Path, work: Path, truth: dict[str, list[str]], ekakte_rate: float) -> None:
    if shutil.which("ocrmypdf") is None:
        row("OCR ocrmypdf", "not installed (scripts/ensure-bench-tools.sh installs it)", "")
        return
    work.mkdir()
    pdfs = sorted(corpus.glob("*.pdf"))
    start = time.perf_counter()
    for pdf in pdfs:  # one document at a time, each with all cores: how ocrmypdf is meant to be run
        sidecar = work / f"{pdf.stem}.txt"
        command = ["ocrmypdf", "-l", LANGUAGES, "--sidecar", str(sidecar), "-j", str(CORES)]
        run_quietly([*command, str(pdf), str(work / pdf.name)])
    rate = sum(len(p) for p in truth.values()) / (time.perf_counter() - start)
    read = {pdf.stem: (work / f"{pdf.stem}.txt").read_text(encoding="utf-8").split("\f") for pdf in pdfs}
    row(
        f"OCR `ocrmypdf -l {LANGUAGES} --sidecar -j {CORES}`",
        f"{rate:.2f} pages/s, CER {mean_cer(truth, read):.2%}; ekakte is {ekakte_rate / rate:.1f}x",
        "ekakte >= 1.5x",
    )


def bench_ocr(base: Path) -> None:
    corpus = base / "ocr-scans"
    sample_scans.write_synthetic_batch(corpus, CASE, OCR_FILES, OCR_PAGES, dpi=300, seed=100)
    truth = {
        path.name.removesuffix(".truth.txt"): sample_scans.read_truth(path)
        for path in sorted((corpus / "truth").glob("*.truth.txt"))
    }
    size = sum(p.stat().st_size for p in corpus.glob("*.pdf"))
    mib = size / OCR_FILES / 2**20
    print(
        f"  {OCR_FILES} synthetic scans of {OCR_PAGES} pages at 300 dpi, {mib:.1f} MiB each", file=sys.stderr
    )
    ceiling = bench_tesseract_ceiling(corpus, base / "ocr-ceiling", truth)
    ekakte_rate = bench_ekakte_ocr(corpus, base, truth, ceiling)
    bench_ocrmypdf(corpus, base / "ocr-ocrmypdf", truth, ekakte_rate)


# --- rendition: OCR with and without the searchable PDF ------------------------------------------------


def bench_rendition(base: Path) -> None:
    corpus = base / "rendition-scans"
    sample_scans.write_synthetic_batch(corpus, CASE, RENDITION_FILES, RENDITION_PAGES, dpi=300, seed=300)
    pages = RENDITION_FILES * RENDITION_PAGES
    print(f"  {RENDITION_FILES} synthetic scans of {RENDITION_PAGES} pages at 300 dpi", file=sys.stderr)
    seconds: dict[bool, list[float]] = {False: [], True: []}
    for n in range(RENDITION_ROUNDS):
        for searchable in (False, True):  # interleaved: a slower minute of the machine hits both alike
            env = {
                "EKAKTE_HOME": str(base / f"rendition-{n}-{searchable}"), "EKAKTE_STATION": "bench",
                "EKAKTE_SEARCHABLE_PDF": str(searchable).lower(),
            }  # fmt: skip
            prepare(env)
            inbox = base / f"rendition-inbox-{n}-{searchable}"
            shutil.copytree(corpus, inbox, ignore=shutil.ignore_patterns("truth"))
            command = [
                EKAKTE,
                "import",
                "--allow-root",
                "--batch",
                str(inbox),
                "--ocr",
                "--workers",
                str(CORES),
            ]
            start = time.perf_counter()
            run_quietly(command, env)
            seconds[searchable].append((time.perf_counter() - start) / pages)
            made = _renditions_made(env)
            assert made == (RENDITION_FILES if searchable else 0), f"renditions made: {made}"
    off = statistics.median(seconds[False])
    # Each round's pair ran one after the other: the difference within a pair is what the machine's
    # slower and faster minutes (other work on it) disturb least.
    paired = [(b - a) / a for a, b in zip(seconds[False], seconds[True], strict=True)]

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s/page ({min(values):.2f}-{max(values):.2f})"

    row(
        f"OCR `import --batch --ocr`, renditions off / on, {RENDITION_ROUNDS} rounds of {pages} pages",
        f"{spread(seconds[False])} / {spread(seconds[True])}; on - off within a round:"
        f" median {statistics.median(paired):+.1%} ({min(paired):+.1%} to {max(paired):+.1%})",
        "rendition <= 10 % of OCR's time per page",
    )
    bench_rendition_tesseract(corpus, base / "rendition-tesseract")
    bench_rendition_maker(corpus, base / "rendition-maker", off)


def bench_rendition_tesseract(corpus: Path, work: Path) -> None:
    """What the layer costs tesseract: each page image read with and without the text-only PDF, in turn
    (which first alternates from page to page), one tesseract at a time."""
    from ekakte.ocr.engine import TesseractEngine

    work.mkdir()
    engine = TesseractEngine()
    images = [image for pdf in sorted(corpus.glob("*.pdf")) for image in embedded_jpegs(pdf, work)]
    took: dict[bool, list[float]] = {False: [], True: []}
    for n, image in enumerate(images):
        for layer in (False, True) if n % 2 else (True, False):
            start = time.perf_counter()
            engine.recognize(image, LANGUAGES, 300, layer)
            took[layer].append(time.perf_counter() - start)
    without, with_layer = statistics.median(took[False]), statistics.median(took[True])
    paired = [(b - a) * 1000 for a, b in zip(took[False], took[True], strict=True)]
    row(
        f"… tesseract alone, without / with the text-only PDF, {len(images)} pages, one at a time",
        f"{without:.2f} / {with_layer:.2f} s/page; with - without per page: median"
        f" {statistics.median(paired):+.0f} ms ({min(paired):+.0f} to {max(paired):+.0f})"
        f" = {statistics.median(paired) / 1000 / without:+.1%}",
        "(part of the rendition's cost)",
    )


def _renditions_made(env: dict[str, str]) -> int:
    engine = create_engine(load_settings(env).database_url)
    with engine.connect() as conn:
        made = int(conn.execute(text("SELECT count(*) FROM renditions")).scalar_one())
    engine.dispose()
    return made


def bench_rendition_maker(corpus: Path, home: Path, ocr_seconds: float) -> None:
    """The making alone, in this process: each make_rendition call of an OCR run, timed."""
    from ekakte.ocr import worker
    from ekakte.ocr.worker import run_ocr

    env = {"EKAKTE_HOME": str(home), "EKAKTE_STATION": "bench"}
    prepare(env)
    timed: list[tuple[float, int]] = []
    make = worker.make_rendition

    def timing(archive: Archive, document_id: uuid.UUID, *args: Any) -> str:
        start = time.perf_counter()
        made = make(archive, document_id, *args)
        with archive.reading() as session:
            count = session.scalar(select(Document.page_count).where(Document.id == document_id)) or 1
        timed.append(((time.perf_counter() - start) / count, count))
        return made

    worker.make_rendition = timing  # type: ignore[assignment]
    try:
        with Archive.open(load_settings(env)) as archive:
            for pdf in sorted(corpus.glob("*.pdf")):
                meta = DocumentMeta(CASE, "Antrag", date(2026, 3, 1))
                import_document(archive, ACTOR, pdf, meta)
            run_ocr(archive, ACTOR, workers=CORES)
    finally:
        worker.make_rendition = make  # type: ignore[assignment]
    per_page = [t * 1000 for t, _ in timed]
    row(
        f"… making the rendition alone (layers laid on, hashed, stored, recorded), {len(timed)} documents",
        f"median {statistics.median(per_page):.1f} ms/page ({min(per_page):.1f}-{max(per_page):.1f})"
        f" = {statistics.median(per_page) / 1000 / ocr_seconds:.1%} of OCR's time per page",
        "<= 10 % of OCR's time per page",
    )


# --- search: latency over 200,000 documents with a page of text each ------------------------------------

# Words too common to be searched for alone: in nearly every document of a job centre. (Words of three
# letters or fewer are left out anyway.)
STOP_WORDS = {
    "aber", "dass", "eine", "einem", "einen", "einer", "eines", "ihre", "ihrem", "ihren", "ihrer", "nach",
    "nicht", "oder", "sind", "wird", "werden", "euro",
}  # fmt: skip


def page_text(g: int) -> str:
    """The text of the one page of seeded document g: 10 to 22 lines, 100-200 words, of its kind."""
    return "\n".join(sample_scans.german_lines(g, 10 + g % 13))


def seed_pages(docs: int, team: int) -> Callable[[Connection], None]:
    """One page of text for each seeded document, with the team of its case (all `team`'s), as
    ekakte's import writes it."""

    def insert(conn: Connection) -> None:
        document_id = SEED_DOCUMENT_ID[conn.dialect.name]
        statement = text(
            "INSERT INTO pages (document_id, number, text, ocr_state, attempts, team_id)"
            " VALUES (:d, 1, :t, 'done', 0, :team)"
        )
        for first in range(1, docs + 1, 5000):
            rows = [
                {"d": document_id(g), "t": page_text(g), "team": team}
                for g in range(first, min(first + 5000, docs + 1))
            ]
            conn.execute(statement, rows)

    return insert


def search_queries(docs: int) -> list[str]:
    """100 single words, 100 pairs, 100 "phrases" taken from the seeded texts, so that most match.

    A query is about one document someone has in mind: words are drawn from the distinct words of a
    random document, common and rare alike, leaving out stop words and numbers (phrases keep both)."""
    rng = random.Random(7)
    queries = []
    for n in range(SEARCHES):
        words = re.findall(r"\w[\w-]*", page_text(rng.randint(1, docs)))
        searchable = sorted({w for w in words if w.isalpha() and len(w) > 3 and w.lower() not in STOP_WORDS})
        if n % 3 == 0:
            queries.append(rng.choice(searchable))
        elif n % 3 == 1:
            queries.append(" ".join(rng.sample(searchable, 2)))
        else:
            at = rng.randrange(len(words) - 2)
            queries.append('"' + " ".join(words[at : at + rng.choice((2, 3))]) + '"')
    return queries


def bench_search(label: str, env: dict[str, str], docs: int) -> None:
    settings = load_settings(env)
    kinds = sorted(sample_scans.SENTENCES)  # document g is of kind letter_kind(g) = kinds[g % 5]
    document_type = "CASE g % 5 " + " ".join(f"WHEN {i} THEN '{k}'" for i, k in enumerate(kinds)) + " END"
    team = prepare(env)
    took = seed(settings.database_url, docs, team, document_type=document_type, pages=seed_pages(docs, team))
    print(f"  seeded {docs} documents with a page of text each in {took:.0f} s", file=sys.stderr)
    measure_search(f"search, {label}, {docs:,} docs", settings, docs)
    # The same archive as a job centre of several teams has it: the caseworker sees a tenth of it, and
    # most of what matches a word is in other teams' cases, which the search must pass over.
    took = spread_cases(settings, TEAMS)
    print(f"  gave the cases to {TEAMS} teams (and their pages, by trigger) in {took:.0f} s", file=sys.stderr)
    measure_search(f"search, {label}, {docs:,} docs in {TEAMS} teams, a caseworker of one", settings, docs)


def spread_cases(settings: Any, teams: int) -> float:
    """Give the seeded cases to `teams` teams, five consecutive cases (one of each kind of letter) at a
    time; the bench's team keeps every `teams`-th five, so its caseworker sees 1/`teams` of the archive.
    The pages follow their cases by the database's trigger (migration 0007), as on `case assign`.
    Returns the seconds that took."""
    from ekakte.principals import add_team

    with Archive.open(settings) as archive:
        for n in range(2, teams + 1):
            add_team(archive, ACTOR, f"bench-team-{n}")
    engine = create_engine(settings.database_url)
    block = "((cases.id - 1) / 5) % :teams"
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE cases SET team_id = (SELECT id FROM teams WHERE name = CASE WHEN"
                f" {block} = 0 THEN 'bench-team' ELSE 'bench-team-' || ({block} + 1) END)"
            ),
            {"teams": teams},
        )
    took = time.perf_counter() - start
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    engine.dispose()
    return took


def measure_search(what: str, settings: Any, docs: int) -> None:
    from ekakte.search import RANK_WINDOW, search

    queries = search_queries(docs)
    times: dict[str, list[float]] = {"word": [], "pair": [], "phrase": []}
    collecting: list[float] = []  # per query: ms spent in Python's cyclic garbage collector
    hits = []
    full = 0
    gc_ms = [0.0]

    def in_collector(phase: str, _info: dict[str, int]) -> None:
        gc_ms[0] += (1 if phase == "stop" else -1) * time.perf_counter() * 1000

    round_p95: list[float] = []
    with Archive.open(settings) as archive:
        for query in queries[:30]:  # warm the connection pool and caches
            search(archive, ACTOR, query, limit=20)
        gc.callbacks.append(in_collector)
        # The same queries in SEARCH_ROUNDS rounds: this kind of machine runs faster and slower by the
        # minute (the same code's p95 ranged over 20 ms in one hour), so each round's p95 is shown too.
        for _round in range(SEARCH_ROUNDS):
            took_round = []
            for n, query in enumerate(queries):
                gc_ms[0] = 0.0
                start = time.perf_counter()
                found = search(archive, ACTOR, query, limit=20)
                took_round.append((time.perf_counter() - start) * 1000)
                times[("word", "pair", "phrase")[n % 3]].append(took_round[-1])
                collecting.append(gc_ms[0])
                hits.append(len(found.hits))
                full += found.window_full
            round_p95.append(percentile(took_round, 95))
        gc.callbacks.remove(in_collector)
    every = [t for kind in times.values() for t in kind]
    by_kind = ", ".join(f"{kind}s {percentile(t, 95):.0f}" for kind, t in times.items())
    outside = [
        t - c for t, c in zip((t for kind in times.values() for t in kind), _by_kind(collecting), strict=True)
    ]
    paused = sum(1 for c in collecting if c >= 20)
    row(
        what,
        f"p50 {statistics.median(every):.1f} ms, p95 {percentile(every, 95):.1f} ms"
        f" (p95 of each round {', '.join(f'{p:.0f}' for p in round_p95)} ms; of {by_kind} ms;"
        f" {sum(1 for h in hits if h) / len(hits):.0%} of queries found something,"
        f" {full / len(hits):.0%} more than the {RANK_WINDOW:,} pages ranked;"
        f" {paused} of {len(every)} searches paused >= 20 ms by Python's garbage collector, p95 without its"
        f" time {percentile(outside, 95):.1f} ms)",
        "p95 <= 50 ms",
    )


def _by_kind(per_query: list[float]) -> list[float]:
    """Values recorded per query (word, pair, phrase, word, ...) in the order of the by-kind lists."""
    return [v for start in range(3) for v in per_query[start::3]]


# --- rss: peak memory of the process tree importing and reading one long scan -----------------------------


def process_tree(root: int) -> list[int]:
    """root and all its descendants now (children found through /proc/*/stat)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def rss_kib(pid: int) -> tuple[str, int]:
    """(name, VmRSS in KiB) of a process; 0 when it is gone or a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "", 0
    name = re.search(r"^Name:\s*(.*)$", status, re.M)
    rss = re.search(r"^VmRSS:\s*(\d+) kB", status, re.M)
    return (name.group(1) if name else "?"), int(rss.group(1)) if rss else 0


def pss_kib(pid: int) -> int:
    """Proportional set size in KiB: RSS with each shared page divided among the processes sharing it."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    pss = re.search(r"^Pss:\s*(\d+) kB", rollup, re.M)
    return int(pss.group(1)) if pss else 0


class TreeSampler(threading.Thread):
    """Samples the RSS of a process tree every 50 ms: the peak sum, and the peak of any one process.

    Also the peak sum of PSS, which counts the pages the processes share (libraries, tesseract's models)
    once, where the sum of RSS counts them once per process."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_total = 0
        self.peak_pss = 0
        self.peak_single = 0
        self.peak_single_is = ""
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.05):
            tree = process_tree(self.root)
            sizes = {pid: rss_kib(pid) for pid in tree}
            self.peak_total = max(self.peak_total, sum(kib for _, kib in sizes.values()))
            self.peak_pss = max(self.peak_pss, sum(pss_kib(pid) for pid in tree))
            for pid, (name, kib) in sizes.items():
                if kib > self.peak_single:
                    self.peak_single, self.peak_single_is = kib, self.describe(pid, name)

    def describe(self, pid: int, name: str) -> str:
        return "the ekakte command" if pid == self.root else name


def bench_rss(base: Path) -> None:
    scan = base / "rss-scan.pdf"
    start = time.perf_counter()
    sample_scans.write_scan_pdf(scan, sample_scans.synthetic_pages(500, RSS_PAGES))
    print(
        f"  a {RSS_PAGES}-page scan of {scan.stat().st_size / 2**20:.0f} MiB"
        f" made in {time.perf_counter() - start:.0f} s",
        file=sys.stderr,
    )
    env = {"EKAKTE_HOME": str(base / "rss-home"), "EKAKTE_STATION": "bench"}
    prepare(env)
    meta = ["--case", CASE, "--type", "Antrag"]
    command = [EKAKTE, "import", str(scan), *meta, "--ocr", "--workers", str(CORES)]
    start = time.perf_counter()
    proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    code = proc.wait()
    sampler.stopped.set()
    sampler.join()
    assert code == 0, f"{' '.join(command)} exited with {code}"
    elapsed = time.perf_counter() - start
    total, single = sampler.peak_total / 1024, sampler.peak_single / 1024
    row(
        f"peak RSS, `ekakte import --ocr` of one {RSS_PAGES}-page scan, {CORES} workers",
        f"{total:.0f} MiB for the whole process tree (PSS {sampler.peak_pss / 1024:.0f} MiB), largest"
        f" process {single:.0f} MiB ({sampler.peak_single_is}); {RSS_PAGES / elapsed:.2f} pages/s",
        "<= 400 MB",
    )


# --- pages: page images for a viewer --------------------------------------------------------------------


def write_bitonal_tiff(path: Path, pages: int) -> None:
    """A multi-page CCITT G4 TIFF of 300 dpi A4 pages, as a document scanner set to black and white
    writes it (the synthetic scans, thresholded), made a frame at a time."""
    frames = (
        page.point(lambda v: 255 if v > 128 else 0).convert("1")
        for page in sample_scans.synthetic_pages(700, pages)
    )
    first = next(frames)
    first.save(path, "TIFF", save_all=True, append_images=frames, compression="group4", dpi=(300, 300))


def bench_pages(base: Path) -> None:
    from ekakte.documents import open_original
    from ekakte.ingest import import_document
    from ekakte.page_images import render_page
    from ekakte.principals import assign_case

    bench_page_formats()

    start = time.perf_counter()
    scans = {"pdf": base / "pages-scan.pdf", "tif": base / "pages-scan.tif"}
    sample_scans.write_scan_pdf(scans["pdf"], sample_scans.synthetic_pages(600, PAGES_PDF))
    write_bitonal_tiff(scans["tif"], PAGES_TIFF)
    print(
        f"  a {PAGES_PDF}-page scanned PDF of {scans['pdf'].stat().st_size / 2**20:.0f} MiB and a"
        f" {PAGES_TIFF}-page bitonal TIFF of {scans['tif'].stat().st_size / 2**20:.1f} MiB"
        f" made in {time.perf_counter() - start:.0f} s",
        file=sys.stderr,
    )
    env = {"EKAKTE_HOME": str(base / "pages-home"), "EKAKTE_STATION": "bench"}
    prepare(env)
    with Archive.open(load_settings(env)) as archive:
        assign_case(archive, ACTOR, CASE, "bench-team")
        ids = {
            kind: import_document(archive, ACTOR, path, DocumentMeta(CASE, "Antrag")).document_id
            for kind, path in scans.items()
        }
        for kind, label, last in [
            ("pdf", f"last page of a {PAGES_PDF}-page scanned PDF", PAGES_PDF),
            ("tif", f"last frame of a {PAGES_TIFF}-page bitonal TIFF (G4)", PAGES_TIFF),
        ]:
            render_page(archive, ACTOR, ids[kind], last, VIEWER_WIDTH)  # warm: imports, caches
            times, streams = [], []
            for _ in range(5):
                start = time.perf_counter()
                image = render_page(archive, ACTOR, ids[kind], last, VIEWER_WIDTH)
                times.append(time.perf_counter() - start)
                start = time.perf_counter()
                with open_original(archive, ACTOR, ids[kind]) as original, open(os.devnull, "wb") as sink:
                    for chunk in original:
                        sink.write(chunk)
                streams.append(time.perf_counter() - start)
            process_s, peak, pss = doc_page_process(env, ids[kind], last, base / f"page.{kind}.out")
            row(
                f"page image at {VIEWER_WIDTH} px, {label}",
                f"{statistics.median(times) * 1000:.0f} ms (median of 5; streaming the verified original"
                f" alone {statistics.median(streams) * 1000:.0f} ms); {image.media_type}"
                f" {image.width}x{image.height}, {len(image.data) / 1024:.0f} KiB; `ekakte doc page`"
                f" {process_s * 1000:.0f} ms, peak RSS {peak:.0f} MiB (PSS {pss:.0f} MiB)",
                "(reported)",
            )


def viewer_pages() -> dict[str, Any]:
    """One A4 page of each kind a viewer meets: a born-digital letter (rendered by PDFium at the
    viewer's width, clean white), and at 300 dpi a bitonal scan, a greyscale scan (paper grain, sensor
    noise, JPEG), a colour scan (tinted paper, noise in each channel, a red stamp, a photo-like gradient)."""
    import pypdfium2
    from PIL import Image, ImageChops, ImageDraw

    lines = sample_scans.page_lines(7, 0, 38)
    grey = sample_scans.scan_page(lines, dpi=300, seed=7)
    pdf = pypdfium2.PdfDocument(sample_scans.born_digital_pdf_bytes([lines]))
    page = pdf[0]  # drawn at the viewer's width, as ekakte draws a PDF page
    born = page.render(scale=VIEWER_WIDTH / page.get_width() * (1 - 1e-9)).to_pil().convert("L")
    pdf.close()
    rng = random.Random(1)
    noise = [
        Image.frombytes("L", grey.size, rng.randbytes(grey.width * grey.height)).point(
            lambda v: 124 + v * 8 // 255
        )
        for _ in range(3)
    ]
    tinted = (grey.point(lambda v: min(255, v + 4)), grey, grey.point(lambda v: max(0, v - 18)))
    colour = Image.merge("RGB", [ImageChops.add(c, n, 1.0, -128) for c, n in zip(tinted, noise, strict=True)])
    draw = ImageDraw.Draw(colour)
    draw.ellipse((1700, 2900, 2200, 3300), outline=(190, 30, 40), width=18)
    gradient = Image.linear_gradient("L").resize((1400, 900))
    colour.paste(Image.merge("RGB", (gradient, gradient.rotate(90), gradient.transpose(0))), (500, 1800))
    return {
        "born-digital letter": born,
        "bitonal scan": grey.point(lambda v: 255 if v > 128 else 0).convert("1"),
        "greyscale scan": grey,
        "colour scan": colour,
    }


def bench_page_formats() -> None:
    """What each image format costs for each kind of page at the viewer's width, and what ekakte sends."""
    from PIL import Image

    from ekakte.page_images import _GREY_LEVELS, _encode

    def encoded(img: Any, fmt: str, **options: Any) -> tuple[int, float]:
        out = io.BytesIO()
        start = time.perf_counter()
        img.save(out, fmt, **options)
        return len(out.getvalue()), (time.perf_counter() - start) * 1000

    for kind, page in viewer_pages().items():
        page = page.convert("L" if page.mode in ("1", "L") else "RGB")
        size = (VIEWER_WIDTH, round(page.height * VIEWER_WIDTH / page.width))
        small = (
            page
            if page.width == VIEWER_WIDTH
            else page.resize(size, Image.Resampling.LANCZOS, reducing_gap=1.0)
        )
        grey = small.convert("L")
        sizes = {
            "PNG lossless": encoded(small, "PNG", compress_level=3),
            "PNG 16 greys": encoded(grey.point(_GREY_LEVELS), "PNG", compress_level=3),
            "JPEG q85": encoded(small, "JPEG", quality=85, optimize=True),
        }
        media_type, data = _encode(small)
        row(
            f"page image format at {VIEWER_WIDTH} px, {kind}",
            "; ".join(f"{name} {size / 1024:.0f} KiB in {ms:.0f} ms" for name, (size, ms) in sizes.items())
            + f"; ekakte sends {media_type}, {len(data) / 1024:.0f} KiB",
            "(reported)",
        )


def doc_page_process(
    env: dict[str, str], doc_id: uuid.UUID, page: int, out: Path
) -> tuple[float, float, float]:
    """Wall time (s), peak RSS and PSS (MiB) of the whole `ekakte doc page` command."""
    command = [EKAKTE, "doc", "page", str(doc_id), "--page", str(page), "--width", str(VIEWER_WIDTH)]
    command += ["-o", str(out), "--force"]
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    sampler = TreeSampler(proc.pid)
    sampler.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    sampler.stopped.set()
    sampler.join()
    assert proc.returncode == 0, f"{' '.join(command)} exited with {proc.returncode}: {err.decode()}"
    return elapsed, sampler.peak_total / 1024, sampler.peak_pss / 1024


# --- the groups -------------------------------------------------------------------------------------------


def run_import(base: Path) -> None:
    size = write_scans(base / "scans", IMPORT_DOCS)
    print(f"  {IMPORT_DOCS} sample PDFs, mean {size / IMPORT_DOCS / 1024:.0f} KiB", file=sys.stderr)
    shutil.copytree(base / "scans", base / "inbox-embedded")
    bench_import(
        "embedded (SQLite + folder)",
        {"EKAKTE_HOME": str(base / "emb")},
        base / "inbox-embedded",
        ">= 100 docs/s",
    )
    with postgres_database() as pg_url, moto_process() as s3_endpoint:
        shutil.copytree(base / "scans", base / "inbox-server")
        server_env = pg_s3_env(base / "srv", pg_url, s3_endpoint, "ekakte-bench")
        bench_import("PostgreSQL + S3 (moto)", server_env, base / "inbox-server", ">= 50 docs/s")


def run_lookup(base: Path) -> None:
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


def run_search(base: Path) -> None:
    bench_search("SQLite (FTS5)", {"EKAKTE_HOME": str(base / "search-lite")}, SEARCH_DOCS)
    with postgres_database() as pg_url:
        env = {"EKAKTE_HOME": str(base / "search-pg"), "EKAKTE_DATABASE_URL": pg_url}
        bench_search("PostgreSQL (tsvector)", env, SEARCH_DOCS)


# --- oracles --------------------------------------------------------------------------------------------

ORACLE_DOCS = int(os.environ.get("BENCH_ORACLE_DOCS", "30000"))
ORACLE_RUNS = int(os.environ.get("BENCH_ORACLE_RUNS", "300"))
ORACLE_TEAMS = 3  # the caller is of one: a third of the teams, where SQLite used to ask for the words alone
OTHERS_WORD = "Zebrafink"  # on every page of the second team's cases
RESTRICTED_WORD = "Walrossbart"  # on every restricted page (Gutachten) of the caller's own team
NOWHERE_WORD = "Quokkabar"  # on no page at all


def oracle_case_team(case_id: str) -> str:
    """Which of the oracle archive's teams case `case_id` (SQL) belongs to: 0 the caller's."""
    return f"(({case_id}) % {ORACLE_TEAMS})"


def seed_oracle_pages(docs: int, team: int) -> Callable[[Connection], None]:
    """One page per document, with a word only the other team's pages have, and one only the caller's
    own team's restricted pages have."""

    def insert(conn: Connection) -> None:
        document_id = SEED_DOCUMENT_ID[conn.dialect.name]
        cases = docs // DOCS_PER_CASE
        statement = text(
            "INSERT INTO pages (document_id, number, text, ocr_state, attempts, team_id)"
            " VALUES (:d, 1, :t, 'done', 0, :team)"
        )
        for first in range(1, docs + 1, 5000):
            batch = []
            for g in range(first, min(first + 5000, docs + 1)):
                case_team = ((g % cases) + 1) % ORACLE_TEAMS
                extra = (
                    OTHERS_WORD
                    if case_team == 1
                    else RESTRICTED_WORD
                    if case_team == 0 and g % 5 == 0
                    else ""
                )
                batch.append({"d": document_id(g), "t": f"{page_text(g)}\n{extra}", "team": team})
            conn.execute(statement, batch)

    return insert


def bench_oracles(label: str, env: dict[str, str]) -> None:
    """Whether what a caseworker may not see shows in the time a search or a lookup takes: searches
    that find nothing the caller may see, for a word on thousands of other teams' pages, on thousands
    of restricted pages of the caller's own team (the caller has no health clearance), and on no page;
    lookups of another team's case and document against ones that do not exist. Interleaved in random
    order, ORACLE_RUNS times each; the gap is the difference of the medians, with each side's spread."""
    from ekakte.documents import case_documents, get_document
    from ekakte.principals import add_team
    from ekakte.search import search

    settings = load_settings(env)
    team = prepare(env)
    own = oracle_case_team("(g % :cases) + 1")
    restricted = f"CASE WHEN {own} = 0 AND g % 5 = 0 THEN 'Gutachten' ELSE 'Antrag' END"
    seed(
        settings.database_url,
        ORACLE_DOCS,
        team,
        document_type=restricted,
        pages=seed_oracle_pages(ORACLE_DOCS, team),
    )
    with Archive.open(settings) as archive:
        for n in range(2, ORACLE_TEAMS + 1):
            add_team(archive, ACTOR, f"bench-team-{n}")
    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        which = oracle_case_team("cases.id")
        conn.execute(
            text(
                "UPDATE cases SET team_id = (SELECT id FROM teams WHERE name ="
                f" CASE {which} WHEN 0 THEN 'bench-team' ELSE 'bench-team-' || ({which} + 1) END)"
            )
        )
        columns = {c["name"] for c in inspect(conn).get_columns("documents")}
        if "restricted" in columns:  # restricted is archive state: marked at import, here by hand
            conn.execute(text("UPDATE documents SET restricted = (document_type = 'Gutachten')"))
        other_case = conn.execute(text("SELECT case_number FROM cases WHERE id = 2")).scalar_one()
        other_doc = conn.execute(
            text("SELECT d.id FROM documents d WHERE d.case_id = 2 LIMIT 1")
        ).scalar_one()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    engine.dispose()
    nowhere_case = "99999BG9999999"
    nowhere_doc = uuid.UUID(int=12345)
    other_doc_id = other_doc if isinstance(other_doc, uuid.UUID) else uuid.UUID(str(other_doc))

    def refused(call: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            try:
                return call()
            except Exception as exc:  # the refusal is what is timed
                return exc

        return run

    with Archive.open(settings) as archive:
        trials: dict[str, Callable[[], object]] = {
            "search: others' pages": lambda: search(archive, ACTOR, OTHERS_WORD),
            "search: own restricted pages": lambda: search(archive, ACTOR, RESTRICTED_WORD),
            "search: no page": lambda: search(archive, ACTOR, NOWHERE_WORD),
            "case: another team's": refused(lambda: case_documents(archive, ACTOR, other_case)),
            "case: none": refused(lambda: case_documents(archive, ACTOR, nowhere_case)),
            "doc: another team's": refused(lambda: get_document(archive, ACTOR, other_doc_id)),
            "doc: none": refused(lambda: get_document(archive, ACTOR, nowhere_doc)),
        }
        for outcome in (trials["search: others' pages"](), trials["search: own restricted pages"]()):
            assert not outcome.hits, "the oracle searches must find nothing the caller may see"  # type: ignore[attr-defined]
        took: dict[str, list[float]] = {name: [] for name in trials}
        rng = random.Random(15)
        names = list(trials)
        for _ in range(30):  # warm up
            for name in names:
                trials[name]()
        for _ in range(ORACLE_RUNS):
            rng.shuffle(names)
            for name in names:
                start = time.perf_counter()
                trials[name]()
                took[name].append((time.perf_counter() - start) * 1000)

    def spread(name: str) -> str:
        q = statistics.quantiles(took[name], n=4)
        return f"median {statistics.median(took[name]):.3f} ms (IQR {q[0]:.3f}-{q[2]:.3f})"

    for probe, control in (
        ("search: others' pages", "search: no page"),
        ("search: own restricted pages", "search: no page"),
        ("case: another team's", "case: none"),
        ("doc: another team's", "doc: none"),
    ):
        gap = statistics.median(took[probe]) - statistics.median(took[control])
        row(
            f"oracle, {label}, {probe} vs {control.split(': ')[1]}",
            f"{gap * 1000:+.0f} µs: {spread(probe)} vs {spread(control)}",
            "gap within the spread",
        )


def run_oracles(base: Path) -> None:
    bench_oracles("SQLite", {"EKAKTE_HOME": str(base / "oracle-lite")})
    with postgres_database() as pg_url:
        bench_oracles("PostgreSQL", {"EKAKTE_HOME": str(base / "oracle-pg"), "EKAKTE_DATABASE_URL": pg_url})


# --- retention ------------------------------------------------------------------------------------------

RETENTION_DOCS = int(os.environ.get("BENCH_RETENTION_DOCS", "1000000"))
SWEEP_DOCS = int(os.environ.get("BENCH_SWEEP_DOCS", "2000"))
RETENTION_RULES = ROOT / "examples" / "retention-rules.toml"
# The seeded due dates spread over 2016-2025: as of 2026-01-01 every one is due (or held).
SEED_DUE = """
    UPDATE documents SET due_on = date '2016-01-01' + (abs(hashtext(id::text)) % 3650),
                         retention_rule = 'Leistungsakte (default)', retention_version = 1"""


def records_manager(env: dict[str, str]) -> None:
    from ekakte.principals import grant

    with Archive.open(load_settings(env)) as archive:
        grant(archive, ACTOR, ACTOR.name, ["records_manager"])


def bench_plan(env: dict[str, str], docs: int) -> None:
    """`retention plan` over a million documents on PostgreSQL, with a thousand case holds."""
    from ekakte.retention.holds import add_hold
    from ekakte.retention.sweep import plan

    settings = load_settings(env)
    took = seed(settings.database_url, docs, prepare(env))
    records_manager(env)
    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(text(SEED_DUE))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE documents"))
    engine.dispose()
    print(f"  seeded {docs} documents with due dates in {took:.0f} s", file=sys.stderr)
    with Archive.open(settings) as archive:
        for n in range(0, docs // DOCS_PER_CASE, max(1, docs // DOCS_PER_CASE // 1000)):
            add_hold(archive, ACTOR, case_number=f"{n:05d}BG{n:07d}", reason="bench hold")
        start = time.perf_counter()
        due = held = 0
        for item in plan(archive, ACTOR, as_of=date(2026, 1, 1)):
            held += bool(item.held_by)
            due += not item.held_by
        seconds = time.perf_counter() - start
    row(
        f"retention plan, PostgreSQL, {docs:,} docs",
        f"{seconds:.1f} s ({due:,} due, {held:,} held back)",
        "<= 10 s",
    )


def seed_objects(env: dict[str, str], docs: int, due: str) -> Any:
    """`docs` documents due as `due` says (SQL), under the example rules; the settings. Their objects come
    from `put_objects`."""
    from ekakte.retention.schedule import load_rules

    settings = load_settings(env)
    team = prepare(env)
    records_manager(env)
    with Archive.open(settings) as archive:
        load_rules(archive, ACTOR, RETENTION_RULES)
    seed(settings.database_url, docs, team)
    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(text(due))
    engine.dispose()
    return settings


def put_objects(archive: Archive) -> None:
    """A small real object for every document."""
    with archive.reading() as session:
        keys = list(session.execute(text("SELECT storage_key FROM documents")).scalars())
    body = b"%PDF-1.4 bench object\n%%EOF\n"
    digest = hashlib.sha256(body).hexdigest()
    for key in keys:
        archive.store.put(key, io.BytesIO(body), len(body), digest, "application/pdf")


def bench_sweep(label: str, env: dict[str, str], docs: int) -> None:
    """The sweep deleting `docs` due documents with real objects."""
    from ekakte.retention.sweep import sweep

    # The example's bank statements are destroyed when due (released in advance by the archive); the
    # Aussonderung's own figures are in the `aussonderung` group.
    settings = seed_objects(env, docs, SEED_DUE.replace("Leistungsakte (default)", "Kontoauszüge"))
    with Archive.open(settings) as archive:
        put_objects(archive)
        start = time.perf_counter()
        report = sweep(archive, ACTOR, as_of=date(2026, 1, 1))
        seconds = time.perf_counter() - start
    assert report.complete, report.problems
    row(
        f"retention sweep, {label}",
        f"{report.deleted / seconds:.0f} docs/s ({report.deleted:,} deleted in {seconds:.1f} s)",
        ">= 500 docs/s",
    )


def bench_lock_sync(label: str, env: dict[str, str], docs: int) -> None:
    """Telling an Object Lock store the retain-until dates of `docs` documents not yet due (one request
    and one short transaction each), as after a `rules load` that gives every document a date."""
    from ekakte.retention.worm import sync_object_locks

    settings = seed_objects(env, docs, SEED_DUE.replace("date '2016-01-01'", "current_date + 1"))
    with Archive.open(settings) as archive:
        put_objects(archive)
        start = time.perf_counter()
        outcome = sync_object_locks(archive)
        seconds = time.perf_counter() - start
    assert outcome.ok and outcome.changed == docs, outcome.problem()
    row(f"Object Lock retain-until dates told, {label}", f"{docs / seconds:.0f} docs/s ({docs:,})", "-")


def run_retention(base: Path) -> None:
    with postgres_database() as pg_url:
        bench_plan({"EKAKTE_HOME": str(base / "plan"), "EKAKTE_DATABASE_URL": pg_url}, RETENTION_DOCS)
    with postgres_database() as pg_url, moto_process() as endpoint:
        bench_sweep(
            "PostgreSQL + S3 (moto)", pg_s3_env(base / "sweep", pg_url, endpoint, "bench-sweep"), SWEEP_DOCS
        )
    with rgw_server() as rgw:
        locked = {"EKAKTE_S3_ACCESS_KEY": rgw.access_key, "EKAKTE_S3_SECRET_KEY": rgw.secret_key}
        locked["EKAKTE_S3_OBJECT_LOCK"] = "true"
        for name, run in (("sweep", bench_sweep), ("locks", bench_lock_sync)):
            with postgres_database() as pg_url:
                env = {**pg_s3_env(base / f"rgw-{name}", pg_url, rgw.endpoint, f"bench-{name}"), **locked}
                run("PostgreSQL + RadosGW (Object Lock)", env, SWEEP_DOCS)


# --- aussonderung: the offer to the archive (0501) and the hand-over (0503) -------------------------------

AUSSONDERUNG_DOCS = int(os.environ.get("BENCH_AUSSONDERUNG_DOCS", "100000"))
HANDOVER_DOCS = int(os.environ.get("BENCH_HANDOVER_DOCS", "2000"))
HANDOVER_KB = int(os.environ.get("BENCH_HANDOVER_KB", "512"))
HANDOVER_LARGER = 4  # the hand-over again with objects this many times larger (and as many times fewer)
PARTIES = {"EKAKTE_ARCHIVE_SENDER": "Jobcenter Bench", "EKAKTE_ARCHIVE_RECIPIENT": "Kreisarchiv Bench"}
# One step of the Aussonderung in a process of its own, under the RSS sampler: the library call timed, and
# the process's RSS before it (connected, its modules loaded) printed, so that the peak says what the call
# added. argv: offer|hand_over, the transfer folder, the process id (hand_over).
AUSSONDERUNG_STEP = """
import json, re, sys, time
from datetime import date
from pathlib import Path

from sqlalchemy import text

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.retention.disposal import hand_over, offer

step, out_dir, process_id = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
actor = Actor.from_os()
with Archive.open(load_settings()) as archive:
    with archive.reading() as session:
        session.execute(text("SELECT count(*) FROM disposal_records")).scalar_one()
    status = Path("/proc/self/status").read_text()
    before = int(re.search(r"^VmRSS:\\s*(\\d+) kB", status, re.M).group(1))
    start = time.perf_counter()
    if step == "offer":
        report = offer(archive, actor, out_dir, as_of=date(2026, 1, 1))
    else:
        report = hand_over(archive, actor, process_id, out_dir)
    seconds = time.perf_counter() - start
figures = {"seconds": seconds, "rss_before_kib": before, "process_id": report.process_id,
           "documents": report.documents, "path": str(report.path)}
figures.update({"cases": report.cases} if step == "offer" else {"bytes": report.bytes, "files": report.files})
print(json.dumps(figures))
"""


def aussonderung_step(env: dict[str, str], step: str, out_dir: Path, process_id: str = "") -> dict[str, Any]:
    """Run one step (offer, hand_over) in a process of its own under the TreeSampler; its figures, with
    the peak RSS of the process and what the call added to it (MiB)."""
    out_dir.mkdir(parents=True)
    command = [sys.executable, "-c", AUSSONDERUNG_STEP, step, str(out_dir), process_id]
    proc = subprocess.Popen(
        command, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    sampler = TreeSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    sampler.stopped.set()
    sampler.join()
    assert proc.returncode == 0, f"the {step} step exited with {proc.returncode}: {err.decode()}"
    figures: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    figures["peak_mib"] = sampler.peak_total / 1024
    figures["added_mib"] = (sampler.peak_total - figures["rss_before_kib"]) / 1024
    figures["package_bytes"] = Path(figures["path"]).stat().st_size
    return figures


def bench_offer(label: str, env: dict[str, str], docs: int, out_dir: Path) -> str:
    """`offer` of `docs` due documents in docs / 10 cases under an `offer` rule; the process id."""
    start = time.perf_counter()
    settings = seed_objects(env, docs, SEED_DUE)  # Leistungsakte (default): disposition "offer"
    engine = create_engine(settings.database_url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE documents"))
    engine.dispose()
    took = time.perf_counter() - start
    print(f"  seeded {docs} due documents in {docs // DOCS_PER_CASE} cases in {took:.0f} s", file=sys.stderr)
    got = aussonderung_step(env, "offer", out_dir)
    assert got["documents"] == docs, got
    seconds = got["seconds"]
    row(
        f"Aussonderung offer (0501), {label}, {docs:,} docs in {got['cases']:,} cases",
        f"{seconds:.1f} s ({docs / seconds:,.0f} docs/s); 0501 zip {got['package_bytes'] / 1e6:.1f} MB;"
        f" peak RSS {got['peak_mib']:.0f} MiB, {got['added_mib']:.0f} MiB of it the offer's",
        "<= 30 s",
    )
    return str(got["process_id"])


def keep_with_objects(settings: Any, cases: range, kib: int) -> list[dict[str, Any]]:
    """The archive's answer, made real for the documents of `cases`: each gets an object of `kib` KiB of
    random bytes (its row's size and SHA-256 set to match), and its record is marked A (`keep`) by SQL.
    Returns the objects (id, key, size, sha)."""
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        chosen = conn.execute(
            text("SELECT id, storage_key FROM documents WHERE case_id BETWEEN :first AND :last ORDER BY id"),
            {"first": cases.start, "last": cases.stop - 1},
        ).all()

    def put(item: Any) -> dict[str, Any]:
        body = os.urandom(kib * 1024)
        digest = hashlib.sha256(body).hexdigest()
        archive.store.put(item[1], io.BytesIO(body), len(body), digest, "application/pdf")
        return {"id": item[0], "key": item[1], "size": len(body), "sha": digest}

    with Archive.open(settings) as archive, ThreadPoolExecutor(4) as pool:
        made = list(pool.map(put, chosen))
    with engine.begin() as conn:
        conn.execute(text("UPDATE documents SET size_bytes = :size, sha256 = :sha WHERE id = :id"), made)
        conn.execute(text("UPDATE disposal_records SET state = 'keep' WHERE document_id = :id"), made)
    engine.dispose()
    return made


def store_read_seconds(settings: Any, objects: list[dict[str, Any]]) -> float:
    """Reading the objects one after the other, verified, from the store alone: the hand-over's ceiling."""
    from ekakte.storage.base import read_verified

    with Archive.open(settings) as archive:
        start = time.perf_counter()
        for o in objects:
            for _chunk in read_verified(archive.store, o["key"], o["sha"], o["size"]):
                pass
        return time.perf_counter() - start


def bench_hand_over(
    label: str, env: dict[str, str], process_id: str, cases: range, kib: int, out_dir: Path
) -> float:
    """`hand_over` of the documents of `cases`, each with an object of `kib` KiB; the peak RSS (MiB)."""
    settings = load_settings(env)
    start = time.perf_counter()
    objects = keep_with_objects(settings, cases, kib)
    docs, size = len(objects), sum(o["size"] for o in objects)
    print(
        f"  {docs} objects of {kib} KiB ({size / 1e6:.0f} MB) put and marked A in"
        f" {time.perf_counter() - start:.0f} s",
        file=sys.stderr,
    )
    got = aussonderung_step(env, "hand_over", out_dir, process_id)
    assert got["documents"] == docs and got["bytes"] == size, got
    seconds, alone = got["seconds"], store_read_seconds(settings, objects)
    package, peak, added = got["package_bytes"] / 1e6, got["peak_mib"], got["added_mib"]
    row(
        f"Aussonderung hand-over (0503), {label}, {docs:,} docs of {kib:,} KiB",
        f"{size / seconds / 1e6:.0f} MB/s ({docs / seconds:,.0f} docs/s, {size / 1e6:,.0f} MB in"
        f" {seconds:.1f} s; the same objects read from the store alone {size / alone / 1e6:.0f} MB/s);"
        f" package {package:,.0f} MB; peak RSS {peak:.0f} MiB, {added:.0f} MiB of it the hand-over's",
        ">= 50 MB/s",
    )
    return float(got["added_mib"])


def run_aussonderung(base: Path) -> None:
    per_case = DOCS_PER_CASE
    first = range(1, 1 + max(1, HANDOVER_DOCS // per_case))
    larger = range(first.stop, first.stop + max(1, HANDOVER_DOCS // HANDOVER_LARGER // per_case))
    assert larger.stop - 1 <= AUSSONDERUNG_DOCS // per_case, "BENCH_HANDOVER_DOCS: more than were offered"
    label = "PostgreSQL + S3 (moto)"
    with postgres_database() as pg_url, moto_process() as endpoint:
        env = {**pg_s3_env(base / "aussonderung", pg_url, endpoint, "bench-aussonderung"), **PARTIES}
        process_id = bench_offer(label, env, AUSSONDERUNG_DOCS, base / "transfer-0501")
        added = bench_hand_over(label, env, process_id, first, HANDOVER_KB, base / "transfer-0503")
        larger_kib = HANDOVER_KB * HANDOVER_LARGER
        added_larger = bench_hand_over(
            label, env, process_id, larger, larger_kib, base / "transfer-0503-larger"
        )
        print(
            f"  the hand-over's memory with {larger_kib} KiB objects: {added_larger:.0f} MiB,"
            f" with {HANDOVER_KB} KiB: {added:.0f} MiB",
            file=sys.stderr,
        )


# --- posteingang: stacks of mail split at their cover sheets ----------------------------------------------

STACK_PAGES = int(os.environ.get("BENCH_STACK_PAGES", "500"))
STACK_SHEETS = int(os.environ.get("BENCH_STACK_SHEETS", "50"))
STACK_RUNS = 3
STACK_DPI = 300


def stack_pages(pages: int, sheets: int) -> Iterator[Any]:
    """A day's mail: `sheets` cover sheets (skewed -5° to +5°, every third upside down), each before a
    letter of pages / sheets - 1 pages. The letters' pages are made once and reused (each part is in a
    case of its own, so the same bytes are a new document there): making a 300 dpi page costs a second."""
    per = pages // sheets
    letter = [
        sample_scans.scan_page(sample_scans.german_lines(p, 30), dpi=STACK_DPI, seed=p)
        for p in range(per - 1)
    ]
    for n in range(sheets):
        case = f"{n:05d}BG{n:07d}"
        yield sample_scans.sheet_page(case, "Antrag", dpi=STACK_DPI, seed=n, rotate=(n % 11 - 5) / 1.0,
                                      upside_down=n % 3 == 0)  # fmt: skip
        yield from letter


# Runs a command and says its peak RSS. The command is forked from this small process, not from the bench
# (which holds hundreds of page images): Linux counts the RSS a process had when it was forked into the
# peak of what it then executes, so ru_maxrss of a child of the bench would be the bench's own.
_PEAK_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\\nBENCH-PEAK-KIB {usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def whole_process(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time (s) and peak RSS (MiB) of a command, and its stdout."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_WRAPPER, *command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command[1:3]} exited {done.returncode}: {done.stderr[-500:]}")
    peak = re.search(r"BENCH-PEAK-KIB (\d+)", done.stderr)
    return seconds, int(peak.group(1)) / 1024 if peak else float("nan"), done.stdout


def bench_stack(label: str, kind: str, stack: Path, make_env: Callable[[int], dict[str, str]]) -> None:
    times, peaks = [], []
    for run in range(STACK_RUNS):
        env = make_env(run)
        prepare(env)
        seconds, peak, out = whole_process([EKAKTE, "import", "--stack", str(stack), "--json"], env)
        got = json.loads(out)
        assert (got["stored"], len(got["rejected"])) == (STACK_SHEETS, 0), got
        times.append(seconds)
        peaks.append(peak)
    row(
        f"stack of {STACK_PAGES} pages with {STACK_SHEETS} cover sheets, {kind}, split and stored, {label}",
        f"{' / '.join(f'{t:.1f}' for t in times)} s ({STACK_PAGES / statistics.median(times):.0f} pages/s"
        f" median); peak RSS {max(peaks):.0f} MiB",
        "<= 30 s on 2 cores",
    )


def bench_detection(kind: str, stack: Path) -> None:
    from ekakte.mailroom.split import Stack
    from ekakte.media import inspect_file

    info = inspect_file(stack, max_pages=10_000)
    per_page = []
    for _ in range(STACK_RUNS):
        with stack.open("rb") as fh:
            start = time.perf_counter()
            found = Stack(fh, info.media_type, info.page_count or 0).examine_pages()
            per_page.append((time.perf_counter() - start) / len(found) * 1000)
        assert sum(1 for f in found if f.sheet) == STACK_SHEETS
    row(
        f"sheet detection per page, {kind} at {STACK_DPI} dpi",
        f"{' / '.join(f'{t:.1f}' for t in per_page)} ms",
        "<= 50 ms a page",
    )


def bench_sheet_corpus() -> None:
    from ekakte.mailroom.codes import Sheet
    from ekakte.mailroom.detect import DETECT_DPI, examine

    def small(image: Any, dpi: int) -> Any:
        return image.convert("L").reduce(max(1, round(dpi / DETECT_DPI)))

    combos = list(itertools.product([200, 300], [-5.0, -2.5, 0.0, 3.0, 5.0], [False, True], [False, True]))
    found = total = 0
    for sheet in (Sheet("12345BG0001234", "Gutachten", "Ärztliches Gutachten – Dr. Müller"), Sheet()):
        for n, (dpi, skew, upside_down, bitonal) in enumerate(combos):
            page = sample_scans.sheet_page(sheet.case_number, sheet.document_type, sheet.title, dpi=dpi,
                                           seed=n, rotate=skew, upside_down=upside_down)  # fmt: skip
            if bitonal:
                page = sample_scans.bitonal(page)
            got = examine(small(page, dpi), lambda page=page: page.convert("L"))
            total += 1
            found += got.sheet == sheet
    row("sheets found in the generated corpus", f"{found} of {total}", "all")
    wrong = pages = 0
    for seed in range(60):
        dpi = 200 if seed % 2 else 300
        page = sample_scans.scan_page(sample_scans.german_lines(seed, 40), dpi=dpi, seed=seed)
        for image in (page, sample_scans.bitonal(page)):
            pages += 1
            wrong += examine(small(image, dpi)).sheet is not None
    blank = sample_scans.blank_page(dpi=300, seed=1)
    wrong += examine(small(blank, 300)).sheet is not None
    row("letters and blank pages taken for a sheet", f"{wrong} of {pages + 1}", "none")


def run_posteingang(base: Path) -> None:
    pdf, tif = base / "stack.pdf", base / "stack.tif"
    start = time.perf_counter()
    pages = list(stack_pages(STACK_PAGES, STACK_SHEETS))  # the letters' pages are shared, not copied
    sample_scans.write_scan_pdf(pdf, pages, dpi=STACK_DPI)
    sample_scans.write_g4_tiff(tif, pages, dpi=STACK_DPI)
    del pages
    print(
        f"  made the stacks in {time.perf_counter() - start:.0f} s: PDF {pdf.stat().st_size / 1e6:.0f} MB,"
        f" TIFF {tif.stat().st_size / 1e6:.0f} MB",
        file=sys.stderr,
    )
    for kind, stack in (("grayscale JPEG PDF", pdf), ("bitonal G4 TIFF", tif)):
        attempt(
            f"sheet detection, {kind}",
            "<= 50 ms a page",
            lambda stack=stack, kind=kind: bench_detection(kind, stack),
        )
        attempt(
            f"stack, {kind}, embedded",
            "<= 30 s",
            lambda stack=stack, kind=kind: bench_stack(
                "embedded", kind, stack, lambda run: {"EKAKTE_HOME": str(base / f"home-{kind[:4]}-{run}")}
            ),
        )
        with postgres_database() as pg_url, moto_process() as endpoint:
            attempt(
                f"stack, {kind}, PostgreSQL + S3",
                "<= 30 s",
                lambda stack=stack, kind=kind, pg_url=pg_url, endpoint=endpoint: bench_stack(
                    "PostgreSQL + S3 (moto)", kind, stack,
                    lambda run: fresh_pg_s3(base / f"pg-{kind[:4]}-{run}", pg_url, endpoint, f"stack-{run}"),
                ),
            )  # fmt: skip
    attempt("sheet corpus", "all found, none wrong", bench_sheet_corpus)
    attempt("OCR of a split stack", "close to the ceiling", lambda: bench_stack_ocr(base))
    attempt("the sort", "no wrong case", lambda: bench_sort(base))


STACK_OCR_PAGES = int(os.environ.get("BENCH_STACK_OCR_PAGES", "60"))


def bench_stack_ocr(base: Path) -> None:
    """A stack split, stored and read (`import --stack --ocr`) against plain tesseract on the same letter
    pages' JPEGs, one process per core (the OCR group's ceiling), alternating, twice each. The sheets
    are not stored, so not read: both count the letter pages only; ekakte's time includes the split."""
    sheets = max(1, STACK_OCR_PAGES // 10)
    stack = base / "ocr-stack.pdf"
    sample_scans.write_scan_pdf(stack, list(stack_pages(STACK_OCR_PAGES, sheets)), dpi=STACK_DPI)
    per = STACK_OCR_PAGES // sheets
    work = base / "ocr-stack-ceiling"
    work.mkdir()
    letters = [image for i, image in enumerate(embedded_jpegs(stack, work)) if i % per]
    ceilings, rates = [], []
    for run in range(2):
        start = time.perf_counter()
        with ThreadPoolExecutor(CORES) as pool:
            list(pool.map(run_tesseract, letters))
        ceilings.append(len(letters) / (time.perf_counter() - start))
        env = {"EKAKTE_HOME": str(base / f"ocr-stack-home-{run}"), "EKAKTE_STATION": "bench"}
        prepare(env)
        start = time.perf_counter()
        run_quietly([EKAKTE, "import", "--stack", str(stack), "--ocr", "--workers", str(CORES)], env)
        rates.append(len(letters) / (time.perf_counter() - start))
        _texts, states = ekakte_texts(env)
        assert states == {"done": len(letters)}, f"pages by OCR state: {states}"
    row(
        f"OCR of a split stack (`import --stack --ocr`, {STACK_OCR_PAGES} pages, {sheets} cover sheets,"
        f" {STACK_DPI} dpi), embedded",
        f"{' / '.join(f'{r:.2f}' for r in rates)} pages/s against plain tesseract's"
        f" {' / '.join(f'{c:.2f}' for c in ceilings)} on the same {len(letters)} letter pages:"
        f" {statistics.median(rates) / statistics.median(ceilings):.0%} of the ceiling",
        "close to the ceiling (>= 90 %)",
    )


SORT_LETTERS = int(os.environ.get("BENCH_SORT_LETTERS", "40"))


def sort_corpus(
    n: int, known: list[str], unknown: str, code: Callable[[str], bytes]
) -> tuple[list[Any], list[str | None]]:
    """`n` one-page letters at 300 dpi, in eight kinds by turn, and the case each should be filed in
    (None: it must stay in the Postkorb): the case number as written, the same with spaces inside, two
    case numbers, a case the archive does not have, none at all; and the job centre's reference code
    (`code(case)`: a 16 mm PNG) alone, with the same case number in the text, and with another one there."""
    pages, expected = [], []
    for i in range(n):
        case = known[i % len(known)]
        other = known[(i + 1) % len(known)]
        # Letters whose text names no case number of its own (the generator writes some into its letters,
        # and a letter naming two cases must stay in the Postkorb, which is not what this row counts).
        seed = 1000 + i
        while any(re.search(r"\d{5}\s*BG\s*\d{7}", line) for line in sample_scans.german_lines(seed, 14)):
            seed += 1000
        body = sample_scans.german_lines(seed, 14)
        kind = i % 8
        head = [
            [f"Aktenzeichen: {case}"],
            [f"BG-Nummer: {case[:5]} {case[5:7]} {case[7:]}"],
            [f"Ihr Zeichen: {case}", f"Bezug: {other}"],
            [f"Aktenzeichen: {unknown}"],
            [],
            [],
            [f"Aktenzeichen: {case}"],
            [f"Aktenzeichen: {other}"],
        ][kind]
        lines = ["Jobcenter Musterstadt", "", *head, "", *body]
        if kind >= 5:
            pages.append(sample_scans.coded_letter_page(lines, code(case), dpi=300, seed=3000 + i))
        else:
            pages.append(sample_scans.scan_page(lines, dpi=300, seed=3000 + i))
        expected.append(case if kind in (0, 1, 5, 6) else None)
    return pages, expected


def bench_sort(base: Path) -> None:
    """The sort on letters read by tesseract: how many were filed, none in a wrong case."""
    from ekakte.api import import_stack, postkorb, run_ocr, sort_postkorb_document
    from ekakte.principals import add_user, assign_case

    env = {"EKAKTE_HOME": str(base / "sort"), "EKAKTE_MAIL_DOCUMENT_TYPE": "Schriftverkehr"}
    prepare(env)
    known = [f"{70000 + n:05d}BG{n:07d}" for n in range(8)]
    settings = load_settings(env)
    with Archive.open(settings) as archive:
        add_user(archive, ACTOR, "bench-triage", ["triage"])
        for case in known:
            assign_case(archive, ACTOR, case, "bench-team")
        from ekakte.mailroom.refcode import reference_code

        def code(case: str) -> bytes:
            return reference_code(settings, case, "Anforderung", fmt="png", size_mm=16)

        pages, expected = sort_corpus(SORT_LETTERS, known, "99999BG9999999", code)
        stack: list[Any] = []
        for n, page in enumerate(pages):
            if n:
                stack.append(sample_scans.sheet_page(dpi=300, seed=4000 + n))
            stack.append(page)
        path = base / "letters.pdf"
        sample_scans.write_scan_pdf(path, stack, dpi=300)
        docs = [d.document_id for d in import_stack(archive, ACTOR, path).documents]
        start = time.perf_counter()
        run_ocr(archive, ACTOR, document_ids=docs)
        ocr_seconds = time.perf_counter() - start
        triage = Actor("bench-triage")
        start = time.perf_counter()
        results = [sort_postkorb_document(archive, triage, doc) for doc in docs]
        sort_ms = (time.perf_counter() - start) / len(docs) * 1000
        left = {e.document_id for e in postkorb(archive, triage)}
    filed = [(r.assigned.case_number if r.assigned else None) for r in results]
    right = sum(1 for got, want in zip(filed, expected, strict=True) if got is not None and got == want)
    wrong = sum(1 for got, want in zip(filed, expected, strict=True) if got is not None and got != want)
    missed = sum(1 for got, want in zip(filed, expected, strict=True) if got is None and want is not None)
    assert len(left) == len(docs) - right - wrong
    row(
        f"the sort on {len(docs)} letters read by tesseract"
        f" (OCR {ocr_seconds:.0f} s, sort {sort_ms:.0f} ms each)",
        f"{right} filed in the right case, {wrong} in a wrong one; {len(left)} left in the Postkorb, {missed}"
        f" of them should have been filed ({sum(1 for w in expected if w)} name one known case)",
        "no wrong case",
    )


def fresh_pg_s3(home: Path, pg_url: str, endpoint: str, bucket: str) -> dict[str, str]:
    """An empty database for each run (the previous run's tables dropped) and a new bucket."""
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return pg_s3_env(home, pg_url, endpoint, bucket)


# --- api: the HTTP service (`ekakte serve`) under load ----------------------------------------------------

API_SECONDS = int(os.environ.get("BENCH_API_SECONDS", "30"))
API_WORKERS = int(os.environ.get("BENCH_API_WORKERS", "2"))
API_DOWNLOAD_MB = int(os.environ.get("BENCH_API_DOWNLOAD_MB", "100"))
API_UPLOADS = int(os.environ.get("BENCH_API_UPLOADS", "300"))
API_CONNECTIONS = 50
API_WARMUP = 5  # seconds of the same load before each measured run, discarded
API_COMPARED_WORKERS = (1, 2, 4)  # the 50-connection run again with these, to see what more processes buy
API_TOKEN_LIFETIME = 7200  # seconds: longer than the whole group
API_LOOKUP_GOAL = ">= 400/s, p99 <= 50 ms, no errors"
TICKS = os.sysconf("SC_CLK_TCK")

# wrk's script: a random seeded case per request, the caller's token; at the end one line of figures.
WRK_SCRIPT = """
local cases = %(cases)d
local headers = {["Authorization"] = "Bearer %(token)s"}
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

function init(args)
  math.randomseed(seed * 7919)
end

function request()
  local n = math.random(0, cases - 1)
  return wrk.format("GET", string.format("/api/v1/cases/%%05dBG%%07d?limit=10", n, n), headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration, e.connect,
    e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


class Load:
    """What one wrk run measured: requests/s, latency percentiles in ms, and the errors."""

    def __init__(self, line: str) -> None:
        values = [int(v) for v in line.split()[1:]]
        requests, duration_us, connect, read, write, status, timeout, p50, p90, p99, top = values
        self.rate = requests / (duration_us / 1e6)
        self.requests = requests
        self.p50, self.p90, self.p99, self.max = p50 / 1000, p90 / 1000, p99 / 1000, top / 1000
        self.non_2xx = status
        self.socket_errors = connect + read + write + timeout

    def describe(self) -> str:
        return (
            f"{self.rate:.0f} req/s, p50 {self.p50:.1f} ms, p90 {self.p90:.1f} ms, p99 {self.p99:.1f} ms"
            f" (max {self.max:.0f} ms), {self.non_2xx} non-2xx, {self.socket_errors} socket errors"
            f" ({self.requests:,} requests)"
        )


def attempt(what: str, target: str, measure: Callable[[], object]) -> None:
    """Run one row's measurement; a failure becomes the row's figure and the group goes on."""
    try:
        measure()
    except Exception as exc:
        import traceback

        traceback.print_exc()
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        row(what, f"FAILED: {message[:300]}", target)


def run_checked(command: list[str], env: dict[str, str], timeout: float = 3600) -> str:
    """Run a command to its end; its stdout, or RuntimeError with its output when it fails."""
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}: {done.stdout}{done.stderr}")
    return done.stdout


@contextmanager
def served(env: dict[str, str], workers: int, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`python -m ekakte serve --workers N` on a free port with the archive's environment (and the
    OpenID provider's), its log in `log`; stopped with SIGTERM (killed after 30 s) whatever happens."""
    import httpx

    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ekakte", "serve", "--port", str(port), "--workers", str(workers)],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"ekakte serve ended with {proc.returncode}: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("ekakte serve did not become ready within 60 s")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                for pid in process_tree(proc.pid)[1:]:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                proc.kill()
                proc.wait()


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process in clock ticks; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def postgres_pids() -> list[int]:
    """Every process of the PostgreSQL server on this machine (backends, WAL writer, checkpointer...)."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == "postgres":
                pids.append(int(comm.parent.name))
    return pids


def machine_ticks() -> tuple[int, int]:
    """(all, idle) CPU ticks of the machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]), fields[3] + fields[4]  # idle + iowait


class CpuWatch:
    """CPU time of the service's processes, of PostgreSQL's and of the load generator over a run, as
    cores busy on average; and how busy the whole machine was."""

    def __init__(self, service: int) -> None:
        self.service = service
        self.start = self._snapshot()
        self.machine = machine_ticks()

    def _snapshot(self) -> dict[str, dict[int, int]]:
        return {
            "service": {pid: cpu_ticks(pid) for pid in process_tree(self.service)},
            "PostgreSQL": {pid: cpu_ticks(pid) for pid in postgres_pids()},
        }

    def finish(self, seconds: float, client_cpu: float | None = None, client: str = "wrk") -> str:
        end = self._snapshot()
        total, idle = machine_ticks()
        parts = []
        for group, pids in end.items():
            used = sum(ticks - self.start[group].get(pid, 0) for pid, ticks in pids.items())
            parts.append(f"{group} {used / TICKS / seconds:.2f}")
        if client_cpu is not None:
            parts.append(f"{client} {client_cpu / seconds:.2f}")
        busy = 1 - (idle - self.machine[1]) / max(1, total - self.machine[0])
        return f"cores busy: {', '.join(parts)}; machine {busy:.0%} of {CORES}"


class LockWatch(threading.Thread):
    """Samples every 50 ms who holds and who waits for the audit chain's advisory lock in the archive's
    database, and what the holder is doing (pg_locks joined with pg_stat_activity)."""

    QUERY = text(
        "SELECT l.granted, a.state, a.wait_event_type, a.wait_event FROM pg_locks l"
        " JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.objid = :key AND l.classid = 0"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.samples = 0
        self.held = 0
        self.waiting = 0
        self.holder_doing: dict[str, int] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        with self.engine.connect() as conn:
            while not self.stopped.wait(0.05):
                found = conn.execute(self.QUERY, {"key": AUDIT_LOCK}).all()
                self.samples += 1
                self.waiting += sum(1 for r in found if not r.granted)
                for r in found:
                    if r.granted:
                        self.held += 1
                        doing = r.wait_event or ("running" if r.state == "active" else r.state)
                        if r.wait_event == "ClientRead":
                            doing = "waiting for the service (ClientRead)"
                        self.holder_doing[doing] = self.holder_doing.get(doing, 0) + 1

    def finish(self) -> str:
        self.stopped.set()
        self.join()
        self.engine.dispose()
        if not self.samples:
            return "audit lock: no samples"
        doing = sorted(self.holder_doing.items(), key=lambda kv: -kv[1])[:3]
        holder = ", ".join(f"{what} {n / max(1, self.held):.0%}" for what, n in doing)
        return (
            f"audit lock held in {self.held / self.samples:.0%} of {self.samples} samples,"
            f" {self.waiting / self.samples:.1f} waiting on average; the holder: {holder}"
        )


def run_wrk(url: str, script: Path, connections: int, seconds: int, out: Path) -> tuple[Load, float]:
    """wrk against the lookup route with `connections` connections (2 threads, or 1 for 1 connection);
    its figures, and the CPU seconds it used (it is the only child reaped meanwhile)."""
    threads = min(2, connections)
    command = ["wrk", "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--timeout", "10s", "-s", str(script), url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    with out.open("a") as fh:
        fh.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}\n")
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk exited with {done.returncode}: {(done.stdout + done.stderr)[-1000:]}")
    return Load(lines[-1]), cpu


def api_lookup_load(
    what: str, url: str, script: Path, connections: int, server: int, db_url: str, out: Path
) -> None:
    """`connections` clients asking for random cases as fast as they are answered: the warm-up, then the
    measured run with the CPU of each side and the audit lock sampled."""
    run_wrk(url, script, connections, API_WARMUP, out)
    cpu = CpuWatch(server)
    locks = LockWatch(db_url)
    locks.start()
    start = time.perf_counter()
    try:
        load, wrk_cpu = run_wrk(url, script, connections, API_SECONDS, out)
    finally:
        held = locks.finish()
    used = cpu.finish(time.perf_counter() - start, wrk_cpu)
    goal = API_LOOKUP_GOAL if connections > 1 else "(reported)"
    row(what, load.describe(), goal)
    row(
        f"  ... where the time went ({connections} connection{'s' if connections > 1 else ''})",
        f"{used}; {held}",
        "-",
    )


def server_memory(what: str, server: int) -> None:
    """RSS (and PSS) of each process of `ekakte serve`: the supervisor, each worker."""
    parts = []
    for pid in process_tree(server):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" in command:
            role = "resource tracker"
        elif b"multiprocessing" in command:
            role = "worker"
        else:
            role = "supervisor" if pid == server and len(process_tree(server)) > 1 else "server"
        pss = pss_kib(pid)
        pss_text = f" (PSS {pss / 1024:.0f})" if pss else ""
        parts.append(f"{role} {rss_kib(pid)[1] / 1024:.0f} MiB{pss_text}")
    row(what, "; ".join(parts), "(reported)")


def cli_case_show(env: dict[str, str], case_number: str) -> None:
    """The whole process `ekakte case show CASE`, 10 runs after a warm-up."""
    command = [EKAKTE, "case", "show", case_number]
    run_checked(command, env)
    times = []
    for _ in range(10):
        start = time.perf_counter()
        run_checked(command, env)
        times.append((time.perf_counter() - start) * 1000)
    row(
        f"`ekakte case show` whole process, PostgreSQL {PG_DOCS:,} docs",
        f"median {statistics.median(times):.0f} ms (min {min(times):.0f}, max {max(times):.0f}; 10 runs)",
        "(beside the API)",
    )


def api_on_postgres(base: Path, oidc: dict[str, str], token: str) -> None:
    """Lookups over HTTP against the lookup group's archive: 50 connections with BENCH_API_WORKERS and
    the compared worker counts, one connection, the servers' memory; and the CLI beside them."""
    with postgres_database() as pg_url:
        env = {"EKAKTE_HOME": str(base / "api-pg"), "EKAKTE_DATABASE_URL": pg_url}
        settings = load_settings(env)
        took = seed(settings.database_url, PG_DOCS, prepare(env))
        cases = PG_DOCS // DOCS_PER_CASE
        print(f"  seeded {PG_DOCS} documents in {cases} cases in {took:.0f} s", file=sys.stderr)
        script = base / "api-lookup.lua"
        script.write_text(WRK_SCRIPT % {"cases": cases, "token": token})
        log, out = base / "api-serve-pg.log", base / "api-wrk.txt"
        if shutil.which("wrk") is None:
            row("API case lookups", "wrk not installed (scripts/ensure-bench-tools.sh installs it)", "")
        else:
            for workers in [API_WORKERS, *(w for w in API_COMPARED_WORKERS if w != API_WORKERS)]:
                what = f"API case lookups, PostgreSQL {PG_DOCS:,} docs, {API_CONNECTIONS} conns"
                what += f", {workers} workers"

                def measure(workers: int = workers, what: str = what) -> None:
                    with served({**env, **oidc}, workers, log) as (url, server):
                        api_lookup_load(what, url, script, API_CONNECTIONS, server.pid, pg_url, out)
                        if workers != API_WORKERS:
                            return
                        one = f"API case lookups, 1 connection, {workers} workers"
                        attempt(
                            one,
                            "(reported)",
                            lambda: api_lookup_load(one, url, script, 1, server.pid, pg_url, out),
                        )
                        attempt(
                            "RSS per server process after the lookups",
                            "(reported)",
                            lambda: server_memory(
                                f"RSS per server process after the lookups ({workers} workers)", server.pid
                            ),
                        )

                attempt(what, API_LOOKUP_GOAL, measure)
        attempt(
            f"`ekakte case show` whole process, PostgreSQL {PG_DOCS:,} docs",
            "(beside the API)",
            lambda: cli_case_show(env, f"{cases // 2:05d}BG{cases // 2:07d}"),
        )


def write_noise_pdf(path: Path, at_least: int) -> int:
    """A scanner-like PDF of A4 colour pages at 300 dpi whose JPEGs are random noise (they do not
    compress), enough pages for `at_least` bytes; returns the number of pages."""
    from PIL import Image

    rng = random.Random(17)
    size = (2480, 3508)

    def pages() -> Iterator[Any]:
        while True:
            yield Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))

    one = len(sample_scans.scan_pdf_bytes([next(pages())], dpi=300, quality=90))
    count = -(-at_least // one)
    return int(sample_scans.write_scan_pdf(path, itertools.islice(pages(), count), quality=90))


def api_download(url: str, token: str, document_id: object, size: int, server: int) -> None:
    """The original streamed through the service to curl (writing to /dev/null), three times."""
    command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}"]
    command += ["-H", f"Authorization: Bearer {token}", f"{url}/api/v1/documents/{document_id}/original"]
    rates = []
    cpu = CpuWatch(server)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for _ in range(3):
        status, got, seconds = run_checked(command, {}).split()
        if status != "200" or int(got) != size:
            raise RuntimeError(f"the download answered {status} with {got} of {size} bytes")
        rates.append(size / float(seconds) / 1e6)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    curl_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    used = cpu.finish(time.perf_counter() - start, curl_cpu, "curl")
    row(
        f"API download of a {size / 1e6:.0f} MB original, embedded",
        f"median {statistics.median(rates):.0f} MB/s (min {min(rates):.0f}, max {max(rates):.0f}; 3 runs);"
        f" {used}",
        ">= 200 MB/s",
    )


def api_upload(url: str, token: str, files: list[Path]) -> None:
    """Each file POSTed as a multipart upload for CASE, 4 clients at a time."""
    import httpx

    clients: list[httpx.Client] = []
    local = threading.local()

    def send(path: Path) -> int:
        if not hasattr(local, "client"):
            local.client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=300)
            clients.append(local.client)
        with path.open("rb") as fh:
            response = local.client.post(
                f"{url}/api/v1/documents",
                data={"case_number": CASE, "type": "Antrag"},
                files={"file": (path.name, fh, "application/pdf")},
            )
        return int(response.status_code)

    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(send, files))
    finally:
        for client in clients:
            client.close()
    elapsed = time.perf_counter() - start
    wrong = {s: statuses.count(s) for s in set(statuses) if s != 201}
    if wrong:
        raise RuntimeError(f"uploads answered {wrong} (besides {statuses.count(201)} x 201)")
    row(
        f"API upload of {len(files)} one-page scans, 4 clients, embedded",
        f"{len(files) / elapsed:.0f} docs/s ({elapsed:.1f} s)",
        "(beside the CLI)",
    )


def cli_batch_import(base: Path, scans: Path) -> None:
    env = {"EKAKTE_HOME": str(base / "api-cli-import")}
    prepare(env)
    inbox = base / "api-cli-inbox"
    shutil.copytree(scans, inbox)
    count = len(list(inbox.glob("*.pdf")))
    command = [EKAKTE, "import", "--allow-root", "--batch", str(inbox), "--case", CASE, "--type", "Antrag"]
    start = time.perf_counter()
    run_checked(command, env)
    elapsed = time.perf_counter() - start
    stored = len(list((inbox / "done").glob("*.pdf")))
    if stored != count:
        raise RuntimeError(f"`ekakte import --batch` stored {stored} of {count}")
    row(
        f"`ekakte import --batch` of the same {count} scans, embedded",
        f"{count / elapsed:.0f} docs/s ({elapsed:.1f} s, the whole process)",
        "(beside the API)",
    )


def api_embedded(base: Path, oidc: dict[str, str], token: str) -> None:
    """Download and upload through the service on an embedded archive, and the CLI's batch import."""
    from ekakte.ingest import import_files
    from ekakte.principals import assign_case

    env = {"EKAKTE_HOME": str(base / "api-emb")}
    prepare(env)
    with Archive.open(load_settings(env)) as archive:
        assign_case(archive, ACTOR, CASE, "bench-team")  # so that the caseworker may read what is stored
    big = base / "api-original.pdf"
    start = time.perf_counter()
    pages = write_noise_pdf(big, API_DOWNLOAD_MB * 10**6)
    size = big.stat().st_size
    print(
        f"  a {pages}-page PDF of {size / 1e6:.0f} MB made in {time.perf_counter() - start:.0f} s",
        file=sys.stderr,
    )
    with Archive.open(load_settings(env)) as archive:
        report = import_files(archive, ACTOR, [big], DocumentMeta(CASE, "Antrag"))
    if report.rejected or not report.results:
        raise RuntimeError(f"the {size / 1e6:.0f} MB PDF was not imported: {report.summary()}")
    document_id = report.results[0].document_id
    scans = base / "api-scans"
    total = write_scans(scans, API_UPLOADS)
    print(f"  {API_UPLOADS} sample PDFs, mean {total / API_UPLOADS / 1024:.0f} KiB", file=sys.stderr)
    log = base / "api-serve-emb.log"
    what = f"API download of a {size / 1e6:.0f} MB original, embedded"

    def measure() -> None:
        with served({**env, **oidc}, API_WORKERS, log) as (url, server):
            attempt(what, ">= 200 MB/s", lambda: api_download(url, token, document_id, size, server.pid))
            attempt(
                "RSS per server process after the downloads",
                "(reported)",
                lambda: server_memory(
                    f"RSS per server process after the downloads ({API_WORKERS} workers)", server.pid
                ),
            )
            attempt(
                "API upload", "(beside the CLI)", lambda: api_upload(url, token, sorted(scans.glob("*.pdf")))
            )
            attempt(
                "RSS per server process after the uploads",
                "(reported)",
                lambda: server_memory(
                    f"RSS per server process after the uploads ({API_WORKERS} workers)", server.pid
                ),
            )

    attempt(what, ">= 200 MB/s", measure)
    attempt("`ekakte import --batch`", "(beside the API)", lambda: cli_batch_import(base, scans))


def run_api(base: Path) -> None:
    from tests.oidc_provider import OidcProvider, missing_requirements

    print(f"  load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)
    missing = missing_requirements()
    if missing:
        row("API", f"not run: {missing}", "")
        return
    with OidcProvider(base / "api-oidc") as provider:
        claims = provider.user_claims(ACTOR.name, lifetime=API_TOKEN_LIFETIME)
        token = provider.sign(claims, provider.keys[0])
        oidc = {
            "EKAKTE_OIDC_ISSUER": provider.issuer,
            "EKAKTE_OIDC_CLIENT_ID": "ekakte-web",
            "EKAKTE_OIDC_AUDIENCE": provider.audience,
        }
        attempt("API on PostgreSQL", API_LOOKUP_GOAL, lambda: api_on_postgres(base, oidc, token))
        attempt("API on the embedded archive", "", lambda: api_embedded(base, oidc, token))
    print(f"  load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)


# --- web: the caseworkers' web app (`ekakte serve`): the case page, page images, LCP in Chromium --------

WEB_REQUESTS = int(os.environ.get("BENCH_WEB_REQUESTS", "300"))
WEB_WARMUP = 20  # requests before each measured series, discarded
WEB_IMAGE_REQUESTS = 100
WEB_IMAGE_PAGES = (1, 4, 7, 10)  # the page images asked for, round-robin
WEB_SCAN_PAGES = 10  # the real scanned PDF of the 200-document case
WEB_CASE_DOCS = 200  # the case's documents: WEB_CASE_DOCS - 1 seeded rows and the real PDF
WEB_LCP_RUNS = 10
WEB_CLI_RUNS = 10
WEB_WORKERS = (1, 2)
WEB_USER = "bench-web"  # a caseworker of the seeded cases' team, signing in with a local password
WEB_PASSWORD = "Korrekt Pferd Batterie Heftklammer"
WEB_COOKIE = "ekakte-session"  # ekakte.service.identity.cookie_name without TLS
WEB_CASE_GOAL = "server p95 <= 100 ms"
WEB_IMAGE_GOAL = "server p95 <= 150 ms"
WEB_LCP_GOAL = "<= 1,000 ms"
ACCESS_LINE = re.compile(r" ekakte\.access (\S+) (\S+) (\S+) (\d+) ([\d.]+)ms ")

# The case of WEB_CASE_DOCS documents, in the seed's transaction: one page row (OCR done, no text) for
# each of the seeded documents, as an archive whose pages are read has them; then the case (the next id
# after the seeded ones, the team's) and WEB_CASE_DOCS - 1 documents of 1 to 6 pages received over five
# years, with their pages: most read, about one in 17 with its last page still pending, one in 23 failed.
WEB_SEED = (
    """INSERT INTO pages (document_id, number, ocr_state, attempts, team_id)
       SELECT id, 1, 'done', 0, :team FROM documents""",
    """INSERT INTO cases (id, case_number, team_id, opened_on, created_at)
       VALUES (:case_id, :case_number, :team, date '2019-03-01', now())""",
    """INSERT INTO documents (id, case_id, document_type, title, received_on, station, operator,
                             original_filename, media_type, size_bytes, sha256, storage_key, page_count,
                             state, created_at)
       SELECT md5('web-' || g)::uuid, :case_id,
              (ARRAY['Antrag', 'Bescheid', 'Nachweis', 'Mietvertrag', 'Kontoauszug'])[1 + g % 5],
              'Schreiben Nr. ' || g, date '2019-03-01' + g * 9, 'bench', 'bench', 'scan.pdf',
              'application/pdf', 150000, encode(sha256(('web-' || g)::bytea), 'hex'),
              'originals/bench/web-' || g, 1 + g % 6, 'stored', now()
       FROM generate_series(1, :docs) g""",
    """INSERT INTO pages (document_id, number, text, ocr_state, attempts, team_id)
       SELECT d.id, n, 'Seite ' || n,
              CASE WHEN n < d.page_count THEN 'done'
                   WHEN get_byte(decode(d.sha256, 'hex'), 0) % 17 = 0 THEN 'pending'
                   WHEN get_byte(decode(d.sha256, 'hex'), 0) % 23 = 1 THEN 'failed'
                   ELSE 'done' END,
              0, :team
       FROM documents d CROSS JOIN LATERAL generate_series(1, d.page_count) n
       WHERE d.case_id = :case_id""",
)


def seed_web_case(team: int) -> Callable[[Connection], None]:
    def insert(conn: Connection) -> None:
        params = {
            "team": team, "case_id": PG_DOCS // DOCS_PER_CASE + 1, "case_number": CASE,
            "docs": WEB_CASE_DOCS - 1,
        }  # fmt: skip
        for statement in WEB_SEED:
            conn.execute(text(statement), params)

    return insert


def web_get(
    url: str, cookie: str, paths: list[str], warmup: int, tag: str
) -> list[tuple[str, float, int, int]]:
    """The bench's client, run in a process of its own: GET each path in turn on one keep-alive
    connection with the session's cookie and a request id of ours (so the access log's line is found);
    (request id, ms to the whole body, status, bytes) of each after the first `warmup`."""
    import httpx

    measured = []
    with httpx.Client(base_url=url, cookies={WEB_COOKIE: cookie}, timeout=60) as client:
        for i, path in enumerate(paths):
            request_id = f"{tag}-{i:05d}"
            start = time.perf_counter()
            response = client.get(path, headers={"X-Request-ID": request_id})
            elapsed = (time.perf_counter() - start) * 1000
            if i >= warmup:
                measured.append((request_id, elapsed, response.status_code, len(response.content)))
    return measured


def web_sign_in(url: str) -> str:
    """Sign WEB_USER in through the sign-in form (its token in a cookie and a hidden field, as a browser
    does it); the session cookie's value."""
    import httpx

    with httpx.Client(base_url=url, timeout=30) as client:
        form = client.get("/anmelden")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        if form.status_code != 200 or token is None:
            raise RuntimeError(f"GET /anmelden answered {form.status_code} without the form's token")
        answer = client.post(
            "/anmelden",
            data={"username": WEB_USER, "password": WEB_PASSWORD, "login_token": token.group(1)},
        )
        cookie = answer.cookies.get(WEB_COOKIE)
        if answer.status_code != 303 or not cookie:
            raise RuntimeError(f"signing in answered {answer.status_code}: {answer.text[:300]}")
        return str(cookie)


def case_page_paths(url: str, cookie: str) -> list[str]:
    """The case's pages as the web app links them: the first, then each 'more' link (`nach=…`)."""
    import html

    import httpx

    paths = [f"/akte/{CASE}"]
    with httpx.Client(base_url=url, cookies={WEB_COOKIE: cookie}, timeout=60) as client:
        while True:
            page = client.get(paths[-1])
            if page.status_code != 200:
                raise RuntimeError(f"GET {paths[-1]} answered {page.status_code}")
            more = re.search(r'<a href="([^"]*nach=[^"]+)"', page.text)
            if more is None or len(paths) > WEB_CASE_DOCS:
                return paths
            paths.append(html.unescape(more.group(1)))


def server_times(log: Path, measured: list[tuple[str, float, int, int]]) -> list[float]:
    """The service's own time (its access log line) of each measured request."""
    logged = {}
    for line in log.read_text(errors="replace").splitlines():
        found = ACCESS_LINE.search(line)
        if found:
            logged[found.group(1)] = float(found.group(5))
    missing = [m[0] for m in measured if m[0] not in logged]
    if missing:
        raise RuntimeError(f"{len(missing)} requests without an access log line, e.g. {missing[0]}")
    return [logged[m[0]] for m in measured]


def spread(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values):.1f}, p95 {percentile(values, 95):.1f},"
        f" p99 {percentile(values, 99):.1f} ms"
    )


def met(values: list[float], limit: float) -> str:
    return "" if percentile(values, 95) <= limit else " MISSED"


class ServiceCpu:
    """CPU seconds of the service's processes and of the PostgreSQL backends of the archive's database."""

    def __init__(self, server: int, db_url: str) -> None:
        self.server, self.engine = server, create_engine(db_url, isolation_level="AUTOCOMMIT")
        self.start = self._seconds()

    def _seconds(self) -> tuple[float, float]:
        with self.engine.connect() as conn:
            backends = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            ).scalars()
            database = sum(cpu_ticks(pid) for pid in backends) / TICKS
        return sum(cpu_ticks(pid) for pid in process_tree(self.server)) / TICKS, database

    def per_request(self, requests: int) -> str:
        end = self._seconds()
        self.engine.dispose()
        service, database = ((e - s) * 1000 / requests for e, s in zip(end, self.start, strict=True))
        return f"CPU per request: service {service:.1f} ms, PostgreSQL backends {database:.1f} ms"


def web_series(
    pool: Any, url: str, cookie: str, paths: list[str], tag: str, server: int, db_url: str, log: Path
) -> tuple[list[float], list[float], list[tuple[str, float, int, int]], str]:
    """Server times, client times and the raw answers of a series run by the client process, and the
    CPU it cost the service and the database."""
    pool.submit(web_get, url, cookie, paths[:1], 1, f"{tag}-connect").result()  # the process started
    cpu = ServiceCpu(server, db_url)
    measured = pool.submit(web_get, url, cookie, paths, WEB_WARMUP, tag).result()
    used = cpu.per_request(len(paths))
    wrong = {m[2] for m in measured if m[2] != 200}
    if wrong:
        raise RuntimeError(f"{tag}: answers with status {sorted(wrong)}")
    time.sleep(0.5)  # the last access log line written
    return server_times(log, measured), [m[1] for m in measured], measured, used


def web_case_page(
    pool: Any, url: str, cookie: str, server: int, db_url: str, log: Path, workers: int
) -> None:
    import httpx

    first = f"/akte/{CASE}"
    with httpx.Client(base_url=url, cookies={WEB_COOKIE: cookie}, timeout=60) as client:
        shown = client.get(first).text.split("<tbody>", 1)[-1].split("</tbody>", 1)[0].count("<tr>")
    paths = [first] * (WEB_WARMUP + WEB_REQUESTS)
    tag = f"case-{workers}w"
    server_ms, client_ms, measured, used = web_series(pool, url, cookie, paths, tag, server, db_url, log)
    size = statistics.median(m[3] for m in measured) / 1024
    row(
        f"web case page, first page ({shown} rows) of a {WEB_CASE_DOCS}-document case,"
        f" PostgreSQL {PG_DOCS:,} docs, {workers} worker{'s' if workers > 1 else ''}",
        f"server {spread(server_ms)}{met(server_ms, 100)}; client, whole body of {size:.0f} KiB:"
        f" {spread(client_ms)}; {used} ({len(measured)} requests after {WEB_WARMUP}, one client)",
        WEB_CASE_GOAL,
    )


def web_whole_case(
    pool: Any, url: str, cookie: str, server: int, db_url: str, log: Path, workers: int
) -> None:
    """All the case's documents as the web app shows them: every page of it in turn, following the
    'more' links; the sum of the requests of each round."""
    pages = case_page_paths(url, cookie)
    rounds = max(1, WEB_REQUESTS // len(pages))
    warm = -(-WEB_WARMUP // len(pages)) * len(pages)
    paths = pages * (warm // len(pages) + rounds)
    tag = f"whole-{workers}w"
    server_ms, client_ms, _, used = web_series(pool, url, cookie, paths, tag, server, db_url, log)
    server_ms, client_ms = server_ms[warm - WEB_WARMUP :], client_ms[warm - WEB_WARMUP :]
    n = len(pages)
    server_sum = [sum(server_ms[i : i + n]) for i in range(0, len(server_ms), n)]
    client_sum = [sum(client_ms[i : i + n]) for i in range(0, len(client_ms), n)]
    row(
        f"web, the whole {WEB_CASE_DOCS}-document case in its {n} pages, {workers} worker"
        + ("s" if workers > 1 else ""),
        f"server, the {n} requests together: {spread(server_sum)}{met(server_sum, 100)}; client"
        f" {spread(client_sum)}; per request {spread(server_ms)}; {used} ({rounds} rounds)",
        f"{WEB_CASE_GOAL} (if one page held all {WEB_CASE_DOCS})",
    )


def web_page_image(
    pool: Any, url: str, cookie: str, doc: object, server: int, db_url: str, log: Path, workers: int
) -> None:
    paths = [
        f"/dokument/{doc}/seite/{WEB_IMAGE_PAGES[i % len(WEB_IMAGE_PAGES)]}?breite={VIEWER_WIDTH}"
        for i in range(WEB_WARMUP + WEB_IMAGE_REQUESTS)
    ]
    tag = f"image-{workers}w"
    server_ms, client_ms, measured, used = web_series(pool, url, cookie, paths, tag, server, db_url, log)
    size = statistics.median(m[3] for m in measured) / 1024
    pages = ", ".join(str(p) for p in WEB_IMAGE_PAGES)
    row(
        f"web page image at {VIEWER_WIDTH} px, pages {pages} of a {WEB_SCAN_PAGES}-page scanned PDF,"
        f" {workers} worker{'s' if workers > 1 else ''}",
        f"server {spread(server_ms)}{met(server_ms, 150)}; client, whole body (median {size:.0f} KiB):"
        f" {spread(client_ms)}; {used} ({len(measured)} requests after {WEB_WARMUP})",
        WEB_IMAGE_GOAL,
    )


_NAVIGATION = """() => {
    const n = performance.getEntriesByType("navigation")[0];
    return [n.responseStart, n.responseEnd, n.domContentLoadedEventEnd, n.loadEventEnd];
}"""
_LCP_ELEMENT = """() => new Promise((resolve) => {
    new PerformanceObserver((list) => {
        const entries = list.getEntries();
        const e = entries[entries.length - 1].element;
        resolve(e ? e.tagName.toLowerCase() + (e.className ? "." + e.className : "") : "?");
    }).observe({type: "largest-contentful-paint", buffered: true});
})"""


def web_lcp(url: str, workers: int) -> None:
    """Chromium (Debian's, by path) signed in through the form, the case page loaded WEB_LCP_RUNS times:
    each load's Largest Contentful Paint from the Performance API, and its navigation timing."""
    from playwright.sync_api import sync_playwright

    from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, largest_contentful_paint

    lcp, first_byte, loaded = [], [], []
    element = "?"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="de-DE")
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.goto(f"{url}/anmelden?return_to=/akte/{CASE}")
            page.get_by_label("Benutzername").fill(WEB_USER)
            page.get_by_label("Kennwort").fill(WEB_PASSWORD)
            page.get_by_role("button", name="Anmelden").click()
            page.wait_for_url(f"{url}/akte/{CASE}")
            for _ in range(WEB_LCP_RUNS):
                answer = page.goto(f"{url}/akte/{CASE}", wait_until="load")
                if answer is None or answer.status != 200:
                    raise RuntimeError(f"the case page answered {answer.status if answer else None}")
                lcp.append(largest_contentful_paint(page))
                element = page.evaluate(_LCP_ELEMENT)
                start, _, _, load = page.evaluate(_NAVIGATION)
                first_byte.append(start)
                loaded.append(load)
            context.close()
        finally:
            browser.close()
    missed = "" if max(lcp) <= 1000 else " MISSED"
    row(
        f"web case page in Chromium, largest contentful paint, {workers} worker{'s' if workers > 1 else ''}",
        f"median {statistics.median(lcp):.0f} ms, max {max(lcp):.0f} ms{missed} ({len(lcp)} loads, the"
        f" element <{element}>; first byte median {statistics.median(first_byte):.0f} ms, load event median"
        f" {statistics.median(loaded):.0f} ms)",
        WEB_LCP_GOAL,
    )


def web_in_process(settings: Any, cookie: str, doc: uuid.UUID) -> None:
    """The case page's parts in this process, without HTTP: the session lookup, the use case (decided,
    audited, one page of 50), the template; the page image's render_page beside streaming the original.
    cProfile of the use case to stderr."""
    import cProfile
    import pstats
    from datetime import timedelta

    from ekakte import api
    from ekakte.service.web import pages as web_pages
    from ekakte.service.web.texts import text as words

    actor = Actor(WEB_USER, channel="web", client_address="127.0.0.1")
    parts: dict[str, list[float]] = {"session": [], "use case": [], "template": []}
    with Archive.open(settings) as archive:
        for i in range(WEB_WARMUP + 50):
            start = time.perf_counter()
            found = api.session_of(archive, cookie, idle=timedelta(minutes=30))
            assert found is not None
            took_session = time.perf_counter() - start
            start = time.perf_counter()
            view = api.case_documents(archive, actor, CASE, limit=50)
            took_case = time.perf_counter() - start
            start = time.perf_counter()
            web_pages._templates.get_template("case.html").render(
                t=words, day=web_pages._day, user=found.principal, roles=found.roles,
                csrf_token=found.csrf_token, view=view, types=settings.document_types, chosen_type="",
                received_from="", received_to="", after=None,
                ocr_states={d.id: d.ocr_state or "pending" for d in view.documents},
                first_link=f"/akte/{CASE}", next_link=f"/akte/{CASE}?nach={view.next}",
            )  # fmt: skip
            if i >= WEB_WARMUP:
                parts["session"].append(took_session * 1000)
                parts["use case"].append(took_case * 1000)
                parts["template"].append((time.perf_counter() - start) * 1000)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(20):
            api.case_documents(archive, actor, CASE, limit=50)
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue(), file=sys.stderr)
        row(
            "… the case page's parts in-process (no HTTP), median of 50",
            ", ".join(f"{name} {statistics.median(ms):.1f} ms" for name, ms in parts.items()),
            "-",
        )
        renders, streams = [], []
        for page in WEB_IMAGE_PAGES * 3:
            start = time.perf_counter()
            image = api.render_page(archive, ACTOR, doc, page, VIEWER_WIDTH)
            renders.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            with api.open_original(archive, ACTOR, doc) as original:
                for _ in original:
                    pass
            streams.append((time.perf_counter() - start) * 1000)
        row(
            "… the page image in-process (render_page), median of 12",
            f"{statistics.median(renders):.0f} ms, of which streaming the verified original"
            f" {statistics.median(streams):.0f} ms; {image.media_type} {image.width}x{image.height}",
            "-",
        )


def web_on_postgres(base: Path) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from ekakte.ingest import import_document
    from ekakte.principals import add_user, set_password

    with postgres_database() as pg_url:
        env = {"EKAKTE_HOME": str(base / "web-pg"), "EKAKTE_DATABASE_URL": pg_url, "EKAKTE_STATION": "bench"}
        settings = load_settings(env)
        team = prepare(env)
        took = seed(settings.database_url, PG_DOCS, team, pages=seed_web_case(team))
        print(
            f"  seeded {PG_DOCS} documents in {PG_DOCS // DOCS_PER_CASE} cases with a page each, and"
            f" {CASE} with {WEB_CASE_DOCS - 1} documents and their pages, in {took:.0f} s",
            file=sys.stderr,
        )
        scan = base / "web-scan.pdf"
        sample_scans.write_scan_pdf(scan, sample_scans.synthetic_pages(18, WEB_SCAN_PAGES))
        with Archive.open(settings) as archive:
            meta = DocumentMeta(CASE, "Antrag", title="Weiterbewilligungsantrag mit Anlagen")
            doc = import_document(archive, ACTOR, scan, meta).document_id
            add_user(archive, ACTOR, WEB_USER, ["caseworker"], ["bench-team"])
            set_password(archive, ACTOR, WEB_USER, WEB_PASSWORD)
        print(
            f"  imported a {WEB_SCAN_PAGES}-page scanned PDF of {scan.stat().st_size / 2**20:.1f} MiB into"
            f" {CASE} (the folder store under EKAKTE_HOME)",
            file=sys.stderr,
        )
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            for workers in WEB_WORKERS:
                log = base / f"web-serve-{workers}.log"
                label = f"{workers} worker{'s' if workers > 1 else ''}"

                def measure(workers: int = workers, log: Path = log, label: str = label) -> None:
                    with served(env, workers, log) as (url, server):
                        cookie = web_sign_in(url)
                        steps: list[tuple[str, str, Callable[[], None]]] = [
                            ("web case page", WEB_CASE_GOAL, lambda: web_case_page(
                                pool, url, cookie, server.pid, pg_url, log, workers)),
                            ("web whole case", WEB_CASE_GOAL, lambda: web_whole_case(
                                pool, url, cookie, server.pid, pg_url, log, workers)),
                            ("web page image", WEB_IMAGE_GOAL, lambda: web_page_image(
                                pool, url, cookie, doc, server.pid, pg_url, log, workers)),
                            ("web LCP", WEB_LCP_GOAL, lambda: web_lcp(url, workers)),
                        ]  # fmt: skip
                        for what, goal, step in steps:
                            attempt(f"{what}, {label}", goal, step)
                        if workers == WEB_WORKERS[0]:
                            attempt("… in-process", "-", lambda: web_in_process(settings, cookie, doc))

                attempt(f"web app, {label}", WEB_CASE_GOAL, measure)
        attempt(
            f"`ekakte case show {CASE}`",
            "(beside the web app)",
            lambda: web_cli_case_show(env),
        )


def web_cli_case_show(env: dict[str, str]) -> None:
    """The whole process `ekakte case show CASE` (all 200 documents) and with `--limit 50` (the web
    app's page), WEB_CLI_RUNS runs each after a warm-up."""
    for extra, what in (([], f"all {WEB_CASE_DOCS} documents"), (["--limit", "50"], "--limit 50")):
        command = [EKAKTE, "case", "show", CASE, *extra]
        run_checked(command, env)
        times = []
        for _ in range(WEB_CLI_RUNS):
            start = time.perf_counter()
            run_checked(command, env)
            times.append((time.perf_counter() - start) * 1000)
        row(
            f"`ekakte case show` whole process, {what}, PostgreSQL {PG_DOCS:,} docs",
            f"median {statistics.median(times):.0f} ms (min {min(times):.0f}, max {max(times):.0f};"
            f" {WEB_CLI_RUNS} runs)",
            "(beside the web app)",
        )


def run_web(base: Path) -> None:
    print(f"  load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)
    attempt("web app on PostgreSQL", WEB_CASE_GOAL, lambda: web_on_postgres(base))
    print(f"  load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)


SEAL_DOCS = int(os.environ.get("BENCH_SEAL_DOCS", "1000"))


class _RolledBack(Exception):
    """Leaves a transaction without committing it."""


def bench_seal(label: str, env: dict[str, str], inbox: Path) -> None:
    from ekakte.db.models import ScanCheck
    from ekakte.principals import add_user
    from ekakte.scanning.checks import check_batch
    from ekakte.scanning.sealing import seal_batch, seal_problems

    settings = load_settings(env)
    prepare(env)
    with Archive.open(settings) as archive:
        add_user(archive, ACTOR, "bench-checker", ["scan_operator"])
        report = import_directory(
            archive, ACTOR, inbox, defaults=DocumentMeta(CASE, "Antrag"), allow_root=True
        )
        assert report.stored == SEAL_DOCS, report.summary()
        seals = []
        for _ in range(7):
            with contextlib.suppress(_RolledBack), archive.transaction() as session:
                now = datetime.now(UTC)
                session.add(
                    ScanCheck(batch_id=report.batch_id, started_at=now, checked_at=now,
                              checked_by="bench-checker", result="passed", note=None, sample="[]",
                              documents=SEAL_DOCS)

                )  # fmt: skip
                session.flush()
                start = time.perf_counter()
                seal_batch(archive, session, report.batch_id, now)
                seals.append(time.perf_counter() - start)
                raise _RolledBack
        start = time.perf_counter()
        done = check_batch(archive, Actor("bench-checker"), report.batch_id, passed=True)
        whole = time.perf_counter() - start
        verified = []
        for _ in range(5):
            start = time.perf_counter()
            assert seal_problems(archive) == []
            verified.append(time.perf_counter() - start)
    row(
        f"seal of a batch of {SEAL_DOCS:,} documents, {label}",
        f"median {statistics.median(seals) * 1000:.0f} ms (min {min(seals) * 1000:.0f}, max"
        f" {max(seals) * 1000:.0f}; 7 runs)",
        "<= 1 s",
    )
    row(
        f"the whole check of that batch (objects read back: {done.verified}), {label}",
        f"{whole:.1f} s",
        "-",
    )
    row(
        f"verify's check of that seal, {label}",
        f"median {statistics.median(verified) * 1000:.0f} ms (min {min(verified) * 1000:.0f}, max"
        f" {max(verified) * 1000:.0f}; 5 runs)",
        "-",
    )


BLANK_PAGES = int(os.environ.get("BENCH_BLANK_PAGES", "100"))


def bench_drop_blank_pages(base: Path) -> None:
    """`import` of one scanned PDF (a letter every page, a blank page every tenth) with and without
    drop_blank_pages, three runs each, alternating, each into a new embedded archive."""
    from ekakte.ingest import import_document

    pages = [
        sample_scans.blank_page(dpi=300, seed=n)
        if n % 10 == 9
        else sample_scans.scan_page([f"Seite {n + 1}", "Antrag auf Leistungen"], dpi=300, seed=n)
        for n in range(BLANK_PAGES)
    ]
    scan = base / "blank-stack.pdf"
    sample_scans.write_scan_pdf(scan, pages, dpi=300)
    del pages
    times: dict[bool, list[float]] = {False: [], True: []}
    for run in range(3):
        for drop in (False, True):
            env = {
                "EKAKTE_HOME": str(base / f"blank-{run}-{drop}"),
                "EKAKTE_DROP_BLANK_PAGES": str(drop).lower(),
            }
            prepare(env)
            with Archive.open(load_settings(env)) as archive:
                start = time.perf_counter()
                result = import_document(archive, ACTOR, scan, DocumentMeta(CASE, "Antrag"))
                times[drop].append(time.perf_counter() - start)
            assert result.page_count == (BLANK_PAGES - BLANK_PAGES // 10 if drop else BLANK_PAGES), result
    off, on = statistics.median(times[False]), statistics.median(times[True])
    row(
        f"import of a {BLANK_PAGES}-page 300 dpi JPEG PDF, without / with drop_blank_pages, embedded",
        f"{off:.2f} s ({min(times[False]):.2f}-{max(times[False]):.2f}) / {on:.2f} s"
        f" ({min(times[True]):.2f}-{max(times[True]):.2f}): +{(on - off) / BLANK_PAGES * 1000:.1f} ms a page",
        "-",
    )


def run_scanning(base: Path) -> None:
    attempt("drop_blank_pages", "-", lambda: bench_drop_blank_pages(base))
    size = write_scans(base / "seal-scans", SEAL_DOCS)
    print(f"  {SEAL_DOCS} sample PDFs, mean {size / SEAL_DOCS / 1024:.0f} KiB", file=sys.stderr)
    shutil.copytree(base / "seal-scans", base / "seal-embedded")
    attempt(
        "seal, embedded",
        "<= 1 s",
        lambda: bench_seal("embedded", {"EKAKTE_HOME": str(base / "seal-emb")}, base / "seal-embedded"),
    )
    with postgres_database() as pg_url, moto_process() as s3_endpoint:
        shutil.copytree(base / "seal-scans", base / "seal-server")
        env = pg_s3_env(base / "seal-srv", pg_url, s3_endpoint, "ekakte-seal")
        attempt(
            "seal, PostgreSQL + S3",
            "<= 1 s",
            lambda: bench_seal("PostgreSQL + S3 (moto)", env, base / "seal-server"),
        )


RUN: dict[str, Callable[[Path], None]] = {
    "import": run_import,
    "lookup": run_lookup,
    "ocr": bench_ocr,
    "rendition": bench_rendition,
    "search": run_search,
    "rss": bench_rss,
    "pages": bench_pages,
    "retention": run_retention,
    "aussonderung": run_aussonderung,
    "posteingang": run_posteingang,
    "oracles": run_oracles,
    "api": run_api,
    "web": run_web,
    "scanning": run_scanning,
}


def selected_groups() -> list[str]:
    wanted = [g.strip() for g in os.environ.get("BENCH_ONLY", ",".join(GROUPS)).split(",") if g.strip()]
    unknown = sorted(set(wanted) - set(GROUPS))
    if unknown:
        sys.exit(f"BENCH_ONLY: unknown group(s) {', '.join(unknown)}; the groups are {', '.join(GROUPS)}")
    return [g for g in GROUPS if g in wanted]


def main() -> None:
    groups = selected_groups()
    print(f"ekakte bench on {CORES} cores: {', '.join(groups)}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="ekakte-bench-") as tmp:
        for group in groups:
            RUN[group](Path(tmp))

    width = max(len(r[0]) for r in rows)
    fig = max(len(r[1]) for r in rows)
    print(f"\n{'benchmark'.ljust(width)}  {'result'.ljust(fig)}  target")
    for what, figure, target in rows:
        print(f"{what.ljust(width)}  {figure.ljust(fig)}  {target}")


if __name__ == "__main__":
    main()
