"""The CLI contract: output, --json, one-line errors and documented exit codes, on both stacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ekakte.actor import Actor
from ekakte.cli import main
from ekakte.errors import ExitCode
from tests.conftest import ADMIN, CASE, ROOT, TEAM
from tests.services import free_port

MakeScan = Callable[..., Path]
EKAKTE = Path(sys.executable).parent / "ekakte"


class Cli:
    def __init__(
        self, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ):
        self.env, self.monkeypatch, self.capsys = env, monkeypatch, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        for key in [k for k in os.environ if k.startswith("EKAKTE_")]:
            self.monkeypatch.delenv(key)
        for key, value in self.env.items():
            self.monkeypatch.setenv(key, value)
        self.capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        out, err = self.capsys.readouterr()
        return int(exited.value.code or 0), out, err


@pytest.fixture
def cli(
    stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """The CLI as run by this OS user, who scans, works team-a's cases (with clearance) and administers."""
    from ekakte.archive import Archive
    from ekakte.config import load_settings
    from ekakte.principals import add_user

    with Archive.open(load_settings(stack_env)) as archive:
        roles = ["scan_operator", "caseworker", "admin"]
        add_user(archive, ADMIN, Actor.from_os().name, roles, [TEAM], health_clearance=True)
    return Cli(stack_env, monkeypatch, capsys)


def test_import_show_get_round_trip(cli: Cli, make_scan: MakeScan, tmp_path: Path) -> None:
    scan = make_scan("antrag.pdf", pages=2)
    code, out, _ = cli(
        "import", str(scan), "--case", CASE, "--type", "antrag", "--received", "01.10.2026", "--json"
    )
    assert code == 0
    report = json.loads(out)
    assert report["stored"] == 1 and report["rejected"] == []
    doc = report["documents"][0]
    assert set(doc) == {
        "status", "document_id", "file", "case_number", "document_type", "media_type", "page_count",
        "size_bytes", "sha256",
    }  # fmt: skip

    code, out, _ = cli("case", "show", CASE, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["case"]["case_number"] == CASE
    assert [d["id"] for d in shown["documents"]] == [doc["document_id"]]
    assert shown["documents"][0]["received_on"] == "2026-10-01"

    code, out, _ = cli("case", "show", CASE)
    assert code == 0 and doc["document_id"] in out and "Antrag" in out

    code, out, _ = cli("doc", "show", doc["document_id"], "--json")
    assert code == 0 and json.loads(out)["sha256"] == doc["sha256"]

    target = tmp_path / "copy.pdf"
    code, _, err = cli("doc", "get", doc["document_id"], "-o", str(target))
    assert code == 0 and target.read_bytes() == scan.read_bytes() and "SHA-256 verified" in err
    code, _, err = cli("doc", "get", doc["document_id"], "-o", str(target))
    assert (
        code == ExitCode.OUTPUT_EXISTS
        and err.strip() == f"ekakte: {target} exists: use --force to overwrite it"
    )


def test_reimport_says_already_stored_and_exits_0(cli: Cli, make_scan: MakeScan) -> None:
    scan = make_scan()
    assert cli("import", str(scan), "--case", CASE, "--type", "Antrag")[0] == 0
    code, out, _ = cli("import", str(scan), "--case", CASE, "--type", "Antrag")
    assert code == 0 and out.startswith("already stored")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--case", "123", "--type", "Antrag"], ExitCode.INVALID_INPUT, "ekakte: invalid case number '123'"),
        (
            ["--case", CASE, "--type", "Brief"],
            ExitCode.INVALID_INPUT,
            "ekakte: unknown document type 'Brief'",
        ),
        (
            ["--case", CASE, "--type", "Antrag", "--received", "2999-01-01"],
            ExitCode.INVALID_INPUT,
            "in the future",
        ),
        (["--type", "Antrag"], ExitCode.INVALID_INPUT, "needs --case and --type"),
    ],
)
def test_refusals_are_one_line_with_their_exit_code(
    cli: Cli, make_scan: MakeScan, args: list[str], code: int, message: str
) -> None:
    got, out, err = cli("import", str(make_scan()), *args)
    assert got == code
    assert len(err.strip().splitlines()) == 1 and message in err
    assert out == ""


def test_a_refused_file_exits_3_and_a_batch_with_refusals_exits_12(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "x.pdf"
    bad.write_text("no pdf")
    code, _, err = cli("import", str(bad), "--case", CASE, "--type", "Antrag")
    assert code == ExitCode.INVALID_INPUT and err.strip().startswith("rejected  x.pdf: not a PDF")
    box = tmp_path / "box"
    box.mkdir()
    (box / "y.pdf").write_text("no pdf")
    code, out, err = cli("import", "--allow-root", "--batch", str(box), "--case", CASE, "--type", "Antrag")
    assert code == ExitCode.PARTIAL
    assert out.strip() == "0 stored, 0 already stored, 1 rejected"
    assert (box / "rejected" / "y.pdf.reason.txt").exists()


def test_lookups_of_unknown_things_answer_like_forbidden_ones(cli: Cli) -> None:
    """No existence oracle: an unknown case reads exactly like a case of another team."""
    code, _, unknown = cli("case", "show", "99999BG9999999")
    assert code == ExitCode.NOT_PERMITTED and unknown.strip() == "ekakte: not permitted: case 99999BG9999999"
    code, _, err = cli("doc", "show", "00000000-0000-4000-8000-000000000000")
    assert code == ExitCode.NOT_PERMITTED
    assert err.strip() == "ekakte: not permitted: document 00000000-0000-4000-8000-000000000000"
    assert cli("doc", "show", "not-a-uuid")[0] == ExitCode.INVALID_INPUT


def test_verify_exit_code_tells_whether_all_is_well(cli: Cli, make_scan: MakeScan) -> None:
    code, out, _ = cli("import", str(make_scan()), "--case", CASE, "--type", "Antrag", "--json")
    doc_id = json.loads(out)["documents"][0]["document_id"]
    code, out, _ = cli("verify")
    assert code == 0 and "1 documents checked, 0 missing, 0 corrupt" in out
    _, out, _ = cli("doc", "show", doc_id, "--json")
    key = json.loads(out)
    from ekakte.archive import Archive
    from ekakte.config import load_settings

    with Archive.open(load_settings(cli.env)) as archive:
        info = next(iter(archive.store.list("originals/")))
        archive.store.delete(info.key)
    code, out, _ = cli("verify", "--json")
    assert code == ExitCode.INTEGRITY and json.loads(out)["missing"] == 1
    code, out, _ = cli("verify", "--sample", "5", "--rate", "50")
    assert code == ExitCode.INTEGRITY and "1 documents checked (a random sample), 1 missing" in out
    code, _, err = cli("verify", "--all", "--sample", "5")
    assert code == ExitCode.INVALID_INPUT and "exclude each other" in err
    assert key["id"] == doc_id


def test_gc_refuses_a_grace_period_that_would_race_imports(cli: Cli) -> None:
    code, _, err = cli("gc", "--grace-hours", "0")
    assert code == ExitCode.INVALID_INPUT and "at least 1" in err
    code, out, _ = cli("gc", "--dry-run")
    assert code == 0 and out.startswith("would remove 0 unreferenced objects")


def test_config_show_masks_the_secret_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = {
        "EKAKTE_HOME": str(tmp_path),
        "EKAKTE_STORAGE": "s3://akten",
        "EKAKTE_S3_ENDPOINT": "127.0.0.1:9",
        "EKAKTE_S3_SECRET_KEY": "topsecret",
    }
    code, out, _ = Cli(env, monkeypatch, capsys)("config", "show")
    assert code == 0 and "topsecret" not in out and "s3_secret_key" in out and "********" in out


def test_infrastructure_failures_have_their_own_exit_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = Cli({"EKAKTE_HOME": str(tmp_path / "none")}, monkeypatch, capsys)
    code, _, err = run("case", "show", CASE)
    assert code == ExitCode.SCHEMA and "run `ekakte init`" in err
    run.env = {"EKAKTE_DATABASE_URL": f"postgresql://ekakte:pw@127.0.0.1:{free_port()}/x"}
    code, _, err = run("case", "show", CASE)
    assert code == ExitCode.DATABASE and "failed" in err and ":pw@" not in err
    run.env = {"EKAKTE_CONFIG": str(tmp_path / "missing.toml")}
    assert run("case", "show", CASE)[0] == ExitCode.CONFIG
    run.env = {"EKAKTE_HOME": str(tmp_path)}
    assert run("import")[0] == ExitCode.USAGE


def test_a_real_process_prints_no_traceback_for_user_errors(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EKAKTE_")}
    env["EKAKTE_HOME"] = str(tmp_path / "home")
    assert subprocess.run([str(EKAKTE), "init"], env=env, capture_output=True, check=False).returncode == 0
    me = Actor.from_os().name
    grant = [str(EKAKTE), "user", "grant", me, "--role", "scan_operator"]
    assert subprocess.run(grant, env=env, capture_output=True, check=False).returncode == 0
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4\n broken\n%%EOF\n")
    proc = subprocess.run(
        [str(EKAKTE), "import", str(tmp_path / "a.pdf"), "--case", CASE, "--type", "Antrag"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == ExitCode.INVALID_INPUT
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("rejected  a.pdf: damaged PDF")
    proc = subprocess.run(
        [str(EKAKTE), "--debug", "doc", "show", "nope"], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == ExitCode.INVALID_INPUT and "Traceback" in proc.stderr


def test_import_with_ocr_then_search_and_read_the_text(cli: Cli, tmp_path: Path) -> None:
    from tests.conftest import scans

    lines = ["Mietvertrag über Wohnraum in Musterstadt", "Grundmiete 450,00 Euro monatlich"]
    scan = tmp_path / "miete.pdf"
    scan.write_bytes(scans.scan_pdf_bytes([scans.scan_page(lines, seed=5)]))
    code, out, _ = cli("import", str(scan), "--case", CASE, "--type", "Mietvertrag", "--ocr", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ocr"]["done"] == 1 and report["ocr"]["failed"] == 0
    doc_id = report["documents"][0]["document_id"]

    code, out, _ = cli("search", '"Grundmiete 450" Musterstadt', "--json")
    assert code == 0
    results = json.loads(out)["results"]
    assert [(r["document_id"], r["page"]) for r in results] == [(doc_id, 1)]
    assert set(results[0]) == {
        "document_id", "case_number", "document_type", "title", "received_on", "page", "snippet", "rank",
    }  # fmt: skip

    code, out, _ = cli("doc", "show", doc_id, "--text")
    assert code == 0 and "--- page 1: text (tesseract" in out and "Musterstadt" in out
    code, out, _ = cli("doc", "show", doc_id, "--text", "--json")
    page = json.loads(out)["pages"][0]
    assert page["ocr_state"] == "done" and page["language"] == "deu+eng" and page["confidence"] > 50

    code, out, _ = cli("ocr", "work", "--once", "--json")
    assert code == 0 and json.loads(out)["done"] == 0  # nothing left to read

    code, out, err = cli("search", "Nirgendwo")
    assert (code, out.strip(), err) == (0, "no matching documents", "")
    code, out, err = cli("search", "sehr Nirgendwo", "--json")
    ignored = json.loads(out)["ignored"]
    assert code == 0 and ignored == (["sehr"] if "EKAKTE_DATABASE_URL" in cli.env else [])
    code, out, err = cli("search", "sehr Nirgendwo")
    note = 'not searched for: "sehr": too common to be indexed (stop words); search with other words'
    assert (code, out.strip(), err.strip()) == (0, "no matching documents", note if ignored else "")
    code, out, err = cli("search", '""')
    assert (
        code == ExitCode.INVALID_INPUT and err.strip() == "ekakte: empty search query: give at least one word"
    )


def test_retention_from_the_command_line(cli: Cli, make_scan: MakeScan, tmp_path: Path) -> None:
    from ekakte.archive import Archive
    from ekakte.config import load_settings
    from ekakte.principals import grant

    with Archive.open(load_settings(cli.env)) as archive:
        grant(archive, ADMIN, Actor.from_os().name, ["records_manager"])
    rules = ROOT / "examples" / "retention-rules.toml"
    assert cli("retention", "rules", "load", str(rules))[0] == 0
    code, out, _ = cli("import", str(make_scan()), "--case", CASE, "--type", "Kontoauszug", "--json")
    doc = json.loads(out)["documents"][0]["document_id"]
    assert cli("case", "close", CASE, "--date", "10.03.2015")[0] == 0
    code, out, _ = cli("retention", "plan", "--as-of", "2026-01-01", "--csv")
    assert code == 0 and doc in out and "2020-12-31" in out  # Kontoauszüge: 5 years
    code, out, _ = cli("hold", "add", "--case", CASE, "--reason", "SG Köln S 12 AS 345/25")
    assert (code, out.strip()) == (0, f"hold 1 on case {CASE} until released")
    code, out, _ = cli("retention", "sweep", "--as-of", "2026-01-01", "--json")
    assert code == 0 and json.loads(out)["held_back"] == 1 and json.loads(out)["deleted"] == 0
    assert cli("hold", "release", "1")[0] == 0
    code, out, _ = cli("retention", "sweep", "--as-of", "2026-01-01")
    assert code == 0 and out.startswith("retention sweep as of 2026-01-01: 1 deleted")
    code, out, _ = cli("retention", "protocol", "--case", CASE, "--json")
    assert [e["document_id"] for e in json.loads(out)] == [doc]
    code, _, err = cli("retention", "sweep", "--as-of", "2999-01-01")
    assert code == ExitCode.INVALID_INPUT and "future" in err
    code, _, err = cli("retention", "rules", "show", "--version", "7")
    assert code == ExitCode.NOT_FOUND


@pytest.mark.parametrize("output", [[], ["--json"], ["--csv"]], ids=["text", "json", "csv"])
def test_a_refused_plan_prints_nothing_but_the_refusal_in_every_format(cli: Cli, output: list[str]) -> None:
    # The plan used to be decided only when its first row was asked for: the CSV header went out first.
    code, out, err = cli("retention", "plan", *output)
    assert (code, out) == (ExitCode.NOT_PERMITTED, "")
    assert err.strip() == "ekakte: not permitted: retention plan"
