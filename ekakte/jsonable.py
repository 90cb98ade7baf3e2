"""Results as JSON: one way to turn a result's dataclass into what `--json` prints and the API sends."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import PurePath
from typing import Any, ClassVar, cast


def jsonable(value: Any) -> Any:
    """Dates and times in ISO 8601, ids and paths as text, enums by value, nested results by as_json()."""
    if hasattr(value, "as_json"):
        return value.as_json()
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC).isoformat()  # SQLite gives back UTC without saying so
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


class AsJson:
    """as_json() made from a dataclass's fields, in their order. `json_names` renames fields,
    `json_omit` leaves some out (internal ones, or those `json_extra` writes its own way), and
    `json_extra()` adds computed ones after them."""

    json_names: ClassVar[Mapping[str, str]] = {}
    json_omit: ClassVar[frozenset[str]] = frozenset()

    def as_json(self) -> dict[str, Any]:
        out = {
            self.json_names.get(f.name, f.name): jsonable(getattr(self, f.name))
            for f in dataclasses.fields(cast(Any, self))
            if f.name not in self.json_omit
        }
        out.update(self.json_extra())
        return out

    def json_extra(self) -> dict[str, Any]:
        return {}
