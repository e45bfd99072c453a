"""Posters, desk plates and the QR code of a service point (portal/feedback/posters.py, points_views.py).

What a customer meets is checked the way a customer would meet it: each PDF page is rasterised with
poppler's ``pdftoppm`` and its QR code read back with zbar's ``zbarimg`` (Debian's zbar-tools, installed by
``make system-deps``); the address it holds is then opened, and must be the point's kiosk form. The SVG
download is drawn by WeasyPrint as an image file, rasterised and read back the same way. The text is read
with ``pdftotext`` and pypdf (Chinese text that extracts as Chinese: the glyphs are embedded).
"""
from __future__ import annotations

import io
import re
import shutil
import socket
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from pypdf import PdfReader

from portal.core import pdf as core_pdf
from portal.core.roles import ADMIN, DEPT_HEAD, QUALITY_MANAGER
from portal.extensions import db
from portal.feedback import posters
from tests.feedback.helpers import kiosk_path, make_point, make_staff_code
from tests.helpers import HX, create_department, create_user, flashes, text

CALL_TO_ACTION = ("扫码评价", "您的意见让服务更好", "无需登录，30秒完成")
#: Width and height in millimetres of each size's pages: the plate is A4 landscape, folded across the middle.
PAGE_SIZES = {"a4": (210, 297), "a5": (148, 210), "plate": (297, 210)}
ZBAR_NS = {"z": "http://zbar.sourceforge.net/2008/barcode"}


@dataclass
class Org:
    department: object
    other_department: object
    head: object
    other_head: object
    clerk: object
    employee: object
    quality: object
    admin: object
    point: object
    staff_code: object


@pytest.fixture
def org() -> Org:
    head = create_user("head_kf", roles=(DEPT_HEAD,), display_name="王主任")
    department = create_department("客户服务部", head=head)
    other_head = create_user("head_yw", roles=(DEPT_HEAD,))
    other_department = create_department("运维部", head=other_head)
    clerk = create_user("clerk", department=department, display_name="张三")
    point = make_point("KF01", department, name="个人业务一号窗口")
    return Org(department=department, other_department=other_department, head=head, other_head=other_head,
               clerk=clerk, employee=create_user("employee", department=department),
               quality=create_user("quality", roles=(QUALITY_MANAGER,)), admin=create_user("admin", roles=(ADMIN,)),
               point=point, staff_code=make_staff_code(point, clerk))


def kiosk_url(app, point, staff_code=None) -> str:
    """The address a poster must carry: the kiosk base URL and the point's signed path."""
    base = app.config.get("PORTAL_KIOSK_BASE_URL") or app.config["PORTAL_BASE_URL"]
    return base.rstrip("/") + kiosk_path(point, staff_code)


# -- reading a PDF back --------------------------------------------------------------------------------
def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = "zbar-tools" if name == "zbarimg" else "poppler-utils"
        pytest.fail(f"{name} is missing: `make system-deps` installs Debian's {package}")
    return path


def _flat(value: str) -> str:
    return "".join(value.split())


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text by pdftotext (without white space)."""
    pages = len(PdfReader(io.BytesIO(data)).pages)
    out = []
    for number in range(1, pages + 1):
        result = subprocess.run([_tool("pdftotext"), "-enc", "UTF-8", "-f", str(number), "-l", str(number), "-", "-"],
                                input=data, capture_output=True, check=True, timeout=60)
        out.append(_flat(result.stdout.decode("utf-8")))
    return out


def qr_codes(data: bytes, tmp_path, page: int = 1, crop: tuple[float, float] | None = None) -> list[tuple[str, str]]:
    """(text, orientation) of every QR code zbar reads on ``page`` of the PDF, rasterised at 100 dpi;
    ``crop``: only the band between these fractions of the page's height."""
    pdf = tmp_path / "printout.pdf"
    pdf.write_bytes(data)
    args = [_tool("pdftoppm"), "-r", "100", "-png", "-f", str(page), "-l", str(page), "-singlefile"]
    if crop is not None:
        box = PdfReader(io.BytesIO(data)).pages[page - 1].mediabox
        width, height = (round(float(v) / 72 * 100) for v in (box.width, box.height))
        args += ["-x", "0", "-y", str(round(crop[0] * height)), "-W", str(width),
                 "-H", str(round((crop[1] - crop[0]) * height))]
    subprocess.run([*args, str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    result = subprocess.run([_tool("zbarimg"), "--quiet", "--xml", "-Sdisable", "-Sqrcode.enable",
                             str(tmp_path / "page.png")], capture_output=True, timeout=60)
    assert result.returncode in (0, 4), result.stderr  # 4: no symbol found
    if result.returncode == 4:
        return []
    root = ET.fromstring(result.stdout)
    return [(symbol.findtext("z:data", namespaces=ZBAR_NS), symbol.get("orientation"))
            for symbol in root.iter(f"{{{ZBAR_NS['z']}}}symbol")]


def svg_qr_codes(svg: bytes, tmp_path) -> list[str]:
    """The QR codes of an SVG file, drawn as an image (an ``<img>`` of the file itself) by WeasyPrint."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class OnlyTheFile(URLFetcher):
        def fetch(self, url, headers=None):
            assert url == "https://svg.invalid/qr.svg", url
            return URLFetcherResponse(url, body=svg, headers={"Content-Type": "image/svg+xml"})

    html = ('<style>@page { size: 120mm 120mm; margin: 10mm } img { display: block; width: 100mm; height: 100mm }'
            '</style><img src="https://svg.invalid/qr.svg" alt="">')
    data = HTML(string=html, url_fetcher=OnlyTheFile()).write_pdf()
    return [value for value, _orientation in qr_codes(data, tmp_path)]


def fonts(data: bytes) -> dict[str, bool]:
    """Every font of the PDF and whether its glyphs are embedded."""
    out = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant["/FontDescriptor"].get_object()
            out[str(font["/BaseFont"])] = any(key in descriptor for key in ("/FontFile2", "/FontFile3"))
    return out


def page_sizes(data: bytes) -> list[tuple[int, int]]:
    """Width and height of each page, in whole millimetres."""
    return [(round(float(page.mediabox.width) / 72 * 25.4), round(float(page.mediabox.height) / 72 * 25.4))
            for page in PdfReader(io.BytesIO(data)).pages]


def get_pdf(client, url: str, **headers) -> bytes:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (response.status_code, text(response)[:300])
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    return response.data


def poster_url(point, size: str, staff_code=None) -> str:
    query = f"?staff={staff_code.id}" if staff_code is not None else ""
    return f"/service-points/{point.id}/poster-{size}.pdf{query}"


# -- what is printed -------------------------------------------------------------------------------------
def test_the_a4_poster_reads_in_chinese_with_its_glyphs_embedded(app, org, client_for):
    data = get_pdf(client_for(org.head), poster_url(org.point, "a4"))
    assert len(PdfReader(io.BytesIO(data)).pages) == 1
    for page in (pdf_pages(data)[0], _flat(PdfReader(io.BytesIO(data)).pages[0].extract_text())):
        assert "个人业务一号窗口" in page and "一楼大厅" in page and "客户服务部" in page
        assert all(words in page for words in CALL_TO_ACTION), page
        assert "编号：KF01" in page
        assert "\ufffd" not in page and "□" not in page
    embedded = fonts(data)
    assert embedded and all(embedded.values()), embedded
    assert any("WenQuanYi" in name or "NotoSansCJK" in name for name in embedded), embedded


@pytest.mark.parametrize("size", posters.SIZES)
def test_each_size_has_its_page_size_and_a_qr_code_of_the_signed_kiosk_url(app, org, client_for, tmp_path, size):
    data = get_pdf(client_for(org.quality), poster_url(org.point, size))
    assert page_sizes(data) == [PAGE_SIZES[size]]
    url = kiosk_url(app, org.point)
    codes = qr_codes(data, tmp_path)
    assert [value for value, _o in codes] == [url] * (2 if size == "plate" else 1)
    assert "个人业务一号窗口" in pdf_pages(data)[0] and CALL_TO_ACTION[0] in pdf_pages(data)[0]
    kiosk = client_for(org.employee).get(urlsplit(url).path)  # the customer's phone opens it
    assert kiosk.status_code == 200 and "个人业务一号窗口" in text(kiosk)


def test_the_desk_plate_is_a_tent_card_reading_upright_from_both_sides(app, org, client_for, tmp_path):
    """A4 landscape folded across the middle: the bottom half upright, the top half upside down, so each face
    reads the right way up once the card stands on the counter."""
    data = get_pdf(client_for(org.head), poster_url(org.point, "plate"))
    url = kiosk_url(app, org.point)
    assert qr_codes(data, tmp_path, crop=(0, 0.5)) == [(url, "DOWN")]
    assert qr_codes(data, tmp_path, crop=(0.5, 1)) == [(url, "UP")]
    page = pdf_pages(data)[0]
    assert page.count("个人业务一号窗口") == 2 and page.count(CALL_TO_ACTION[0]) == 2


def test_a_staff_codes_desk_plate_names_the_clerk_and_leads_to_their_code(app, org, client_for, tmp_path):
    client = client_for(org.head)
    data = get_pdf(client, poster_url(org.point, "plate", org.staff_code))
    url = kiosk_url(app, org.point, org.staff_code)
    assert [value for value, _o in qr_codes(data, tmp_path)] == [url, url]
    page = pdf_pages(data)[0]
    assert "张三" in page and "KF01-01" in page and CALL_TO_ACTION[0] in page
    poster = pdf_pages(get_pdf(client, poster_url(org.point, "a4", org.staff_code)))[0]
    assert "服务人员：张三" in poster and "KF01-01" in poster
    kiosk = client.get(urlsplit(url).path)
    assert kiosk.status_code == 200 and "张三" in text(kiosk)  # the form names the clerk being rated


def test_the_svg_download_is_svg_and_holds_the_same_url(app, org, client_for, tmp_path):
    client = client_for(org.head)
    for staff_code, ascii_name in ((None, "KF01-qr.svg"), (org.staff_code, "KF01-01-qr.svg")):
        query = f"?staff={staff_code.id}" if staff_code is not None else ""
        response = client.get(f"/service-points/{org.point.id}/qr.svg{query}")
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        assert f'filename="{ascii_name}"' in response.headers["Content-Disposition"]
        assert ET.fromstring(response.data).tag == "{http://www.w3.org/2000/svg}svg"
        assert svg_qr_codes(response.data, tmp_path) == [kiosk_url(app, org.point, staff_code)]


def test_after_rotating_the_key_the_poster_carries_the_new_url_and_the_old_one_is_gone(app, org, client_for, tmp_path):
    admin = client_for(org.admin)
    [(old_url, _o)] = qr_codes(get_pdf(admin, poster_url(org.point, "a4")), tmp_path)
    [(old_staff_url, _o), _back] = qr_codes(get_pdf(admin, poster_url(org.point, "plate", org.staff_code)), tmp_path)
    response = admin.post(f"/service-points/{org.point.id}/rotate", data={"csrf_token": admin.csrf_token()})
    assert response.status_code == 303
    [(new_url, _o)] = qr_codes(get_pdf(admin, poster_url(org.point, "a4")), tmp_path)
    [(new_staff_url, _o), _back] = qr_codes(get_pdf(admin, poster_url(org.point, "plate", org.staff_code)), tmp_path)
    db.session.refresh(org.point)
    assert new_url == kiosk_url(app, org.point) != old_url
    assert new_staff_url == kiosk_url(app, org.point, org.staff_code) != old_staff_url
    customer = app.test_client()
    assert customer.get(urlsplit(old_url).path).status_code == 404
    assert customer.get(urlsplit(old_staff_url).path).status_code == 404
    assert customer.get(urlsplit(new_url).path).status_code == 200
    assert customer.get(urlsplit(new_staff_url).path).status_code == 200


def test_bulk_print_has_a_page_for_each_active_point_the_reader_looks_after(app, org, client_for, tmp_path):
    second = make_point("KF02", org.department, name="对公业务二号窗口")
    make_point("KF03", org.department, name="已撤销窗口", active=False)
    elsewhere = make_point("YW01", org.other_department, name="运维服务台")
    data = get_pdf(client_for(org.head), "/service-points/posters-a4.pdf")
    pages = pdf_pages(data)
    assert len(pages) == 2 and page_sizes(data) == [PAGE_SIZES["a4"]] * 2
    for number, (point, name) in enumerate(((org.point, "个人业务一号窗口"), (second, "对公业务二号窗口")), start=1):
        assert name in pages[number - 1] and CALL_TO_ACTION[0] in pages[number - 1]
        assert [value for value, _o in qr_codes(data, tmp_path, page=number)] == [kiosk_url(app, point)]
    assert not any("已撤销窗口" in page or "运维服务台" in page for page in pages)

    plates = get_pdf(client_for(org.quality), "/service-points/posters-plate.pdf")
    assert page_sizes(plates) == [PAGE_SIZES["plate"]] * 3  # KF01, KF02, YW01
    assert "运维服务台" in pdf_pages(plates)[2]
    assert [value for value, _o in qr_codes(plates, tmp_path, page=3)] == [kiosk_url(app, elsewhere)] * 2


def test_a_long_name_and_location_keep_to_one_page(app, org, client_for, tmp_path):
    org.point.name = "长" * 100
    org.point.location = "地址" * 100
    for size in posters.SIZES:
        data = get_pdf(client_for(org.quality), poster_url(org.point, size))
        assert len(page_sizes(data)) == 1, size
        assert [value for value, _o in qr_codes(data, tmp_path)][:1] == [kiosk_url(app, org.point)], size


def test_the_layout_speaks_the_readers_language(app, org, client_for):
    org.quality.locale = "en"
    page = pdf_pages(get_pdf(client_for(org.quality), poster_url(org.point, "a5")))[0]
    assert _flat("Scan to rate our service") in page and _flat("No login needed, done in 30 seconds") in page
    assert "扫码评价" not in page
    assert "个人业务一号窗口" in page  # the point's own name is data, as entered


def test_the_qr_code_keeps_its_quiet_zone_at_error_correction_m_or_higher():
    code = posters.qr_code("http://127.0.0.1:5000/k/KF01-01/abcdefghij")
    assert code.error in ("M", "Q", "H") and not code.is_micro
    svg = ET.fromstring(posters.qr_svg("http://127.0.0.1:5000/k/KF01-01/abcdefghij"))
    size = code.symbol_size(scale=8, border=posters.QUIET_ZONE)
    assert (int(svg.get("width")), int(svg.get("height"))) == size
    assert size[0] == (code.symbol_size(border=0)[0] + 2 * 4) * 8


def test_nothing_is_fetched_while_printing(app, org, monkeypatch):
    """The poster needs nothing from outside: no URL reaches the fetcher, no socket is opened, even with
    markup in the point's name."""
    fetched, connections = [], []

    def refuse(url):
        fetched.append(url)
        raise core_pdf.FetchRefused(url)

    monkeypatch.setattr(core_pdf, "refuse", refuse)

    def no_network(*args, **kwargs):
        connections.append(args)
        raise OSError("network access while printing")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    item = posters.PosterItem(code="KF01", name='<img src="http://example.com/x.png">窗口',
                              location="<style>@import url(http://example.com/y.css)</style>", department="部",
                              staff_name="", url="http://127.0.0.1:5000/k/KF01/abcdefghij")
    with app.test_request_context("/"):
        data = posters.render_pdf([item], "a4")
    assert data.startswith(b"%PDF-") and fetched == [] and connections == []
    assert '<imgsrc="http://example.com/x.png">窗口' in pdf_pages(data)[0]  # shown as text


# -- who may print ------------------------------------------------------------------------------------------
def _printouts(org) -> list[str]:
    base = f"/service-points/{org.point.id}"
    return [f"{base}/poster-a4.pdf", f"{base}/poster-plate.pdf?staff={org.staff_code.id}",
            f"{base}/qr.svg", f"{base}/qr.svg?staff={org.staff_code.id}", "/service-points/posters-a5.pdf"]


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
@pytest.mark.parametrize("who", ["quality", "admin", "head"])
def test_managers_and_the_points_head_may_print(org, client_for, who, headers):
    client = client_for(getattr(org, who))
    for url in _printouts(org):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (who, url, response.status_code)
        assert response.mimetype in ("application/pdf", "image/svg+xml"), url
        assert response.data.startswith(b"%PDF-" if url.endswith(".pdf") or ".pdf?" in url else b"<?xml"), url


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_an_employee_is_refused_and_another_head_does_not_learn_the_point_exists(org, client_for, headers):
    employee, other_head = client_for(org.employee), client_for(org.other_head)
    for url in _printouts(org):
        assert employee.get(url, headers=headers).status_code == 403, url
        if "posters-" not in url:
            assert other_head.get(url, headers=headers).status_code == 404, url
    # the other head's own bulk print holds none of this department's points
    assert other_head.get("/service-points/posters-a4.pdf", headers=headers).status_code in (303, 204)
    assert client_for(org.clerk).get(_printouts(org)[1], headers=headers).status_code == 403  # the clerk too


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_unknown_sizes_and_another_points_staff_code_are_404(org, client_for, headers):
    client = client_for(org.quality)
    other = make_point("KF02", org.department)
    base = f"/service-points/{org.point.id}"
    for url in (f"{base}/poster-a3.pdf", "/service-points/posters-a3.pdf", "/service-points/999999/poster-a4.pdf",
                f"/service-points/{other.id}/poster-plate.pdf?staff={org.staff_code.id}",
                f"/service-points/{other.id}/qr.svg?staff={org.staff_code.id}"):
        assert client.get(url, headers=headers).status_code == 404, url


def _refused(client, url: str, headers: dict, back_to: str) -> str:
    response = client.get(url, headers=headers)
    if headers:
        assert response.status_code == 204 and response.headers["HX-Redirect"] == back_to
    else:
        assert response.status_code == 303 and urlsplit(response.headers["Location"]).path == back_to
    page = client.get(back_to).get_data(as_text=True)
    [(category, message)] = flashes(page)
    assert category == "danger"
    return message


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_a_retired_staff_code_or_a_deactivated_point_is_not_printed(org, client_for, headers):
    client = client_for(org.head)
    detail = f"/service-points/{org.point.id}"
    org.staff_code.active = False
    for url in (f"{detail}/poster-plate.pdf?staff={org.staff_code.id}", f"{detail}/qr.svg?staff={org.staff_code.id}"):
        assert re.search(r"KF01-01.*已停用", _refused(client, url, headers, detail))
    org.point.active = False
    for url in (f"{detail}/poster-a4.pdf", f"{detail}/qr.svg"):
        assert "KF01" in _refused(client, url, headers, detail)
    response = client.get("/service-points/posters-a4.pdf", headers=headers)  # nothing active left to print
    assert response.status_code in (303, 204)


def test_a_host_without_the_pdf_libraries_gets_a_message_not_a_server_error(org, client_for, monkeypatch):
    def missing():
        raise core_pdf.PdfUnavailable()

    monkeypatch.setattr(core_pdf, "_weasyprint_html", missing)
    client = client_for(org.head)
    detail = f"/service-points/{org.point.id}"
    assert "PDF" in _refused(client, f"{detail}/poster-a4.pdf", {}, detail)
    assert client.get(f"{detail}/qr.svg").status_code == 200  # the SVG needs no PDF library
