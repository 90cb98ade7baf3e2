"""How ekakte runs tesseract: the environment it gives each run, the timeout, the models folder setting.

Stand-in programs (shell scripts) play tesseract where a real one cannot be made to show its environment
or hang; the one test that needs the real tesseract says so.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ekakte.config import load_settings
from ekakte.errors import ConfigError
from ekakte.ocr import OcrError, TesseractEngine
from ekakte.ocr.engine import SECURE_PATH, available, trusted_tessdata

needs_tesseract = pytest.mark.skipif(
    not available() and os.environ.get("CI") != "true",
    reason="tesseract is not installed (make services installs it as root)",
)


def program(tmp_path: Path, name: str, body: str) -> Path:
    """A stand-in for tesseract: a shell script, writable by its owner only (as trusted_program asks)."""
    folder = tmp_path / "bin"
    folder.mkdir(mode=0o755, exist_ok=True)
    script = folder / name
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


def page_folder(tmp_path: Path) -> Path:
    """The worker's private folder with a page image in it (a stand-in reads no pixels)."""
    folder = tmp_path / "ekakte-ocr-1-test"
    folder.mkdir(mode=0o700)
    (folder / "page.jpg").write_bytes(b"\xff\xd8\xff")
    return folder


def test_each_run_gets_its_own_environment_and_nothing_of_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OMP_THREAD_LIMIT=1, the run's private TMPDIR and the configured models folder go to tesseract
    with the run; the process's own environment (its secrets among it) neither goes along nor changes."""
    monkeypatch.setenv("EKAKTE_S3_SECRET_KEY", "not-for-tesseract")
    monkeypatch.setenv("TESSDATA_PREFIX", "/somewhere/else")
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    before = dict(os.environ)
    seen = tmp_path / "seen"
    fake = program(tmp_path, "tesseract", f'env > {seen}/env\npwd > {seen}/pwd\necho "no pix" >&2\nexit 1\n')
    seen.mkdir()
    tessdata = tmp_path / "tessdata"
    tessdata.mkdir(mode=0o755)
    folder = page_folder(tmp_path)

    with pytest.raises(OcrError, match=r"^tesseract failed: no pix$"):
        TesseractEngine(str(fake), tessdata).recognize(folder / "page.jpg", "deu+eng", 300)

    env = dict(line.split("=", 1) for line in (seen / "env").read_text().splitlines())
    shell_own = {"PWD", "SHLVL", "_", "OLDPWD"}
    assert set(env) - shell_own == {"PATH", "OMP_THREAD_LIMIT", "TMPDIR", "TESSDATA_PREFIX"}
    assert env["OMP_THREAD_LIMIT"] == "1"
    assert env["PATH"] == os.pathsep.join(SECURE_PATH)
    assert env["TESSDATA_PREFIX"] == str(tessdata.resolve())
    run_folder = Path(env["TMPDIR"])
    assert run_folder.parent == folder and run_folder.name.startswith("tess-")
    assert (seen / "pwd").read_text().strip() == str(run_folder)
    assert not run_folder.exists()  # gone with the run
    assert dict(os.environ) == before


def test_a_tesseract_that_hangs_is_killed_after_the_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    fake = program(tmp_path, "tesseract", f"echo $$ > {pid_file}\nexec sleep 60\n")
    folder = page_folder(tmp_path)
    started = time.monotonic()
    with pytest.raises(OcrError, match="took longer than 1 s and was stopped"):
        TesseractEngine(str(fake), timeout=1).recognize(folder / "page.jpg", "deu", None)
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)  # killed and waited for: not even a zombie is left
    assert [p.name for p in folder.iterdir()] == ["page.jpg"]


def test_a_tesseract_ended_by_a_signal_fails_the_page_naming_the_signal(tmp_path: Path) -> None:
    """As when a stop sent to the worker's process group reaches the run: the worker gives such pages
    back when it is stopping (test_ocr_engine.py in integration)."""
    fake = program(tmp_path, "tesseract", "kill -TERM $$\n")
    folder = page_folder(tmp_path)
    with pytest.raises(OcrError, match=r"^tesseract failed: stopped by SIGTERM$"):
        TesseractEngine(str(fake)).recognize(folder / "page.jpg", "deu", None)


def test_orientation_detection_that_fails_or_hangs_reads_the_page_as_it_lies(tmp_path: Path) -> None:
    folder = page_folder(tmp_path)
    failing = program(tmp_path, "failing", 'echo "Too few characters. Skipping this page" >&2\nexit 1\n')
    hanging = program(tmp_path, "hanging", "exec sleep 60\n")
    assert TesseractEngine(str(failing)).detect_rotation(folder / "page.jpg", 300) == 0
    assert TesseractEngine(str(hanging), timeout=1).detect_rotation(folder / "page.jpg", 300) == 0


def test_orientation_is_read_from_tesseracts_osd_output(tmp_path: Path) -> None:
    """`--psm 0` writes OUTPUTBASE.osd; an unsure answer (confidence below 1) turns nothing."""
    folder = page_folder(tmp_path)

    def osd(rotate: int, confidence: float) -> TesseractEngine:
        report = f"Rotate: {rotate}\\nOrientation confidence: {confidence}\\n"
        fake = program(tmp_path, f"osd-{rotate}-{confidence}", f'printf "{report}" > "$2.osd"\n')
        return TesseractEngine(str(fake))

    assert osd(180, 12.5).detect_rotation(folder / "page.jpg", None) == 180
    assert osd(90, 0.4).detect_rotation(folder / "page.jpg", None) == 0


def test_a_models_folder_someone_else_could_change_is_refused(tmp_path: Path) -> None:
    tessdata = tmp_path / "tessdata"
    tessdata.mkdir(mode=0o755)
    assert trusted_tessdata(tessdata) == str(tessdata.resolve())
    tessdata.chmod(0o777)
    with pytest.raises(ConfigError, match="is writable by group or others") as refused:
        trusted_tessdata(tessdata)
    assert "\n" not in str(refused.value)
    with pytest.raises(ConfigError, match="absolute path"):
        trusted_tessdata(Path("tessdata"))
    with pytest.raises(ConfigError, match="is not a folder"):
        trusted_tessdata(Path("/bin/sh"))


def test_the_models_folder_is_set_in_the_config_file_only(tmp_path: Path) -> None:
    config = tmp_path / "ekakte.toml"
    config.write_text('tessdata = "/usr/share/tesseract-ocr/5/tessdata"\n')
    env = {"EKAKTE_HOME": str(tmp_path), "EKAKTE_CONFIG": str(config)}
    assert load_settings(env).tessdata == Path("/usr/share/tesseract-ocr/5/tessdata")
    assert load_settings({"EKAKTE_HOME": str(tmp_path)}).tessdata is None
    ignored = load_settings({"EKAKTE_HOME": str(tmp_path), "TESSDATA_PREFIX": "/home/someone/models"})
    assert ignored.tessdata is None
    assert [n for n in ignored.notices if n.startswith("TESSDATA_PREFIX is ignored")]


@needs_tesseract
def test_tesseract_reads_the_models_of_the_configured_folder(tmp_path: Path) -> None:
    """A folder with the English model alone: German is missing there, whatever the system has."""
    debian = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata")
    system = next((Path(p) for p in debian if Path(p, "eng.traineddata").exists()), None)
    if system is None:
        pytest.skip("no eng.traineddata where Debian puts it")
    tessdata = tmp_path / "tessdata"
    tessdata.mkdir(mode=0o755)
    (tessdata / "eng.traineddata").symlink_to(system / "eng.traineddata")
    engine = TesseractEngine("tesseract", tessdata)
    engine.check("eng")
    with pytest.raises(ConfigError, match=f"no language model in {tessdata} for deu: "):
        engine.check("deu+eng")
    TesseractEngine("tesseract").check("deu+eng")
    assert TesseractEngine("tesseract").name().startswith("tesseract ")
