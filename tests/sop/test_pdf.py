"""The PDF of an SOP version (portal/sop/pdf.py): Chinese text that extracts as Chinese (glyphs embedded),
header and footer on every page, the watermark, the copy mark, the signature page last, nothing fetched.

The text is read back twice, with pypdf and with poppler's ``pdftotext -raw`` (content-stream order, so the
rotated watermark's characters stay together), and compared without white space (line breaks fall where
the layout puts them). The assertions are on the data passed in and on strings built from it; the layout's
own words come from the catalog, so where they matter (the page footer) the expected text is built with the
same ``pgettext`` call as the template's.
"""
from __future__ import annotations

import io
import logging
import shutil
import socket
import subprocess

import pytest
from flask_babel import pgettext
from pypdf import PdfReader

from portal.sop import pdf as sop_pdf
from portal.sop.pdf import PAGE, PAGES, PdfDocument, PdfSignature, css_content, css_string, render_pdf

TITLE = "客户投诉处理程序"
APPROVER = "王经理"
REVIEWER = "李主管"
HOLDER = "张三"
APPROVER_SHA = "0b9e" * 16
REVIEWER_SHA = "a3f1" * 16
BODY_SENTENCE = "客服人员在接到投诉后应在两小时内登记并分级处理"


def _doc(**overrides) -> PdfDocument:
    paragraphs = "".join(f"<p>第{i}段：{BODY_SENTENCE}，必要时上报质量部门。</p>" for i in range(1, 31))
    values = dict(
        code="SOP-CS-001",
        title=TITLE,
        version_label="2.1",
        effective_text="2026年12月2日",
        department="客户服务部",
        process="客户投诉处理",
        doc_type="程序文件",
        change_summary="第4节增加回访要求。\n第6节修订时限。",
        body_html="<h2>1 目的</h2>" + paragraphs,
        attachment_note="附件：投诉登记表.pdf（PDF 原件另行下载）",
        watermark_text="",
        copy_mark=f"受控副本 第 3 份 · 持有人：{HOLDER}",
        signatures=[
            PdfSignature(signer_name=REVIEWER, meaning_label="审核", signed_at_text="2026-11-28 09:12",
                         comment="同意", content_sha256=REVIEWER_SHA),
            PdfSignature(signer_name=APPROVER, meaning_label="批准", signed_at_text="2026-11-30 16:40",
                         comment="批准发布", content_sha256=APPROVER_SHA),
        ],
        printed_at_text="2026-12-02 10:15",
        printed_by="赵六",
    )
    values.update(overrides)
    return PdfDocument(**values)


def _flat(text: str) -> str:
    return "".join(text.split())


def _pypdf_pages(data: bytes) -> list[str]:
    return [_flat(page.extract_text()) for page in PdfReader(io.BytesIO(data)).pages]


def _poppler_pages(data: bytes, tmp_path) -> list[str]:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing: `make system-deps` installs Debian's poppler-utils")
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    pages = len(PdfReader(io.BytesIO(data)).pages)
    out = []
    for number in range(1, pages + 1):
        result = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", "-f", str(number), "-l", str(number),
                                 str(path), "-"], capture_output=True, check=True, timeout=60)
        out.append(_flat(result.stdout.decode("utf-8")))
    return out


def _render(app, doc: PdfDocument) -> bytes:
    with app.app_context():
        return render_pdf(doc)


@pytest.fixture(scope="module")
def controlled(app) -> bytes:
    """A controlled copy with a 30-paragraph body and two signatures."""
    return _render(app, _doc())


@pytest.fixture(scope="module")
def superseded(app) -> bytes:
    return _render(app, _doc(watermark_text="已作废", copy_mark="非受控 仅供参考"))


@pytest.fixture(params=["pypdf", "pdftotext"])
def pages_of(request, tmp_path):
    """``pages_of(pdf_bytes)``: each page's text without white space, by pypdf or by pdftotext."""
    if request.param == "pypdf":
        return _pypdf_pages
    return lambda data: _poppler_pages(data, tmp_path)


def test_it_is_a_pdf(controlled):
    assert controlled.startswith(b"%PDF-")
    assert len(PdfReader(io.BytesIO(controlled)).pages) >= 3  # 30 paragraphs, then the signature page


def test_chinese_text_extracts_as_chinese(controlled, pages_of):
    pages = pages_of(controlled)
    first = pages[0]
    assert TITLE in first and "SOP-CS-001" in first
    assert "客户服务部" in first and "客户投诉处理" in first and "程序文件" in first
    assert "第4节增加回访要求。" in first and "附件：投诉登记表.pdf" in first
    assert BODY_SENTENCE in first
    everything = "".join(pages)
    assert APPROVER in everything and REVIEWER in everything
    assert "\ufffd" not in everything and "□" not in everything


def test_header_and_footer_on_every_page(app, controlled, pages_of):
    pages = pages_of(controlled)
    with app.app_context():
        version = _flat(pgettext("sop pdf", "Version %(version)s", version="2.1"))
        effective = _flat(pgettext("sop pdf", "Effective %(date)s", date="2026年12月2日"))
        printed = _flat(pgettext("sop pdf", "Printed by %(name)s, %(time)s", name="赵六", time="2026-12-02 10:15"))
        footers = [_flat(pgettext("sop pdf", "Page %(page)s of %(pages)s", page=n, pages=len(pages)))
                   for n in range(1, len(pages) + 1)]
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert f"SOP-CS-001{TITLE}" in text, number
        assert version in text and effective in text, number
        assert footers[number - 1] in text, (number, footers[number - 1])
        assert f"受控副本第3份·持有人：{HOLDER}" in text, number
        assert printed in text, number
    assert f"{len(pages)}" in footers[0] and footers[0] != footers[1]


def test_a_version_not_yet_effective_says_so(app, tmp_path):
    data = _render(app, _doc(effective_text="", body_html="<p>短文</p>"))
    with app.app_context():
        not_effective = _flat(pgettext("sop pdf", "Not yet effective"))
    for text in _pypdf_pages(data) + _poppler_pages(data, tmp_path):
        assert not_effective in text


def test_signature_page_is_last(controlled, pages_of):
    pages = pages_of(controlled)
    last = pages[-1]
    assert APPROVER in last and REVIEWER in last and "批准" in last and "审核" in last
    assert "2026-11-30" in last and "批准发布" in last
    assert APPROVER_SHA[:24] in last and REVIEWER_SHA[:24] in last
    assert BODY_SENTENCE not in last and "第30段" not in last
    for text in pages[:-1]:
        assert APPROVER_SHA[:24] not in text and REVIEWER_SHA[:24] not in text
    assert "第30段" in pages[-2]  # the body runs up to the page before


def test_a_document_without_signatures_still_ends_with_the_signature_page(app, tmp_path):
    data = _render(app, _doc(signatures=[], body_html=f"<p>{BODY_SENTENCE}</p>"))
    pages = _pypdf_pages(data)
    assert len(pages) == 2
    assert BODY_SENTENCE in pages[0] and BODY_SENTENCE not in pages[1]
    with app.app_context():
        assert _flat(pgettext("sop pdf", "No signatures recorded.")) in pages[1]


def test_superseded_watermark_on_every_page(superseded, controlled, pages_of):
    pages = pages_of(superseded)
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert "已作废" in text, number
        assert "非受控仅供参考" in text, number
    assert all("已作废" not in text for text in pages_of(controlled))


def test_glyphs_are_embedded(controlled):
    """Every font is embedded (TrueType or CFF), and a CJK font is among them: the Chinese text is drawn
    with real glyphs, not boxes from a font that lacks them."""
    fonts = {}
    for page in PdfReader(io.BytesIO(controlled)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant["/FontDescriptor"].get_object()
            fonts[str(font["/BaseFont"])] = any(key in descriptor for key in ("/FontFile2", "/FontFile3"))
    assert fonts and all(fonts.values()), fonts
    assert any("WenQuanYi" in name or "NotoSansCJK" in name for name in fonts), fonts


def test_nothing_is_fetched(app, monkeypatch, caplog, tmp_path):
    """Remote and local URLs in the body (images, stylesheets, @import, url()) are refused by the URL
    fetcher, no socket is opened, and the PDF is made all the same."""
    refused, connections = [], []
    real_refuse = sop_pdf._refuse

    def spy(url):
        refused.append(url)
        real_refuse(url)

    def no_network(*args, **kwargs):  # WeasyPrint catches a fetcher's exceptions: record them as well
        connections.append(args)
        raise OSError(f"network access while rendering: {args}")

    monkeypatch.setattr(sop_pdf, "_refuse", spy)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    body = (
        '<link rel="stylesheet" href="http://example.com/x.css">'
        '<style>@import url("https://example.com/y.css"); p { background: url("file:///etc/hostname"); }</style>'
        f"<p>{BODY_SENTENCE}</p>"
        '<img src="http://example.com/x.png" alt="远程图片">'
        '<img src="file:///etc/passwd">'
        '<img src="data:image/png;base64,iVBORw0KGgo=">'
        '<img src="local.png">'
    )
    caplog.set_level(logging.ERROR, logger="weasyprint")
    data = _render(app, _doc(body_html=body, signatures=[]))
    assert data.startswith(b"%PDF-")
    assert connections == []
    assert "http://example.com/x.png" in refused and "file:///etc/passwd" in refused
    assert "http://example.com/x.css" in refused
    assert "https://example.com/y.css" in refused
    assert "file:///etc/hostname" in refused
    assert all(url.startswith(("http:", "https:", "file:", "data:")) for url in refused), refused
    reader = PdfReader(io.BytesIO(data))
    assert all(not page.images for page in reader.pages)
    assert BODY_SENTENCE in _pypdf_pages(data)[0]


def test_css_strings_are_escaped():
    assert css_string('a"b') == '"a\\22 b"'
    assert css_string("a\\b") == '"a\\5c b"'
    assert css_string("x</style>y") == '"x\\3c /style\\3e y"'
    assert css_string("一\n\n二\t三") == '"一 二 三"'
    assert css_string("第 1 份") == '"第 1 份"'
    assert str(css_content(f"第 {PAGE} 页 / 共 {PAGES} 页")) == '"第 " counter(page) " 页 / 共 " counter(pages) " 页"'
    assert str(css_content("")) == '""'


def test_awkward_data_reaches_the_header_and_the_page_as_written(app, tmp_path):
    """Quotes, backslashes, a closing style tag and markup in the data stay text, in the CSS strings of the
    header and footer and in the HTML."""
    title = '投诉 "A\\B" </style><b>粗</b> & 其他'
    holder = "受控副本 第 12 份 · 持有人：O'Brien \"老王\""
    data = _render(app, _doc(title=title, copy_mark=holder, body_html="<p>短文</p>", signatures=[]))
    for pages in (_pypdf_pages(data), _poppler_pages(data, tmp_path)):
        assert len(pages) == 2
        assert pages[0].count(_flat(title)) == 2  # the header and the heading
        assert _flat(title) in pages[1] and _flat(holder) in pages[1]
