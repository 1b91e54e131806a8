"""The security pillar: encryption at rest, PII exposure by role, secrets in config, servers
bound beyond loopback, and API key hygiene."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoplake.ops.assess.binding import check_binding
from shoplake.ops.assess.encryption import check_encryption
from shoplake.ops.assess.key_hygiene import check_keys
from shoplake.ops.assess.pii_exposure import check_pii
from shoplake.ops.assess.secrets_scan import check_secrets

if TYPE_CHECKING:
    from shoplake.ops.assess.context import Context
    from shoplake.ops.assess.model import Recorder


def assess_security(ctx: Context, rec: Recorder) -> None:
    """Run every security check, recording findings and passed checks."""
    check_encryption(ctx.settings, rec)
    check_binding(ctx.settings, rec)
    check_secrets(rec)
    check_keys(ctx.settings, rec)
    check_pii(ctx, rec)
