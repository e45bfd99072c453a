"""Cross-domain events. A domain sends one when something happened that other domains may react to; it
never imports them (``sop`` does not import ``training``: training subscribes to ``document_effective``).

The rule for every signal here:

* It is sent by a service, **inside the transaction** of the change it announces, after the change has
  been flushed, and before the view commits.
* A subscriber runs synchronously in that same transaction. It writes its own rows (a training
  assignment, a notification and its outbox deliveries, an audit event) with ``db.session`` and never
  commits or rolls back. So the change and every reaction to it commit together, or not at all: nothing
  is lost when a worker or Redis is down, and nothing is half done when a subscriber fails.
* A subscriber that raises aborts the whole change (the view rolls back and shows the error). Work that
  may be slow or fail on its own (email, webhooks) is not done here: write an outbox row, and a job does it
  after the commit.
* Subscribers are connected in the subscribing domain's ``hooks.setup()``, never at import time.

Send with keyword arguments only, and the acting user as ``actor`` (None for jobs)::

    signals.policy_published.send(policy, actor=actor)

Subscribe with ``signals.policy_published.connect(fn)``; ``fn(sender, **kwargs)``.
"""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: sender: the QualityPolicy version just published; kwargs: actor, superseded (the previous version or None)
policy_published = _signals.signal("policy-published", doc="A quality policy version was published.")

#: sender: the Objective; kwargs: measurement (the period's Measurement, status "missed"), actor
objective_missed = _signals.signal("objective-missed", doc="A measured period missed its objective's target.")

#: sender: the document version that took effect; kwargs: document, superseded (version or None), actor (None
#: when the daily job made it effective), retraining_required (bool), retraining_reason (str: why not, or "")
document_effective = _signals.signal("document-effective", doc="A controlled document version became effective.")

#: sender: the new feedback record; kwargs: service_point (or None), actor (None for anonymous customers)
feedback_received = _signals.signal("feedback-received", doc="Customer feedback was received.")

#: sender: the User; kwargs: before and after, each {"department_id": …, "position_id": …}, actor
user_moved = _signals.signal("user-moved", doc="A user changed department or position.")

#: sender: the User just deactivated; kwargs: actor
user_deactivated = _signals.signal("user-deactivated", doc="A user was deactivated.")
#: sender: the User just created or reactivated; kwargs: actor
user_joined = _signals.signal("user-joined", doc="A user was created or reactivated.")
#: sender: None; kwargs: changes (a list of (process_id, department_id, role before, role after)), actor
matrix_changed = _signals.signal("matrix-changed", doc="Cells of the responsibility matrix changed.")
#: sender: the Feedback whose resolution the customer just rated; kwargs: rating (1–5). Triage reopens the ticket
#: of a poor rating (2 or below).
resolution_rated = _signals.signal("resolution-rated", doc="A customer rated how their feedback was resolved.")

ALL = (policy_published, objective_missed, document_effective, feedback_received, user_moved, user_deactivated,
       user_joined, matrix_changed, resolution_rated)
