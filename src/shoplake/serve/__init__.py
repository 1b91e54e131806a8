"""Stage 5 — serving: the HTTP API (recommendations, events, tables, SQL), access control and
the dashboard. ``create_app`` lives in :mod:`.app`; FastAPI is imported only by this package."""
