"""A minimal Word .docx written with zipfile alone, for the demo data's Word-based SOP and the tests.

It has the parts mammoth (and Word) need: ``[Content_Types].xml``, the package relationships, the document,
its relationships (the styles part and one per hyperlink) and a styles part naming the heading style, so that
mammoth maps it to ``<h1>``. Every member has a fixed timestamp: the same paragraphs give the same bytes, so
the same content hash.
"""
from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape, quoteattr

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
FIXED_TIME = (2026, 1, 1, 0, 0, 0)

CONTENT_TYPES = (
    XML_HEAD
    + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/word/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>'
    '</Types>'
)
PACKAGE_RELS = (
    XML_HEAD
    + f'<Relationships xmlns="{RELS}">'
    f'<Relationship Id="rId1" Type="{R}/officeDocument" Target="word/document.xml"/>'
    '</Relationships>'
)
STYLES = (
    XML_HEAD
    + f'<w:styles xmlns:w="{W}">'
    '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/>'
    '<w:basedOn w:val="Normal"/></w:style>'
    '</w:styles>'
)
#: The document part before and after its paragraphs.
DOCUMENT_START = XML_HEAD + f'<w:document xmlns:w="{W}" xmlns:r="{R}"><w:body>'
DOCUMENT_END = "<w:sectPr/></w:body></w:document>"


def _run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def docx_parts(paragraphs: list[str], *, links: list[tuple[str, str]] = (),
               heading: str | None = None) -> dict[str, str]:
    """The members of the package, name → XML: ``heading`` (style Heading1) first, then one paragraph per
    string, then one paragraph per ``(text, href)`` link (an external hyperlink relationship each)."""
    body = []
    if heading is not None:
        body.append(f'<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr>{_run(heading)}</w:p>')
    body += [f"<w:p>{_run(text)}</w:p>" for text in paragraphs]
    relationships = [f'<Relationship Id="rIdStyles" Type="{R}/styles" Target="styles.xml"/>']
    for number, (text, href) in enumerate(links, start=1):
        body.append(f'<w:p><w:hyperlink r:id="rIdLink{number}">{_run(text)}</w:hyperlink></w:p>')
        relationships.append(f'<Relationship Id="rIdLink{number}" Type="{R}/hyperlink" '
                             f'Target={quoteattr(href)} TargetMode="External"/>')
    return {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": PACKAGE_RELS,
        "word/document.xml": DOCUMENT_START + "".join(body) + DOCUMENT_END,
        "word/_rels/document.xml.rels": XML_HEAD + f'<Relationships xmlns="{RELS}">'
                                        + "".join(relationships) + "</Relationships>",
        "word/styles.xml": STYLES,
    }


def member(name: str) -> zipfile.ZipInfo:
    """A deflated zip member with the fixed timestamp."""
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def docx(paragraphs: list[str], *, links: list[tuple[str, str]] = (), heading: str | None = None) -> bytes:
    """The bytes of a .docx holding these paragraphs (see :func:`docx_parts`)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, xml in docx_parts(paragraphs, links=links, heading=heading).items():
            archive.writestr(member(name), xml.encode("utf-8"))
    return buffer.getvalue()
