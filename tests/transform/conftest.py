"""Transform tests reuse the generated-source fixtures of the ingest tests."""

from tests.ingest.conftest import generated_source, shop  # noqa: F401
