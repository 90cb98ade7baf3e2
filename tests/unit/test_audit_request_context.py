"""The request an Actor comes with (channel, client address, request id): checked when it is made."""

from __future__ import annotations

import pytest

from ekakte.actor import Actor
from ekakte.errors import InvalidInput


def test_an_actor_made_as_before_is_the_cli_with_no_client_and_no_request() -> None:
    for actor in (Actor("lena"), Actor("app", "lena"), Actor.from_os()):
        assert (actor.channel, actor.client_address, actor.request_id) == ("cli", None, None)


def test_a_service_actor_carries_its_channel_client_and_request() -> None:
    actor = Actor("benefits-app", "lena", channel="api", client_address="10.1.2.3", request_id="7f3a-01")
    assert (actor.effective, actor.channel, actor.client_address, actor.request_id) == (
        "lena",
        "api",
        "10.1.2.3",
        "7f3a-01",
    )
    assert Actor("lena", channel="web").channel == "web"


@pytest.mark.parametrize("channel", ["", "CLI", "http", "api ", "web\x1b[2J"])
def test_an_unknown_channel_is_refused(channel: str) -> None:
    with pytest.raises(InvalidInput, match="expected cli, api or web") as refused:
        Actor("lena", channel=channel)
    assert "\n" not in str(refused.value) and "\x1b" not in str(refused.value)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("10.1.2.3", "10.1.2.3"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("::ffff:10.1.2.3", "10.1.2.3"),  # an IPv4 client of a dual-stack listener
        ("fe80::1%eth0", "fe80::1%eth0"),
        ("::1", "::1"),
    ],
)
def test_a_client_address_is_kept_in_one_spelling(given: str, kept: str) -> None:
    assert Actor("lena", channel="web", client_address=given).client_address == kept


@pytest.mark.parametrize(
    "given", ["", "localhost", "10.1.2.3 ", "010.1.2.3", "10.1.2.3:443", "10.1.2.0/24", "fe80::1%\x1b[2J"]
)
def test_a_client_address_that_is_no_ip_address_is_refused(given: str) -> None:
    with pytest.raises(InvalidInput, match="not an IP address") as refused:
        Actor("lena", channel="web", client_address=given)
    assert str(refused.value).isprintable()


@pytest.mark.parametrize(
    "request_id", ["a", "0af7651916cd43dd8448eb211c80319c", "req:2026-12-06.17_3", "x" * 64]
)
def test_a_request_id_of_safe_characters_up_to_64_is_kept(request_id: str) -> None:
    assert Actor("lena", channel="api", request_id=request_id).request_id == request_id


@pytest.mark.parametrize("request_id", ["", "x" * 65, "a b", "a\nb", "a;b", "Anfrage-ä", "a/b", "\x1b[2J"])
def test_a_request_id_too_long_or_of_other_characters_is_refused(request_id: str) -> None:
    with pytest.raises(InvalidInput, match="invalid request id") as refused:
        Actor("lena", channel="api", request_id=request_id)
    assert str(refused.value).isprintable()
