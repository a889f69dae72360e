#!/usr/bin/env python3
"""Writes debian_tabular.csv: a tabular data set of numbers and categories made from
Debian's own package index (Debian 12 "bookworm", main, amd64), for the studies
debian_tabular_*.yaml: one row per binary package of six sections (games, science, sound,
graphics, fonts, net), 500 each taken in a shuffled order, 3,000 rows shuffled with seed 1.

Columns (the three tasks' targets last):
  priority, multi_arch, maintainer   categories: the Priority field; the Multi-Arch field
                                     (no when absent); team when the Maintainer is a team
                                     or a list (its name says Team, Maintainers or a list
                                     address), else person
  section, arch                      categories: the archive section; all or amd64
  log_size                           log10 of the .deb's size in bytes
  depends, recommends, suggests      how many packages each field names
  tags, name_length, synopsis_words  the debtags, the package name's length, the
                                     synopsis's words
  homepage                           1 when the package has a Homepage
  arch_all                           1 for Architecture: all       (binary task)
  section_id                         the section's index above     (multi-class task)
  log_installed_size                 log10 of Installed-Size (KiB) (regression task)

Run (after apt-get update, so that apt knows bookworm's packages):
    apt-cache dumpavail | python3 debian_tabular.py > debian_tabular.csv
(in this folder: it reads the index as debian_packages.py does)
"""
import csv
import math
import random
import sys

from debian_packages import stanzas

SECTIONS = ["games", "science", "sound", "graphics", "fonts", "net"]
PER_CLASS = 500


def count(field):
    """Packages a relation field names (alternatives count once each)."""
    return len([p for p in field.split(",") if p.strip()]) if field else 0


def maintainer_kind(m):
    low = m.lower()
    team = "team" in low or "maintainers" in low or "lists." in low or "@alioth" in low
    return "team" if team else "person"


def row(f):
    synopsis = f.get("Description", "").split("\n")[0]
    tags = [t for t in f.get("Tag", "").replace("\n", " ").split(",") if t.strip()]
    arch = f["Architecture"]
    return [
        f.get("Priority", "optional"),
        f.get("Multi-Arch", "no"),
        maintainer_kind(f.get("Maintainer", "")),
        f["Section"],
        arch,
        "%.4f" % math.log10(max(1, int(f.get("Size", "1")))),
        count(f.get("Depends", "")),
        count(f.get("Recommends", "")),
        count(f.get("Suggests", "")),
        len(tags),
        len(f["Package"]),
        len(synopsis.split()),
        int("Homepage" in f),
        int(arch == "all"),
        SECTIONS.index(f["Section"]),
        "%.4f" % math.log10(max(1, int(f.get("Installed-Size", "1")))),
    ]


def main():
    by_section = {s: {} for s in SECTIONS}
    for f in stanzas(sys.stdin):
        section = f.get("Section")
        if section in by_section and f.get("Architecture") in ("all", "amd64"):
            by_section[section].setdefault(f["Package"], f)     # one version of each
    rng = random.Random(1)
    rows = []
    for section in SECTIONS:
        names = sorted(by_section[section])
        rng.shuffle(names)
        if len(names) < PER_CLASS:
            sys.exit(f"section {section} has only {len(names)} packages")
        rows += [row(by_section[section][n]) for n in names[:PER_CLASS]]
    rng.shuffle(rows)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["priority", "multi_arch", "maintainer", "section", "arch", "log_size",
                  "depends", "recommends", "suggests", "tags", "name_length",
                  "synopsis_words", "homepage", "arch_all", "section_id",
                  "log_installed_size"])
    out.writerows(rows)


if __name__ == "__main__":
    main()
