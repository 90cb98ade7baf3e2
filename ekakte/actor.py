"""Who is acting: every library operation is done by an explicit Actor."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    name: str

    @classmethod
    def from_os(cls) -> Actor:
        """The OS login of this process, from the kernel's uid, never from $USER (which anyone can set)."""
        try:
            return cls(pwd.getpwuid(os.geteuid()).pw_name)
        except KeyError:
            return cls(f"uid:{os.geteuid()}")
