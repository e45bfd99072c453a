"""The e-signature domain plugs in only how its audit events read: other domains call
``portal.esign.services.sign``."""
from portal.esign import audit_trail

BLUEPRINTS = ()


def setup() -> None:
    audit_trail.register()
