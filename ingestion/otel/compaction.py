"""Merge a date partition's many small Parquet files into one, without losing or adding rows.

Hourly runs leave a file per run and partition. Past a threshold, the partition's files are
rewritten as one file under a name derived from the inputs, then the inputs are removed.
A small journal in the partition makes this crash-safe: a run that finds a journal either
finishes the removal (the merged file is complete) or discards the attempt (it is not).
Between the rename and the removal a reader may briefly see rows twice; staging
deduplicates on `event_id`, and the next run finishes the removal.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.crash import crash_point
from ingestion.parquet import COMPRESSION, fsync_directory

JOURNAL = ".compaction.json"


def _recover(partition: Path) -> None:
    journal = partition / JOURNAL
    if not journal.exists():
        return
    plan = json.loads(journal.read_text())
    if (partition / plan["output"]).exists():
        for name in plan["inputs"]:
            if name != plan["output"]:
                (partition / name).unlink(missing_ok=True)
    journal.unlink()
    fsync_directory(partition)


def _merge(partition: Path, inputs: list[Path]) -> None:
    names = sorted(path.name for path in inputs)
    output = "compact-" + hashlib.sha256("\n".join(names).encode()).hexdigest()[:16] + ".parquet"
    journal = partition / JOURNAL
    temporary_journal = partition / (JOURNAL + ".tmp")
    temporary_journal.write_text(json.dumps({"inputs": names, "output": output}))
    os.replace(temporary_journal, journal)
    fsync_directory(partition)
    schema = pa.unify_schemas(
        [pq.read_schema(path) for path in inputs], promote_options="permissive"
    )
    mode = inputs[0].stat().st_mode & 0o777
    temporary = partition / f".{output}.tmp-{os.getpid()}"
    try:
        with temporary.open("wb") as handle:
            with pq.ParquetWriter(handle, schema, compression=COMPRESSION) as writer:
                for path in sorted(inputs):
                    table = pq.read_table(path)
                    for name in schema.names:  # columns added later are null in older files
                        if name not in table.column_names:
                            table = table.append_column(
                                name, pa.nulls(table.num_rows, schema.field(name).type)
                            )
                    writer.write_table(table.select(schema.names).cast(schema))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(mode)
        crash_point("before_compaction_rename")
        os.replace(temporary, partition / output)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(partition)
    crash_point("after_compaction_rename")
    _recover(partition)


def compact_partitions(roots: Iterable[Path], threshold: int) -> int:
    """Compact every partition under `roots` holding more than `threshold` files.

    Returns:
        How many partitions were compacted.
    """
    compacted = 0
    for root in roots:
        if not root.exists():
            continue
        for partition in sorted(p for p in root.iterdir() if p.is_dir() and "=" in p.name):
            _recover(partition)
            files = sorted(p for p in partition.glob("*.parquet") if not p.name.startswith("."))
            if len(files) > threshold:
                _merge(partition, files)
                compacted += 1
    return compacted
