"""shoplake's exceptions: each names what failed and where, in one line."""

from __future__ import annotations


class ShoplakeError(Exception):
    """Base of every error shoplake reports to a user (printed as one line, exit code 1)."""


class ConfigError(ShoplakeError):
    """The configuration is invalid or points somewhere unusable."""


class SourceError(ShoplakeError):
    """The source database cannot be reached, read or written."""


class SourceDumpError(SourceError):
    """A SQL dump cannot be parsed or does not match the expected schema."""


class UnknownSourceTableError(SourceError):
    """A table named for ingestion that neither the source nor bronze knows: retrying cannot
    help."""


class SchemaDriftError(ShoplakeError):
    """A source table changed in a way bronze cannot follow (dropped column, type change)."""


class IngestError(ShoplakeError):
    """A table failed to ingest; nothing was written for it."""


class LakeError(ShoplakeError):
    """The lakehouse catalog or a table cannot be used."""


class TableNotFoundError(LakeError):
    """A lakehouse table named by the user does not exist."""


class QueryRefusedError(ShoplakeError):
    """A query was refused because it is not a single read-only statement."""


class QueryError(ShoplakeError):
    """A read-only query failed to run."""
