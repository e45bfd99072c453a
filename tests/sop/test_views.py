"""The document pages over HTTP, plain and with HX-Request: who sees what, signing with a password, uploads
checked by content, files and PDFs served only to readers."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from portal.esign.models import Signature
from portal.extensions import db
from portal.sop.models import EFFECTIVE, IN_APPROVAL, SUPERSEDED, DocumentVersion
from tests.helpers import (assert_page, count, field_has_error, msg, plain, reloaded, text)
from tests.documents import awaiting_approval, BODY, effective_document, make_effective, next_version, register
from portal.sop import services

pytestmark = pytest.mark.usefixtures("app")


def _url(document, version=None, suffix=""):
    base = f"/quality/documents/{document.id}"
    return (f"{base}/versions/{version.id}" if version is not None else base) + suffix


@pytest.fixture
def history(org):
    """A document with a superseded v1.0 and an effective v1.1."""
    document = effective_document(org.author, org)
    old = document.current_version
    new = make_effective(org.author, next_version(org.author, reloaded(document), BODY + "\n4. 办结后七日内回访。\n"))
    db.session.commit()
    return reloaded(document), reloaded(old), new


@pytest.mark.parametrize("hx", [False, True])
def test_register_list_and_document_pages_plain_and_htmx(org, history, client_for, hx):
    document, old, new = history
    client = client_for(org.qm)
    headers = {"HX-Request": "true"} if hx else {}
    body = assert_page(client.get("/quality/documents/", headers=headers), hx)
    assert document.code in body
    body = assert_page(client.get(_url(document), headers=headers), hx)
    assert 'data-status="effective"' in body and "办结后七日内回访" in body
    body = assert_page(client.get(_url(document, old), headers=headers), hx)
    assert "watermark-void" in body
    body = assert_page(client.get(_url(document, suffix="/diff"), headers=headers), hx)
    assert "<ins>" in body or "diff-insert" in body
    for path in ("/quality/documents/approvals", "/quality/documents/recalls", "/quality/documents/new",
                 _url(document, suffix="/edit")):
        assert_page(client.get(path, headers=headers), hx)


def test_an_employee_sees_only_the_effective_version(org, history, client_for):
    document, old, new = history
    client = client_for(org.employee)
    body = text(client.get(_url(document)))
    assert "办结后七日内回访" in body and f"v{new.label}" in body
    assert _url(document, old) not in body  # the versions list does not offer it
    assert client.get(_url(document, old)).status_code == 404
    assert client.get(_url(document, old, "/pdf")).status_code == 404
    draft = next_version(org.author, reloaded(document), BODY + "\n草稿内容\n")
    db.session.commit()
    assert client.get(_url(document, draft)).status_code == 404
    assert "草稿内容" not in text(client.get(_url(document)))


def test_a_head_of_another_department_cannot_approve_over_http(org, client_for):
    document, version = awaiting_approval(org.author, org)
    db.session.commit()
    for user in (org.heads["YY"], org.employee, org.author):
        response = client_for(user).post(_url(document, version, "/approve"),
                                         data={"password": "Passw0rd-test", "content_sha256": version.content_sha256})
        assert response.status_code in (403, 404)
    assert reloaded(version).status == IN_APPROVAL
    assert count(Signature, Signature.meaning == "approve") == 0


def test_the_approver_signs_over_http_a_wrong_password_first(org, client_for):
    document, version = awaiting_approval(org.author, org)
    db.session.commit()
    client = client_for(org.heads["KF"])
    page = text(client.get(_url(document, version)))
    assert 'id="approve-form"' in page
    url = _url(document, version, "/approve")
    wrong = client.post(url, data={"password": "nope", "content_sha256": version.content_sha256})
    assert wrong.status_code == 422
    assert msg("The password is wrong: the signature was not applied.") in text(wrong)
    assert count(Signature, Signature.meaning == "approve") == 0
    ok = client.post(url, data={"password": "Passw0rd-test", "content_sha256": version.content_sha256,
                                "retraining": "required"})
    assert ok.status_code in (302, 303)
    assert reloaded(version).status == EFFECTIVE
    page = text(client.get(_url(document, version)))
    assert org.heads["KF"].display_name in plain(page.split('id="signature-manifest"')[1])


def test_a_double_posted_approval_signs_once(org, client_for):
    document, version = awaiting_approval(org.author, org)
    db.session.commit()
    client = client_for(org.heads["KF"])
    data = {"password": "Passw0rd-test", "content_sha256": version.content_sha256, "retraining": "required"}
    first = client.post(_url(document, version, "/approve"), data=data)
    second = client.post(_url(document, version, "/approve"), data=data)
    assert first.status_code in (302, 303) and second.status_code in (403, 404)
    assert count(Signature, Signature.meaning == "approve", Signature.object_id == str(version.id)) == 1


def _upload(client, document, version, filename, data, hx=False):
    return client.post(_url(document, version, "/edit"), content_type="multipart/form-data",
                       headers={"HX-Request": "true"} if hx else {},
                       data={"change_summary": "附件", "body": "", "file": (io.BytesIO(data), filename)})


@pytest.mark.parametrize("hx", [False, True])
def test_an_executable_renamed_to_pdf_is_refused(org, client_for, hx):
    document = register(org.author, org)
    db.session.commit()
    response = _upload(client_for(org.author), document, document.latest_version, "流程.pdf",
                       b"MZ\x90\x00" + b"\x00" * 2000, hx=hx)
    assert response.status_code == 422
    assert msg("This type of file is not accepted: upload a PDF, a Word .docx or an Excel .xlsx file.") in text(response)
    assert reloaded(document.latest_version).file_id is None


def test_a_21_mb_file_is_refused_with_the_limit(org, client_for):
    document = register(org.author, org)
    db.session.commit()
    response = _upload(client_for(org.author), document, document.latest_version, "大文件.pdf",
                       b"%PDF-1.4\n" + b"0" * (21 * 1024 * 1024))
    assert response.status_code == 422
    assert "20 MB" in plain(text(response))
    assert reloaded(document.latest_version).file_id is None


def test_a_docx_is_shown_as_html_indexed_and_served_to_readers_only(org, client_for):
    from tests.docx_files import docx

    document = register(org.author, org, body="")
    version = document.latest_version
    db.session.commit()
    data = docx(["受理客户退款申请。", "<script>alert(1)</script>"], heading="退款规范")
    response = _upload(client_for(org.author), document, version, "退款规范.docx", data)
    assert response.status_code in (302, 303), text(response)[:500]
    version = reloaded(version)
    assert version.file.kind == "docx" and "受理客户退款申请" in version.text
    make_effective(org.author, version)
    db.session.commit()
    page = text(client_for(org.employee).get(_url(document)))
    assert "受理客户退款申请" in page and "<script>alert" not in page
    download = client_for(org.employee).get(_url(document, version, "/file"))
    assert download.status_code == 200 and download.data == data
    assert "attachment" in download.headers["Content-Disposition"]
    restricted = register(org.author, org, title="内部投诉复盘", confidentiality="restricted")
    make_effective(org.author, restricted.latest_version)
    db.session.commit()
    assert client_for(org.other).get(_url(restricted)).status_code == 200  # 运营部 is R for T-03
    outsider = org.heads["ZH"]  # 综合办公室 is I: still in the process's row
    assert client_for(outsider).get(_url(restricted)).status_code == 200


def test_a_restricted_document_is_hidden_outside_the_process(org, client_for, make_user, make_department):
    stranger = make_user("stranger", department=make_department("安保部", code="AB"))
    restricted = register(org.author, org, title="内部投诉复盘", confidentiality="restricted")
    make_effective(org.author, restricted.latest_version)
    db.session.commit()
    client = client_for(stranger)
    assert client.get(_url(restricted)).status_code == 404
    assert restricted.code not in text(client.get("/quality/documents/"))


def test_pdf_over_http_has_the_title_the_approver_and_the_copy_number(org, history, client_for):
    from pypdf import PdfReader

    document, old, new = history
    head = org.heads["KF"]
    client = client_for(head)
    response = client.post(_url(document, new, "/copies"), data={"holder_place": "一号窗口", "request_key": "k1"})
    assert response.status_code in (302, 303)
    copy = services.copies_of(reloaded(document))[0]
    pdf = client.get(f"/quality/documents/{document.id}/copies/{copy.id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.data))
    all_text = "".join(page.extract_text() for page in reader.pages).replace(" ", "").replace("\n", "")
    assert document.title in all_text and head.display_name in all_text and "一号窗口" in all_text
    assert f"第{copy.number}份" in all_text
    plain_pdf = client_for(org.employee).get(_url(document, new, "/pdf"))
    reader = PdfReader(io.BytesIO(plain_pdf.data))
    assert "非受控" in reader.pages[0].extract_text().replace(" ", "")
    assert client_for(org.employee).get(f"/quality/documents/{document.id}/copies/{copy.id}/pdf").status_code == 404


def test_a_double_clicked_copy_is_issued_once(org, history, client_for):
    document, old, new = history
    client = client_for(org.heads["KF"])
    for _ in range(2):
        client.post(_url(document, new, "/copies"), data={"holder_place": "大堂", "request_key": "same-key"})
    assert len(services.copies_of(reloaded(document))) == 1


def test_bulk_approval_page(org, client_for):
    versions = []
    for n in range(2):
        versions.append(awaiting_approval(org.author, org, title=f"规范{n}")[1])
    db.session.commit()
    client = client_for(org.heads["KF"])
    page = text(client.get("/quality/documents/approvals"))
    assert all(f'value="{v.id}"' in page for v in versions)
    response = client.post("/quality/documents/approvals", data={
        "versions": [str(v.id) for v in versions], "password": "Passw0rd-test", "retraining": "required"})
    assert response.status_code in (302, 303)
    assert all(reloaded(v).status == EFFECTIVE for v in versions)
    assert count(Signature, Signature.meaning == "approve") == 2


def test_review_and_return_over_http(org, client_for):
    document = register(org.author, org)
    version = document.latest_version
    db.session.commit()
    author = client_for(org.author)
    assert author.post(_url(document, version, "/submit")).status_code in (302, 303)
    reviewer = client_for(org.heads["ZL"])
    empty = reviewer.post(_url(document, version, "/return"), data={"comment": ""})
    assert empty.status_code == 422 and field_has_error(text(empty), "comment")
    back = reviewer.post(_url(document, version, "/return"), data={"comment": "请补充时限"})
    assert back.status_code in (302, 303) and reloaded(version).status == "draft"
    assert "请补充时限" in text(author.get(_url(document, version)))
    assert author.post(_url(document, version, "/submit")).status_code in (302, 303)
    signed = reviewer.post(_url(document, version, "/review"),
                           data={"password": "Passw0rd-test", "content_sha256": reloaded(version).content_sha256})
    assert signed.status_code in (302, 303) and reloaded(version).status == IN_APPROVAL


def test_search_box_finds_a_word_in_the_body(org, history, client_for):
    document, _old, _new = history
    client = client_for(org.employee)
    for hx in (False, True):
        body = assert_page(client.get("/quality/documents/?q=回访", headers={"HX-Request": "true"} if hx else {}), hx)
        assert document.code in body
    assert document.code not in text(client.get("/quality/documents/?q=保险箱"))


def test_superseded_versions_are_in_the_database_not_deleted(history):
    document, old, new = history
    assert db.session.scalar(sa.select(DocumentVersion.status).where(DocumentVersion.id == old.id)) == SUPERSEDED


def test_a_host_without_the_pdf_libraries_says_so(org, history, client_for, monkeypatch):
    import builtins

    document, _old, new = history
    real_import = builtins.__import__

    def no_pango(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pango)
    client = client_for(org.employee)
    response = client.get(_url(document, new, "/pdf"))
    assert response.status_code in (302, 303)
    monkeypatch.setattr(builtins, "__import__", real_import)
    page = text(client.get(response.headers["Location"]))
    assert msg("The PDF cannot be made: this server lacks the PDF libraries (Pango and a Chinese font). "
               "Tell the administrator.") in page


def test_an_external_document_is_registered_not_approved(org, client_for):
    document = register(org.author, org, title="中华人民共和国个人信息保护法", doc_type="external", issuer="全国人大常委会",
                        edition="2021", process=None)
    version = document.latest_version
    db.session.commit()
    client = client_for(org.author)
    assert 'id="edition-form"' in text(client.get(_url(document, version)))
    bad = client.post(_url(document, version, "/register-edition"), data={"effective_on": "2026-13-40"})
    assert bad.status_code == 422 and reloaded(version).status == "draft"
    ok = client.post(_url(document, version, "/register-edition"), data={"effective_on": ""})
    assert ok.status_code in (302, 303) and reloaded(version).status == EFFECTIVE
    assert count(Signature, Signature.object_id == str(version.id)) == 0  # registered, not signed
