"""Searching the document register, in Chinese, on SQLite (FTS5) and PostgreSQL (GIN over tsvector).

Documents are driven through the services as people would (registered, written, reviewed, approved); the
searches go through ``services.search_register`` and through ``GET /quality/documents/`` (the full page and
the htmx partial ``#document-list``). The words searched for are in the documents' bodies, never in their
titles, so a hit proves the content is indexed. Expected results are exact lists of codes (the register is
ordered by code).
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.roles import EMPLOYEE
from portal.extensions import db
from portal.sop import search, services
from portal.sop.access import may_read_version
from portal.sop.models import DocumentSearch
from tests.helpers import DEFAULT_PASSWORD, HX, assert_full_page, assert_partial, count_queries
from tests.documents import effective_document, make_effective, next_version, register

LIST = "/quality/documents/"
#: 投诉 and 退款 in the body; the title (柜面服务规范) has neither.
COMPLAINT_AND_REFUND = ("## 受理\n\n客户提出投诉时，柜员应当场登记，并在一个工作日内答复。\n\n"
                        "## 退费\n\n涉及退款的，经负责人审批后办理退款。\n")
COMPLAINT_ONLY = "## 回访\n\n客户投诉应当在三日内回访。\n"
NEITHER = "## 环境\n\n大堂保持整洁，绿植每周养护。\n"
ROW_RE = re.compile(r'<td translate="no"><a href="/quality/documents/\d+">([^<]+)</a></td>')


def found(actor, q: str = "", **filters) -> list[str]:
    """The codes on the first page of the register for ``actor``."""
    return [d.code for d in services.search_register(actor, services.DocumentFilters(q=q, **filters)).items]


def listed(markup: str) -> list[str]:
    """The codes in the register's table of a page or partial."""
    return ROW_RE.findall(markup)


@pytest.fixture
def three(org):
    """SOP-KF-001 (投诉 and 退款 in its body), SOP-KF-002 (投诉 only), SOP-KF-003 (neither); all effective."""
    docs = [effective_document(org.author, org, title=title, body=body)
            for title, body in (("柜面服务规范", COMPLAINT_AND_REFUND), ("回访工作细则", COMPLAINT_ONLY),
                                ("网点环境管理规范", NEITHER))]
    assert [d.code for d in docs] == ["SOP-KF-001", "SOP-KF-002", "SOP-KF-003"]
    for d in docs:
        assert "投诉" not in d.title and "退款" not in d.title
    return docs


# == words in the body ====================================================================================
def test_a_two_character_word_of_the_body_is_found(org, three):
    for actor in (org.qm, org.employee, org.other):  # effective internal documents: everyone finds them
        assert found(actor, "投诉") == ["SOP-KF-001", "SOP-KF-002"]
        assert found(actor, "退款") == ["SOP-KF-001"]
        assert found(actor, "绿植") == ["SOP-KF-003"]
    page = services.search_register(org.employee, services.DocumentFilters(q="投诉"))
    assert (page.total, page.page, page.pages) == (2, 1, 1)


def test_a_word_in_no_document_finds_nothing(org, three):
    for q in ("航天飞机", "理赔", "zzzz"):
        page = services.search_register(org.qm, services.DocumentFilters(q=q))
        assert (page.items, page.total, page.pages) == ([], 0, 1)


def test_several_words_must_all_match(org, three):
    assert found(org.qm, "投诉 退款") == ["SOP-KF-001"]
    assert found(org.qm, "投诉退款") == ["SOP-KF-001"]  # cut by jieba the same way: 投诉 AND 退款
    assert found(org.qm, "投诉，退款！") == ["SOP-KF-001"]  # punctuation around words is ignored
    assert found(org.qm, "回访 投诉") == ["SOP-KF-002"]
    assert found(org.qm, "投诉 绿植") == []
    assert found(org.qm, "退款 航天") == []


def test_the_title_and_the_tags_are_searched_too(org):
    doc = effective_document(org.author, org, title="差评回访规范", body=NEITHER, tags="满意度,回访")
    assert found(org.qm, "差评") == [doc.code]
    assert found(org.qm, "满意度") == [doc.code]


def test_the_register_page_finds_a_word_of_the_body(org, three, client_for):
    client = client_for(org.employee)
    page = assert_full_page(client.get(LIST, query_string={"q": "投诉"}))
    assert listed(page) == ["SOP-KF-001", "SOP-KF-002"]
    assert 'value="投诉"' in page  # the search box keeps the query

    partial = client.get(LIST, query_string={"q": "投诉"}, headers=HX)
    chunk = assert_partial(partial)
    assert chunk.lstrip().startswith('<div id="document-list">')
    assert listed(chunk) == ["SOP-KF-001", "SOP-KF-002"]
    assert 'id="document-filters"' not in chunk  # the form is not swapped, only the list

    assert listed(assert_partial(client.get(LIST, query_string={"q": "退款"}, headers=HX))) == ["SOP-KF-001"]
    assert listed(assert_full_page(client.get(LIST, query_string={"q": "投诉 退款"}))) == ["SOP-KF-001"]
    nothing = assert_partial(client.get(LIST, query_string={"q": "航天飞机"}, headers=HX))
    assert listed(nothing) == [] and 'id="no-documents"' in nothing
    everything = assert_full_page(client.get(LIST))
    assert listed(everything) == ["SOP-KF-001", "SOP-KF-002", "SOP-KF-003"]


# == codes =================================================================================================
def test_a_code_prefix_finds_by_code(org, three):
    form = effective_document(org.author, org, title="登记表", body=NEITHER, doc_type="form")
    assert form.code == "FM-KF-001"
    assert found(org.qm, "SOP-KF") == ["SOP-KF-001", "SOP-KF-002", "SOP-KF-003"]
    assert found(org.qm, "sop-kf") == ["SOP-KF-001", "SOP-KF-002", "SOP-KF-003"]  # case does not matter
    assert found(org.qm, "SOP-KF-00") == ["SOP-KF-001", "SOP-KF-002", "SOP-KF-003"]
    assert found(org.qm, "SOP-KF-002") == ["SOP-KF-002"]
    assert found(org.qm, "FM-KF") == ["FM-KF-001"]
    assert found(org.qm, "FM") == ["FM-KF-001"]
    assert found(org.qm, "SOP-YY") == []


def test_the_register_page_finds_by_code(org, three, client_for):
    chunk = assert_partial(client_for(org.employee).get(LIST, query_string={"q": "SOP-KF-002"}, headers=HX))
    assert listed(chunk) == ["SOP-KF-002"]


# == odd queries ===========================================================================================
PUNCTUATION = ["!!!", "%", "%%", "_", "__", "\\", "\\%", "'", "''", '"', '""', "*", "^", "-", "(", ")", ":",
               "。。。", "，、；", "——", "……", "【】", "《》", "~`@#$&+=|<>?/", "💥"]


@pytest.mark.parametrize("q", PUNCTUATION, ids=[f"p{i}" for i in range(len(PUNCTUATION))])
def test_punctuation_only_queries_find_nothing_and_do_not_fail(org, three, q):
    assert search.query_words(q) == []
    page = services.search_register(org.qm, services.DocumentFilters(q=q))
    assert (page.items, page.total) == ([], 0)


def test_query_syntax_is_searched_as_words(org, three):
    """FTS5 and tsquery operators in a query are words, not syntax."""
    for q in ('"投诉', '投诉"', "投诉*", "NEAR(投诉 退款)", "投诉 OR 绿植", "投诉 AND 绿植", "-投诉", "投诉 & 绿植",
              "投诉 | 绿植", "!投诉", "投诉:*", "'; DROP TABLE sop_document; --"):
        services.search_register(org.qm, services.DocumentFilters(q=q))
    assert found(org.qm, "投诉*") == ["SOP-KF-001", "SOP-KF-002"]
    assert found(org.qm, "投诉 | 绿植") == []  # AND, not OR
    assert found(org.qm) == ["SOP-KF-001", "SOP-KF-002", "SOP-KF-003"]  # the table survived


def test_very_long_queries_do_not_fail(org, three, client_for):
    assert found(org.qm, "投诉" + " " * 98 + "航天飞机" * 1000) == ["SOP-KF-001", "SOP-KF-002"]  # 100 characters count
    found(org.qm, "投诉 " * 5000)
    found(org.qm, COMPLAINT_AND_REFUND * 200)
    many = " ".join(f"词{i}" for i in range(500))
    assert len(search.query_words(many)) <= search.MAX_QUERY_WORDS
    found(org.qm, many)
    client = client_for(org.employee)
    for q in ("投诉" * 3000, "x" * 5000, "SOP-KF-" + "0" * 3000, "%_" * 2000):
        assert_partial(client.get(LIST, query_string={"q": q}, headers=HX))
        assert_full_page(client.get(LIST, query_string={"q": q}))


def test_a_nul_character_is_refused_by_the_page(org, three, client_for):
    response = client_for(org.employee).get(LIST, query_string={"q": "投诉\x00"})
    assert response.status_code == 400


# == visibility ============================================================================================
def test_a_draft_is_found_only_by_those_who_may_see_it(org):
    """A draft of 客服部 (its title has 复核): its author, 客服部's head and the quality manager find it (they may
    open it); a colleague of 客服部 and 运营部 do not."""
    draft = register(org.author, org, title="退款复核操作细则", body=COMPLAINT_ONLY)
    assert draft.current_version_id is None
    assert found(org.qm, "复核") == [draft.code]
    assert found(org.author, "复核") == [draft.code]
    assert found(org.heads["KF"], "复核") == [draft.code]  # the owning department's head (and approver)
    assert found(org.employee, "复核") == []  # 客服部, not its author
    assert found(org.other, "复核") == []  # 运营部
    assert found(org.other) == [] and found(org.other, status="draft") == []
    assert found(org.employee, status="draft") == []
    assert services.search_register(org.other, services.DocumentFilters(q="复核")).total == 0
    for who, sees in ((org.author, True), (org.heads["KF"], True), (org.employee, False), (org.other, False)):
        assert may_read_version(who, draft.latest_version) is sees  # the list agrees with the page


def test_a_version_in_review_is_found_by_its_reviewers(org, make_user):
    """An employee of 运营部 whom the author added as a reviewer finds the 客服部 draft, in preparation and in
    review; a colleague of theirs does not."""
    draft = register(org.author, org, title="退款复核操作细则", body=COMPLAINT_ONLY)
    version = draft.latest_version
    colleague = make_user("emp_yy2", roles=(EMPLOYEE,), department=org.depts["YY"])
    services.add_reviewer(org.author, version, org.other.id)
    assert found(colleague, "复核") == []
    # a reviewer may open the draft from the moment they are added (access.works_on), and so finds it
    db.session.expire(version)
    assert may_read_version(org.other, version) and found(org.other, "复核") == [draft.code]
    services.submit(org.author, version)
    assert {r.user_id for r in version.reviewers} == {org.heads["ZL"].id, org.other.id}
    assert found(org.other, "复核") == [draft.code]
    assert found(org.heads["ZL"], "复核") == [draft.code]
    assert found(colleague, "复核") == [] and found(colleague) == []


@pytest.fixture
def no_history_for_heads(app, monkeypatch):
    """Only the document controllers open superseded versions (PORTAL_SOP_HISTORY_ROLES without dept_head), so
    that a department head sees in the register only what they work on."""
    monkeypatch.setitem(app.config, "PORTAL_SOP_HISTORY_ROLES", ("admin", "quality_manager"))


def test_a_version_awaiting_approval_is_found_by_its_approver(org, no_history_for_heads):
    """运营部 (R for 客户投诉处理) writes a procedure of that process: its approver is the head of 客服部 (the A),
    who may open the version, and so finds the document in the register, as its reviewer (the head of 质量管理部,
    the C) does once it is submitted; nobody else outside 运营部 does."""
    draft = register(org.other, org, dept="YY", title="退款复核操作细则", body=COMPLAINT_ONLY)
    version = draft.latest_version
    assert services.approver_of(draft).id == org.heads["KF"].id
    assert may_read_version(org.heads["KF"], version)
    assert found(org.heads["KF"], "复核") == [draft.code]  # the approver, from the draft on (as may_read_version)
    assert found(org.heads["ZL"], "复核") == []
    services.submit(org.other, version)
    for reviewer in version.reviewers:
        assert found(reviewer.user, "复核") == [draft.code]
        services.review(reviewer.user, version, DEFAULT_PASSWORD)
    assert version.status == "in_approval"
    assert found(org.heads["KF"], "复核") == [draft.code]
    assert found(org.heads["ZL"], "复核") == [draft.code]  # a reviewer, as may_read_version says
    assert found(org.heads["ZH"], "复核") == [] and found(org.employee, "复核") == []  # 客服部 staff are not approvers
    assert not may_read_version(org.heads["ZH"], version) and not may_read_version(org.employee, version)
    assert services.get_version(org.heads["KF"], draft.id, version.id) == version


def test_a_draft_is_found_by_a_word_of_its_body(org):
    draft = register(org.author, org, title="柜面服务规范", body=COMPLAINT_AND_REFUND)
    assert found(org.qm, "退款") == [draft.code]


def test_a_restricted_document_of_another_department_is_not_found(org, client_for):
    """Restricted, no process: only 客服部 (the owner) and the document controllers find it."""
    secret = effective_document(org.author, org, title="内部资料管理办法", process=None,
                                body="保密资料仅限本部门查阅，涉及投诉的资料另行归档。", confidentiality="restricted")
    public = effective_document(org.author, org, title="公开资料管理办法", process=None,
                                body="公开资料可以对外提供，投诉资料除外。")
    assert found(org.qm, "保密") == [secret.code]
    assert found(org.employee, "保密") == [secret.code]
    assert found(org.other, "保密") == []
    assert found(org.qm, "投诉") == [secret.code, public.code]
    assert found(org.other, "投诉") == [public.code]
    assert services.search_register(org.other, services.DocumentFilters(q="投诉")).total == 1
    assert found(org.other) == [public.code]
    assert found(org.other, secret.code) == []  # not by its code either
    chunk = assert_partial(client_for(org.other).get(LIST, query_string={"q": "保密"}, headers=HX))
    assert listed(chunk) == [] and 'id="no-documents"' in chunk
    assert listed(assert_full_page(client_for(org.qm).get(LIST, query_string={"q": "保密"}))) == [secret.code]


def test_a_restricted_document_is_found_by_the_departments_of_its_process(org, make_user, make_department):
    """Restricted, for 客户投诉处理: every department in the process's row of the matrix (运营部 is R) finds
    it; a department outside the matrix does not."""
    secret = effective_document(org.author, org, title="内部资料管理办法", body="传真件的核对方法。",
                                confidentiality="restricted")
    outsider = make_user("emp_out", roles=(EMPLOYEE,), department=make_department("外包服务部", "WB"))
    assert org.role("T-03", "YY") == "R"
    assert found(org.other, "传真") == [secret.code]
    assert found(outsider, "传真") == []
    assert found(outsider) == []


# == filters and pages =====================================================================================
@pytest.fixture
def register_mix(org):
    """Documents in every state, all tagged 柜面 (a document's tags are indexed from its registration, its
    text only once a version takes effect: see test_a_draft_is_found_by_a_word_of_its_body):

    SOP-KF-001 effective · SOP-KF-002 effective, v1.1 in review · SOP-KF-003 draft · SOP-KF-004 approved, effective
    in three days · SOP-KF-005 obsolete · FM-KF-001 form, effective · SOP-YY-001 运营部, 柜面业务办理, effective."""
    body, tags = COMPLAINT_ONLY, "柜面"
    docs = {}
    docs["effective"] = effective_document(org.author, org, title="柜面服务规范", body=body, tags=tags)
    docs["revised"] = effective_document(org.author, org, title="回访工作细则", body=body, tags=tags)
    services.submit(org.author, next_version(org.author, docs["revised"], body + "\n补充：回访须录音。\n"))
    docs["draft"] = register(org.author, org, title="退款复核操作细则", body=body, tags=tags)
    docs["approved"] = register(org.author, org, title="预约服务规范", body=body, tags=tags)
    version = docs["approved"].latest_version
    services.submit(org.author, version)
    for reviewer in version.reviewers:
        services.review(reviewer.user, version, DEFAULT_PASSWORD)
    services.approve(org.heads["KF"], version, DEFAULT_PASSWORD, services.ApprovalChoice(
        effective_on=services.local_today() + timedelta(days=3)))
    docs["obsolete"] = effective_document(org.author, org, title="旧版排队规范", body=body, tags=tags)
    services.make_obsolete(org.heads["KF"], docs["obsolete"], DEFAULT_PASSWORD, "业务已取消")
    docs["form"] = effective_document(org.author, org, title="登记表", body=body, tags=tags, doc_type="form")
    docs["yy"] = effective_document(org.other, org, title="柜面业务办理规范", body=body, tags=tags, process="T-04",
                                    dept="YY")
    db.session.flush()
    codes = {k: d.code for k, d in docs.items()}
    assert codes == {"effective": "SOP-KF-001", "revised": "SOP-KF-002", "draft": "SOP-KF-003",
                     "approved": "SOP-KF-004", "obsolete": "SOP-KF-005", "form": "FM-KF-001", "yy": "SOP-YY-001"}
    return docs


def test_filters_by_type_department_and_process(org, register_mix):
    qm = org.qm
    assert found(qm, doc_type="form") == ["FM-KF-001"]
    assert found(qm, "柜面", doc_type="form") == ["FM-KF-001"]
    assert found(qm, "柜面", doc_type="manual") == []
    assert found(qm, doc_type="no-such-type") == found(qm)  # an unknown type does not filter
    assert found(qm, department_id=org.depts["YY"].id) == ["SOP-YY-001"]
    assert found(qm, "柜面", department_id=org.depts["KF"].id) == [
        "FM-KF-001", "SOP-KF-001", "SOP-KF-002", "SOP-KF-003", "SOP-KF-004", "SOP-KF-005"]
    assert found(qm, department_id=org.depts["ZL"].id) == []
    assert found(qm, process_id=org.procs["T-04"].id) == ["SOP-YY-001"]
    assert found(qm, "柜面", process_id=org.procs["T-03"].id, doc_type="form") == ["FM-KF-001"]
    assert found(qm, process_id=org.procs["T-01"].id) == []


def test_filters_by_status(org, register_mix):
    qm = org.qm
    assert found(qm, "柜面") == ["FM-KF-001", "SOP-KF-001", "SOP-KF-002", "SOP-KF-003", "SOP-KF-004",
                                "SOP-KF-005", "SOP-YY-001"]
    assert found(qm, status="effective") == ["FM-KF-001", "SOP-KF-001", "SOP-KF-002", "SOP-YY-001"]
    assert found(qm, status="in_review") == ["SOP-KF-002"]  # the latest version's status
    assert found(qm, status="draft") == ["SOP-KF-003"]
    assert found(qm, status="approved") == ["SOP-KF-004"]
    assert found(qm, status="in_approval") == []
    assert found(qm, status="obsolete") == ["SOP-KF-005"]
    assert found(qm, "柜面", status="obsolete") == ["SOP-KF-005"]
    # 运营部's employee sees the effective documents, and none of 客服部's versions in preparation
    assert found(org.other, "柜面") == ["FM-KF-001", "SOP-KF-001", "SOP-KF-002", "SOP-YY-001"]
    assert found(org.other, status="draft") == [] and found(org.other, status="approved") == []


def test_filters_by_review_due(org, register_mix):
    today = services.local_today()
    soon, later = register_mix["effective"], register_mix["form"]
    soon.next_review_on = today + timedelta(days=services.REVIEW_DUE_DAYS - 1)
    register_mix["revised"].next_review_on = today - timedelta(days=2)  # overdue counts as due
    later.next_review_on = today + timedelta(days=services.REVIEW_DUE_DAYS + 5)
    db.session.flush()
    assert found(org.qm, review_due=True) == ["SOP-KF-001", "SOP-KF-002"]
    assert found(org.qm, "柜面", review_due=True, doc_type="instruction") == ["SOP-KF-001", "SOP-KF-002"]
    assert found(org.qm, "绿植", review_due=True) == []
    page = services.search_register(org.qm, services.DocumentFilters(review_due=True),
                                    today=today + timedelta(days=40))
    assert [d.code for d in page.items] == ["FM-KF-001", "SOP-KF-001", "SOP-KF-002"]


def test_the_register_page_applies_the_filters(org, register_mix, client_for):
    client = client_for(org.qm)

    def shown(**args) -> list[str]:
        return listed(assert_partial(client.get(LIST, query_string=args, headers=HX)))

    assert shown(q="柜面", type="form") == ["FM-KF-001"]
    assert shown(q="柜面", department=org.depts["YY"].id) == ["SOP-YY-001"]
    assert shown(process=org.procs["T-04"].id) == ["SOP-YY-001"]
    assert shown(status="obsolete") == ["SOP-KF-005"]
    assert shown(status="draft") == ["SOP-KF-003"]
    register_mix["form"].next_review_on = services.local_today() + timedelta(days=3)
    assert shown(review_due="1") == ["FM-KF-001"]
    # malformed values are ignored, not errors
    assert shown(q="柜面", type="bogus", department="x", process="-1", status="nonsense", page="abc") == [
        "FM-KF-001", "SOP-KF-001", "SOP-KF-002", "SOP-KF-003", "SOP-KF-004", "SOP-KF-005", "SOP-YY-001"]
    assert shown(department="99999999999999999999") == shown()


def test_more_than_a_page_of_matches_is_paginated(org, client_for):
    n = services.PAGE_SIZE + 5
    docs = [effective_document(org.author, org, title=f"服务规范第{i}号", body=COMPLAINT_ONLY, process=None)
            for i in range(n)]
    effective_document(org.author, org, title="网点环境管理规范", body=NEITHER, process=None)
    codes = sorted(d.code for d in docs)
    first = services.search_register(org.qm, services.DocumentFilters(q="投诉"))
    second = services.search_register(org.qm, services.DocumentFilters(q="投诉", page=2))
    assert (first.total, first.pages, first.page) == (n, 2, 1)
    assert [d.code for d in first.items] == codes[:services.PAGE_SIZE]
    assert (second.total, second.pages, second.page) == (n, 2, 2)
    assert [d.code for d in second.items] == codes[services.PAGE_SIZE:]
    beyond = services.search_register(org.qm, services.DocumentFilters(q="投诉", page=99))
    assert beyond.page == 2 and [d.code for d in beyond.items] == codes[services.PAGE_SIZE:]
    assert found(org.qm, "投诉", page=0) == codes[:services.PAGE_SIZE]

    client = client_for(org.employee)
    page_two = assert_partial(client.get(LIST, query_string={"q": "投诉", "page": 2}, headers=HX))
    assert listed(page_two) == codes[services.PAGE_SIZE:]
    links = {int(n): href for href, n in re.findall(r'<a class="page-link" href="([^"]+)"[^>]*>(\d+)</a>', page_two)}
    assert sorted(links) == [1, 2] and 'aria-current="page">2</a>' in page_two
    assert all("q=%E6%8A%95%E8%AF%89" in href for href in links.values())  # the query stays on every page
    assert listed(assert_full_page(client.get(LIST, query_string={"q": "投诉"}))) == codes[:services.PAGE_SIZE]


def test_a_search_runs_the_same_few_queries_whatever_it_finds(org, client_for):
    effective_document(org.author, org, title="网点环境管理规范", body=COMPLAINT_ONLY)
    db.session.expire_all()

    def queries(actor) -> int:
        services.search_register(actor, services.DocumentFilters(q="投诉"))  # warm: roles, departments
        with count_queries() as statements:
            page = services.search_register(actor, services.DocumentFilters(q="投诉"))
            shown = [(d.department.name, d.process, d.current_version, d.latest_version) for d in page.items]
            assert len(shown) == len(page.items)
        return len(statements)

    few = {"qm": queries(org.qm), "employee": queries(org.other)}
    for i in range(services.PAGE_SIZE + 5):
        effective_document(org.author, org, title=f"服务规范第{i}号", body=COMPLAINT_ONLY, process=None)
    db.session.expire_all()
    many = {"qm": queries(org.qm), "employee": queries(org.other)}
    assert few == many, (few, many)
    assert max(many.values()) <= 10


# == re-indexing ===========================================================================================
def _fts_rows(document_id: int) -> int | None:
    if db.session.get_bind().dialect.name != "sqlite":
        return None
    return db.session.scalar(sa.text(f"SELECT count(*) FROM {search.FTS_TABLE} WHERE rowid = :id"),
                             {"id": document_id})


def test_a_new_version_taking_effect_reindexes(org):
    document = effective_document(org.author, org, title="回执管理细则", body="本细则规定传真件的核对方法。")
    assert found(org.qm, "传真") == [document.code] and found(org.qm, "微信") == []

    v2 = next_version(org.author, document, "本细则规定微信回复的核对方法。")
    # while 1.1 is being prepared, the register searches what is in force: 1.0
    assert found(org.employee, "传真") == [document.code] and found(org.employee, "微信") == []

    make_effective(org.author, v2)
    assert v2.status == "effective"
    assert found(org.qm, "传真") == [] and found(org.other, "传真") == []
    assert found(org.qm, "微信") == [document.code] and found(org.other, "微信") == [document.code]
    assert found(org.qm, "核对 微信") == [document.code]
    tokens = db.session.get(DocumentSearch, document.id).tokens.split()
    assert "微信" in tokens and "传真" not in tokens and "回执" in tokens
    assert _fts_rows(document.id) in (None, 1)  # SQLite: the FTS row is replaced, not added to


def test_changing_the_register_entry_reindexes(org):
    document = effective_document(org.author, org, title="回执管理细则", body=NEITHER)
    services.update_document(org.author, document, services.DocumentFields(
        title="回单管理细则", doc_type=document.doc_type, department_id=document.department_id,
        process_id=document.process_id, tags="凭证"))
    assert found(org.qm, "回执") == []
    assert found(org.qm, "回单") == [document.code] and found(org.qm, "凭证") == [document.code]
    assert found(org.qm, "绿植") == [document.code]  # the effective text is still indexed
    assert _fts_rows(document.id) in (None, 1)


def test_a_department_head_does_not_find_other_departments_drafts(org):
    """Seeing history (superseded, obsolete) is not seeing every draft: a head of another department finds
    neither the draft's title nor its body."""
    draft = register(org.author, org, title="柜面服务规范", body=COMPLAINT_AND_REFUND)
    assert found(org.heads["YY"], "退款") == []
    assert found(org.heads["YY"], "柜面服务规范") == []
    assert found(org.heads["KF"], "退款") == [draft.code]
