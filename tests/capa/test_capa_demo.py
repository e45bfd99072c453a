"""The demo CAPAs, on the whole demo (every seeder in order): one from a 差评 ticket with actions under way, one
awaiting its effectiveness check, one closed with the quality manager's signature when the demo's ratings give a
result; idempotent."""
from __future__ import annotations

import sqlalchemy as sa

from portal.capa.demo import seed_capas
from portal.capa.models import CHECKING, CLOSED, FROM_TICKET, OPEN, Capa
from portal.core.registry import demo_seeders
from portal.esign.models import Signature
from portal.extensions import db
from tests.helpers import count


def test_the_demo_seeds_realistic_capas_once(app):
    for seeder in demo_seeders:
        seeder.fn()
    db.session.commit()
    capas = {c.request_key: c for c in db.session.scalars(sa.select(Capa))}
    from_ticket = next(c for c in capas.values() if c.source == FROM_TICKET)
    assert from_ticket.status == OPEN and len(from_ticket.whys) == 4 and from_ticket.cause_category == "method"
    assert sorted(a.status for a in from_ticket.actions) == ["done", "open"]
    awaiting = capas["demo-awaiting-check"]
    assert awaiting.status == CHECKING and awaiting.effectiveness is None
    assert awaiting.check_due_on > awaiting.implemented_on
    closed = capas["demo-closed"]
    assert closed.effectiveness is not None
    if closed.status == CLOSED:
        assert db.session.get(Signature, closed.close_signature_id).meaning == "capa_close"
    before = count(Capa)
    assert seed_capas() == 0 and count(Capa) == before
