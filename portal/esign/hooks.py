"""The e-signature domain plugs in how its audit events read, and a check that the audit chain vouches for
every signature row: other domains call ``portal.esign.services.sign`` / ``sign_many``."""
from portal.audit.registry import register_chain_check
from portal.esign import audit_trail
from portal.esign.services import verify_signatures

BLUEPRINTS = ()


def setup() -> None:
    audit_trail.register()
    register_chain_check("signatures", verify_signatures)
