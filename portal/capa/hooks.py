"""What CAPA plugs in: its pages (纠正预防措施), the audit-trail words, the daily effectiveness check, the overdue
ladder with its notification kinds, digest section and to-dos, the "open a corrective action" panels on a ticket's
and an incident's page, the link on a missed objective's period, and the demo CAPAs."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.capa import audit_trail, bp, demo, jobs, ladder, sources
from portal.core.registry import register_cron, register_demo_seeder
from portal.objectives.registry import register_missed_action
from portal.triage.registry import register_incident_panel, register_ticket_panel
from portal.web.nav import NavEntry, register_nav

BLUEPRINTS = (bp,)


def setup() -> None:
    audit_trail.register()
    ladder.register()
    register_nav(NavEntry(_l("Corrective actions"), "capa.index"), order=33)
    register_cron("capa_effectiveness_checks", jobs.run_due_checks, cron="15 6 * * *")
    register_ticket_panel("capa.source", "capa/_partials/_source_panel.html", sources.ticket_panel, order=80)
    register_incident_panel("capa.source", "capa/_partials/_source_panel.html", sources.incident_panel, order=80)
    register_missed_action(sources.missed_objective_links)
    register_demo_seeder("capa", demo.seed_capas, order=57)
