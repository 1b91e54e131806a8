"""Security: who sees PII in clear. The masking map is the API's own (``serve.pii.trace``:
contract tags followed by lineage, plus free-text columns by name); columns whose names suggest
personal data — or free text that can quote it, such as a dead letter's reason or a stored
error — but that the map does not cover are shown to analysts in clear."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from shoplake.cli.output import plural

if TYPE_CHECKING:
    from shoplake.ops.assess.context import Context
    from shoplake.ops.assess.model import Recorder

#: Column names (snake_case) that suggest personal data, or free text that may quote it.
PERSONAL = re.compile(
    r"(^|_)(e?mail|phone|mobile|first_name|last_name|full_name|surname|contact|address|postal|"
    r"zip|birth|ssn|passport|card_number|iban|ip_address|reviewer|customer_name)(_|\d|$)"
    r"|(^|_)(payload|raw|reason|error|message|sample|details?|comment|notes?|remarks?)$"
)
#: What each role sees (serve/auth.py: Caller.sees_pii; serve/routes: tables and queries).
ROLE_VIEWS = {
    "admin": "PII in clear",
    "analyst": "PII masked (keyed hash)",
    "app": "no table or query access",
}


def check_pii(ctx: Context, rec: Recorder) -> None:
    """PII columns per table (evidence), and tables with personal-looking columns the
    masking map misses (analysts would read them in clear)."""
    from shoplake.platform import Platform
    from shoplake.serve.pii import snake, trace

    if not ctx.readable(rec) or not ctx.table_names:
        return
    assert ctx.catalog is not None
    pii = trace(ctx.catalog, Platform(settings=ctx.settings).project())
    covered: dict[str, list[str]] = {}
    missed: dict[str, list[str]] = {}
    for name in ctx.table_names:
        columns = [f.name for f in ctx.table(name).schema().fields]
        masked = pii.of(name, columns)
        if masked:
            covered[name] = masked
        loose = [c for c in columns if c not in masked and PERSONAL.search(snake(c))]
        if loose:
            missed[name] = loose
    rec.finding(
        "pii-by-role",
        "info",
        f"{plural(len(covered), 'table')} hold PII: admin keys read it in clear, analysts masked",
        {"roles": ROLE_VIEWS, "admin keys": _admin_count(ctx), "pii columns": covered},
        "give people analyst keys; keep admin keys to operators",
    )
    if missed:
        rec.finding(
            "pii-unmasked",
            "medium",
            f"{len(missed)} table(s) have personal-looking columns the masking map misses: "
            + ", ".join(missed),
            {"columns analysts see in clear": missed},
            "tag the columns `pii: true` in the model's contract (or their source's)",
        )
    else:
        rec.passed(
            "pii masking",
            f"personal-looking columns of {plural(len(ctx.table_names), 'table')} are masked for "
            "analysts",
        )


def _admin_count(ctx: Context) -> int:
    from shoplake.serve.keys import ApiKeyError, read_keys

    try:
        keys = read_keys(ctx.settings.api_keys_path)
    except ApiKeyError:
        return 0
    return sum(1 for k in keys if k.role == "admin" and not k.revoked)
