# ruff: noqa: E501 (a catalogue of sentences: one line each, to be found and translated whole)
"""Every word the web app shows, in one catalogue: German first; another language is another dict of the
same keys (tests/unit/test_web_texts.py checks that every key a template uses is here)."""

from __future__ import annotations

DE: dict[str, str] = {
    "app.name": "E-Akte Archiv",
    "skip": "Zum Inhalt springen",
    "nav.start": "Akte öffnen",
    "nav.search": "Suche",
    "nav.inbox": "Neue Post",
    "nav.postkorb": "Postkorb",
    "nav.audit": "Protokoll",
    "nav.retention": "Aufbewahrung",
    "nav.accessibility": "Barrierefreiheit",
    "nav.main": "Hauptnavigation",
    "user.signed_in_as": "Angemeldet als {user}",
    "logout": "Abmelden",
    # Sign-in
    "login.title": "Anmelden",
    "login.sso": "Mit dem Behördenkonto anmelden",
    "login.or": "Oder mit lokalem Kennwort (Notfallzugang):",
    "login.user": "Benutzername",
    "login.password": "Kennwort",
    "login.submit": "Anmelden",
    "login.failed": "Name oder Kennwort sind falsch, oder das Konto ist für eine Weile gesperrt.",
    "login.logged_out": "Sie sind abgemeldet.",
    "login.expired": "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",
    # Start
    "start.title": "Akte öffnen",
    "start.case_number": "Aktenzeichen (BG-Nummer)",
    "start.hint": "Zum Beispiel {example}",
    "start.open": "Akte öffnen",
    "start.invalid": "Das Aktenzeichen hat nicht die erwartete Form (zum Beispiel {example}).",
    # Case
    "case.title": "Akte {case}",
    "case.team": "Team: {team}",
    "case.opened": "Angelegt am {date}",
    "case.closed": "Geschlossen am {date}",
    "case.documents": "Dokumente, neueste zuerst",
    "case.none": "Diese Akte enthält keine Dokumente, die Sie sehen dürfen.",
    "case.new": "neu",
    # The team inbox
    "inbox.title": "Neue Post",
    "inbox.intro": "Akten Ihrer Teams mit Dokumenten, die noch niemand aus dem Team geöffnet hat, die neuesten zuerst.",
    "inbox.none": "In den Akten Ihrer Teams ist nichts Neues.",
    "col.team": "Team",
    "col.new": "Neu",
    "col.newest": "Zuletzt eingegangen",
    # The Postkorb
    "postkorb.title": "Postkorb",
    "postkorb.intro": "Schriftstücke ohne erkannte Akte, die ältesten zuerst. Öffnen Sie eines, um es zu lesen, und ordnen Sie es seiner Akte zu oder geben Sie es an die Scanstelle zurück.",
    "postkorb.none": "Der Postkorb ist leer.",
    "postkorb.arrived": "Eingegangen {at}, {pages} Seite(n)",
    "postkorb.reason": "Warum im Postkorb: {reason}",
    "postkorb.finding": "Automatische Zuordnung: {finding}",
    "postkorb.assign": "Zuordnen",
    "postkorb.return": "An die Scanstelle zurückgeben",
    "postkorb.return_reason": "Grund (sieht die Scanstelle)",
    "postkorb.return_hint": "Der Scan wird gelöscht (mit Eintrag im Löschprotokoll); die Scanstelle findet das Papier in ihrer Liste.",
    "postkorb.return_button": "Zurückgeben und Scan löschen",
    "postkorb.more": "Weitere Schriftstücke",
    "doc.back_postkorb": "Zurück zum Postkorb",
    "case.filter": "Filtern",
    "case.filter.type": "Dokumentart",
    "case.filter.all_types": "Alle Arten",
    "case.filter.from": "Eingang ab",
    "case.filter.to": "Eingang bis",
    "case.filter.apply": "Anwenden",
    "case.more": "Ältere Dokumente",
    "case.first": "Zurück zu den neuesten",
    "col.received": "Eingang",
    "col.type": "Art",
    "col.title": "Titel",
    "col.pages": "Seiten",
    "col.ocr": "Texterkennung",
    "doc.untitled": "(ohne Titel)",
    "doc.withheld": "(Titel zurückgehalten)",
    "ocr.done": "erkannt",
    "ocr.pending": "ausstehend",
    "ocr.failed": "fehlgeschlagen",
    "ocr.partly": "teilweise",
    # Document
    "doc.title": "{type} vom {date}",
    "doc.back": "Zurück zur Akte {case}",
    "doc.page_of": "Seite {page} von {pages}",
    "doc.previous": "Vorige Seite",
    "doc.next": "Nächste Seite",
    "doc.pages": "Seiten",
    "doc.zoom": "Größe",
    "doc.zoom.small": "klein",
    "doc.zoom.medium": "mittel",
    "doc.zoom.large": "groß",
    "doc.image_alt": "Seite {page} des Dokuments (Bild des Scans; der erkannte Text steht daneben)",
    "doc.text": "Erkannter Text der Seite {page}",
    "doc.no_text": "Für diese Seite liegt noch kein Text vor ({state}).",
    "doc.download": "Original herunterladen ({size})",
    "doc.download_searchable": "Durchsuchbares PDF herunterladen ({size})",
    "doc.facts": "Angaben zum Dokument",
    "doc.received": "Eingang",
    "doc.file": "Datei",
    "doc.checksum": "Prüfsumme (SHA-256)",
    "doc.highlighted": "Hervorgehoben: Ihre Suchwörter",
    "doc.keys": "Tastatur: Pfeil links und rechts blättern.",
    # Search
    "search.title": "Suche",
    "search.query": "Suchbegriffe",
    "search.query_hint": 'Alle Wörter müssen vorkommen; "in Anführungszeichen" für genaue Wortfolgen.',
    "search.scope.case": "nur in der Akte",
    "search.submit": "Suchen",
    "search.results": "Treffer",
    "search.none": "Keine passenden Dokumente gefunden.",
    "search.ignored": "Nicht gesucht (zu häufige Wörter): {words}",
    "search.window": "Sehr viele Seiten passen: gezeigt werden die besten unter den neuesten. Weitere Wörter, eine Akte oder eine Art grenzen die Suche ein.",
    "search.more": "Weitere Treffer",
    "search.page": "Seite {page}",
    # Auditor
    "audit.title": "Protokoll",
    "audit.case": "Wer hat diese Akte gelesen?",
    "audit.user": "Zugriffe eines Benutzers",
    "audit.since": "Seit",
    "audit.show": "Anzeigen",
    "audit.none": "Keine Einträge.",
    "audit.more": "Ältere Einträge",
    "col.at": "Zeit",
    "col.actor": "Benutzer",
    "col.action": "Aktion",
    "col.outcome": "Ergebnis",
    "col.case": "Akte",
    "col.reason": "Begründung",
    "col.channel": "Weg",
    # Records manager
    "retention.title": "Aufbewahrung",
    "retention.plan": "Was die nächtliche Löschung heute löschen würde",
    "retention.plan_count": "{count} Dokumente fällig; die ersten {shown} werden gezeigt.",
    "retention.plan_none": "Heute ist nichts fällig.",
    "retention.held_by": "gesperrt durch {holds}",
    "retention.holds": "Sperren (Legal Holds)",
    "retention.holds_none": "Keine Sperren in Kraft.",
    "retention.add": "Sperre setzen",
    "retention.reason": "Grund (z. B. Aktenzeichen des Gerichts)",
    "retention.until": "Bis (optional)",
    "retention.release": "Aufheben",
    "col.due": "Fällig seit",
    "col.rule": "Regel",
    "col.hold": "Sperre",
    "col.since": "Seit",
    "col.by": "Von",
    # Accessibility
    "a11y.title": "Erklärung zur Barrierefreiheit",
    "a11y.text": "Diese Anwendung soll die Anforderungen der BITV 2.0 (WCAG 2.1, Stufe AA) erfüllen. Sie wird mit automatischen Prüfungen (axe-core) und einer Bedienung allein mit der Tastatur getestet.",
    "a11y.feedback": "Barrieren melden",
    "a11y.feedback_text": "Wenn Ihnen Barrieren auffallen, schreiben Sie bitte an: {contact}",
    "a11y.no_contact": "Die Kontaktstelle ist noch nicht eingerichtet (Einstellung EKAKTE_ACCESSIBILITY_CONTACT).",
    # Errors
    "error.403.title": "Kein Zugriff",
    "error.403.text": "Diese Seite ist für Ihre Rolle nicht freigegeben.",
    "error.404.title": "Nicht gefunden",
    "error.404.text": "Diese Akte oder dieses Dokument gibt es nicht, oder Sie dürfen es nicht sehen.",
    "error.500.title": "Fehler",
    "error.500.text": "Die Anfrage konnte nicht bearbeitet werden. Bitte nennen Sie dem Support die Kennung {request_id}.",
    "error.503.title": "Vorübergehend nicht erreichbar",
    "error.503.text": "Das Archiv ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.",
    "error.400.title": "Ungültige Eingabe",
    "error.back": "Zur Startseite",
    "csrf.failed": "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.",
}

TEXTS = {"de": DE}

# What the mail room's code records in English (why a document is in the Postkorb, what the sort found),
# shown on the Postkorb page in the app's language: a pattern of the recorded text, and its words with
# the pattern's groups ({1}, {2}). A text that fits none is shown as recorded.
MESSAGES: dict[str, list[tuple[str, str]]] = {
    "de": [
        (r"no cover sheet before it in the stack", "kein Deckblatt davor im Stapel"),
        (r"after the separator sheet on page (\d+)", "nach dem Trennblatt auf Seite {1}"),
        (r"the cover sheet on page (\d+): (.+)", "das Deckblatt auf Seite {1} ist nicht verwendbar ({2})"),
        (
            r"page (\d+) carries a QR code that could not be read: it may be a cover sheet",
            "auf Seite {1} ist ein QR-Code, der nicht gelesen werden konnte: vielleicht ein Deckblatt",
        ),
        (r"its first pages are not read yet", "die ersten Seiten sind noch nicht gelesen"),
        (r"no case number on its first (\d+) pages", "kein Aktenzeichen auf den ersten {1} Seiten"),
        (r"several case numbers: (.+)", "mehrere Aktenzeichen: {1}"),
        (
            r"a doubtful case number on page (\d+): (.+)",
            "ein unsicher gelesenes Aktenzeichen auf Seite {1}: {2}",
        ),
        (
            r"case (\S+) \(read on page (\d+)\) is not in the archive",
            "die Akte {1} (gelesen auf Seite {2}) gibt es im Archiv nicht",
        ),
        (
            r"case (\S+) \(named by its reference code\) is not in the archive",
            "die Akte {1} (aus dem Bezugscode) gibt es im Archiv nicht",
        ),
        (r"reference codes naming several cases: (.+)", "Bezugscodes nennen mehrere Akten: {1}"),
        (
            r"the reference code names case (\S+), the text (.+)",
            "der Bezugscode nennt die Akte {1}, der Text {2}",
        ),
        (r"a damaged reference code on page (\d+): .+", "ein beschädigter Bezugscode auf Seite {1}"),
        (
            r"a reference code on page (\d+) names no case number: (.+)",
            "ein Bezugscode auf Seite {1} nennt kein gültiges Aktenzeichen: {2}",
        ),
        (
            r"a QR code on page (\d+) could not be read beside the reference code",
            "neben dem Bezugscode ist auf Seite {1} ein QR-Code, der nicht gelesen werden konnte",
        ),
        (
            r"not filed: case (\S+) holds this scan already",
            "nicht abgelegt: die Akte {1} enthält diesen Scan schon",
        ),
        (r"not filed: (.+)", "nicht abgelegt: {1}"),
        (
            r"(.+), page (\d+)",
            "{1}, Seite {2}",
        ),  # where a document came from (last: a file name may hold anything)
        (r"(.+), pages (\d+)-(\d+)", "{1}, Seiten {2}–{3}"),
    ],
}


def message(recorded: str, language: str = "de") -> str:
    """A recorded English message (see MESSAGES) in the app's language; as recorded if none fits."""
    import re

    for pattern, words in MESSAGES[language]:
        found = re.fullmatch(pattern, recorded, flags=re.DOTALL)
        if found:
            return words.format("", *found.groups())  # {1} is the first group
    return recorded


def text(key: str, language: str = "de", **values: object) -> str:
    """The words for `key`, with `values` filled in; a missing key shows as itself (and fails the test)."""
    template = TEXTS[language].get(key, key)
    return template.format(**values) if values else template
