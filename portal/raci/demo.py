"""Demo processes mapped to GB/T 19001 clauses, and a complete responsibility matrix for the demo
departments (综合办公室 GM, 质量管理部 QA, 客服部 KF, 运营部 OPS, 人力资源部 HR, 信息技术部 IT, 客服热线组 KF-HL).
Idempotent: processes are looked up by code, cells are only added where none exists."""
from __future__ import annotations

import sqlalchemy as sa

from portal.audit.services import record
from portal.extensions import db
from portal.org.models import Department
from portal.processes.clauses import ensure_clauses
from portal.processes.models import IsoClause, Process
from portal.raci.models import RaciAssignment, RaciRevision

# code, name, clauses, A, R, C  (every other demo department is I)
PROCESSES = [
    ("QM-01", "质量方针与目标管理", ["5.2", "6.2"], "QA", ["QA"], ["GM"]),
    ("QM-02", "组织岗位、职责和权限", ["5.3"], "GM", ["HR"], ["QA"]),
    ("QM-03", "风险和机遇的应对", ["6.1"], "QA", ["KF", "OPS"], ["GM", "IT"]),
    ("QM-04", "成文信息控制", ["7.5", "7.5.3"], "QA", ["GM"], ["IT"]),
    ("QM-05", "人员培训与能力管理", ["7.2", "7.3"], "HR", ["HR"], ["QA", "KF"]),
    ("QM-06", "基础设施与服务环境", ["7.1.3", "7.1.4"], "GM", ["IT", "OPS"], ["KF"]),
    ("QM-07", "信息系统运行维护", ["7.1.3"], "IT", ["IT"], ["OPS"]),
    ("QM-08", "内部沟通", ["7.4"], "GM", ["GM"], ["QA", "HR"]),
    ("SV-01", "客户接待与业务受理", ["8.2.1", "8.5.1"], "OPS", ["OPS", "KF"], ["QA"]),
    ("SV-02", "柜面业务办理", ["8.5.1", "8.5.2"], "OPS", ["OPS"], ["KF", "IT"]),
    ("SV-03", "客服热线服务", ["8.2.1", "8.5.1"], "KF", ["KF-HL"], ["IT", "QA"]),
    ("SV-04", "客户投诉处理", ["9.1.2", "10.2"], "KF", ["KF", "KF-HL", "OPS"], ["QA"]),
    ("SV-05", "客户满意度测评", ["9.1.2"], "QA", ["KF"], ["OPS", "KF-HL"]),
    ("SV-06", "服务规范检查", ["8.5.1", "9.1.1"], "QA", ["QA"], ["KF", "OPS"]),
    ("SV-07", "客户信息与财产保护", ["8.5.3"], "IT", ["OPS", "KF"], ["QA"]),
    ("MI-01", "内部审核", ["9.2"], "QA", ["QA"], ["GM", "KF", "OPS", "HR", "IT"]),
    ("MI-02", "管理评审", ["9.3"], "GM", ["QA"], ["KF", "OPS", "HR", "IT"]),
    ("MI-03", "不合格输出与纠正措施", ["8.7", "10.2"], "QA", ["KF", "OPS"], ["GM"]),
    ("MI-04", "持续改进", ["10.3"], "QA", ["KF", "OPS", "KF-HL"], ["GM", "HR"]),
    ("SP-01", "外部供方管理", ["8.4"], "GM", ["GM", "IT"], ["QA"]),
]


def seed_matrix() -> int:
    ensure_clauses(db.session)
    clauses = {c.code: c for c in db.session.scalars(sa.select(IsoClause))}
    depts = {d.code: d for d in db.session.scalars(sa.select(Department))}
    created = 0
    for order, (code, name, clause_codes, accountable, responsible, consulted) in enumerate(PROCESSES):
        process = db.session.scalar(sa.select(Process).where(Process.code == code))
        if process is None:
            process = Process(code=code, name=name, sort_order=order * 10,
                              clauses=[clauses[c] for c in clause_codes])
            db.session.add(process)
            db.session.flush()
            record("process.create", process, after={"code": code, "name": name}, extra={"via": "seed-demo"})
            created += 1
        existing = {a.department_id for a in db.session.scalars(
            sa.select(RaciAssignment).where(RaciAssignment.process_id == process.id))}
        for dept_code, dept in depts.items():
            if dept.id in existing:
                continue
            role = "A" if dept_code == accountable else "R" if dept_code in responsible else \
                "C" if dept_code in consulted else "I"
            db.session.add(RaciAssignment(process_id=process.id, department_id=dept.id, role=role))
            record("raci.cell", object_type="raci_cell", object_id=f"{process.id}:{dept.id}",
                   after={"role": role}, extra={"via": "seed-demo"})
            created += 1
    if created:
        db.session.add(RaciRevision(source="import", changes=created))
    db.session.commit()
    return created
