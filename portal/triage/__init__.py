"""工单处理: the departments' queues of customer feedback (tickets), their SLAs, the 差评 closed loop.

The foundation (issue 12, first part): models, routing, the lifecycle, notes, call-backs, reassignment and flags
as services; the queue pages come next."""
