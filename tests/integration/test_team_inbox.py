"""New mail for the team: what no one of a case's team has opened is new, in the case and in the inbox."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ekakte import api
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.errors import NotPermitted
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_CASE, OTHER_TEAM, READER, TEAM

PLAIN = Actor("plain-caseworker")  # team-a, without the health clearance
COLLEAGUE = Actor("colleague")  # team-a, with it
STRANGER = Actor("stranger")  # team-b
RECORDS = Actor("records")


def stored(archive: Archive, make_scan: Any, case: str, doc_type: str = "Antrag", seed: int = 0) -> Any:
    meta = api.DocumentMeta(case, doc_type, date(2026, 11, 2))
    return api.import_document(archive, OPERATOR, make_scan(seed=seed), meta).document_id


def new_in(archive: Archive, who: Actor) -> dict[str, int]:
    return {c.case_number: c.new for c in api.team_inbox(archive, who)}


def test_documents_are_new_until_someone_of_the_team_opens_them(archive: Archive, make_scan: Any) -> None:
    api.add_user(archive, ADMIN, PLAIN.name, ["caseworker"], [TEAM])
    api.add_user(archive, ADMIN, COLLEAGUE.name, ["caseworker"], [TEAM], health_clearance=True)
    api.add_user(archive, ADMIN, STRANGER.name, ["caseworker"], [OTHER_TEAM], health_clearance=True)
    api.add_user(archive, ADMIN, RECORDS.name, ["records_manager"], health_clearance=True)
    antrag = stored(archive, make_scan, CASE, seed=1)
    gutachten = stored(archive, make_scan, CASE, "Gutachten", seed=2)
    other = stored(archive, make_scan, OTHER_CASE, seed=3)

    assert new_in(archive, READER) == {CASE: 2, OTHER_CASE: 1}
    assert new_in(archive, PLAIN) == {CASE: 1, OTHER_CASE: 1}  # the restricted one is not even counted
    assert new_in(archive, STRANGER) == {}
    assert [(d.id, d.new) for d in api.case_documents(archive, READER, CASE).documents] == [
        (gutachten, True), (antrag, True),
    ]  # fmt: skip

    # Metadata is not opening; the content is (text, original, a page image), by anyone of the team.
    api.get_document(archive, READER, antrag)
    api.get_document(archive, RECORDS, antrag)
    assert new_in(archive, READER)[CASE] == 2
    api.document_text(archive, COLLEAGUE, antrag)
    api.render_page(archive, PLAIN, other, 1, 200)
    assert new_in(archive, READER) == {CASE: 1}
    assert new_in(archive, PLAIN) == {}
    assert [(d.id, d.new) for d in api.case_documents(archive, READER, CASE).documents] == [
        (gutachten, True), (antrag, False),
    ]  # fmt: skip
    # A refused read marks nothing.
    with pytest.raises(NotPermitted):
        api.document_text(archive, STRANGER, gutachten)
    with pytest.raises(NotPermitted):
        api.document_text(archive, PLAIN, gutachten)
    assert new_in(archive, READER) == {CASE: 1}

    # The case goes to another team: everything in it is new to that team.
    api.assign_case(archive, ADMIN, CASE, OTHER_TEAM)
    assert new_in(archive, STRANGER) == {CASE: 2}
    assert new_in(archive, READER) == {}
    with pytest.raises(NotPermitted):
        api.team_inbox(archive, RECORDS)
