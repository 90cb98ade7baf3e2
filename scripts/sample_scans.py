"""Synthetic scans with known German text, written as a scanner would (PDF, multi-page TIFF, JPEG, PNG).

Usage: python scripts/sample_scans.py OUTDIR [--case 12345BG0001234]
Writes a handful of scans plus NAME.json sidecars into OUTDIR, ready for `ekakte import --batch OUTDIR`.

Usage: python scripts/sample_scans.py OUTDIR --synthetic N [--pages P] [--dpi 300] [--seed S]
Writes N realistic scanned PDFs of P A4 pages each (300 dpi, 11 pt, skewed, blurred, noisy, JPEG), their
NAME.json sidecars, and the text on them in OUTDIR/truth/NAME.truth.txt (pages separated by a form feed;
in a folder of its own so that `ekakte import --batch OUTDIR` does not take the truth for a document).

The functions are also used by the tests and benchmarks (the ground truth for OCR quality, the corpus for
search).
"""

from __future__ import annotations

import argparse
import functools
import io
import itertools
import json
import random
import string
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

A4_MM = (210, 297)

LETTERS = {
    "Antrag": [
        "Antrag auf Leistungen zur Sicherung des Lebensunterhalts",
        "nach dem Zweiten Buch Sozialgesetzbuch (SGB II)",
        "Hiermit beantrage ich Bürgergeld für meine Bedarfsgemeinschaft.",
        "Unterschrift: Erika Musterfrau, Köln",
    ],
    "Mietvertrag": [
        "Mietvertrag über Wohnraum",
        "Die Wohnung in der Straße Am Grünen Weg 12 wird vermietet.",
        "Die monatliche Grundmiete beträgt 450,00 Euro zuzüglich Nebenkosten.",
        "Die Kaution beträgt drei Monatsmieten.",
    ],
    "Kontoauszug": [
        "Kontoauszug Nr. 3 / März",
        "Kontostand alt 1.234,56 Euro",
        "Gutschrift Jobcenter 563,00 Euro",
        "Lastschrift Stadtwerke Abschlag 87,00 Euro",
    ],
    "Bescheid": [
        "Bewilligungsbescheid",
        "Ihnen werden Leistungen für die Zeit vom 01.01. bis 30.06. bewilligt.",
        "Gegen diesen Bescheid kann innerhalb eines Monats Widerspruch erhoben werden.",
    ],
}


def page_image(lines: list[str], dpi: int = 150, seed: int = 0) -> Image.Image:
    """One A4 page in greyscale with the given lines of text, as a flatbed scanner would see it."""
    rng = random.Random(seed)
    width, height = (round(mm / 25.4 * dpi) for mm in A4_MM)
    img = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(img)
    font = _font(dpi)  # DejaVu Sans where installed: umlauts and ß print as they should
    y = dpi
    for line in lines:
        draw.text((dpi, y), line, fill=rng.randint(10, 40), font=font)
        y += dpi // 3
    return img


# Pillow stamps the PDF with the current time unless told otherwise; a fixed one keeps the bytes reproducible.
_PDF_DATE = time.struct_time((2026, 1, 1, 0, 0, 0, 3, 1, 0))


def pdf_bytes(pages: list[list[str]], dpi: int = 150, quality: int = 75, seed: int = 0) -> bytes:
    """A scanner-style PDF: one JPEG image per page, no text layer."""
    images = [page_image(lines, dpi, seed + i) for i, lines in enumerate(pages)]
    out = io.BytesIO()
    images[0].save(
        out,
        "PDF",
        resolution=dpi,
        save_all=True,
        append_images=images[1:],
        quality=quality,
        creationDate=_PDF_DATE,
        modDate=_PDF_DATE,
    )
    return out.getvalue()


def tiff_bytes(pages: list[list[str]], dpi: int = 150) -> bytes:
    images = [page_image(lines, dpi, i) for i, lines in enumerate(pages)]
    out = io.BytesIO()
    images[0].save(
        out, "TIFF", save_all=True, append_images=images[1:], compression="tiff_lzw", dpi=(dpi, dpi)
    )
    return out.getvalue()


def image_bytes(lines: list[str], fmt: str, dpi: int = 150) -> bytes:
    out = io.BytesIO()
    page_image(lines, dpi).save(out, fmt, dpi=(dpi, dpi))
    return out.getvalue()


def write_demo_batch(outdir: Path, case_number: str) -> list[Path]:
    """A small scanning-station batch for one case: four formats, sidecars, one file without sidecar."""
    outdir.mkdir(parents=True, exist_ok=True)
    files = {
        "scan-0001.pdf": (
            pdf_bytes([LETTERS["Antrag"], ["Seite 2 des Antrags", "Anlagen: Mietvertrag"]]),
            {"type": "Antrag", "received": "2026-11-02", "title": "Antrag auf Bürgergeld"},
        ),
        "scan-0002.tif": (
            tiff_bytes([LETTERS["Mietvertrag"], ["Seite 2", "Unterschriften der Parteien"]]),
            {"type": "Mietvertrag", "received": "2026-11-03"},
        ),
        "scan-0003.jpg": (
            image_bytes(LETTERS["Kontoauszug"], "JPEG"),
            {"type": "kontoauszug", "received": "05.11.2026", "title": "Kontoauszug März"},
        ),
        "scan-0004.png": (
            image_bytes(LETTERS["Bescheid"], "PNG"),
            {"type": "Bescheid", "received": "2026-11-10"},
        ),
        # A file that is not a scan: the batch must refuse it and go on.
        "scan-0005.pdf": (b"Dies ist kein PDF, nur Text mit der Endung .pdf\n", {"type": "Antrag"}),
    }
    written = []
    for name, (data, sidecar) in files.items():
        path = outdir / name
        path.write_bytes(data)
        (outdir / (Path(name).stem + ".json")).write_text(
            json.dumps({"case": case_number, **sidecar}, ensure_ascii=False), encoding="utf-8"
        )
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------------
# Synthetic scans with known text: the ground truth for OCR quality and the corpus for search benchmarks.

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_POINTS = 11
MARGIN_MM = (25, 25, 20)  # left, top, bottom: a DIN 5008 letter
LINE_SPACING = 1.4
PAPER, TONER = (236, 246), (20, 60)  # grey levels of the scanned paper and of the print on it
NOISE = 6  # the scanner's sensor noise, ± grey levels

# fmt: off

FIRST_NAMES = [
    "Jürgen", "Günther", "Bärbel", "Jörg", "Käthe", "Sören", "Björn", "Dörte", "Hans-Peter", "Anna",
    "Mehmet", "Katarzyna", "Lena", "Thomas", "Sabine", "Ümit", "Agnieszka", "Michael", "Jana", "Uwe",
]
LAST_NAMES = [
    "Müller", "Schäfer", "Schröder", "Köhler", "Krämer", "Weiß", "Groß", "Strauß", "Jäger", "Böhm",
    "Hoffmann", "Fuchs", "Wagner", "Becker", "Koch", "Richter", "Kowalski", "Demir", "Nowak", "Lößner",
    "Schmidt", "Schneider", "Fischer", "Meyer", "Weber", "Schulz", "Bauer", "Klein", "Wolf", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause",
    "Lehmann", "Köster", "Huber", "Kaiser", "Peters", "Möller", "Scholz", "Lang", "Jung", "Hahn", "Vogel",
    "Friedrich", "Günther", "Keller", "Berger", "Frank", "Roth", "Beck", "Lorenz", "Baumann", "Franke",
    "Albrecht", "Schuster", "Simon", "Ludwig", "Böttcher", "Winkler", "Kraus", "Martin", "Schumacher",
    "Krüger", "Öztürk", "Yilmaz", "Popescu", "Horvat", "Nguyen", "Ahmadi", "Haddad", "Ivanova", "Kaya",
]
STREET_NAMES = [
    "Haupt", "Linden", "Schloß", "Bahnhof", "Mühlen", "Garten", "Kirch", "Rosen", "Jahn", "Hölderlin",
    "Bürger", "Goethe", "Schiller", "Eichen", "Birken", "Ahorn", "Buchen", "Tannen", "Wiesen", "Berg",
    "Markt", "Schul", "Post", "Feld", "Wald", "Bach", "Brunnen", "Friedhof", "Mozart", "Beethoven",
]
STREET_KINDS = ["straße", "straße", "straße", "weg", "allee", "platz", "ring", "gasse", "steig"]
CITIES = [
    "50667 Köln", "90402 Nürnberg", "80331 München", "40210 Düsseldorf", "28195 Bremen", "01067 Dresden",
    "04109 Leipzig", "33602 Bielefeld", "45127 Essen", "97070 Würzburg", "66111 Saarbrücken",
    "37073 Göttingen", "49074 Osnabrück", "23552 Lübeck", "79098 Freiburg", "06108 Halle (Saale)",
]
MONTHS = [
    "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
    "November", "Dezember",
]
# Supporting documents a job centre asks for; drawn with Zipf weights (the first ones are asked for most).
PAPERS = [
    "Kontoauszüge", "Mietvertrag", "Lohnabrechnung", "Personalausweis", "Nebenkostenabrechnung",
    "Meldebescheinigung", "Arbeitsvertrag", "Kündigungsschreiben", "Heizkostenabrechnung",
    "Krankenversicherungsnachweis", "Kindergeldbescheid", "Rentenbescheid", "Unterhaltsnachweis",
    "Schulbescheinigung", "Einkommensbescheinigung", "Wohngeldbescheid", "Stromrechnung",
    "Sparbuch", "Kfz-Schein", "Geburtsurkunde", "Aufenthaltstitel", "Bewerbungsnachweise",
    "Arbeitsunfähigkeitsbescheinigung", "Elterngeldbescheid", "Mutterpass", "Scheidungsurteil",
    "Betriebskostenabrechnung", "Lebensversicherungspolice", "Bausparvertrag", "Gewerbeanmeldung",
    "Steuerbescheid", "Bafög-Bescheid", "Zeugnisse", "Mietbescheinigung", "Vermieterbescheinigung",
    "Abschlagsplan", "Schuldnerberatungsbescheinigung", "Pfändungsbeschluss", "Ausbildungsvertrag",
    "Praktikumsvertrag", "Eingliederungsvereinbarung", "Kooperationsplan", "Teilnahmebescheinigung",
    "Fahrkostennachweis", "Unterkunftsbescheinigung", "Schwerbehindertenausweis", "Pflegegradbescheid",
]

# The long tail of a real file's vocabulary: compounds of a subject and a head (Heizkostennachzahlung,
# Umzugskostenbescheinigung, ...), drawn with Zipf weights from a fixed shuffle of all ~2,000 of them, so
# that some are in many documents and most in few, as words are in real files.
SUBJECTS = [
    "Miet", "Heizkosten", "Nebenkosten", "Strom", "Umzugs", "Renovierungs", "Kautions", "Unterkunfts",
    "Einkommens", "Lohn", "Gehalts", "Unterhalts", "Kindergeld", "Wohngeld", "Elterngeld", "Renten",
    "Kranken", "Pflege", "Arbeitslosen", "Sozial", "Vermögens", "Konto", "Spar", "Versicherungs",
    "Fahrt", "Bewerbungs", "Weiterbildungs", "Schulden", "Erstattungs", "Nachzahlungs", "Mehrbedarfs",
    "Schwangerschafts", "Ausbildungs", "Einstiegs", "Eingliederungs", "Integrations", "Sprachkurs",
    "Kinderbetreuungs", "Schulbedarfs", "Klassenfahrt", "Mittagessen", "Nachhilfe", "Erstausstattungs",
    "Darlehens", "Aufrechnungs", "Sanktions", "Minderungs", "Widerspruchs", "Klage", "Anhörungs",
    "Meldeversäumnis", "Ortsabwesenheits", "Umzug", "Wohnungs", "Energie", "Wasser", "Müll",
]
HEADS = [
    "bescheid", "nachweis", "bescheinigung", "abrechnung", "antrag", "vertrag", "erklärung", "anzeige",
    "forderung", "rückstand", "zuschuss", "pauschale", "beihilfe", "erstattung", "nachzahlung", "änderung",
    "unterlagen", "aufstellung", "übersicht", "vereinbarung", "mitteilung", "kosten", "frist", "prüfung",
    "berechnung", "quittung", "rechnung", "kündigung", "mahnung", "zusage", "ablehnung", "verfahren",
    "akte", "beleg", "vermerk", "protokoll",
]
# fmt: on

THINGS = [subject + head for subject in SUBJECTS for head in HEADS]
random.Random(0).shuffle(THINGS)

# Sentences by kind of letter; the kinds are document types the archive knows. Slots are the keys of
# _SLOTS, with a digit when a sentence has two of a kind: {amount} {amount2}.
SENTENCES = {
    "Antrag": [
        "Hiermit beantrage ich Leistungen zur Sicherung des Lebensunterhalts nach dem SGB II.",
        "Ich beantrage die Weiterbewilligung des Bürgergeldes ab dem {date} für meine Bedarfsgemeinschaft.",
        "Zu meiner Bedarfsgemeinschaft gehören meine Ehefrau und zwei minderjährige Kinder.",
        "Ich wohne seit dem {date} in der {street} {number}, {city}.",
        "Mein monatliches Nettoeinkommen aus einer geringfügigen Beschäftigung beträgt {amount}.",
        "Als Anlagen füge ich {paper}, {paper2} und {paper3} bei.",
        "Ich versichere, dass meine Angaben vollständig sind und der Wahrheit entsprechen.",
        "Änderungen in meinen Verhältnissen werde ich dem Jobcenter unverzüglich mitteilen.",
        "Über Vermögen oberhalb der Freibeträge verfüge ich nicht, mein Girokonto weist {amount} aus.",
        "Für die Erstausstattung der Wohnung beantrage ich eine einmalige Beihilfe von {amount}.",
        "Die Kosten der Unterkunft und Heizung bitte ich direkt an den Vermieter zu überweisen.",
        "Bitte überweisen Sie die Leistungen auf mein Konto mit der IBAN {iban}.",
        "Zusätzlich beantrage ich die Übernahme folgender Kosten: {thing} und {thing2}.",
        "Nachweise zu {thing}, {thing2} und {thing3} reiche ich nach.",
    ],
    "Bescheid": [
        "Ihnen werden Leistungen für die Zeit vom {date} bis {date2} in Höhe von {amount} bewilligt.",
        "Der Regelbedarf für Sie beträgt monatlich {amount}, für Ihr Kind {amount2}.",
        "Als Bedarf für Unterkunft und Heizung werden {amount} monatlich berücksichtigt.",
        "Das Einkommen aus Ihrer Beschäftigung wird nach Abzug der Freibeträge mit {amount} angerechnet.",
        "Gegen diesen Bescheid kann innerhalb eines Monats nach Bekanntgabe Widerspruch erhoben werden.",
        "Der Widerspruch ist schriftlich oder zur Niederschrift beim Jobcenter {city} einzulegen.",
        "Die Bewilligung erfolgt vorläufig nach § 41a SGB II, da Ihr Einkommen schwankt.",
        "Für den Monat {month} {year} ergibt sich eine Überzahlung von {amount}, die zu erstatten ist.",
        "Die Erstattungsforderung wird mit {amount2} monatlich gegen Ihre laufenden Leistungen aufgerechnet.",
        "Bitte geben Sie bei Rückfragen immer Ihre BG-Nummer {case} an.",
        "Der Bescheid vom {date} wird insoweit nach § 48 SGB X aufgehoben.",
        "Die Zahlung erfolgt jeweils zum Monatsanfang auf das Konto mit der IBAN {iban}.",
        "Berücksichtigt wurden außerdem {thing} und {thing2} in Höhe von {amount}.",
        "Nicht berücksichtigt werden konnte {thing}, da kein Nachweis vorliegt.",
    ],
    "Mietvertrag": [
        "Zwischen {name} als Vermieter und {name2} als Mieter wird folgender Mietvertrag geschlossen.",
        "Vermietet wird die Wohnung im zweiten Obergeschoss der {street} {number}, {city}.",
        "Die Wohnfläche beträgt {number} Quadratmeter, bestehend aus drei Zimmern, Küche und Bad.",
        "Die monatliche Grundmiete beträgt {amount} zuzüglich einer Vorauszahlung für Nebenkosten.",
        "Die Vorauszahlung für Heizung und Warmwasser beträgt monatlich {amount2}.",
        "Die Miete ist spätestens am dritten Werktag eines jeden Monats im Voraus zu zahlen.",
        "Der Mieter leistet eine Kaution in Höhe von {amount}, zahlbar in drei gleichen Raten.",
        "Das Mietverhältnis beginnt am {date} und läuft auf unbestimmte Zeit.",
        "Schönheitsreparaturen übernimmt der Mieter nach Maßgabe der beigefügten Hausordnung.",
        "Die Haltung von Haustieren außer Kleintieren bedarf der Zustimmung des Vermieters.",
        "Die Betriebskosten werden jährlich bis zum {date2} abgerechnet.",
        "Anlagen zum Mietvertrag: {thing}, {thing2} und Hausordnung.",
    ],
    "Kontoauszug": [
        "Kontoauszug Nr. {number} vom {date}, Girokonto IBAN {iban}",
        "Kontostand alt am {date}: {amount} Haben",
        "Gutschrift Jobcenter {city}, Leistungen SGB II {month} {year}: {amount}",
        "Lastschrift Stadtwerke, Abschlag Strom und Gas {month}: {amount2}",
        "Dauerauftrag Miete {street} {number} an {name}: {amount}",
        "Kartenzahlung Supermarkt vom {date2}: {amount2}",
        "Gutschrift Familienkasse, Kindergeld {month} {year}: {amount}",
        "Überweisung an Krankenkasse, Zusatzbeitrag {month}: {amount2}",
        "Bargeldauszahlung Geldautomat am {date}: {amount2}",
        "Kontostand neu am {date2}: {amount} Haben",
        "Rundfunkbeitrag Quartal, Lastschrift vom {date}: {amount2}",
        "Überweisung an {name}, Verwendungszweck {thing}: {amount}",
        "Gutschrift {last}, Verwendungszweck {thing} {month}: {amount2}",
    ],
    "Schriftverkehr": [
        "Sehr geehrte Frau {last}, sehr geehrter Herr {last2},",
        "Zu Ihrem Schreiben vom {date} teile ich Ihnen Folgendes mit.",
        "Bitte reichen Sie bis zum {date2} folgende Unterlagen ein: {paper} und {paper2}.",
        "Sollten Sie die Unterlagen nicht fristgerecht einreichen, können die Leistungen versagt werden.",
        "Ich lade Sie zu einem Gespräch über Ihre berufliche Situation am {date} um 9:30 Uhr ein.",
        "Kommen Sie ohne wichtigen Grund nicht, kann Ihr Bürgergeld gemindert werden.",
        "Für Rückfragen erreichen Sie mich montags bis freitags zwischen 8 und 12 Uhr.",
        "Mit freundlichen Grüßen, {name}, Jobcenter {city}, Team Leistung {number}",
        "Ihre Nebenkostenabrechnung für das Jahr {year} weist eine Nachzahlung von {amount} aus.",
        "Die Nachzahlung wird als einmaliger Bedarf im Monat der Fälligkeit übernommen.",
        "Hiermit lege ich gegen den Bescheid vom {date} Widerspruch ein, Aktenzeichen {case}.",
        "Die Heizkosten für {month} {year} sind nicht angemessen berücksichtigt worden.",
        "Betreff: {thing}, Ihr Schreiben vom {date}, BG-Nummer {case}",
        "Vermerk: {thing} am {date} telefonisch mit Frau {last} besprochen.",
        "Es fehlen noch Unterlagen zu {thing} und {thing2}.",
    ],
}


def _euro(rng: random.Random) -> str:
    """An amount as German letters write it: 1.234,56 Euro (log-uniform between 5 and 5,000)."""
    cents = round(5 * 1000 ** rng.random() * 100)
    euros = f"{cents // 100:,}".replace(",", ".")
    return f"{euros},{cents % 100:02d} {rng.choice(['Euro', 'Euro', 'EUR'])}"


def _date(rng: random.Random) -> str:
    return f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2024, 2027)}"


def _iban(rng: random.Random) -> str:
    groups = [f"{rng.randint(0, 9999):04d}" for _ in range(5)]
    return f"DE{' '.join(groups)} {rng.randint(0, 99):02d}"


@functools.cache
def _zipf_weights(n: int) -> list[float]:
    """Cumulative weights of ranks 1..n under Zipf's law."""
    return list(itertools.accumulate(1 / rank for rank in range(1, n + 1)))


def _zipf(rng: random.Random, items: list[str]) -> str:
    return rng.choices(items, cum_weights=_zipf_weights(len(items)))[0]


_SLOTS: dict[str, Callable[[random.Random], str]] = {
    "name": lambda rng: f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
    "last": lambda rng: rng.choice(LAST_NAMES),
    "street": lambda rng: rng.choice(STREET_NAMES) + rng.choice(STREET_KINDS),
    "number": lambda rng: str(rng.randint(1, 120)),
    "city": lambda rng: rng.choice(CITIES),
    "amount": _euro,
    "date": _date,
    "month": lambda rng: rng.choice(MONTHS),
    "year": lambda rng: str(rng.randint(2023, 2027)),
    "case": lambda rng: f"{rng.randint(10000, 99999)}BG{rng.randint(0, 9999999):07d}",
    "iban": _iban,
    "paper": lambda rng: _zipf(rng, PAPERS),
    "thing": lambda rng: _zipf(rng, THINGS),
}


@functools.cache
def _slots_of(template: str) -> tuple[str, ...]:
    return tuple(field for _, field, _, _ in string.Formatter().parse(template) if field)


def _sentence(rng: random.Random, kind: str) -> str:
    # Mostly the page's own kind, now and then a sentence any letter of a job centre has.
    pool = SENTENCES[kind] if rng.random() < 0.8 else SENTENCES["Schriftverkehr"]
    template = rng.choice(pool)
    # {amount2} is another {amount}, and so on.
    return template.format(**{slot: _SLOTS[slot.rstrip("0123456789")](rng) for slot in _slots_of(template)})


def letter_kind(seed: int) -> str:
    """The kind of letter (a document type: Antrag, Bescheid, …) german_lines writes for this seed."""
    return sorted(SENTENCES)[seed % len(SENTENCES)]


def german_lines(seed: int, n: int, *, kind: str | None = None) -> list[str]:
    """n lines of a German job-centre letter, 60-80 characters each, deterministic per seed.

    kind is the kind of letter (a key of SENTENCES); by default the seed picks it (see letter_kind).
    Sentences run on from line to line as in a paragraph set flush left."""
    kind = kind or letter_kind(seed)
    rng = random.Random(seed)
    lines: list[str] = []
    words: list[str] = []
    while len(lines) < n:
        width, line = rng.randint(66, 80), ""
        while True:
            if not words:
                words = _sentence(rng, kind).split()
            candidate = f"{line} {words[0]}" if line else words[0]
            if line and len(candidate) > width:
                break
            line = candidate
            words.pop(0)
        lines.append(line)
    return lines


def _mm(mm: float, dpi: int) -> int:
    return round(mm / 25.4 * dpi)


def _font(dpi: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    size = round(FONT_POINTS * dpi / 72)
    dejavu = FONT_DIR / "DejaVuSans.ttf"
    return ImageFont.truetype(str(dejavu), size) if dejavu.is_file() else ImageFont.load_default(size=size)


def max_lines(dpi: int = 300) -> int:
    """How many lines of text fit on one page between the margins."""
    step = round(FONT_POINTS * dpi / 72 * LINE_SPACING)
    top, bottom = _mm(MARGIN_MM[1], dpi), _mm(MARGIN_MM[2], dpi)
    return (_mm(A4_MM[1], dpi) - top - bottom) // step


def scan_page(
    lines: list[str],
    *,
    dpi: int = 300,
    seed: int = 0,
    rotate: float | None = None,
    blur: float = 0.6,
    quality: int | None = 80,
    upside_down: bool = False,
    sideways: bool = False,
) -> Image.Image:
    """One printed A4 page as a flatbed scanner returns it: greyscale, skewed, blurred, noisy, JPEG.

    rotate is the skew in degrees; None draws one from the seed (0.1° to 1.5°, either way). upside_down
    turns the page by 180°, sideways by 90° (landscape image), as when a sheet goes in the wrong way.
    quality is the scanner's JPEG quality (None: no compression artefacts). Same arguments, same pixels.
    """
    rng = random.Random(seed)
    img, paper, _ = _printed(lines, dpi, rng)
    return _through_scanner(
        img, rng, paper, rotate=rotate, blur=blur, quality=quality, upside_down=upside_down, sideways=sideways
    )


def _printed(lines: list[str], dpi: int, rng: random.Random) -> tuple[Image.Image, int, int]:
    """The page as printed, before the scanner: the image, its paper's and its ink's grey level."""
    if len(lines) > max_lines(dpi):
        raise ValueError(f"{len(lines)} lines do not fit on one page; at most {max_lines(dpi)}")
    paper = rng.randint(*PAPER)
    img = Image.new("L", (_mm(A4_MM[0], dpi), _mm(A4_MM[1], dpi)), paper)
    draw = ImageDraw.Draw(img)
    font = _font(dpi)
    ink = rng.randint(*TONER)
    left, top = _mm(MARGIN_MM[0], dpi), _mm(MARGIN_MM[1], dpi)
    step = round(FONT_POINTS * dpi / 72 * LINE_SPACING)
    for i, line in enumerate(lines):
        draw.text((left, top + i * step), line, fill=ink, font=font)
    return img, paper, ink


def coded_letter_page(
    lines: list[str],
    code_png: bytes,
    *,
    at_mm: tuple[float, float] = (150.0, 45.0),
    dpi: int = 300,
    seed: int = 0,
    rotate: float | None = None,
    quality: int | None = 80,
) -> Image.Image:
    """A letter (as scan_page) with a PNG printed on it at its own size, its top left corner `at_mm` from
    the page's (the information block of a DIN 5008 letter), over whatever text is there: ekakte's
    reference code, as the benefits software prints it. The PNG is printed at the dpi it says and
    scanned at `dpi` (each pixel of the scan the average of the print under it)."""
    rng = random.Random(seed)
    img, paper, ink = _printed(lines, dpi, rng)
    code = Image.open(io.BytesIO(code_png))
    printed_dpi = code.info["dpi"][0]
    size = (round(code.width / printed_dpi * dpi), round(code.height / printed_dpi * dpi))
    code = code.convert("L").resize(size, Image.Resampling.BOX)
    code = code.point([round(ink + (paper - ink) * v / 255) for v in range(256)])
    img.paste(code, (_mm(at_mm[0], dpi), _mm(at_mm[1], dpi)))
    return _through_scanner(img, rng, paper, rotate=rotate, blur=0.6, quality=quality)


def _through_scanner(
    img: Image.Image,
    rng: random.Random,
    paper: int,
    *,
    rotate: float | None,
    blur: float,
    quality: int | None,
    upside_down: bool = False,
    sideways: bool = False,
) -> Image.Image:
    """What a flatbed scanner does to a printed page (see scan_page)."""
    skew = rng.choice((-1, 1)) * rng.uniform(0.1, 1.5) if rotate is None else rotate
    if skew:
        img = img.rotate(skew, resample=Image.Resampling.BICUBIC, fillcolor=paper)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    # Sensor noise, ±NOISE grey levels. From the seeded generator, not Image.effect_noise (C's rand()), so
    # that the same seed gives the same page.
    noise = Image.frombytes("L", img.size, rng.randbytes(img.width * img.height))
    noise = noise.point([128 - NOISE + round(v * 2 * NOISE / 255) for v in range(256)])
    img = ImageChops.add(img, noise, scale=1.0, offset=-128)
    if upside_down:
        img = img.transpose(Image.Transpose.ROTATE_180)
    if sideways:
        img = img.transpose(Image.Transpose.ROTATE_90)
    if quality is not None:
        out = io.BytesIO()
        img.save(out, "JPEG", quality=quality)
        img = Image.open(out)
        img.load()
    return img


def sheet_page(
    case_number: str | None = None,
    document_type: str | None = None,
    title: str | None = None,
    *,
    dpi: int = 300,
    seed: int = 0,
    rotate: float | None = None,
    upside_down: bool = False,
    quality: int | None = 80,
) -> Image.Image:
    """A cover sheet (or, without a case number, a separator sheet) as ekakte prints it, printed and
    scanned: ekakte's own PDF rendered at `dpi`, then skewed, blurred and noised like scan_page."""
    import pypdfium2

    from ekakte.mailroom.codes import Sheet
    from ekakte.mailroom.coversheet import write_sheets

    out = io.BytesIO()
    write_sheets(out, [Sheet(case_number, document_type, title)])
    rng = random.Random(seed)
    paper = rng.randint(*PAPER)
    pdf = pypdfium2.PdfDocument(out.getvalue())
    try:
        page = pdf[0]
        img = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
        page.close()
    finally:
        pdf.close()
    img = img.point([paper if v > 250 else v for v in range(256)])
    return _through_scanner(
        img, rng, paper, rotate=rotate, blur=0.6, quality=quality, upside_down=upside_down
    )


def blank_page(*, dpi: int = 300, seed: int = 0, quality: int | None = 80) -> Image.Image:
    """The empty back of a sheet, scanned: paper and sensor noise only."""
    rng = random.Random(seed)
    paper = rng.randint(*PAPER)
    img = Image.new("L", (_mm(A4_MM[0], dpi), _mm(A4_MM[1], dpi)), paper)
    return _through_scanner(img, rng, paper, rotate=0, blur=0.6, quality=quality)


def bitonal(img: Image.Image) -> Image.Image:
    """The page as a bitonal scanner returns it (1 bit per pixel, threshold at mid-grey)."""
    return img.convert("L").point(lambda v: 255 if v > 150 else 0).convert("1")


def write_bitonal_pdf(path: Path, pages: Iterable[Image.Image], dpi: int = 300) -> int:
    """A PDF of bitonal pages, each one CCITT G4 image, as a production scanner writes them."""
    images = [bitonal(p) for p in pages]
    images[0].save(path, "PDF", resolution=dpi, save_all=True, append_images=images[1:],
                   creationDate=_PDF_DATE, modDate=_PDF_DATE)  # fmt: skip
    return len(images)


def write_g4_tiff(path: Path, pages: Iterable[Image.Image], dpi: int = 300) -> int:
    """A multi-page TIFF of bitonal pages, CCITT G4, as a production scanner writes them."""
    images = iter(pages)
    first = bitonal(next(images))
    count = 1

    def rest() -> Iterator[Image.Image]:  # one bitonal page at a time, not all of them in memory
        nonlocal count
        for page in images:
            count += 1
            yield bitonal(page)

    first.save(path, "TIFF", compression="group4", dpi=(dpi, dpi), save_all=True, append_images=rest())
    return count


def scan_pdf_bytes(pages: list[Image.Image], dpi: int = 300, quality: int = 80) -> bytes:
    """A scanner's PDF of the given page images: one JPEG image per page, no text layer."""
    out = io.BytesIO()
    # Copies: Pillow keeps a save's options on the image objects (encoderinfo, append_images among them),
    # so an image object saved before, in another group of pages, would bring that group's pages along.
    pages = [page.copy() for page in pages]
    pages[0].save(
        out,
        "PDF",
        resolution=dpi,
        dpi=(dpi, dpi),  # into each page's JPEG too, as a scanner writes it
        save_all=True,
        append_images=pages[1:],
        quality=quality,
        creationDate=_PDF_DATE,
        modDate=_PDF_DATE,
    )
    return out.getvalue()


def write_scan_pdf(path: Path, pages: Iterable[Image.Image], dpi: int = 300, quality: int = 80) -> int:
    """Like scan_pdf_bytes, for documents of hundreds of pages: holds a few page images at a time, not all.

    Returns the number of pages written."""
    import tempfile

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    chunk: list[Image.Image] = []
    count = 0
    # Every chunk's reader stays alive until the end: pypdf remembers what it copied from a reader by
    # the reader's id(), and a new reader given a freed one's id() would get the old one's pages.
    readers: list[PdfReader] = []
    with tempfile.TemporaryDirectory(prefix="sample-scan-") as tmp:

        def add(chunk: list[Image.Image]) -> None:
            part = Path(tmp) / f"{len(readers)}.pdf"
            part.write_bytes(scan_pdf_bytes(chunk, dpi, quality))
            readers.append(PdfReader(part))
            writer.append(readers[-1])

        for page in pages:
            chunk.append(page)
            count += 1
            if len(chunk) == 8:
                add(chunk)
                chunk = []
        if chunk:
            add(chunk)
        with path.open("wb") as fh:
            writer.write(fh)
    return count


def born_digital_pdf_bytes(pages_lines: list[list[str]]) -> bytes:
    """A PDF as a word processor writes it: A4 pages of Helvetica text, no images (nothing to OCR).

    Written by hand (the format is simple enough); text in WinAnsiEncoding, so umlauts and ß must be in
    cp1252."""
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree, filled in at the end
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    font = len(objects)
    kids = []
    for lines in pages_lines:
        ops = ["BT", "/F1 11 Tf", "14 TL", "71 771 Td"]  # 25 mm from the left and the top
        ops += [f"<{line.encode('cp1252').hex()}> Tj T*" for line in lines]
        ops.append("ET")
        stream = "\n".join(ops).encode("ascii")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
            b" /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font, len(objects))
        )
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    refs = " ".join(f"{k} 0 R" for k in kids).encode()
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids))

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions of characters).

    Bit-parallel (Myers 1999, in Hyyrö's form for the global distance): one column of the DP matrix is
    two bit vectors of len(b) bits, held as Python ints, so a step over one character of `a` is a dozen
    big-int operations instead of len(b) Python-level ones. Time O(len(a) * len(b) / 64), memory O(len(b))
    bits per distinct character of b. A 3,000-character page takes milliseconds; the textbook two-row DP
    takes seconds in pure Python.
    """
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    peq: dict[str, int] = {}
    for i, ch in enumerate(b):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask, last = (1 << m) - 1, 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in a:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | ~(xh | pv)
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = (ph << 1) | 1  # the top row of the matrix grows by one per column
        mh <<= 1
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv & mask
    return score


def normalise_whitespace(text: str) -> str:
    return " ".join(text.split())


def character_error_rate(truth: str, ocr: str) -> float:
    """Edit distance / length of the truth, both with every run of whitespace made one space.

    Line breaks and form feeds count as a space: where tesseract breaks a line is not an error."""
    truth, ocr = normalise_whitespace(truth), normalise_whitespace(ocr)
    return levenshtein(truth, ocr) / max(len(truth), 1)


def page_lines(file_seed: int, page: int, lines_per_page: int) -> list[str]:
    """The text of page `page` (0-based) of the synthetic document with seed `file_seed`."""
    return german_lines(file_seed * 1000 + page, lines_per_page, kind=letter_kind(file_seed))


def synthetic_pages(
    file_seed: int, pages: int, lines_per_page: int = 38, dpi: int = 300
) -> Iterable[Image.Image]:
    """The scanned pages of one synthetic document, made one at a time."""
    for page in range(pages):
        yield scan_page(page_lines(file_seed, page, lines_per_page), dpi=dpi, seed=file_seed * 1000 + page)


def write_synthetic_batch(
    outdir: Path,
    case_number: str,
    count: int,
    pages: int,
    *,
    dpi: int = 300,
    seed: int = 0,
    lines_per_page: int = 38,
) -> list[Path]:
    """count scanned PDFs of `pages` pages each with sidecars, and their text in outdir/truth/."""
    truth_dir = outdir / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(count):
        file_seed = seed + i
        name = f"synthetic-{file_seed:04d}"
        path = outdir / f"{name}.pdf"
        write_scan_pdf(path, synthetic_pages(file_seed, pages, lines_per_page, dpi), dpi)
        truth = "\f".join("\n".join(page_lines(file_seed, p, lines_per_page)) for p in range(pages))
        (truth_dir / f"{name}.truth.txt").write_text(truth + "\n", encoding="utf-8")
        sidecar = {
            "case": case_number,
            "type": letter_kind(file_seed),
            "received": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "title": f"Synthetischer Scan {file_seed}",
        }
        (outdir / f"{name}.json").write_text(json.dumps(sidecar, ensure_ascii=False), encoding="utf-8")
        written.append(path)
    return written


def read_truth(path: Path) -> list[str]:
    """The pages of a NAME.truth.txt, as written by write_synthetic_batch."""
    return path.read_text(encoding="utf-8").rstrip("\n").split("\f")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--case", default="12345BG0001234")
    parser.add_argument("--synthetic", type=int, metavar="N", help="write N realistic scanned PDFs")
    parser.add_argument("--pages", type=int, default=4, help="pages of each synthetic PDF (default 4)")
    parser.add_argument("--dpi", type=int, default=300, help="resolution of synthetic PDFs (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first synthetic PDF (default 0)")
    args = parser.parse_args()
    if args.synthetic is None:
        written = write_demo_batch(args.outdir, args.case)
    else:
        written = write_synthetic_batch(
            args.outdir, args.case, args.synthetic, args.pages, dpi=args.dpi, seed=args.seed
        )
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
