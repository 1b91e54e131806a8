"""The local supplier REST API: a vendor's product catalog and reviews behind OAuth2.

``shoplake sources api`` serves it (FastAPI on 127.0.0.1) from a SQLite store under
``<data_dir>/supplier/`` seeded from the source database; ``shoplake sources api-changes`` changes
the store while it runs. Faults (latency, 5xx, dropped connections, malformed pages) are injected
on demand, deterministically, so ingestion can be drilled against a realistic third party.
"""
