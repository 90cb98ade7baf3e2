"""`ekakte serve`: the archive as an HTTP service (ekakte.service), run by uvicorn."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from ekakte.cli.base import State, pass_state


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Processes.")
@click.option("--certfile", type=click.Path(dir_okay=False, path_type=Path), help="TLS certificate (PEM).")
@click.option("--keyfile", type=click.Path(dir_okay=False, path_type=Path), help="TLS private key (PEM).")
@click.option(
    "--graceful-timeout", default=30, show_default=True, type=click.IntRange(1, 3600),
    help="Seconds running requests get to finish after SIGTERM.",
)  # fmt: skip
@pass_state
def serve(
    state: State,
    host: str,
    port: int,
    workers: int,
    certfile: Path | None,
    keyfile: Path | None,
    graceful_timeout: int,
) -> None:
    """Serve the archive's API over HTTP (docs/api.md, docs/deployment.md).

    Run it under the service account that alone holds the database's and the object store's
    credentials; users sign in through the identity provider (EKAKTE_OIDC_*). Behind a reverse proxy
    that ends TLS, or with --certfile and --keyfile.
    """
    import uvicorn

    from ekakte.service.settings import load_service_settings

    if (certfile is None) != (keyfile is None):
        raise click.UsageError("give both --certfile and --keyfile, or neither")
    # Checked here, before a worker starts, so that a bad setting or an archive out of reach is one line
    # and its exit code (a worker's failure would be uvicorn's traceback, or with --workers nothing).
    settings = state.settings
    load_service_settings(tls=certfile is not None)
    from ekakte.api import unreachable
    from ekakte.errors import StorageError

    if unreachable(state.archive):  # the database answered already: Archive.open checks its schema
        raise StorageError(f"the object store cannot be reached ({settings.display()['storage']})")
    state.close()
    os.environ["EKAKTE_SERVE_TLS"] = "1" if certfile else "0"
    metrics = None
    if workers > 1:
        # Each worker counts its own requests in a file of this folder; /metrics sums them.
        metrics = tempfile.mkdtemp(prefix="ekakte-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics
    click.echo(f"ekakte: serving {settings.display()['database_url']} on {host}:{port}", err=True)
    try:
        _run(uvicorn, host, port, workers, certfile, keyfile, graceful_timeout)
    finally:
        if metrics is not None:
            shutil.rmtree(metrics, ignore_errors=True)


def _run(
    uvicorn: Any,
    host: str,
    port: int,
    workers: int,
    certfile: Path | None,
    keyfile: Path | None,
    graceful: int,
) -> None:
    uvicorn.run(
        "ekakte.service.app:from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        timeout_graceful_shutdown=graceful,
        access_log=False,  # ekakte.access writes one line a request, without paths or queries
        server_header=False,
        proxy_headers=False,  # the client's address is the service's own business (EKAKTE_TRUSTED_PROXIES)
        log_level="info",
        log_config=_log_config(),
    )


def _log_config() -> dict[str, object]:
    """uvicorn's logging, and ekakte's loggers (the access lines, errors with their request id) beside it."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["ekakte"] = {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    config["handlers"]["ekakte"] = {
        "formatter": "ekakte", "class": "logging.StreamHandler", "stream": "ext://sys.stderr",
    }  # fmt: skip
    config["loggers"]["ekakte"] = {"handlers": ["ekakte"], "level": "INFO", "propagate": False}
    return config


COMMANDS = [serve]
