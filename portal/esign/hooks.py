"""The e-signature domain plugs nothing in: other domains call ``portal.esign.services.sign``."""

BLUEPRINTS = ()


def setup() -> None:
    """Nothing to register."""
