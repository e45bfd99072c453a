#!/usr/bin/env python3
"""Fill the zh_Hans_CN catalog from a JSON file of [context or null, msgid, msgstr] triples, then list what is
still untranslated. Run ``make translations`` first (extract and update), and again after (compile).

    .venv/bin/python tools/fill_catalog.py translations.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "portal/translations/zh_Hans_CN/LC_MESSAGES/messages.po"


def main(path: str) -> int:
    with PO.open("rb") as f:
        catalog = read_po(f)
    triples = json.loads(Path(path).read_text(encoding="utf-8"))
    filled = 0
    for context, msgid, msgstr in triples:
        message = catalog.get(msgid, context=context)
        if message is None:
            print(f"not in the catalog: {context!r} {msgid!r}", file=sys.stderr)
            continue
        message.string = msgstr
        message.flags.discard("fuzzy")
        filled += 1
    with PO.open("wb") as f:
        write_po(f, catalog, sort_output=True, no_location=True)
    missing = [(m.context, m.id) for m in catalog if m.id and not m.string]
    for context, msgid in missing:
        print(f"untranslated: {context!r} {msgid!r}")
    print(f"filled {filled}; {len(missing)} untranslated")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
