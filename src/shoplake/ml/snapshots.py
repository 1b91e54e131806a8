"""Lakehouse tables pinned to one snapshot each, so a training run reads one consistent state.

Every read goes through :meth:`PinnedTables.read`, which scans the recorded snapshot id: tables
committed to while a run is under way do not change what it sees, and a run given the snapshot
ids of an earlier one (``train(..., snapshots=...)``) reads exactly the same rows again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shoplake.ml.errors import ModelError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table


@dataclass
class PinnedTables:
    """Tables of one catalog, each at a fixed snapshot id."""

    catalog: Catalog
    snapshot_ids: dict[str, int]
    _tables: dict[str, Table] = field(default_factory=dict, repr=False)

    @classmethod
    def pin(
        cls,
        catalog: Catalog,
        required: Sequence[str],
        optional: Sequence[str] = (),
        snapshots: Mapping[str, int] | None = None,
    ) -> PinnedTables:
        """Pin each table at ``snapshots[name]`` or, by default, at its current snapshot.

        A required table that does not exist (or has no snapshot) is an error; a missing
        optional table is left out. Pinned ids that no longer exist (expired by maintenance)
        are an error too.
        """
        from pyiceberg.exceptions import NoSuchTableError

        pinned = cls(catalog, {})
        for name in [*required, *optional]:
            try:
                table = catalog.load_table(name)
            except NoSuchTableError:
                table = None
            wanted = (snapshots or {}).get(name)
            if table is not None and wanted is not None:
                if table.snapshot_by_id(wanted) is None:
                    raise ModelError(
                        f"{name}: snapshot {wanted} no longer exists (expired by `shoplake "
                        "maintain`, or the table was rebuilt)"
                    )
                snapshot_id: int | None = wanted
            else:
                current = table.current_snapshot() if table is not None else None
                snapshot_id = current.snapshot_id if current is not None else None
            if table is None or snapshot_id is None:
                if name in required:
                    raise ModelError(
                        f"{name} has no data yet: run `shoplake ingest` and `shoplake transform`"
                    )
                continue
            pinned.snapshot_ids[name] = snapshot_id
            pinned._tables[name] = table
        return pinned

    def has(self, name: str) -> bool:
        return name in self.snapshot_ids

    def read(
        self, name: str, columns: Sequence[str], row_filter: str | BooleanExpression = "true"
    ) -> pa.Table:
        """The given columns of a pinned table at its pinned snapshot.

        ``row_filter``: a PyIceberg expression or its SQL-like text (``"is_current = true"``).
        """
        if name not in self._tables:
            raise ModelError(f"{name} is not pinned for this run")
        scan = self._tables[name].scan(
            row_filter=row_filter,
            selected_fields=tuple(columns),
            snapshot_id=self.snapshot_ids[name],
        )
        return scan.to_arrow()
