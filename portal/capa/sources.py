"""Where a CAPA comes from: a feedback ticket, an incident (a burst of 差评), a missed period of a quality objective,
or nothing (by hand). For each source: who may open a CAPA from it (they must see the source and head its
department, or be a manager), the department and point the CAPA belongs to, the text the new-CAPA form starts
with, and the link back shown on the CAPA's page.

For ``objective`` the source item is the missed **measurement** (one period of the objective): each missed period
may have its own CAPA, one at most.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.capa.models import BY_HAND, FROM_INCIDENT, FROM_OBJECTIVE, FROM_TICKET, SOURCES, Capa
from portal.capa.services import capa_path, may_see, new_path
from portal.core.errors import NotFound, PermissionDenied
from portal.extensions import db
from portal.feedback.services import labels as feedback_labels
from portal.objectives import services as objective_services
from portal.org.services import heads_department, is_manager
from portal.triage import incidents as triage_incidents
from portal.triage import services as triage_services
from portal.web.access import acting_user


@dataclass
class Source:
    kind: str
    id: int
    label: str
    url: str
    department_id: int
    service_point_id: int | None
    title: str
    problem: str


def may_open_for(user, department_id: int | None) -> bool:
    return department_id is not None and (is_manager(user) or heads_department(user, department_id))


def _ticket(actor, ticket_id: int) -> Source:
    ticket = triage_services.get_ticket(actor, ticket_id)  # NotFound outside the actor's queues
    feedback = ticket.feedback
    point = ticket.service_point.label if ticket.service_point else ""
    rating = feedback_labels()["rating"].get(feedback.rating, "") if feedback.rating else ""
    title = _("Negative rating at %(point)s", point=point) if ticket.negative and point else \
        _("Feedback ticket #%(n)d", n=ticket.id)
    problem = "\n".join(part for part in (
        _("Ticket #%(n)d, received %(day)s.", n=ticket.id, day=ticket.received_at.date().isoformat()),
        f"{_('Rating')}: {rating}" if rating else "",
        f"{_('Categories')}: {'、'.join(feedback.categories)}" if feedback.categories else "",
        f"{_('Comment')}: {feedback.comment}" if feedback.comment else "") if part)
    return Source(FROM_TICKET, ticket.id, _("Ticket #%(n)d", n=ticket.id),
                  triage_services.ticket_path(ticket.id), ticket.department_id, ticket.service_point_id,
                  title[:200], problem)


def _incident(actor, incident_id: int) -> Source:
    incident = triage_incidents.get_incident(actor, incident_id)
    point = incident.service_point.label if incident.service_point else ""
    problem = _("%(n)d negative ratings at %(point)s between %(first)s and %(last)s.", n=incident.count, point=point,
                first=incident.first_at.strftime("%Y-%m-%d %H:%M"), last=incident.last_at.strftime("%Y-%m-%d %H:%M"))
    return Source(FROM_INCIDENT, incident.id, _("Incident #%(n)d", n=incident.id), "", incident.department_id,
                  incident.service_point_id, _("Burst of negative ratings at %(point)s", point=point)[:200], problem)


def _objective_link(objective, measurement) -> tuple[str, str]:
    period = objective_services.period_label(objective.period, measurement.period_start)
    return f"{objective.name} · {period}", objective_services.objective_path(objective.id)


def _objective(actor, measurement_id: int) -> Source:
    objective, measurement = objective_services.missed_measurement(measurement_id)
    if not may_open_for(actor, objective.department_id):
        raise NotFound()
    period = objective_services.period_label(objective.period, measurement.period_start)
    problem = _("The quality objective %(name)s missed its target in %(period)s: %(value)s%(unit)s against a "
                "target of %(target)s%(unit)s.", name=objective.name, period=period, value=measurement.value,
                target=objective.target, unit=objective.unit)
    return Source(FROM_OBJECTIVE, measurement.id, *_objective_link(objective, measurement),
                  objective.department_id, None,
                  _("Objective missed: %(name)s (%(period)s)", name=objective.name, period=period)[:200], problem)


_RESOLVERS = {FROM_TICKET: _ticket, FROM_INCIDENT: _incident, FROM_OBJECTIVE: _objective}


def resolve(actor, kind: str, source_id: int | None) -> Source | None:
    """The source ``actor`` wants to open a CAPA from (None for by hand). NotFound when it does not exist or the
    actor cannot see it; PermissionDenied when they see it but may not open a CAPA for its department."""
    if kind in (None, "", BY_HAND):
        return None
    if kind not in SOURCES or source_id is None:
        raise NotFound()
    source = _RESOLVERS[kind](actor, source_id)
    if not may_open_for(actor, source.department_id):
        raise PermissionDenied()
    return source


def existing(kind: str, source_id: int) -> Capa | None:
    """The CAPA already opened from this source item (one per source)."""
    return db.session.scalar(sa.select(Capa).where(Capa.source == kind, Capa.source_id == source_id))


def link_of(actor, capa: Capa) -> tuple[str, str] | None:
    """(label, url) of the CAPA's source for ``actor``; the url is empty when the source has no page or the actor
    cannot see it; None for a CAPA opened by hand."""
    if capa.source == BY_HAND or capa.source_id is None:
        return None
    try:
        if capa.source == FROM_OBJECTIVE:  # every employee reads the objectives' pages
            return _objective_link(*objective_services.missed_measurement(capa.source_id))
        source = _RESOLVERS[capa.source](actor, capa.source_id)
    except (NotFound, PermissionDenied):
        names = {FROM_TICKET: _("Ticket #%(n)d", n=capa.source_id),
                 FROM_INCIDENT: _("Incident #%(n)d", n=capa.source_id),
                 FROM_OBJECTIVE: _("A missed quality objective")}
        return names.get(capa.source, capa.source), ""
    return source.label, source.url


# -- what the sources' pages show ---------------------------------------------------------------------
def offer(actor, kind: str, item_id: int, department_id: int) -> dict | None:
    """The panel's context on a source's page: the existing CAPA (to those who may see it), or the link to open
    one (to those who may); None shows nothing."""
    capa = existing(kind, item_id)
    if capa is not None:
        return {"capa": capa} if may_see(actor, capa) else None
    if not may_open_for(actor, department_id):
        return None
    return {"capa": None, "open_url": new_path(kind, item_id)}


def ticket_panel(ticket, user) -> dict | None:
    return offer(user, FROM_TICKET, ticket.id, ticket.department_id)


def incident_panel(incident, user) -> dict | None:
    return offer(user, FROM_INCIDENT, incident.id, incident.department_id)


def missed_objective_links(objective, measurement) -> list[tuple[str, str]]:
    """On a missed period of an objective: open a CAPA from it, or go to the one opened."""
    current_user = acting_user()
    capa = existing(FROM_OBJECTIVE, measurement.id)
    if capa is not None:
        return [(_("Corrective action #%(n)d", n=capa.id), capa_path(capa.id))] \
            if may_see(current_user, capa) else []
    if not may_open_for(current_user, objective.department_id):
        return []
    return [(_("Open a corrective action"), new_path(FROM_OBJECTIVE, measurement.id))]
