"""What the web domain plugs in: /healthz, the language switch, favicon-free static plumbing."""
from portal.web import bp

BLUEPRINTS = (bp,)


def setup() -> None:
    """Nothing to register: the web domain is the plumbing the others plug into."""
