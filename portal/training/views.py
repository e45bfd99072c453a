"""The training pages (thin: parse, call a service, render)."""
from portal.training import bp  # noqa: F401
