from __future__ import annotations

from pathlib import Path

import pytest

from ekakte.config import load_settings
from ekakte.errors import ConfigError, InvalidInput


def test_defaults_give_an_embedded_archive_under_the_home(tmp_path: Path) -> None:
    s = load_settings({"EKAKTE_HOME": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'ekakte.db'}"
    assert s.storage == f"file://{tmp_path / 'objects'}"
    assert s.is_embedded
    assert "Gutachten" in s.document_types


def test_environment_overrides_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "ekakte.toml"
    cfg.write_text('station = "from-file"\ndocument_types = ["Antrag", "Bescheid"]\ngc_grace_hours = 48\n')
    s = load_settings({"EKAKTE_CONFIG": str(cfg), "EKAKTE_HOME": str(tmp_path), "EKAKTE_STATION": "from-env"})
    assert s.station == "from-env"
    assert s.document_types == ("Antrag", "Bescheid")
    assert s.gc_grace_hours == 48
    assert s.config_file == cfg


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('stattion = "typo"\n', "unknown setting(s) stattion"),
        ("home = [\n", "cannot be read"),
        ('case_number_pattern = "(["\n', "not a valid regular expression"),
        ("document_types = []\n", "document_types is empty"),
        ('document_types = ["Antrag", "antrag"]\n', "lists a type twice"),
        ('storage = "ftp://x"\n', "must start with file:// or s3://"),
        ('storage = "s3://bucket"\n', "EKAKTE_S3_ENDPOINT is not set"),
        ('s3_secure = "perhaps"\n', "must be true or false"),
        ('gc_grace_hours = "soon"\n', "must be a number"),
    ],
)
def test_bad_configuration_is_refused_with_one_line(tmp_path: Path, content: str, message: str) -> None:
    cfg = tmp_path / "ekakte.toml"
    cfg.write_text(content)
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        load_settings({"EKAKTE_CONFIG": str(cfg), "EKAKTE_HOME": str(tmp_path)})


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"EKAKTE_CONFIG": str(tmp_path / "nope.toml")})


def test_case_numbers_are_normalised_and_checked(tmp_path: Path) -> None:
    s = load_settings({"EKAKTE_HOME": str(tmp_path)})
    assert s.case_number(" 12345bg0001234 ") == "12345BG0001234"
    for bad in ["12345BG000123", "1234BG0001234", "12345XX0001234", "12345BG0001234\n1", ""]:
        with pytest.raises(InvalidInput, match="invalid case number"):
            s.case_number(bad)


def test_case_number_pattern_is_configurable(tmp_path: Path) -> None:
    s = load_settings({"EKAKTE_HOME": str(tmp_path), "EKAKTE_CASE_NUMBER_PATTERN": r"BG-\d{4}"})
    assert s.case_number("bg-0042") == "BG-0042"
    with pytest.raises(InvalidInput):
        s.case_number("12345BG0001234")


def test_document_types_match_case_insensitively_and_are_stored_as_configured(tmp_path: Path) -> None:
    s = load_settings({"EKAKTE_HOME": str(tmp_path), "EKAKTE_DOCUMENT_TYPES": "Antrag, Kontoauszug"})
    assert s.document_type("KONTOAUSZUG") == "Kontoauszug"
    with pytest.raises(InvalidInput, match="unknown document type 'Bescheid'"):
        s.document_type("Bescheid")


def test_display_masks_secrets_and_database_passwords(tmp_path: Path) -> None:
    s = load_settings(
        {
            "EKAKTE_HOME": str(tmp_path),
            "EKAKTE_DATABASE_URL": "postgresql://ekakte:hunter2@db.example/ekakte",
            "EKAKTE_STORAGE": "s3://akten",
            "EKAKTE_S3_ENDPOINT": "minio:9000",
            "EKAKTE_S3_SECRET_KEY": "topsecret",
        }
    )
    shown = "\n".join(s.display().values())
    assert "hunter2" not in shown and "topsecret" not in shown
    assert s.display()["database_url"] == "postgresql+psycopg://ekakte:********@db.example/ekakte"
    assert "topsecret" not in repr(s)


def test_a_bad_database_url_is_refused_without_echoing_its_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"EKAKTE_HOME": str(tmp_path), "EKAKTE_DATABASE_URL": "mysql://u:hunter2@h/db"})
    assert "hunter2" not in str(err.value)


def test_who_sees_what_and_which_program_reads_are_not_taken_from_the_callers_settings(
    tmp_path: Path,
) -> None:
    """restricted_types (environment or file) and EKAKTE_TESSERACT are ignored, each with a notice: the
    archive keeps its restricted types (ekakte.policy), the tesseract program comes from the file only."""
    cfg = tmp_path / "mine.toml"
    cfg.write_text("restricted_types = []\n")
    s = load_settings(
        {
            "EKAKTE_HOME": str(tmp_path),
            "EKAKTE_CONFIG": str(cfg),
            "EKAKTE_RESTRICTED_TYPES": ",",
            "EKAKTE_TESSERACT": "/home/mallory/copy-pages",
        }
    )
    assert s.tesseract == "tesseract"
    assert not hasattr(s, "restricted_types")
    assert [n.split(" is ignored")[0] for n in s.notices] == [
        "restricted_types in the config file",
        "EKAKTE_RESTRICTED_TYPES",
        "EKAKTE_TESSERACT",
    ]
    cfg.write_text('tesseract = "/opt/ocr/tesseract"\n')
    assert load_settings({"EKAKTE_HOME": str(tmp_path), "EKAKTE_CONFIG": str(cfg)}).tesseract == (
        "/opt/ocr/tesseract"
    )
