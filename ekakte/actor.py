"""Who is acting: every library operation is done by an explicit Actor."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The authenticated caller, and the user it acts for (only a `service` principal may act for another)."""

    name: str
    on_behalf_of: str | None = None

    @classmethod
    def from_os(cls, on_behalf_of: str | None = None) -> Actor:
        """The OS login of this process, from the kernel's uid, never from $USER (which anyone can set)."""
        try:
            name = pwd.getpwuid(os.geteuid()).pw_name
        except KeyError:
            name = f"uid:{os.geteuid()}"
        return cls(name, on_behalf_of)

    @property
    def effective(self) -> str:
        return self.on_behalf_of or self.name
