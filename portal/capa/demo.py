"""Demo CAPAs, through the services (audited like real ones): one from a recent 差评 ticket with its actions under
way, one from an incident when the demo has one, one awaiting its effectiveness check (every action done ten days
ago), and one closed by the quality manager with an e-signature when the demo ratings give its check a result.
Idempotent: nothing is done once a demo CAPA exists (their request keys start with ``demo-``)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.capa import services
from portal.capa.models import CHECKING, EFFECTIVE, FROM_INCIDENT, FROM_TICKET, NOT_EFFECTIVE, Capa
from portal.extensions import db
from portal.feedback.services import active_points
from portal.org.demo import DEMO_PASSWORD
from portal.org.models import Department, User
from portal.triage import incidents, queue




def _user(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username, User.active.is_(True)))


def _head_of(department_id: int) -> User | None:
    head_id = db.session.scalar(sa.select(Department.head_id).where(Department.id == department_id))
    return db.session.get(User, head_id) if head_id else None


def _member(department_id: int, besides: User | None) -> User | None:
    return db.session.scalar(sa.select(User).where(
        User.department_id == department_id, User.active.is_(True), User.id != (besides.id if besides else -1))
        .order_by(User.id))


def _actions(capa: Capa, lead: User, items: list[tuple[str, User | None, int, str | None]]) -> None:
    """(description, owner, due in days, done note or None) for each action."""
    today = services.local_today()
    for description, owner, days, note in items:
        action = services.add_action(lead, capa.id, description=description, owner_id=(owner or lead).id,
                                     due_on=today + timedelta(days=max(days, 0)))
        if note is not None:
            services.complete_action(owner or lead, action.id, note)


def _from_ticket(qm: User) -> int:
    page = queue.list_queue(qm, queue.QueueFilters(status="open", priority="high"), 50, with_counts=False)
    ticket = next((t for t in page.items if t.service_point_id and t.feedback.comment), None) or \
        next(iter(page.items), None)
    if ticket is None:
        return 0
    lead = _head_of(ticket.department_id) or qm
    member = _member(ticket.department_id, lead)
    point = ticket.service_point.label if ticket.service_point else ""
    capa = services.open_capa(lead, services.CapaFields(
        title=f"{point} 差评整改：等候时间长、解释不清" if point else "差评整改：等候时间长、解释不清",
        problem=f"工单 #{ticket.id}：客户评价“不满意”，反映排队等候超过 30 分钟，窗口人员对所需材料解释不清。",
        containment="当日由大堂经理回访致歉，现场加开临时窗口分流，并向客户一次性告知所需材料清单。",
        department_id=ticket.department_id, service_point_id=ticket.service_point_id, source=FROM_TICKET,
        source_id=ticket.id), request_key=f"demo-ticket-{ticket.id}")
    services.set_root_cause(lead, capa.id, whys=[
        "客户等候时间过长", "高峰时段只开放两个窗口", "排班按固定班次，未参考客流数据",
        "客流统计报表未纳入排班流程"], category="method")
    _actions(capa, lead, [("按近四周客流数据调整高峰时段排班，午间加开一个窗口", member, 7, None),
                          ("编制《常见业务材料一次性告知单》并在窗口张贴", lead, 3, "已印制并在各窗口张贴")])
    return 1


def _from_incident(qm: User) -> int:
    incident = next(iter(incidents.open_incidents(qm)), None)
    if incident is None:
        return 0
    lead = _head_of(incident.department_id) or qm
    point = incident.service_point.label if incident.service_point else ""
    capa = services.open_capa(lead, services.CapaFields(
        title=f"{point} 差评集中爆发", department_id=incident.department_id,
        problem=f"{point} 短时间内出现 {incident.count} 条差评，集中反映系统故障导致业务无法办理。",
        containment="启用应急手工受理流程，大堂引导客户预约次日办理。",
        service_point_id=incident.service_point_id, source=FROM_INCIDENT, source_id=incident.id),
        request_key=f"demo-incident-{incident.id}")
    services.set_root_cause(lead, capa.id, whys=["业务系统中断", "叫号系统与业务系统同一台服务器",
                                                 "未做高可用部署"], category="machine")
    _actions(capa, lead, [("叫号系统迁移至独立服务器并配置双机热备", _member(incident.department_id, lead), 14, None)])
    return 1


def _by_hand(lead: User, point, *, title: str, problem: str, containment: str, whys: list[str], category: str,
             done_days_ago: int, key: str) -> Capa:
    capa = services.open_capa(lead, services.CapaFields(
        title=title, problem=problem, containment=containment, department_id=point.department_id,
        service_point_id=point.id), request_key=key)
    services.set_root_cause(lead, capa.id, whys=whys, category=category)
    member = _member(point.department_id, lead)
    _actions(capa, lead, [("开展服务规范与业务知识专项培训，考核合格后上岗", member, 1, "已完成培训，考核全部合格"),
                          ("窗口增设服务评价提醒及投诉处理流程公示", lead, 1, "已公示")])
    # The demo pretends the actions were done ``done_days_ago`` days ago (the check compares the windows around it).
    day = services.local_today() - timedelta(days=done_days_ago)
    capa.implemented_on, capa.check_due_on = day, day + timedelta(days=services.CHECK_DAYS)
    db.session.flush()
    return capa


def seed_capas() -> int:
    if db.session.scalar(sa.select(Capa.id).where(Capa.request_key.like("demo-%")).limit(1)) is not None:
        return 0
    qm = _user("quality")
    if qm is None:
        return 0
    made = 0
    points = [p for p in active_points() if p.department_id]
    if points:  # the closed one first: it is /capa/1, the README's screenshot
        closing = points[1] if len(points) > 1 else points[0]
        lead = _head_of(closing.department_id) or qm
        capa = _by_hand(lead, closing, title=f"{closing.label} 办理材料告知不清",
                        problem="客户多次往返补交材料，差评集中在“告知不清”。",
                        containment="当日电话联系客户，说明所需材料并预约办理。",
                        whys=["客户多次补交材料", "材料清单口头告知", "缺少书面一次性告知制度"], category="method",
                        done_days_ago=services.CHECK_DAYS + 5, key="demo-closed")
        services.run_check(capa)
        if capa.status == CHECKING and capa.effectiveness in (EFFECTIVE, NOT_EFFECTIVE):
            services.close(qm, capa.id, DEMO_PASSWORD)
        made += 1
    made += _from_ticket(qm) + _from_incident(qm)
    if points:
        point = points[0]
        lead = _head_of(point.department_id) or qm
        _by_hand(lead, point, title=f"{point.label} 服务态度类差评偏多",
                 problem="近一个月该窗口“服务态度”类差评占比明显高于其他窗口，客户反映工作人员语气生硬。",
                 containment="窗口负责人逐条回访差评客户并致歉。",
                 whys=["客户认为工作人员态度生硬", "工作人员业务繁忙时沟通简单化", "新入职人员未接受服务礼仪培训"],
                 category="man", done_days_ago=10, key="demo-awaiting-check")
        made += 1
    db.session.flush()
    return made
