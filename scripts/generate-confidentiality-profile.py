#!/usr/bin/env python3
"""Generate ConfidentialityProfile.tsv from DICOM PS3.15 Table E.1-1.

Usage:
    python3 scripts/generate-confidentiality-profile.py PATH/TO/part15.xml [OUT.tsv]

Reads the DocBook 5 source of DICOM PS3.15 (part15.xml, as published by NEMA
and mirrored e.g. in rickardraysearch/dicomstandard under
source/docbook/part15/part15.xml), extracts Table E.1-1 "Application Level
Confidentiality Profile Attributes" and writes it as a UTF-8, LF-terminated,
tab-separated data file. OUT defaults to
src/MedfusionDicom.Dicom/Deidentification/ConfidentialityProfile.tsv relative
to the repository root (the parent of this script's directory).

Standard library only; re-runnable (the output is fully regenerated and is
deterministic for a given input).

Output format
-------------
* Leading comment lines starting with "# " (source, edition, do-not-edit).
* A header row:
    tag name retired basic safe_private uids device_identity
    institution_identity patient_characteristics full_dates modified_dates
    clean_descriptors clean_structured_content clean_graphics
* One row per table row, sorted by tag (plain string order of the tag
  column, which for 8-digit upper-case hex equals numeric order; "X" wildcard
  digits sort after "F"), special rows (see below) last.

Columns
-------
* tag: 8 characters GGGGEEEE, upper-case hex, with the standard's wildcard
  digits kept as "X": "(50xx,xxxx)" -> "50XXXXXX", "(60xx,3000)" ->
  "60XX3000".
* name: the Attribute Name cell. Text of all its paras joined with a space and
  whitespace-normalised (so tabs/newlines become single spaces); zero-width
  characters (U+200B etc., which the standard sprinkles into some GPS
  attribute names) are removed. Apostrophes, slashes and non-ASCII
  characters are kept as UTF-8.
* retired: "Y" or "N" (the "Retd." column).
* the action columns: the codes exactly as written in the standard (D, Z, X,
  K, C, U and combinations such as X/Z, X/D, Z/D, X/Z/D, X/Z/U*), with any
  whitespace inside removed; empty where the standard leaves the cell empty.
  Anything else is an error.
  The "In Std. Comp. IOD" column is validated (Y/N) but not written.

Special rows
------------
Rows whose Tag cell is not a "(gggg,eeee)" pair of hex/x digits, but a
description of a tag range of the form "(gggg,eeee) where ..." -- in 2020c
only the "Private attributes" row, tag "(gggg,eeee) where gggg is odd" -- are
printed to stderr and written with the tag column set to the literal Tag cell
text, whitespace-normalised and lower-cased, e.g.
    (gggg,eeee) where gggg is odd
Such a tag is never 8 characters of [0-9A-FX], so the C# loader can recognise
it and must map it explicitly (it contains spaces but never tabs). Any other
unrecognised Tag cell is an error.

Failure modes (exit status 1 with a message on stderr): the table, its caption
or its header cells are not as expected; a row has the wrong number of cells;
a cell has rowspan or colspan other than 1 (spanning cells are not expanded,
because copying an action code across rows or columns would change its
meaning); an unknown action code; an empty Basic Profile cell; a duplicate
tag; no edition in <subtitle>.
"""

import os
import re
import sys
import xml.etree.ElementTree as ET

DB = "{http://docbook.org/ns/docbook}"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"

TABLE_ID = "table_E.1-1"
CAPTION = "Application Level Confidentiality Profile Attributes"

# (expected header text, output column name or None if not written)
COLUMNS = [
    ("Attribute Name", "name"),
    ("Tag", "tag"),
    ("Retd.", "retired"),
    ("In Std. Comp. IOD", None),
    ("Basic Prof.", "basic"),
    ("Rtn. Safe Priv. Opt.", "safe_private"),
    ("Rtn. UIDs Opt.", "uids"),
    ("Rtn. Dev. Id. Opt.", "device_identity"),
    ("Rtn. Inst. Id. Opt.", "institution_identity"),
    ("Rtn. Pat. Chars. Opt.", "patient_characteristics"),
    ("Rtn. Long. Full Dates Opt.", "full_dates"),
    ("Rtn. Long. Modif. Dates Opt.", "modified_dates"),
    ("Clean Desc. Opt.", "clean_descriptors"),
    ("Clean Struct. Cont. Opt.", "clean_structured_content"),
    ("Clean Graph. Opt.", "clean_graphics"),
]
ACTION_COLUMNS = [
    "basic", "safe_private", "uids", "device_identity", "institution_identity",
    "patient_characteristics", "full_dates", "modified_dates",
    "clean_descriptors", "clean_structured_content", "clean_graphics",
]
OUTPUT_COLUMNS = ["tag", "name", "retired"] + ACTION_COLUMNS

DEFAULT_OUT = os.path.join(
    "src", "MedfusionDicom.Dicom", "Deidentification", "ConfidentialityProfile.tsv")

TAG_RE = re.compile(r"\(([0-9A-Fa-fXx]{4}),([0-9A-Fa-fXx]{4})\)")
SPECIAL_TAG_RE = re.compile(r"\(gggg,eeee\) where .+", re.IGNORECASE)
ACTION_RE = re.compile(r"[DZXKCU]\*?(?:/[DZXKCU]\*?)*")
ZERO_WIDTH_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
# "Retd. (from PS3.6)": the olink contributes no text, leaving "(from )".
HEADER_FROM_RE = re.compile(r"\s*\(from\b[^)]*\)\s*$")


class ProfileError(Exception):
    pass


def normalise(text):
    text = ZERO_WIDTH_RE.sub("", text)
    return " ".join(text.split())  # also turns tabs/newlines into spaces


def cell_text(cell):
    """All text of the cell's paras, joined and whitespace-normalised."""
    paras = cell.findall(DB + "para")
    if paras:
        parts = ["".join(p.itertext()) for p in paras]
    else:
        parts = ["".join(cell.itertext())]
    return normalise(" ".join(parts))


def check_spans(cell, where):
    for attr in ("rowspan", "colspan"):
        value = cell.get(attr, "1").strip()
        if value != "1":
            raise ProfileError(
                f"{where}: cell has {attr}={value!r}; spanning cells are not "
                f"supported (extend the script deliberately if the standard "
                f"now uses them)")


def find_table(root):
    for table in root.iter(DB + "table"):
        if table.get(XML_ID) == TABLE_ID:
            return table
    raise ProfileError(f"no <table xml:id=\"{TABLE_ID}\"> found in the document")


def find_edition(root):
    subtitle = root.find(DB + "subtitle")
    if subtitle is None:
        subtitle = next(root.iter(DB + "subtitle"), None)
    if subtitle is None:
        raise ProfileError("no <subtitle> found; cannot determine the edition")
    text = normalise("".join(subtitle.itertext()))
    m = re.search(r"\bPS\s?3\.15\s+(\d{4}[a-z]?)\b", text)
    if not m:
        raise ProfileError(f"cannot find the edition in <subtitle>: {text!r}")
    return m.group(1)


def check_header(table):
    caption = table.find(DB + "caption")
    caption_text = normalise("".join(caption.itertext())) if caption is not None else ""
    if caption_text != CAPTION:
        raise ProfileError(
            f"{TABLE_ID}: caption is {caption_text!r}, expected {CAPTION!r}")
    header_rows = table.findall(DB + "thead/" + DB + "tr")
    if len(header_rows) != 1:
        raise ProfileError(
            f"{TABLE_ID}: expected exactly one header row, found {len(header_rows)}")
    cells = [c for c in header_rows[0] if c.tag in (DB + "th", DB + "td")]
    found = []
    for i, cell in enumerate(cells):
        check_spans(cell, f"{TABLE_ID} header cell {i + 1}")
        found.append(HEADER_FROM_RE.sub("", cell_text(cell)))
    expected = [name for name, _ in COLUMNS]
    if found != expected:
        raise ProfileError(
            f"{TABLE_ID}: header cells are not as expected.\n"
            f"  expected: {expected}\n  found:    {found}")


def parse_tag(text, row_no):
    """Returns (tag, is_special)."""
    m = TAG_RE.fullmatch(text)
    if m:
        return (m.group(1) + m.group(2)).upper(), False
    if SPECIAL_TAG_RE.fullmatch(text):
        return text.lower(), True
    raise ProfileError(f"{TABLE_ID} body row {row_no}: unrecognised tag {text!r}")


def parse_rows(table):
    body_rows = table.findall(DB + "tbody/" + DB + "tr")
    if not body_rows:
        raise ProfileError(f"{TABLE_ID}: no body rows")
    records = []
    for row_no, tr in enumerate(body_rows, start=1):
        cells = [c for c in tr if c.tag in (DB + "td", DB + "th")]
        if len(cells) != len(COLUMNS):
            raise ProfileError(
                f"{TABLE_ID} body row {row_no}: {len(cells)} cells, "
                f"expected {len(COLUMNS)}")
        values = {}
        for i, (cell, (header, column)) in enumerate(zip(cells, COLUMNS)):
            check_spans(cell, f"{TABLE_ID} body row {row_no}, column {header!r}")
            values[header if column is None else column] = cell_text(cell)
        where = f"{TABLE_ID} body row {row_no} ({values['name']!r} {values['tag']!r})"

        tag, special = parse_tag(values["tag"], row_no)
        if not values["name"]:
            raise ProfileError(f"{where}: empty attribute name")
        for col in ("retired", "In Std. Comp. IOD"):
            if values[col] not in ("Y", "N"):
                raise ProfileError(f"{where}: column {col!r} is {values[col]!r}, expected Y or N")
        record = {"tag": tag, "name": values["name"], "retired": values["retired"],
                  "special": special, "raw_tag": values["tag"]}
        for col in ACTION_COLUMNS:
            code = "".join(values[col].split())
            if code and not ACTION_RE.fullmatch(code):
                raise ProfileError(f"{where}: column {col!r} has unknown action code {values[col]!r}")
            record[col] = code
        if not record["basic"]:
            raise ProfileError(f"{where}: empty Basic Profile action")
        records.append(record)

    seen = {}
    for r in records:
        if r["tag"] in seen:
            raise ProfileError(
                f"{TABLE_ID}: duplicate tag {r['tag']} ({seen[r['tag']]!r} and {r['name']!r})")
        seen[r["tag"]] = r["name"]
    records.sort(key=lambda r: (r["special"], r["tag"]))
    return records


def tsv_field(value):
    return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def write_tsv(path, records, edition):
    lines = [
        "# Generated by scripts/generate-confidentiality-profile.py from DICOM PS3.15 "
        "Table E.1-1 (Application Level Confidentiality Profile Attributes).",
        f"# edition: {edition}",
        "# Do not edit by hand: re-run the script on the standard's part15.xml instead.",
        "\t".join(OUTPUT_COLUMNS),
    ]
    for r in records:
        lines.append("\t".join(tsv_field(r[c]) for c in OUTPUT_COLUMNS))
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def main(argv):
    if len(argv) not in (2, 3) or argv[1] in ("-h", "--help"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    source = argv[1]
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = argv[2] if len(argv) == 3 else os.path.join(repo_root, DEFAULT_OUT)

    try:
        root = ET.parse(source).getroot()
        if root.tag != DB + "book":
            raise ProfileError(f"root element is {root.tag!r}, expected a DocBook 5 <book>")
        edition = find_edition(root)
        table = find_table(root)
        check_header(table)
        records = parse_rows(table)
    except (ProfileError, ET.ParseError, OSError) as e:
        print(f"error: {source}: {e}", file=sys.stderr)
        return 1

    for r in records:
        if r["special"]:
            print(f"special row: {r['name']!r} tag {r['raw_tag']!r} written as tag "
                  f"{r['tag']!r} (basic {r['basic']})", file=sys.stderr)

    write_tsv(out, records, edition)

    counts = {}
    for r in records:
        counts[r["basic"]] = counts.get(r["basic"], 0) + 1
    wildcard = [r for r in records if not r["special"] and "X" in r["tag"]]
    special = [r for r in records if r["special"]]
    print(f"PS3.15 {edition}: wrote {len(records)} rows to {out}")
    print("basic profile codes: " + ", ".join(
        f"{code}={n}" for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))
    print("wildcard tags: " + (", ".join(f"{r['tag']} ({r['name']})" for r in wildcard) or "none"))
    print("special rows: " + (", ".join(f"{r['tag']!r} ({r['name']})" for r in special) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
