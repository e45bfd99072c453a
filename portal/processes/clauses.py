"""The clauses of GB/T 19001-2016 (ISO 9001:2015), Chinese titles, as seeded by the migration."""

CLAUSES = [
    ("4", "组织环境"),
    ("4.1", "理解组织及其环境"),
    ("4.2", "理解相关方的需求和期望"),
    ("4.3", "确定质量管理体系的范围"),
    ("4.4", "质量管理体系及其过程"),
    ("5", "领导作用"),
    ("5.1", "领导作用和承诺"),
    ("5.1.1", "总则"),
    ("5.1.2", "以顾客为关注焦点"),
    ("5.2", "方针"),
    ("5.2.1", "制定质量方针"),
    ("5.2.2", "沟通质量方针"),
    ("5.3", "组织的岗位、职责和权限"),
    ("6", "策划"),
    ("6.1", "应对风险和机遇的措施"),
    ("6.2", "质量目标及其实现的策划"),
    ("6.3", "变更的策划"),
    ("7", "支持"),
    ("7.1", "资源"),
    ("7.1.1", "总则"),
    ("7.1.2", "人员"),
    ("7.1.3", "基础设施"),
    ("7.1.4", "过程运行环境"),
    ("7.1.5", "监视和测量资源"),
    ("7.1.6", "组织的知识"),
    ("7.2", "能力"),
    ("7.3", "意识"),
    ("7.4", "沟通"),
    ("7.5", "成文信息"),
    ("7.5.1", "总则"),
    ("7.5.2", "创建和更新"),
    ("7.5.3", "成文信息的控制"),
    ("8", "运行"),
    ("8.1", "运行的策划和控制"),
    ("8.2", "产品和服务的要求"),
    ("8.2.1", "顾客沟通"),
    ("8.2.2", "产品和服务要求的确定"),
    ("8.2.3", "产品和服务要求的评审"),
    ("8.2.4", "产品和服务要求的更改"),
    ("8.3", "产品和服务的设计和开发"),
    ("8.4", "外部提供的过程、产品和服务的控制"),
    ("8.5", "生产和服务提供"),
    ("8.5.1", "生产和服务提供的控制"),
    ("8.5.2", "标识和可追溯性"),
    ("8.5.3", "顾客或外部供方的财产"),
    ("8.5.4", "防护"),
    ("8.5.5", "交付后的活动"),
    ("8.5.6", "更改控制"),
    ("8.6", "产品和服务的放行"),
    ("8.7", "不合格输出的控制"),
    ("9", "绩效评价"),
    ("9.1", "监视、测量、分析和评价"),
    ("9.1.1", "总则"),
    ("9.1.2", "顾客满意"),
    ("9.1.3", "分析与评价"),
    ("9.2", "内部审核"),
    ("9.3", "管理评审"),
    ("10", "改进"),
    ("10.1", "总则"),
    ("10.2", "不合格和纠正措施"),
    ("10.3", "持续改进"),
]


def sort_key(code: str) -> str:
    """'9.1.2' → '0009.0001.0002', so clauses sort in document order as text."""
    return ".".join(part.zfill(4) for part in code.split("."))


def ensure_clauses(session) -> int:
    """Insert the clauses that are missing (the migration does this in production; tests and the demo
    call it on a schema made by create_all). Returns how many were added."""
    import sqlalchemy as sa

    from portal.processes.models import IsoClause

    existing = set(session.scalars(sa.select(IsoClause.code)))
    added = 0
    for code, title in CLAUSES:
        if code not in existing:
            session.add(IsoClause(code=code, title=title, sort_key=sort_key(code)))
            added += 1
    session.flush()
    return added
