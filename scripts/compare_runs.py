"""Do two runs say the same? Compares every company's facts.json, flags.json, findings.json, answers.json and
graph.ttl, rejected.csv and the manifest's counts of two output folders, apart from what differs from run to run
(run ids, timestamps, timings, the checkpoint's folder).

    python scripts/compare_runs.py OUTPUT_BEFORE OUTPUT_AFTER

Prints each difference and exits 1 if there is one; 0 and one line if the runs agree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PER_COMPANY = ("facts.json", "flags.json", "findings.json", "answers.json", "graph.ttl")
MANIFEST_KEYS = ("counts", "ontology", "unmapped_items", "sectors", "industries", "entity_folders", "items",
                 "failures", "narrator")


def _read(path: Path) -> Any:
    return json.loads(path.read_text("utf-8")) if path.suffix == ".json" else path.read_text("utf-8")


def _comparable(value: Any) -> Any:
    """A manifest entry without the paths in it (the narrator's checkpoint folder)."""
    return {k: v for k, v in value.items() if k != "model"} if isinstance(value, dict) else value


def differences(before: Path, after: Path) -> list[str]:
    """What differs between two output folders, one line each."""
    found: list[str] = []
    old, new = _read(before / "manifest.json"), _read(after / "manifest.json")
    for key in MANIFEST_KEYS:
        if _comparable(old.get(key)) != _comparable(new.get(key)):
            found.append(f"manifest.json {key}: {json.dumps(old.get(key))[:200]} → {json.dumps(new.get(key))[:200]}")
    if [p.name for p in sorted(before.glob("*/facts.json"))] != [p.name for p in sorted(after.glob("*/facts.json"))]:
        found.append("the companies differ")
    for folder in sorted(p.parent for p in before.glob("*/facts.json")):
        for name in PER_COMPANY:
            a, b = folder / name, after / folder.name / name
            if not b.exists():
                found.append(f"{folder.name}/{name}: missing in {after}")
            elif _read(a) != _read(b):
                found.append(f"{folder.name}/{name} differs")
    if (before / "rejected.csv").read_text("utf-8") != (after / "rejected.csv").read_text("utf-8"):
        found.append("rejected.csv differs")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        return 2
    before, after = map(Path, argv)
    found = differences(before, after)
    for line in found:
        print(line)
    companies = len(list(before.glob("*/facts.json")))
    print(f"{'differ' if found else 'the same'}: {companies} companies, {before} and {after}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
