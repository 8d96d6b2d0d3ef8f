"""Many small input files: ``ingest`` (rows validated in batches of files) against validating file by file.

A feed that drops one small CSV per company and period sends thousands of files a night. Validation costs a
few hundred small frame operations per call whatever the rows, so calling it per file made 10,000 files take
334 s. The baseline here is that: each file through ``read_file`` (its adapter, then validation), in the same
process, on the same files. Nothing is asserted; the figures and the ratio are printed.

    .venv/bin/python bench/bench_files.py                # 10,000 files
    .venv/bin/python bench/bench_files.py --files 1000   # a quick look
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from generator.ingest import ingest, read_file
from generator.sample import write_sample


def split(long_csv: Path, folder: Path, files: int) -> list[Path]:
    """The sample's long file cut into ``files`` files of a few rows each (rows repeat to fill them)."""
    with long_csv.open(newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    per = 7
    out = []
    for i in range(files):
        path = folder / f"part{i:05d}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows[(i * per + k) % len(rows)] for k in range(per))
        out.append(path)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_sample(Path(tmp) / "sample")
        paths = split(Path(tmp) / "sample" / "long" / "facts.csv", Path(tmp), args.files)
        ingest(paths[:20])  # imports and first-call compilation out of the way
        t0 = time.perf_counter()
        result = ingest(paths)
        batched = time.perf_counter() - t0
        t1 = time.perf_counter()
        rows = sum(accepted.height + rejected.height for _, accepted, rejected in map(read_file, paths))
        per_file = time.perf_counter() - t1
    print(f"{args.files:,} files, {result.rows_in:,} rows ({rows:,} file by file)")
    print(f"ingest, validated in batches of files: {batched:7.2f} s  ({batched / args.files * 1e3:6.2f} ms a file)")
    print(f"baseline, validated file by file:      {per_file:7.2f} s  ({per_file / args.files * 1e3:6.2f} ms a file)")
    print(f"speed-up: {per_file / batched:.1f}x")


if __name__ == "__main__":
    main()
