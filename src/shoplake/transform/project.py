"""The transform project: SQL models on disk, their contracts, and the graph between them.

A model is ``models/<folder>/<name>.sql`` with ``<name>.yml`` beside it. ``silver/`` models
publish ``silver.<name>``; ``gold/`` and ``ml/`` models publish ``gold.<name>``. Dependencies
are the schema-qualified tables a model's SQL reads, found with sqlglot.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from shoplake.errors import ShoplakeError

MODELS_DIR = Path(__file__).parent / "models"
FOLDER_NAMESPACE = {"silver": "silver", "gold": "gold", "ml": "gold"}
LAYERS = ("bronze", "silver", "gold")
Materialization = Literal["table", "incremental"]


class ProjectError(ShoplakeError):
    """The model project is inconsistent (bad YAML, unknown model, a cycle)."""


@dataclass(frozen=True)
class Model:
    """One SQL model and its configuration."""

    name: str
    folder: str
    sql: str
    config: dict[str, Any]
    path: Path
    upstream: frozenset[str] = field(default_factory=frozenset)

    @property
    def target(self) -> str:
        """The lakehouse table the model publishes, ``namespace.name``."""
        return f"{FOLDER_NAMESPACE[self.folder]}.{self.name}"

    @property
    def materialized(self) -> Materialization:
        value = self.config.get("materialized", "table")
        if value not in ("table", "incremental"):
            raise ProjectError(f"{self.path.name}: materialized must be table or incremental")
        return value

    @property
    def unique_key(self) -> list[str]:
        return list(self.config.get("unique_key") or self.config.get("grain") or [])

    @property
    def checked_against(self) -> frozenset[str]:
        """Other tables the contract reads: relationship targets and row-count references."""
        names = {rel["to"] for rel in self.config.get("relationships") or []}
        equals = (self.config.get("row_count") or {}).get("equals")
        if equals:
            names.add(equals)
        return frozenset(names - {self.target})

    @property
    def depends_on(self) -> frozenset[str]:
        """Tables that must be published before this model runs: read by its SQL or contract."""
        return self.upstream | self.checked_against

    @property
    def waits_for(self) -> frozenset[str]:
        """Bronze tables landed outside batch ingest (the stream, a partner's API): until one
        exists the model waits, which is not a failure."""
        return frozenset(self.config.get("waits_for") or [])

    @property
    def optional_sources(self) -> dict[str, dict[str, str]]:
        """Bronze tables of source tables the source may lack (e.g. ``ratings``, which the
        public ClassicModels dump has not), each with its columns and DuckDB types: when the
        table does not exist the model reads an empty table of these columns instead."""
        declared = self.config.get("optional_sources") or {}
        if not isinstance(declared, dict) or not all(
            isinstance(columns, dict) and columns for columns in declared.values()
        ):
            raise ProjectError(
                f"{self.path.name}: optional_sources maps each bronze table to its columns "
                "and types, e.g. {bronze.ratings: {customerNumber: BIGINT}}"
            )
        return {str(t): {str(c): str(k) for c, k in cols.items()} for t, cols in declared.items()}

    @property
    def pii_columns(self) -> list[str]:
        columns = self.config.get("columns") or {}
        return [name for name, spec in columns.items() if (spec or {}).get("pii")]


def referenced_tables(sql: str, *, path: Path | None = None) -> frozenset[str]:
    """Schema-qualified lakehouse tables (``bronze.x`` …) a model's SELECT reads."""
    from sqlglot import exp
    from sqlglot.errors import ParseError

    from shoplake.lake.sqlnames import lakehouse_tables, parse_select

    where = f"{path.name}: " if path else ""
    try:
        tree = parse_select(sql)
    except ParseError as exc:
        raise ProjectError(f"{where}cannot parse SQL: {str(exc).splitlines()[0]}") from None
    if not isinstance(tree, exp.Query):
        raise ProjectError(f"{where}a model must be one SELECT statement")
    return lakehouse_tables(tree, LAYERS)


class DependencyCache:
    """Tables each model SQL reads, remembered by the SQL's hash in a JSON file, so a run
    whose models have not changed skips importing sqlglot and parsing every model."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._known: dict[str, list[str]] = {}
        self._dirty = False
        if path is not None and path.exists():
            try:
                self._known = json.loads(path.read_text())
            except (OSError, ValueError):
                self._known = {}  # a damaged cache is rebuilt

    def tables(self, sql: str, path: Path) -> frozenset[str]:
        key = hashlib.sha256(sql.encode()).hexdigest()
        if key not in self._known:
            self._known[key] = sorted(referenced_tables(sql, path=path))
            self._dirty = True
        return frozenset(self._known[key])

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps(self._known, sort_keys=True))
        os.replace(scratch, self.path)


def load_model(path: Path, cache: DependencyCache | None = None) -> Model:
    """Read one model's SQL and YAML."""
    import yaml

    folder = path.parent.name
    if folder not in FOLDER_NAMESPACE:
        raise ProjectError(f"{path}: models live in silver/, gold/ or ml/")
    sql = path.read_text().strip().rstrip(";")
    contract = path.with_suffix(".yml")
    config: dict[str, Any] = {}
    if contract.exists():
        try:
            config = yaml.safe_load(contract.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ProjectError(f"{contract}: invalid YAML: {str(exc).splitlines()[0]}") from None
    upstream = cache.tables(sql, path) if cache else referenced_tables(sql, path=path)
    return Model(path.stem, folder, sql, config, path, upstream)


@dataclass
class Project:
    """Every model, indexed by the table it publishes, in dependency order."""

    models: dict[str, Model]

    @classmethod
    def load(cls, models_dir: Path = MODELS_DIR, *, cache_file: Path | None = None) -> Project:
        """Every model under ``models_dir``; ``cache_file`` keeps parsed dependencies."""
        cache = DependencyCache(cache_file)
        models: dict[str, Model] = {}
        for path in sorted(models_dir.glob("*/*.sql")):
            model = load_model(path, cache)
            if model.target in models:
                raise ProjectError(f"{path}: {model.target} is published by two models")
            models[model.target] = model
        cache.save()
        return cls(models)

    @cached_property
    def order(self) -> list[str]:
        """Targets in topological order (upstream first; ties by name, so runs are stable)."""
        from graphlib import CycleError, TopologicalSorter

        graph = {t: {u for u in m.depends_on if u in self.models} for t, m in self.models.items()}
        sorter = TopologicalSorter(graph)
        try:
            sorter.prepare()
        except CycleError as exc:
            raise ProjectError(f"models depend on each other in a cycle: {exc.args[1]}") from None
        ordered: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            ordered.extend(ready)
            sorter.done(*ready)
        return ordered

    def resolve(self, name: str) -> str:
        """A target from a model name (``customers`` is ambiguous, ``silver.customers`` not)."""
        if name in self.models:
            return name
        matches = [t for t, m in self.models.items() if m.name == name]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ProjectError(f"model {name!r} is ambiguous: use one of {', '.join(matches)}")
        from shoplake.lake.naming import closest

        near = closest(name, [*self.order, *sorted({m.name for m in self.models.values()})])
        hint = f" — did you mean {near}?" if near else f" (models: {', '.join(self.order)})"
        raise ProjectError(f"no model {name!r}{hint}")

    def downstream(self, target: str) -> list[str]:
        """Every model that reads ``target``, directly or through others, in run order."""
        found: set[str] = set()
        frontier = {target}
        while frontier:
            nxt = {t for t, m in self.models.items() if m.depends_on & frontier} - found
            found |= nxt
            frontier = nxt
        return [t for t in self.order if t in found]

    def upstream(self, target: str) -> list[str]:
        """Every table ``target`` reads, directly or through other models (bronze included)."""
        found: set[str] = set()
        frontier = {target}
        while frontier:
            nxt: set[str] = set()
            for name in frontier:
                model = self.models.get(name)
                if model:
                    nxt |= set(model.upstream)
            frontier = nxt - found
            found |= nxt
        return sorted(found, key=lambda t: (LAYERS.index(t.split(".")[0]), t))

    def select(self, selectors: list[str] | None) -> list[str]:
        """Targets to run, in order: ``MODEL`` alone, ``MODEL+`` with everything downstream;
        a folder name (``silver``, ``gold``, ``ml``) stands for all its models."""
        if not selectors:
            return list(self.order)
        chosen: set[str] = set()
        for selector in selectors:
            with_children = selector.endswith("+")
            name = selector.rstrip("+")
            if name in FOLDER_NAMESPACE:  # a folder: silver, gold or ml
                targets = [t for t, m in self.models.items() if m.folder == name]
            else:
                targets = [self.resolve(name)]
            for target in targets:
                chosen.add(target)
                if with_children:
                    chosen.update(self.downstream(target))
        return [t for t in self.order if t in chosen]
