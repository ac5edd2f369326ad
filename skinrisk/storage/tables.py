"""Parquet tables from frozen dataclasses: the schema comes from the record type's hints.

pyarrow is imported inside the functions (the ml environment has it; the core must import in
both environments).
"""

from __future__ import annotations

import io
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

from skinrisk.localfs import atomic_write


def _arrow_type(hint: Any) -> Any:
    import pyarrow as pa

    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    base = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
    return {str: pa.string(), int: pa.int64(), bool: pa.bool_(), float: pa.float64()}[base]


def schema_of(record_type: type) -> Any:
    import pyarrow as pa

    hints = typing.get_type_hints(record_type)
    return pa.schema([(f.name, _arrow_type(hints[f.name])) for f in fields(record_type)])


def write_table(path: Path, records: list[Any], record_type: type) -> None:
    """Records -> Parquet with the dataclass's schema (so an empty table still has columns)."""
    write_arrow(path, records_table(records, record_type))


def records_table(records: list[Any], record_type: type) -> Any:
    """Records -> an Arrow table with the dataclass's schema."""
    import pyarrow as pa

    # Column by column from the fields: dataclasses.asdict deep-copies every value, which was
    # most of the cost of a 10,000-row table (the records hold plain values only).
    names = [f.name for f in fields(record_type)]
    return pa.Table.from_pydict({n: [getattr(r, n) for r in records] for n in names},
                                schema=schema_of(record_type))


def write_arrow(path: Path, table: Any) -> None:
    """An Arrow table -> Parquet, atomically (one chunk per column, so the bytes depend on the
    rows only, not on how the table was assembled)."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table.combine_chunks(), sink)
    atomic_write(path, sink.getvalue())


def flat(record: Any) -> dict[str, Any]:
    """A flat dataclass record as a dict, without asdict's deep copy."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def read_rows(path: Path) -> list[dict[str, Any]]:
    """A Parquet table as a list of row dicts."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def read_table(path: Path, columns: list[str] | None = None) -> dict[str, list[Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=columns).to_pydict()


def write_rows(path: Path, rows: list[dict[str, Any]], schema: Any) -> None:
    """Plain dict rows -> Parquet with an explicit pyarrow schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), sink)
    atomic_write(path, sink.getvalue())


def joined_schema(*record_types: type, extra: dict[str, type] | None = None) -> Any:
    """The columns of several record types (first occurrence wins) plus extra columns."""
    import pyarrow as pa

    fields_: dict[str, Any] = {}
    for record_type in record_types:
        for f in schema_of(record_type):
            fields_.setdefault(f.name, f)
    for name, hint in (extra or {}).items():
        if name in fields_:  # a second meaning under one name would overwrite the first
            raise ValueError(f"joined_schema: extra column {name!r} is already a record field")
        fields_[name] = pa.field(name, _arrow_type(hint))
    return pa.schema(list(fields_.values()))
