"""Writing a run's files: atomic, with safe folder names, in the layout DESIGN.md promises."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(entity_id: str) -> str:
    """A folder name that cannot escape the output folder or trip a reserved device name.

    Ids that had to change get a short hash so two different ids never share a folder.
    """
    name = _UNSAFE.sub("_", entity_id).strip("._") or "_"
    if name.split(".")[0].lower() in _RESERVED:
        name = f"_{name}"
    name = name[:80]
    if name != entity_id:
        name = f"{name}-{hashlib.sha256(entity_id.encode()).hexdigest()[:8]}"
    return name


def folder_names(entity_ids: Iterable[str]) -> dict[str, str]:
    """Entity id → folder name (:func:`safe_name`) for every company of a run; the manifest lists those that differ."""
    return {e: safe_name(e) for e in entity_ids}


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write beside the target, then rename: a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _default(value: object) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: Path, payload: object) -> None:
    """A JSON file, written atomically: text as it is (UTF-8), dates as ISO strings; NaN or infinity is an error, as
    JSON has neither."""
    write_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False, default=_default, allow_nan=False) + "\n")
