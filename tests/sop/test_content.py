"""portal.sop.content: sanitized HTML from Markdown and Word, uploads typed by content with zip bounds,
random-name storage, the side-by-side diff and the signed content hash.

The messages go through gettext: the autouse ``_isolated_db`` fixture (tests/conftest.py) runs every test
inside the app's context, and messages are compared as the portal shows them (``msg``), so the tests pass
once the catalog translates them.
"""
from __future__ import annotations

import hashlib
import io
import os
import stat
import time
import tracemalloc
import zipfile
from html.parser import HTMLParser

import pytest

from portal.core.errors import ServiceError
from portal.sop import content
from portal.sop.docx_builder import docx_parts, member
from tests.docx_files import docx, docx_bomb
from tests.helpers import msg

MB = 1024 * 1024
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" \
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF_BYTES = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(200)
PE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(52) + b"\x80\x00\x00\x00" + bytes(64) + b"PE\x00\x00" + bytes(200)
OLE2_BYTES = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)

EMPTY = "The file is empty."
TOO_LARGE = "The file is %(size)s MB; at most %(limit)s MB is allowed."
NOT_ACCEPTED = "This type of file is not accepted: upload a PDF, a Word .docx or an Excel .xlsx file."
LEGACY = ("Old Word .doc and Excel .xls files, and password-protected files, are not accepted: save the file as "
          ".docx or .xlsx without a password and upload it again.")
DAMAGED_ZIP = "The file is damaged: it cannot be opened as a Word or Excel file."
TOO_MANY_PARTS = "The file is made of too many parts: at most %(count)d are allowed."
UNPACKS_TOO_MUCH = "The file unpacks to too much data: at most %(total)d MB in all and %(part)d MB for any one part."
TOO_COMPRESSED = ("The file unpacks to too much data: its text is compressed more than %(ratio)d times, which no "
                  "real document is.")
UNREADABLE_DOCX = "The Word file cannot be read: it is damaged or not a .docx document."


# -- helpers --------------------------------------------------------------------------------------
class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def elements(markup: str) -> list[tuple[str, dict]]:
    """(tag, attributes) of every element in ``markup``, as a browser's parser sees them."""
    parser = _Elements()
    parser.feed(markup)
    parser.close()
    return parser.found


def assert_safe(markup: str) -> None:
    for tag, attrs in elements(markup):
        assert tag in content.ALLOWED_TAGS and tag not in {"script", "iframe", "img", "style"}, markup
        assert not [name for name in attrs if name.startswith("on")], markup
        href = attrs.get("href")
        if href is not None:
            scheme = href.split(":", 1)[0].lower() if ":" in href else None
            assert scheme in (None, "http", "https", "mailto"), markup


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def refusal(filename: str, data: bytes, max_bytes: int = 20 * MB) -> str:
    with pytest.raises(ServiceError) as caught:
        content.validate_upload(filename, data, max_bytes)
    [(field, message)] = caught.value.errors
    assert field == "file"
    return message


def xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["岗位", "职责"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# -- Markdown -------------------------------------------------------------------------------------
XSS_MARKDOWN = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<iframe src="https://evil.example/"></iframe>',
    "[点我](javascript:alert(1))",
    "[点我](JaVaScRiPt:alert(1))",
    "<javascript:alert(1)>",
    "[点我][1]\n\n[1]: javascript:alert(1)",
    "[点我](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '[点我](https://ok.example "x\\" onmouseover=\\"alert(1)")',
    '![图](https://evil.example/x.png" onerror="alert(1))',
    "| a |\n|---|\n| <script>alert(1)</script> |",
]


@pytest.mark.parametrize("source", XSS_MARKDOWN)
def test_markdown_never_yields_script_handlers_frames_or_script_links(source):
    rendered = content.render_markdown(source)
    assert_safe(rendered)
    assert "<script" not in rendered and "<iframe" not in rendered and "<img" not in rendered


def test_markdown_html_is_shown_as_text():
    rendered = content.render_markdown("见 <script>alert(1)</script> 与 <b onclick=x>粗</b>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "&lt;b onclick=x&gt;" in rendered


def test_sanitizer_strips_raw_html_that_markdown_would_never_emit():
    cleaned = content.clean_html(
        '<p onclick="steal()">文</p><script>alert(1)</script><iframe src="https://evil.example/"></iframe>'
        '<img src=x onerror=alert(1)><a href="JaVaScRiPt:alert(1)">j</a><a href=" java\tscript:alert(1)">k</a>'
        '<a href="vbscript:x">v</a><a href="https://ok.example/">ok</a><div style="position:fixed">d</div>')
    assert_safe(cleaned)
    assert "alert" not in cleaned and "steal" not in cleaned and "style" not in cleaned
    assert '<a href="https://ok.example/" rel="noopener noreferrer">ok</a>' in cleaned
    assert "<p>文</p>" in cleaned


def test_allowed_links_keep_their_target_and_get_rel():
    rendered = content.render_markdown("[规范](https://std.example/iso9001 \"ISO\") <mailto:qa@example.com> "
                                       "[本站](/sop/12)")
    links = [attrs for tag, attrs in elements(rendered) if tag == "a"]
    assert [a["href"] for a in links] == ["https://std.example/iso9001", "mailto:qa@example.com", "/sop/12"]
    assert all(a["rel"] == "noopener noreferrer" for a in links)
    assert links[0]["title"] == "ISO"


def test_other_link_schemes_lose_their_target():
    # nh3 allows these by default (tel, ftp, ssh, …): the portal's list is http, https and mailto only.
    rendered = content.render_markdown("[拨打](tel:10086) [下载](ftp://files.example/a.pdf) [登录](ssh://host)")
    links = [attrs for tag, attrs in elements(rendered) if tag == "a"]
    assert len(links) == 3 and not [a for a in links if "href" in a]
    assert "拨打" in rendered


def test_markdown_images_are_dropped():
    rendered = content.render_markdown("前 ![流程图](https://intranet.example/flow.png) 后")
    assert "<img" not in rendered and "flow.png" not in rendered
    assert "前" in rendered and "后" in rendered


def test_chinese_markdown_renders_headings_lists_and_tables():
    source = ("# 客户投诉处理程序\n\n## 1 目的\n\n规范投诉的**受理**与*处理*。\n\n"
              "| 岗位 | 职责 |\n|:---|---:|\n| 前台 | 登记投诉 |\n| 值班经理 | 24 小时内答复 |\n\n"
              "3. 受理\n4. 答复\n")
    rendered = content.render_markdown(source)
    tags = [tag for tag, _ in elements(rendered)]
    assert tags[:2] == ["h1", "h2"]
    assert "<h1>客户投诉处理程序</h1>" in rendered and "<h2>1 目的</h2>" in rendered
    assert "<strong>受理</strong>" in rendered and "<em>处理</em>" in rendered
    assert {"table", "thead", "tbody", "tr", "th", "td"} <= set(tags)
    assert "<th>岗位</th>" in rendered and "<td>24 小时内答复</td>" in rendered
    assert '<ol start="3">' in rendered
    assert_safe(rendered)


def test_markdown_text_keeps_the_words_line_by_line():
    source = ("# 客户投诉处理程序\n\n前台接待**投诉人**，\n登记 [投诉单](https://forms.example/1)。\n\n"
              "| 岗位 | 职责 |\n|---|---|\n| 前台 | `登记` |\n\n- 受理\n  - 分派\n\n```\n步骤一\n  步骤二\n```\n")
    assert content.markdown_text(source).split("\n") == [
        "客户投诉处理程序", "前台接待投诉人，", "登记 投诉单。", "岗位 | 职责", "前台 | 登记", "受理", "分派",
        "步骤一", "  步骤二",
    ]


# -- Word -----------------------------------------------------------------------------------------
def test_docx_html_escapes_text_and_drops_script_links():
    data = docx(["第一条 <script>alert(1)</script>", '<img src=x onerror="alert(1)"> <iframe src="x">'],
                links=[("点我", "javascript:alert(1)"), ("标准", "https://std.example/iso9001")],
                heading="客户投诉处理程序")
    rendered = content.docx_to_html(data)
    assert_safe(rendered)
    assert "<h1>客户投诉处理程序</h1>" in rendered
    assert "<p>第一条 &lt;script&gt;alert(1)&lt;/script&gt;</p>" in rendered
    assert "&lt;iframe" in rendered and "<iframe" not in rendered and "<img" not in rendered
    assert "javascript" not in rendered
    links = [attrs for tag, attrs in elements(rendered) if tag == "a"]
    assert [a.get("href") for a in links] == [None, "https://std.example/iso9001"]


def test_docx_text_is_one_paragraph_a_line():
    data = docx(["前台登记投诉。", "值班经理答复。"], links=[("投诉单", "https://forms.example/1")], heading="目的")
    assert content.docx_text(data) == "目的\n前台登记投诉。\n值班经理答复。\n投诉单"


def test_unreadable_docx_is_a_clear_error():
    parts = docx_parts(["正文"])
    broken = dict(parts, **{"word/document.xml": "<w:document>不是 XML"})
    # Nesting deeper than mammoth's recursive conversion can follow.
    nested = dict(parts, **{"word/document.xml": parts["word/document.xml"].replace(
        "<w:body>", "<w:body>" + "<w:p>" * 5000 + "</w:p>" * 5000)})
    for members in (broken, nested):
        data = zip_of({name: xml.encode() for name, xml in members.items()})
        for convert in (content.docx_to_html, content.docx_text):
            with pytest.raises(ServiceError) as caught:
                convert(data)
            assert caught.value.errors == [("file", msg(UNREADABLE_DOCX))]


def test_docx_conversion_checks_the_zip_first():
    bomb = docx_bomb()
    for convert in (content.docx_to_html, content.docx_text):
        started = time.perf_counter()
        with pytest.raises(ServiceError) as caught:
            convert(bomb)
        assert caught.value.errors == [("file", msg(UNPACKS_TOO_MUCH, total=100, part=50))]
        assert time.perf_counter() - started < 1


# -- uploads --------------------------------------------------------------------------------------
def test_pdf_docx_and_xlsx_are_accepted_by_content():
    data = docx(["正文"])
    cases = [("程序文件.pdf", PDF_BYTES, "pdf", "application/pdf"),
             ("作业指导书.docx", data, "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
             ("职责表.xlsx", xlsx_bytes(), "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]
    for filename, payload, kind, mime in cases:
        info = content.validate_upload(filename, payload, 20 * MB)
        assert (info.kind, info.mime_type, info.display_name) == (kind, mime, filename)
        assert info.size == len(payload)
        assert info.sha256 == hashlib.sha256(payload).hexdigest()


def test_the_name_follows_the_content():
    assert content.validate_upload("程序文件.docx", PDF_BYTES, MB).display_name == "程序文件.pdf"
    assert content.validate_upload("职责表.pdf", xlsx_bytes(), MB).display_name == "职责表.xlsx"
    assert content.validate_upload("程序 7.5", docx(["正文"]), MB).display_name == "程序 7.5.docx"


@pytest.mark.parametrize("filename, expected", [
    ("C:\\Users\\王芳\\Desktop\\服务规范.docx", "服务规范.pdf"),
    ("../../etc/passwd", "passwd.pdf"),
    ("报告\u202efdp.exe", "报告fdp.pdf"),  # a right-to-left override would show "报告exe.pdf"
    ("a\x00b\nc\t.pdf", "abc.pdf"),
    ("", None),
    (".pdf", None),
])
def test_display_name_is_a_clean_base_name(filename, expected):
    expected = expected or msg("document") + ".pdf"
    assert content.validate_upload(filename, PDF_BYTES, MB).display_name == expected


def test_display_name_fits_the_column():
    name = content.validate_upload("长" * 300 + ".pdf", PDF_BYTES, MB).display_name
    assert len(name) == content.MAX_DISPLAY_NAME and name.endswith("长.pdf")


@pytest.mark.parametrize("payload", [ELF_BYTES, PE_BYTES, PE_BYTES + docx(["正文"]), b"plain text, not a PDF"],
                         ids=["elf", "pe", "pe-with-appended-docx", "text"])
def test_executables_and_others_renamed_pdf_are_refused(payload):
    assert refusal("程序文件.pdf", payload) == msg(NOT_ACCEPTED)


def test_a_zip_that_is_not_word_or_excel_is_refused():
    for members in ({"readme.txt": b"hello"}, {"[Content_Types].xml": b"<Types/>", "ppt/presentation.xml": b"<p/>"},
                    {"word/document.xml": b"<w:document/>"}):
        assert refusal("文件.docx", zip_of(members)) == msg(NOT_ACCEPTED)


def test_legacy_office_files_are_refused_with_the_way_out():
    assert refusal("程序文件.doc", OLE2_BYTES) == msg(LEGACY)


def test_empty_and_too_large_files_are_refused():
    assert refusal("空.pdf", b"") == msg(EMPTY)
    message = refusal("大.pdf", PDF_BYTES + bytes(21 * MB - len(PDF_BYTES)), max_bytes=20 * MB)
    assert message == msg(TOO_LARGE, size="21", limit="20") and "20" in message
    # Just over the limit never reads as "20 MB; at most 20 MB".
    assert refusal("大.pdf", PDF_BYTES + bytes(20 * MB), max_bytes=20 * MB) == msg(TOO_LARGE, size="20.1", limit="20")
    assert content.validate_upload("刚好.pdf", PDF_BYTES + bytes(20 * MB - len(PDF_BYTES)), 20 * MB).kind == "pdf"


def test_damaged_zip_is_refused():
    data = docx(["正文"])
    assert refusal("坏.docx", data[: len(data) // 2]) == msg(DAMAGED_ZIP)


def test_docx_bomb_is_refused_fast_without_inflating():
    bomb = docx_bomb()
    assert len(bomb) < 10 * MB
    assert zipfile.ZipFile(io.BytesIO(bomb)).getinfo("word/document.xml").file_size >= 1024 * MB
    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = refusal("炸弹.docx", bomb)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == msg(UNPACKS_TOO_MUCH, total=100, part=50)
    assert elapsed < 1
    assert peak < 50 * MB


def test_highly_compressed_document_is_refused_below_the_size_limits():
    # 2 MB of spaces packs to ~9 KB: within 100 MB / 50 MB, but over 200:1.
    bomb = docx_bomb(2 * MB)
    info = zipfile.ZipFile(io.BytesIO(bomb)).getinfo("word/document.xml")
    assert info.file_size > content.MAX_DOCUMENT_RATIO * info.compress_size
    assert refusal("压缩.docx", bomb) == msg(TOO_COMPRESSED, ratio=200)
    # The same document of real text passes.
    assert content.validate_upload("正文.docx", docx([f"第{i}条 前台登记投诉，值班经理答复。" for i in range(20000)]),
                                   20 * MB).kind == "docx"


def test_zip_with_too_many_members_is_refused_before_it_is_opened():
    parts = {name: xml.encode() for name, xml in docx_parts(["正文"]).items()}
    many = zip_of(parts | {f"word/media/{n}.xml": b"" for n in range(content.MAX_ZIP_MEMBERS)})
    assert refusal("多.docx", many) == msg(TOO_MANY_PARTS, count=1000)


def test_one_oversized_member_is_refused():
    parts = {name: xml.encode() for name, xml in docx_parts(["正文"]).items()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in parts.items():
            archive.writestr(member(name), data)
        # Stored, not deflated: a part really 51 MB long in the file, not a compression case.
        archive.writestr("word/media/video.bin", bytes(51 * MB), compress_type=zipfile.ZIP_STORED)
    assert refusal("大.docx", buffer.getvalue(), max_bytes=100 * MB) == msg(UNPACKS_TOO_MUCH, total=100, part=50)


# -- storage --------------------------------------------------------------------------------------
def test_store_and_read_back(tmp_path):
    directory = str(tmp_path / "sop_files")
    first = content.store_file(b"%PDF-1.4 first", directory)
    second = content.store_file(b"second", directory)
    assert first != second and content.STORED_NAME.fullmatch(first)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert sorted(os.listdir(directory)) == sorted([first, second])  # no temporary file left over
    assert content.read_file(directory, first) == b"%PDF-1.4 first"
    assert content.file_path(directory, second) == os.path.join(directory, second)


@pytest.mark.parametrize("name", ["../passwd", "/etc/passwd", "a" * 31, "A" * 32, "a" * 32 + "/..", "g" * 32,
                                  "", "0123456789abcdef0123456789abcdef\n"])
def test_stored_names_only(tmp_path, name):
    with pytest.raises(ValueError):
        content.read_file(str(tmp_path), name)
    with pytest.raises(ValueError):
        content.file_path(str(tmp_path), name)


# -- diff -----------------------------------------------------------------------------------------
def test_identical_texts_have_no_rows():
    assert content.side_by_side("第一条\n第二条", "第一条\n第二条\n") == []


def test_changed_chinese_characters_are_marked():
    [row] = content.side_by_side("第一条 客户投诉由前台处理。", "第一条 客户投诉由值班经理处理。")
    assert (row.kind, row.left_no, row.right_no) == ("replace", 1, 1)
    assert row.left_segments == [("第一条 客户投诉由", False), ("前台", True), ("处理。", False)]
    assert row.right_segments == [("第一条 客户投诉由", False), ("值班经理", True), ("处理。", False)]


def test_insertions_deletions_and_uneven_replacements_are_numbered():
    rows = content.side_by_side("甲\n乙\n丙\n丁", "甲\n丙\n戊\n己\n庚")
    assert [(r.kind, r.left_no, r.left_text, r.right_no, r.right_text) for r in rows] == [
        ("equal", 1, "甲", 1, "甲"),
        ("delete", 2, "乙", None, ""),
        ("equal", 3, "丙", 2, "丙"),
        ("replace", 4, "丁", 3, "戊"),
        ("insert", None, "", 4, "己"),
        ("insert", None, "", 5, "庚"),
    ]


def test_long_unchanged_runs_collapse_around_three_lines_of_context():
    old = [f"第{i}条" for i in range(1, 21)]
    new = old[:10] + ["第11条（修订）"] + old[11:]
    rows = content.side_by_side("\n".join(old), "\n".join(new))
    assert [(r.kind, r.left_no, r.skipped) for r in rows] == [
        ("skip", 1, 7), ("equal", 8, 0), ("equal", 9, 0), ("equal", 10, 0),
        ("replace", 11, 0),
        ("equal", 12, 0), ("equal", 13, 0), ("equal", 14, 0), ("skip", 15, 6),
    ]
    assert rows[4].right_segments == [("第11条", False), ("（修订）", True)]


def test_short_runs_between_changes_stay_whole():
    old = "一\n二\n三\n四\n五\n六\n七\n八"
    new = "一改\n二\n三\n四\n五\n六\n七\n八改"
    assert [r.kind for r in content.side_by_side(old, new)] == ["replace"] + ["equal"] * 6 + ["replace"]


# -- signing --------------------------------------------------------------------------------------
def test_content_sha256_covers_body_and_every_byte_of_the_file():
    body, data = "# 客户投诉处理程序", docx(["正文"])
    signed = content.content_sha256(body, data)
    encoded = body.encode("utf-8")
    assert signed == hashlib.sha256(len(encoded).to_bytes(8, "big") + encoded + b"\x1f" + data).hexdigest()
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0x01
    assert content.content_sha256(body, bytes(changed)) != signed
    assert content.content_sha256(body + " ", data) != signed
    assert content.content_sha256(body, None) == content.content_sha256(body, b"")
    assert content.content_sha256(body, None) != signed
    # the split between text and file is part of what is signed
    assert content.content_sha256("a\x1fb", None) != content.content_sha256("a", b"b\x1f")
