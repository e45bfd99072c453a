"""What the web domain plugs in: /healthz, the language switch, the favicon."""
from portal.web import bp

BLUEPRINTS = (bp,)


def setup() -> None:
    """Nothing to register: the web domain is the plumbing the others plug into."""
