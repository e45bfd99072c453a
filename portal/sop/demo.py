"""About 30 demo documents in every state, made through the services so that every signature, audit event
and notification is real: effective SOPs signed by the matrix's reviewers and approvers, a superseded
version with controlled copies still out, drafts, versions in review and awaiting approval, one approved for
a later date, a returned draft, an obsolete document, external documents, a Word-based SOP, and periodic
reviews due and overdue. Idempotent: documents are looked up by code."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.org.demo import DEMO_PASSWORD
from portal.org.models import Department, User
from portal.processes.models import Process
from portal.sop import services
from portal.sop.docx_builder import docx
from portal.sop.models import Document, DocumentVersion

TYPES = {"QM": "manual", "QP": "procedure", "SOP": "instruction", "FM": "form", "QR": "record", "WL": "external"}


def _body(title: str, lines: list[str]) -> str:
    steps = "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))
    return (f"# {title}\n\n## 1 目的\n\n规范{title}，确保服务质量稳定、可追溯。\n\n## 2 适用范围\n\n适用于本行各营业网点及相关部门。\n\n"
            f"## 3 职责\n\n| 角色 | 职责 |\n| --- | --- |\n| 部门负责人 | 批准并监督执行 |\n| 经办人员 | 按本规范办理 |\n\n"
            f"## 4 工作程序\n\n{steps}\n\n## 5 记录\n\n相关记录保存三年。\n")


# code, title, type, owning dept, process, author, state, steps
DOCUMENTS = [
    ("QM-QA-001", "质量手册", "QM", "QA", "QM-04", "yangfan", "effective", ["明确质量方针与目标", "规定体系过程及其相互作用", "每年管理评审后修订"]),
    ("QP-QA-001", "成文信息控制程序", "QP", "QA", "QM-04", "yangfan", "effective", ["文件编号规则", "审核与批准", "发放与回收受控副本", "定期评审"]),
    ("QP-QA-002", "内部审核程序", "QP", "QA", "MI-01", "huanglei", "effective", ["制定年度审核计划", "组成审核组", "实施现场审核", "跟踪不符合项整改"]),
    ("QP-QA-003", "不合格与纠正措施控制程序", "QP", "QA", "MI-03", "caoyang", "effective", ["识别不合格", "分析根本原因（五问法）", "制定并实施纠正措施", "验证措施有效性"]),
    ("QP-QA-004", "客户满意度测评程序", "QP", "QA", "SV-05", "yangfan", "effective", ["每季度开展满意度调查", "统计好差评数据", "编制满意度分析报告"]),
    ("SOP-KF-001", "客户投诉处理规范", "SOP", "KF", "SV-04", "zhengshi", "superseded", ["受理客户投诉并登记", "一个工作日内首次响应", "五个工作日内办结并回访", "涉及退款的投诉经负责人审批"]),
    ("SOP-KF-002", "大堂经理服务规范", "SOP", "KF", "SV-01", "sunqi", "effective", ["主动迎候客户", "识别客户需求并分流", "维护等候区秩序", "收集客户意见"]),
    ("SOP-KF-003", "客户意见箱管理规范", "SOP", "KF", "SV-04", "zhengshi", "in_review", ["每日开箱登记", "分类转交责任部门", "按时答复并公示"]),
    ("SOP-KF-004", "差评回访作业指导书", "SOP", "KF", "SV-04", "songjia", "in_approval", ["收到差评后两小时内回访", "核实情况并记录", "制定整改措施", "向客户反馈结果"]),
    ("SOP-KF-005", "退款申请受理规范", "SOP", "KF", "SV-04", "tangwei", "draft", ["核对客户身份", "审核退款依据", "登记退款申请并转办"]),
    ("SOP-KF-006", "服务用语规范", "SOP", "KF", "SV-06", "xiaoyu", "docx", ["使用普通话，语气亲切", "首问负责，不推诿", "禁用服务忌语"]),
    ("SOP-KF-HL-001", "客服热线接听规范", "SOP", "KF-HL", "SV-03", "zhouba", "effective", ["三声铃响内接听", "使用标准开场白", "准确记录来电诉求", "无法当场解答的两小时内回电"]),
    ("SOP-KF-HL-002", "12345 热线工单处理规范", "SOP", "KF-HL", "SV-03", "wujiu", "approved_later", ["签收工单", "转办责任部门", "跟踪办理进度", "按时回复并归档"]),
    ("SOP-KF-HL-003", "热线录音调阅规范", "SOP", "KF-HL", "SV-03", "hanmei", "returned", ["提交调阅申请", "负责人审批", "登记调阅记录"]),
    ("SOP-OPS-001", "柜面业务办理规范", "SOP", "OPS", "SV-02", "wangwu", "superseded", ["核验客户身份", "审核业务凭证", "办理业务并复核", "交付凭证并致谢"]),
    ("SOP-OPS-002", "现金收付作业指导书", "SOP", "OPS", "SV-02", "zhaoliu", "effective", ["当面点清现金", "唱收唱付", "假币收缴按规定办理"]),
    ("SOP-OPS-003", "排队叫号管理规范", "SOP", "OPS", "SV-01", "linxue", "effective", ["取号分流", "超过十五分钟启动弹性窗口", "特殊客户优先办理"]),
    ("SOP-OPS-004", "适老化服务规范", "SOP", "OPS", "SV-01", "dengchao", "in_review", ["设置爱心窗口", "提供老花镜与放大镜", "协助填写单据"]),
    ("SOP-OPS-005", "客户信息保护规范", "SOP", "OPS", "SV-07", "luoqiang", "effective", ["最小必要收集", "凭证及时入库", "禁止拍照外传客户资料"]),
    ("SOP-OPS-006", "纸质凭证归档规范", "SOP", "OPS", "SV-02", "liangyu", "obsolete", ["按日装订凭证", "月末移交档案室"]),
    ("SOP-IT-001", "信息系统故障处理规范", "SOP", "IT", "QM-07", "hujun", "effective", ["记录故障现象", "十五分钟内响应", "恢复后编写故障报告"]),
    ("SOP-IT-002", "自助设备巡检规范", "SOP", "IT", "QM-06", "guolin", "in_approval", ["每日开门前巡检", "记录设备状态", "故障设备挂牌停用"]),
    ("SOP-HR-001", "新员工上岗培训规范", "SOP", "HR", "QM-05", "xuli", "effective", ["入职三日内完成岗前培训", "考核合格后上岗", "建立个人培训档案"]),
    ("SOP-HR-002", "岗位资格管理规范", "SOP", "HR", "QM-05", "pengli", "draft", ["明确岗位资格要求", "证书到期前提醒", "资格失效暂停上岗"]),
    ("SOP-GM-001", "管理评审程序", "QP", "GM", "MI-02", "heping", "effective", ["每年至少一次管理评审", "收集评审输入", "形成评审输出并跟踪"]),
    ("FM-KF-001", "客户投诉登记表", "FM", "KF", "SV-04", "zhengshi", "effective", ["投诉人、时间、渠道", "投诉内容", "处理结果与回访"]),
    ("FM-QA-001", "纠正措施报告表", "FM", "QA", "MI-03", "caoyang", "effective", ["问题描述", "原因分析", "纠正措施与验证"]),
    ("QR-QA-001", "内部审核记录", "QR", "QA", "MI-01", "huanglei", "review_due", ["审核日期与范围", "审核发现", "不符合项编号"]),
    ("WL-QA-001", "GB/T 19001-2016 质量管理体系 要求", "WL", "QA", "QM-04", "yangfan", "external", ["标准全文见附件（外来文件，受控登记）"]),
    ("WL-OPS-001", "中华人民共和国个人信息保护法", "WL", "OPS", "SV-07", "linxue", "external", ["法律全文（外来文件，受控登记）"]),
]


def _users() -> dict[str, User]:
    return {u.username: u for u in db.session.scalars(sa.select(User))}


def _sign_through(version: DocumentVersion, users: dict[str, User], today, *, effective_on=None,
                  retraining: bool = True, until: str = "effective") -> None:
    """Submit, let every matrix reviewer sign 审核, and the approver sign 批准 (stopping at ``until``)."""
    author = db.session.get(User, version.author_id)
    services.submit(author, version)
    if until == "in_review":
        return
    for reviewer in list(version.reviewers):
        services.review(db.session.get(User, reviewer.user_id), version, DEMO_PASSWORD, comment="同意。")
    if until == "in_approval":
        return
    approver = services.approver_of(version.document)
    choice = services.ApprovalChoice(effective_on=effective_on or today, retraining_required=retraining,
                                     retraining_reason="" if retraining else "错别字修改", comment="批准发布。")
    services.approve(approver, version, DEMO_PASSWORD, choice, today=today)


def _create(spec, users, depts, processes) -> Document:
    code, title, type_code, dept_code, process_code, author_name, _state, _steps = spec
    author = users[author_name]
    fields = services.DocumentFields(
        title=title, doc_type=TYPES[type_code], department_id=depts[dept_code].id,
        process_id=processes[process_code].id if process_code in processes else None,
        confidentiality="internal", tags="投诉,退款" if "投诉" in title or "退款" in title else "", code=code,
        issuer="国家市场监督管理总局 国家标准化管理委员会" if code == "WL-QA-001" else (
            "全国人民代表大会常务委员会" if code == "WL-OPS-001" else ""),
        edition="2016" if code == "WL-QA-001" else ("2021" if code == "WL-OPS-001" else ""))
    return services.create_document(author, fields)


def seed_documents() -> int:
    users = _users()
    if "yangfan" not in users:
        return 0
    depts = {d.code: d for d in db.session.scalars(sa.select(Department))}
    processes = {p.code: p for p in db.session.scalars(sa.select(Process))}
    today = services.local_today()
    created = 0
    for spec in DOCUMENTS:
        code, title, _type, _dept, _process, author_name, state, steps = spec
        if db.session.scalar(sa.select(Document.id).where(Document.code == code)) is not None:
            continue
        document = _create(spec, users, depts, processes)
        author = users[author_name]
        version = document.latest_version
        body = _body(title, steps)
        if state == "docx":
            services.update_draft(author, version, body="", change_summary="首次发布（Word 文件）",
                                  upload=(f"{title}.docx", docx([title] + steps + ["违反本规范的，按服务质量考核办法处理。"],
                                                                 heading=title)))
        else:
            services.update_draft(author, version, body=body, change_summary="首次发布")
        if state == "draft":
            created += 1
            continue
        if state == "external":
            services.register_external_edition(author, version, effective_on=today - timedelta(days=200), today=today)
        elif state in ("in_review", "in_approval"):
            _sign_through(version, users, today, until=state)
        elif state == "approved_later":
            _sign_through(version, users, today, effective_on=today + timedelta(days=7))
        elif state == "returned":
            services.submit(author, version)
            reviewer = version.reviewers[0] if version.reviewers else None
            returner = db.session.get(User, reviewer.user_id) if reviewer else services.approver_of(document)
            services.return_to_draft(returner, version, "第 2 步请写明审批人和时限。")
        else:
            _sign_through(version, users, today)
        if state == "superseded":
            _supersede(document, version, users, today)
        elif state == "obsolete":
            services.make_obsolete(services.approver_of(document), document, DEMO_PASSWORD, "业务已改为电子凭证，本规范不再适用。")
        elif state == "review_due":
            document.next_review_on = today + timedelta(days=10)
        db.session.flush()
        created += 1
    overdue = db.session.scalar(sa.select(Document).where(Document.code == "SOP-OPS-002"))
    if overdue is not None and created:
        overdue.next_review_on = today - timedelta(days=5)
    db.session.commit()
    return created


def _supersede(document: Document, first: DocumentVersion, users, today) -> None:
    """Two controlled copies of v1.0, then v1.1 takes effect: the copies are recalled and still out."""
    issuer = services.approver_of(document)
    services.issue_copy(issuer, first, holder_user_id=users["sunqi"].id)
    services.issue_copy(issuer, first, holder_place="一号柜台")
    author = db.session.get(User, first.author_id)
    second = services.new_version(author, document)
    steps = [line for line in first.body.splitlines()]
    services.update_draft(author, second, body="\n".join(steps + ["", "## 6 附则", "", "本规范自发布之日起施行。"]),
                          change_summary="增加附则；明确时限")
    _sign_through(second, users, today)
    services.issue_copy(issuer, db.session.get(DocumentVersion, second.id), holder_place="大堂服务台")
