"""Who is acting: every library operation is done by an explicit Actor."""

from __future__ import annotations

import os
import pwd
import re
from dataclasses import dataclass

from ekakte.errors import InvalidInput, shown

# How a request reached the archive; every audit entry records it.
CHANNELS = ("cli", "api", "web")
# A request id travels from a proxy's or client's header into the trail: short, and nothing a terminal,
# a log line or a CSV could act on.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# An IPv6 zone (fe80::1%eth0) is an interface name or number; Python takes any text after the %.
_ZONE = re.compile(r"[A-Za-z0-9._-]{1,15}")


@dataclass(frozen=True)
class Actor:
    """The authenticated caller, and the user it acts for (only a `service` principal may act for another);
    with the request it came in: the channel (`cli`, `api`, `web`), the client's IP address and the
    request id where the channel has them. The CLI leaves them at their defaults."""

    name: str
    on_behalf_of: str | None = None
    channel: str = "cli"
    client_address: str | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise InvalidInput(f"unknown channel '{shown(self.channel)[:40]}': expected cli, api or web")
        if self.client_address is not None:
            # Frozen: the canonical spelling is set the one way a frozen dataclass allows.
            object.__setattr__(self, "client_address", _canonical_address(self.client_address))
        if self.request_id is not None and not _REQUEST_ID.fullmatch(self.request_id):
            raise InvalidInput(
                f"invalid request id '{shown(self.request_id)[:80]}': at most 64 letters, digits and . _ : -"
            )

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


def _canonical_address(text: str) -> str:
    """One spelling per address, so that an auditor finds a client by it: IPv6 compressed and in lower
    case, an IPv4 client of a dual-stack listener (::ffff:10.0.0.1) as the IPv4 address it is."""
    import ipaddress  # here: the CLI, every command's actor, never has a client address

    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidInput(f"invalid client address '{shown(text)[:80]}': not an IP address") from None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None and not _ZONE.fullmatch(address.scope_id):
            raise InvalidInput(f"invalid client address '{shown(text)[:80]}': not an IP address")
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
    return str(address)
