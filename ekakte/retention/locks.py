"""The jobs of retention that must run alone: the sweep, and the Aussonderung's steps (offer, receive,
hand-over), which must not run while a sweep does either (an answer of the archive taken while a sweep
marks what its records released would race it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ekakte.archive import Archive
from ekakte.db.dialect import exclusive_job
from ekakte.db.session import sqlite_path
from ekakte.errors import Busy

SWEEP_LOCK = 7284063
DISPOSAL_LOCK = 7284064


def lock_file(archive: Archive, job: str) -> Path | None:
    """SQLite: the file beside the database whose flock stands for the job's lock (PostgreSQL: None)."""
    path = sqlite_path(archive.settings.database_url)
    return path.with_name(f"{path.name}.{job}.lock") if path else None


@contextmanager
def no_aussonderung_step(archive: Archive) -> Iterator[None]:
    """For the sweep, which holds its own lock already: the Aussonderung's lock too, for the whole run,
    so that no step runs meanwhile. Busy while a step runs."""
    with exclusive_job(archive.engine, DISPOSAL_LOCK, lock_file(archive, "archive")) as alone:
        if not alone:
            raise Busy(
                "a step of the Aussonderung (offer, receive, hand-over) is running; this sweep did nothing"
            )
        yield


@contextmanager
def aussonderung_step(archive: Archive) -> Iterator[None]:
    """One step of the Aussonderung at a time, and none while a sweep runs (the sweep holds this lock
    too), on any number of machines (advisory locks on PostgreSQL, lock files beside SQLite's
    database). Busy otherwise, saying which."""
    with exclusive_job(archive.engine, DISPOSAL_LOCK, lock_file(archive, "archive")) as alone:
        if not alone:
            with exclusive_job(archive.engine, SWEEP_LOCK, lock_file(archive, "sweep")) as no_sweep:
                pass
            if not no_sweep:
                raise Busy(
                    "a retention sweep is running; the Aussonderung waits until it is through: try again"
                )
            raise Busy("another step of the Aussonderung (offer, receive, hand-over) is running; try again")
        yield
