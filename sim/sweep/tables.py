"""Writing a sweep's results: ``runs.parquet``, ``events.parquet`` and the HTML report.

``analysis`` reads run directories and renders tables and pages but never writes a file;
this module is where the sweep front end puts what it renders on disk, every file through
``sim.paths`` (atomically: a reader never sees half a table).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from analysis.report import render_report
from analysis.runs import FINISHED, runs_table
from sim.paths import atomic_path, atomic_write, write_page


def write_tables(root: str | Path) -> tuple[Path, Path | None]:
    """Write ``runs.parquet`` and ``events.parquet`` (None if no run has finished)."""
    root = Path(root)
    runs = runs_table(root)
    runs_path = root / "runs.parquet"
    with atomic_path(runs_path) as tmp:
        runs.to_parquet(tmp, index=False)
    done = runs[runs["status"].isin(FINISHED)]["run_id"]
    files = [f for r in done if (f := root / "runs" / r / "events.parquet").is_file()]
    events_path = root / "events.parquet"
    if not files:
        events_path.unlink(missing_ok=True)
        return runs_path, None
    with atomic_path(events_path) as tmp:
        concat_parquet(files, tmp)
    return runs_path, events_path


def concat_parquet(files: Iterable[Path], dest: Path) -> None:
    """Concatenate parquet files, one at a time, into ``dest`` under their unified schema."""
    files = list(files)
    schema = pa.unify_schemas([pq.read_schema(f) for f in files])
    with pq.ParquetWriter(dest, schema) as writer:
        for f in files:
            writer.write_table(_conform(pq.read_table(f), schema))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(len(table), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def write_report(root: str | Path, out: str | Path | None = None, level: float = 0.95) -> Path:
    """Render the report of the sweep in ``root`` into ``out`` (default ``root/report``);
    returns the path of its ``index.html``."""
    out_dir = Path(out) if out is not None else Path(root) / "report"
    report = render_report(root, out_dir, level)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in report.files.items():
        if name != report.index:
            atomic_write(out_dir / name, data)
    atomic_write(out_dir / report.index, report.files[report.index])  # last: links resolve
    return out_dir / report.index


def write_files(root: str | Path, out: str | Path | None, files: dict[str, bytes]) -> Path:
    """Write rendered report ``files`` into ``out`` (default ``root/report``), index last."""
    return write_page(Path(out) if out is not None else Path(root) / "report", files)
