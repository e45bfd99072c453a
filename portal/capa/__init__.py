"""纠正预防措施 (CAPA): corrective and preventive actions, from a feedback ticket, an incident, a missed quality
objective or by hand; root cause (5 whys and 人机料法环测), actions with owners and due dates, an effectiveness
check on the point's CSAT before and after, and closure signed by the quality manager. Services first; the pages
come with the rest of issue 12."""
