#!/usr/bin/env python3
"""Writes debian_packages.csv: a text classification data set made from Debian's own
package descriptions (Debian 12 "bookworm", main, amd64), each labelled by its archive
section.  Six sections whose packages say what they are for in words — games, science,
sound, graphics, fonts, net — 600 packages each (taken in a shuffled order), 3,600 rows,
shuffled with seed 1.  text is the package's one-line synopsis (apt's Packages lists carry
only that; the long descriptions live in Translation files, which apt does not fetch
here), label the section's index in SECTIONS.  A synopsis that occurs twice (a -data or
-dbg package repeating its program's) is kept once.

Run (after apt-get update, so that apt knows bookworm's packages):
    apt-cache dumpavail | python3 debian_packages.py > debian_packages.csv
"""
import csv
import random
import sys

SECTIONS = ["games", "science", "sound", "graphics", "fonts", "net"]
PER_CLASS = 600
MAX_WORDS = 60


def stanzas(stream):
    """Each package's fields as a dict (continuation lines kept in the field)."""
    fields, key = {}, None
    for line in stream:
        line = line.rstrip("\n")
        if not line:
            if fields:
                yield fields
            fields, key = {}, None
        elif line[0] in " \t" and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    if fields:
        yield fields


def text_of(description):
    """The synopsis and any long description's first paragraph, as one line."""
    lines = description.split("\n")
    words = lines[0].split()
    for line in lines[1:]:
        line = line.strip()
        if line == ".":
            break
        words += line.split()
    return " ".join(words[:MAX_WORDS])


def main():
    by_section = {s: [] for s in SECTIONS}
    seen = set()
    for f in stanzas(sys.stdin):
        section, desc = f.get("Section"), f.get("Description")
        if section not in by_section or not desc:
            continue
        text = text_of(desc)
        if text in seen:
            continue
        seen.add(text)
        by_section[section].append((f["Package"], text))
    rng = random.Random(1)
    rows = []
    for label, section in enumerate(SECTIONS):
        items = sorted(by_section[section])
        rng.shuffle(items)
        if len(items) < PER_CLASS:
            sys.exit(f"section {section} has only {len(items)} packages")
        rows += [(label, text) for _, text in items[:PER_CLASS]]
    rng.shuffle(rows)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["label", "text"])
    out.writerows(rows)


if __name__ == "__main__":
    main()
