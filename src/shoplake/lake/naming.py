"""Table names as people type them: the closest real name for a typo, and the qualified
names (``layer.table``) a bare name could mean.

Every place that resolves a lakehouse table or a model by name (the catalog, ``query``, the
transform project's selectors) builds its "not found" line here, so each says the same thing:
one line, with a suggestion when one is close enough, never the whole list of tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: Layers in the order a bare name's candidates are offered: current state first.
LAYER_PREFERENCE: tuple[str, ...] = ("silver", "gold", "bronze", "audit")
#: difflib's similarity cut-off for "did you mean".
CUTOFF = 0.75
EMPTY_LAKEHOUSE = "none yet — run `shoplake ingest`"


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``name`` (difflib ratio at least :data:`CUTOFF`), or None."""
    from difflib import get_close_matches

    found = get_close_matches(name, list(choices), n=1, cutoff=CUTOFF)
    return found[0] if found else None


def or_list(names: Sequence[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def unknown_table(name: str, known: Sequence[str]) -> str:
    """The line for a ``namespace.table`` that does not exist: a close match when there is
    one, else the tables of that layer (or every table when the layer has none)."""
    head = f"no lakehouse table {name!r}"
    match = closest_table(name, known)
    if match:
        return f"{head} — did you mean {match}?"
    namespace = name.partition(".")[0]
    same_layer = [t for t in known if t.partition(".")[0] == namespace]
    listing = ", ".join(sorted(same_layer or known)) or EMPTY_LAKEHOUSE
    return f"{head} (tables: {listing})"


def closest_table(name: str, known: Sequence[str]) -> str | None:
    """The known table ``name`` most likely meant. Layer and table are matched apart (a
    shared ``silver.`` prefix alone makes two names look alike): the table in the named layer
    (or the closest layer), else the same table in another layer."""
    namespace, _, table = name.partition(".")
    layers = sorted({n.partition(".")[0] for n in known})
    layer = namespace if namespace in layers else closest(namespace, layers)
    if layer is not None:
        tables = [n.partition(".")[2] for n in known if n.partition(".")[0] == layer]
        found = closest(table, tables)
        if found is not None:
            return f"{layer}.{found}"
    elsewhere = qualified_candidates(table, known)
    return elsewhere[0] if elsewhere else None


def qualified_candidates(bare: str, known: Iterable[str]) -> list[str]:
    """The ``layer.table`` names a bare table name could mean (an exact table part first,
    else a close one), silver before gold, bronze and audit."""
    by_table: dict[str, list[str]] = {}
    for name in known:
        table = name.partition(".")[2]
        by_table.setdefault(table, []).append(name)
    match = bare if bare in by_table else closest(bare, by_table)
    if match is None:
        return []
    return sorted(by_table[match], key=_layer_rank)


def _layer_rank(name: str) -> tuple[int, str]:
    """Sort key: the layer's place in :data:`LAYER_PREFERENCE`, then the name."""
    layer = name.partition(".")[0]
    rank = LAYER_PREFERENCE.index(layer) if layer in LAYER_PREFERENCE else len(LAYER_PREFERENCE)
    return rank, name


def bare_table(bare: str, known: Sequence[str]) -> str:
    """The line for a table named without its layer (``FROM orders``)."""
    head = f"no table {bare!r}: tables are named layer.table"
    candidates = qualified_candidates(bare, known)
    if candidates:
        return f"{head}: try {or_list(candidates)}"
    if not known:
        return f"{head} (tables: {EMPTY_LAKEHOUSE})"
    return f"{head}, e.g. {min(known, key=_layer_rank)}"
