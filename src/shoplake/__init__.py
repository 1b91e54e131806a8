"""shoplake: a local-first data platform for product recommendations."""

__version__ = "0.1.0"
