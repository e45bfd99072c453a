"""The content of a document version: its Markdown body or attached file, made safe to show, index and compare.

Pure functions (no database), called by the SOP services inside a request or app context (messages go
through gettext):

* Markdown and Word bodies become HTML through one allow-list sanitizer (nh3): no script, no event handler,
  no image, links only to http, https and mailto (relative links stay: they cannot carry a scheme).
* Uploads are typed by their content, never by their name; a Word or Excel file is a zip whose declared
  sizes are checked before any member is opened.
* Files are stored under random names; the diff compares two texts line by line, and character by
  character inside a changed line (Chinese has no spaces to split words on).
* :func:`content_sha256` is what an e-signature signs.
"""
from __future__ import annotations

import difflib
import hashlib
import io
import math
import os
import re
import secrets
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field

import mammoth
import nh3
from flask_babel import gettext as _
from markdown_it import MarkdownIt

from portal.core.errors import ServiceError
# The first bytes of a compound file (.xls, .doc) and of a zip (.xlsx, .docx).
from portal.core.uploads import XLS_MAGIC, XLSX_MAGIC

MB = 1024 * 1024

# -- HTML -----------------------------------------------------------------------------------------
#: What Markdown (markdown-it's js-default preset) and mammoth produce, less images: intranet documents
#: have none worth a request to another server, and mammoth would inline them as data: URIs.
ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "pre", "code",
    "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
    "a", "strong", "em", "s", "sub", "sup",
}
#: No ``style``: the CSP (style-src 'self') would block it anyway.
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"colspan", "rowspan"},
                      "td": {"colspan", "rowspan"}}
_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    # Removed with their content (other tags outside the list are dropped and their text kept, escaped).
    clean_content_tags={"script", "style"},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer",
)
# js-default: CommonMark with tables and strikethrough, raw HTML escaped rather than passed through.
_markdown = MarkdownIt("js-default")


def clean_html(fragment: str) -> str:
    """``fragment`` with only the allowed tags, attributes and link schemes left."""
    return _cleaner.clean(fragment)


def render_markdown(text: str) -> str:
    return clean_html(_markdown.render(text))


def markdown_text(text: str) -> str:
    """The words of a Markdown body without its markup, one line per line of text (a paragraph's own line
    breaks kept, a table row as its cells joined by `` | ``, a code block line by line), for the search
    index and the diff."""
    lines: list[str] = []
    row: list[str] | None = None
    for token in _markdown.parse(text):
        if token.type == "tr_open":
            row = []
        elif token.type == "tr_close":
            lines.append(" | ".join(row))
            row = None
        elif token.type == "inline":
            words = "".join(_inline_text(child) for child in token.children or ())
            if row is not None:
                row.append(words)
            else:
                lines += words.split("\n")
        elif token.type in ("fence", "code_block"):
            lines += token.content.rstrip("\n").split("\n")
    return "\n".join(line for line in lines if line.strip())


def _inline_text(token) -> str:
    # Images are left out, as in the rendered HTML; a link keeps its text (its own text tokens).
    if token.type in ("text", "code_inline"):
        return token.content
    if token.type in ("softbreak", "hardbreak"):
        return "\n"
    return ""


# -- Word -----------------------------------------------------------------------------------------
def _unreadable_docx() -> ServiceError:
    return ServiceError(("file", _("The Word file cannot be read: it is damaged or not a .docx document.")))


def _mammoth(call, data: bytes):
    """Run a mammoth conversion on checked bytes. mammoth parses untrusted XML with minidom and converts it
    recursively: broken or absurdly nested XML can raise almost anything, and every such failure is a file
    that cannot be read."""
    check_zip(data)
    try:
        return call(io.BytesIO(data)).value
    except Exception:  # see the docstring
        raise _unreadable_docx()


#: mammoth's image converter, giving an <img> without src (which the sanitizer drops): images are never read.
_NO_IMAGES = mammoth.images.img_element(lambda image: {})


def docx_to_html(data: bytes) -> str:
    """The document as sanitized HTML. The embedded style map is ignored (the document does not choose its
    own HTML), external files are never read, and images are dropped."""
    def convert(fileobj):
        return mammoth.convert_to_html(fileobj, include_embedded_style_map=False, external_file_access=False,
                                       convert_image=_NO_IMAGES)

    return clean_html(_mammoth(convert, data))


def docx_text(data: bytes) -> str:
    """The document's text, one paragraph (or table cell) a line, for the search index and the diff."""
    text = _mammoth(mammoth.extract_raw_text, data)
    return "\n".join(line for line in text.splitlines() if line.strip())


# -- uploads --------------------------------------------------------------------------------------
PDF, DOCX, XLSX = "pdf", "docx", "xlsx"
MIME_TYPES = {
    PDF: "application/pdf",
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
PDF_MAGIC = b"%PDF-"
#: Every zip member has one central-directory entry, which starts with this signature.
ZIP_ENTRY_SIGNATURE = b"PK\x01\x02"

#: Bounds on what a Word or Excel upload may unpack to, checked on the sizes its zip directory declares
#: (Python's zipfile never inflates a member past its declared size).
MAX_ZIP_MEMBERS = 1000
MAX_UNPACKED_BYTES = 100 * MB
MAX_MEMBER_BYTES = 50 * MB
#: word/document.xml larger than this may not be compressed more than MAX_DOCUMENT_RATIO times. Measured on
#: this module's builder: numbered paragraphs of Chinese text ~30 times, one sentence repeated 100,000 times
#: ~290 (refused), a run of one repeated byte (a zip bomb) ~1,000.
RATIO_CHECKED_FROM = 1 * MB
MAX_DOCUMENT_RATIO = 200
#: mammoth takes ~2 s of CPU and ~18 MB of memory per MB of word/document.xml (measured): a Word SOP's text
#: is rarely over 1 MB, so 8 MB (~16 s, done once at upload) is the bound.
MAX_DOCUMENT_XML = 8 * MB
#: The display name fits DocumentFile.display_name.
MAX_DISPLAY_NAME = 200


@dataclass(frozen=True)
class UploadInfo:
    kind: str  # pdf | docx | xlsx (check_scan: jpg | png too)
    mime_type: str
    size: int
    sha256: str
    display_name: str


def _megabytes(size: int) -> str:
    """``size`` in MB, rounded up to one decimal: "20", "20.1" (never a figure at or below a limit that the
    size exceeds)."""
    return f"{math.ceil(size * 10 / MB) / 10:.1f}".removesuffix(".0")


def _not_accepted() -> ServiceError:
    return ServiceError(("file", _("This type of file is not accepted: upload a PDF, a Word .docx or an Excel "
                                   ".xlsx file.")))


def _unpacks_too_much() -> ServiceError:
    return ServiceError(("file", _("The file unpacks to too much data: at most %(total)d MB in all and %(part)d MB "
                                   "for any one part.", total=MAX_UNPACKED_BYTES // MB,
                                   part=MAX_MEMBER_BYTES // MB)))


def _zip_members(data: bytes) -> list[zipfile.ZipInfo]:
    """The members of a zip, read from its directory only (nothing is inflated)."""
    # zipfile builds an object per directory entry: counting the entries' signatures first keeps a file of
    # hundreds of thousands of tiny entries from costing hundreds of MB. The count is at least the number of
    # entries zipfile would read, since it refuses an entry without the signature.
    if data.count(ZIP_ENTRY_SIGNATURE) > MAX_ZIP_MEMBERS:
        raise ServiceError(("file", _("The file is made of too many parts: at most %(count)d are allowed.",
                                      count=MAX_ZIP_MEMBERS)))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.infolist()
    # NotImplementedError: a directory entry claiming a zip version from the future (seen fuzzing).
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise ServiceError(("file", _("The file is damaged: it cannot be opened as a Word or Excel file.")))


def _check_unpacked_size(members: list[zipfile.ZipInfo]) -> None:
    if (sum(m.file_size for m in members) > MAX_UNPACKED_BYTES
            or any(m.file_size > MAX_MEMBER_BYTES for m in members)):
        raise _unpacks_too_much()
    for m in members:
        if m.filename == "word/document.xml" and m.file_size > MAX_DOCUMENT_XML:
            raise ServiceError(("file", _("The Word file's text is too large: at most %(n)d MB of text (without "
                                          "pictures). Split the document.", n=MAX_DOCUMENT_XML // MB)))
        if (m.filename == "word/document.xml" and m.file_size > RATIO_CHECKED_FROM
                and m.file_size > MAX_DOCUMENT_RATIO * m.compress_size):
            raise ServiceError(("file", _("The file unpacks to too much data: its text is compressed more than "
                                          "%(ratio)d times, which no real document is.", ratio=MAX_DOCUMENT_RATIO)))


def check_zip(data: bytes) -> None:
    """Refuse (ServiceError on "file") a zip with too many members or declaring too much unpacked data,
    before any member is opened."""
    _check_unpacked_size(_zip_members(data))


def _detect_kind(data: bytes) -> str:
    """pdf, docx or xlsx from the bytes alone (size limits on a zip included); ServiceError otherwise."""
    if data.startswith(PDF_MAGIC):
        return PDF
    if data.startswith(XLS_MAGIC):
        # The compound-file format of .doc and .xls, and of password-protected Office files too.
        raise ServiceError(("file", _("Old Word .doc and Excel .xls files, and password-protected files, are not "
                                      "accepted: save the file as .docx or .xlsx without a password and upload it "
                                      "again.")))
    # A zip must start with a member: a zip appended to something else (an executable that unpacks itself)
    # still opens with zipfile, and is refused here.
    if not data.startswith(XLSX_MAGIC):
        raise _not_accepted()
    members = _zip_members(data)
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names:
        raise _not_accepted()
    if "word/document.xml" in names:
        kind = DOCX
    elif "xl/workbook.xml" in names:
        kind = XLSX
    else:
        raise _not_accepted()
    _check_unpacked_size(members)
    return kind


def display_name(filename: str, kind: str) -> str:
    """The uploaded file's base name (no folders, no control or bidirectional-override characters), with
    the extension of its detected kind; "document.<kind>" (translated) when nothing is left."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    # Drop an extension ("报告.docx"), not the end of a number ("程序 7.5").
    stem = re.sub(r"\.[A-Za-z][A-Za-z0-9]{0,4}$", "", base).strip(" .")
    extension = f".{kind}"
    return (stem or _("document"))[:MAX_DISPLAY_NAME - len(extension)] + extension


def validate_upload(filename: str, data: bytes, max_bytes: int) -> UploadInfo:
    """Check an uploaded file and say what it is; ServiceError on "file" when it is empty, larger than
    ``max_bytes``, not a PDF, Word .docx or Excel .xlsx file by its content, or a zip unpacking to too much."""
    if not data:
        raise ServiceError(("file", _("The file is empty.")))
    if len(data) > max_bytes:
        raise ServiceError(("file", _("The file is %(size)s MB; at most %(limit)s MB is allowed.",
                                      size=_megabytes(len(data)), limit=_megabytes(max_bytes))))
    kind = _detect_kind(data)
    return UploadInfo(kind=kind, mime_type=MIME_TYPES[kind], size=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), display_name=display_name(filename, kind))


# -- scans: a PDF or a picture (qualification scans, triage evidence) ----------------------------------
#: Images larger than this many pixels are refused before they are decoded (a scan at 600 dpi of an A4 page
#: is ~35 million).
SCAN_MAX_PIXELS = 60_000_000
IMAGE_TYPES = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png")}


def _not_a_scan(field: str) -> ServiceError:
    return ServiceError((field, _("This file is not accepted: upload the scan as a PDF file or a JPEG or PNG "
                                  "picture.")))


def _image_kind(data: bytes, field: str) -> tuple[str, str]:
    """(extension, MIME type) of a JPEG or PNG picture, checked by Pillow; ServiceError otherwise."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = IMAGE_TYPES.get(image.format or "")
                if kind is None:
                    raise _not_a_scan(field)
                width, height = image.size
                if width * height > SCAN_MAX_PIXELS:
                    raise ServiceError((field, _("The picture is too large: at most %(n)d million pixels.",
                                                 n=SCAN_MAX_PIXELS // 1_000_000)))
                image.verify()
    except ServiceError:
        raise
    except Exception:  # noqa: BLE001 - Pillow raises many kinds of errors on damaged or hostile files
        raise _not_a_scan(field)
    return kind


def check_scan(filename: str, data: bytes, max_bytes: int, *, field: str = "file") -> UploadInfo:
    """A scan or a photo typed by its content: a PDF (``validate_upload``'s check), or a JPEG or PNG picture that
    Pillow reads (at most SCAN_MAX_PIXELS); ServiceError on ``field`` for anything else, an empty file or one
    larger than ``max_bytes``. Used by qualification scans and by triage's evidence."""
    if not data:
        raise ServiceError((field, _("The file is empty.")))
    if len(data) > max_bytes:
        raise ServiceError((field, _("The scan may be at most %(n)d MB.", n=max_bytes // MB)))
    if data.startswith(PDF_MAGIC):
        try:
            return validate_upload(filename, data, max_bytes)
        except ServiceError:
            raise _not_a_scan(field)
    extension, mime_type = _image_kind(data, field)
    return UploadInfo(kind=extension, mime_type=mime_type, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                      display_name=display_name(filename, extension))


# -- storage --------------------------------------------------------------------------------------
STORED_NAME = re.compile(r"[0-9a-f]{32}")


def store_file(data: bytes, directory: str) -> str:
    """Write ``data`` under a new random name in ``directory`` (created, owner-only, when missing) and return
    the name. The file appears whole or not at all: written to a temporary file, synced, then renamed."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    name = secrets.token_hex(16)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, os.path.join(directory, name))
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return name


def file_path(directory: str, stored_name: str) -> str:
    """Where a stored file is. ValueError for anything but a name :func:`store_file` gives (no path parts)."""
    if not isinstance(stored_name, str) or not STORED_NAME.fullmatch(stored_name):
        raise ValueError(f"not a stored file name: {stored_name!r}")
    return os.path.join(directory, stored_name)


def read_file(directory: str, stored_name: str) -> bytes:
    with open(file_path(directory, stored_name), "rb") as stored:
        return stored.read()


# -- diff -----------------------------------------------------------------------------------------
#: Unchanged lines shown before and after each change; longer runs collapse into one "skip" row.
CONTEXT_LINES = 3


@dataclass
class DiffRow:
    """One row of a side-by-side diff. Line numbers are 1-based; a side without a line has None and "".

    kind: equal | replace | delete | insert | skip (``skipped`` unchanged lines not shown, from ``left_no`` and
    ``right_no`` on). For "replace",
    ``left_segments`` and ``right_segments`` split each side into ``(text, changed)`` runs of characters.
    """

    kind: str
    left_no: int | None = None
    left_text: str = ""
    right_no: int | None = None
    right_text: str = ""
    left_segments: list[tuple[str, bool]] = field(default_factory=list)
    right_segments: list[tuple[str, bool]] = field(default_factory=list)
    skipped: int = 0


def _char_segments(old: str, new: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    left, right = [], []
    # autojunk off: in a long line of Chinese, common characters such as 的 would otherwise be ignored.
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if i2 > i1:
            left.append((old[i1:i2], tag != "equal"))
        if j2 > j1:
            right.append((new[j1:j2], tag != "equal"))
    return left, right


def _changed_rows(old: list[str], new: list[str], i1: int, i2: int, j1: int, j2: int) -> list[DiffRow]:
    """A replaced block pairs its lines in order; the longer side's extra lines are deletions or insertions."""
    rows = []
    for k in range(max(i2 - i1, j2 - j1)):
        i, j = i1 + k, j1 + k
        if i < i2 and j < j2:
            left_segments, right_segments = _char_segments(old[i], new[j])
            rows.append(DiffRow("replace", i + 1, old[i], j + 1, new[j], left_segments, right_segments))
        elif i < i2:
            rows.append(DiffRow("delete", left_no=i + 1, left_text=old[i]))
        else:
            rows.append(DiffRow("insert", right_no=j + 1, right_text=new[j]))
    return rows


def _equal_rows(lines: list[str], i: int, j: int, count: int) -> list[DiffRow]:
    """``count`` unchanged lines from line index ``i`` on the left and ``j`` on the right."""
    return [DiffRow("equal", i + k + 1, lines[i + k], j + k + 1, lines[i + k]) for k in range(count)]


def side_by_side(old_text: str, new_text: str) -> list[DiffRow]:
    """The rows of a side-by-side diff of two texts by lines; [] when they have the same lines."""
    old, new = old_text.splitlines(), new_text.splitlines()
    if old == new:
        return []
    opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    rows: list[DiffRow] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag != "equal":
            rows += _changed_rows(old, new, i1, i2, j1, j2)
            continue
        # Keep CONTEXT_LINES after the previous change and before the next one; skip the middle.
        run = i2 - i1
        head = CONTEXT_LINES if index > 0 else 0
        tail = CONTEXT_LINES if index < len(opcodes) - 1 else 0
        if run > head + tail:
            rows += _equal_rows(old, i1, j1, head)
            rows.append(DiffRow("skip", i1 + head + 1, "", j1 + head + 1, "", skipped=run - head - tail))
            rows += _equal_rows(old, i2 - tail, j2 - tail, tail)
        else:
            rows += _equal_rows(old, i1, j1, run)
    return rows


# -- signing --------------------------------------------------------------------------------------
CONTENT_SEPARATOR = b"\x1f"


def content_sha256(body: str, file_bytes: bytes | None) -> str:
    """SHA-256 over the UTF-8 body's length (8 bytes, big-endian), the body, the 0x1f separator and the file's
    bytes (none without a file): the content of a version that an e-signature signs. The length prefix makes
    the split between text and file unambiguous (no body and file pair hashes like another)."""
    encoded = body.encode("utf-8")
    digest = hashlib.sha256(len(encoded).to_bytes(8, "big"))
    digest.update(encoded)
    digest.update(CONTENT_SEPARATOR)
    digest.update(file_bytes or b"")
    return digest.hexdigest()
