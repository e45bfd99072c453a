"""``/api/v1``: service points for terminals, feedback in (write scope, idempotent), feedback out for BI tools
(read scope, keyset pages). Request and response bodies are pydantic models, which are also what the
OpenAPI document describes (registered in hooks.setup())."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Annotated, Optional

from flask import current_app, g, jsonify, request
from flask_babel import gettext as _
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from portal.api.auth import token_required
from portal.api.openapi import Operation
from portal.api.problems import ApiError
from portal.core.errors import ServiceError
from portal.core.i18n import portal_tz
from portal.core.net import client_ip
from portal.extensions import limiter
from portal.feedback import api_bp, services, stream
from portal.feedback.models import DEVICE
from portal.web.submit import perform

MAX_PAGE = 500
#: No NUL character in any text (PostgreSQL refuses it in text columns); in the schema, so clients see it.
NO_NUL = r"^[^\x00]*$"
CURSOR_PATTERN = r"^[1-9][0-9]{0,17}$"
CURSOR_RE = re.compile(CURSOR_PATTERN)


# -- bodies -----------------------------------------------------------------------------------------------
class ServicePointOut(BaseModel):
    code: str = Field(description="服务点编码")
    name: str = Field(description="名称")
    department: str = Field(description="所属部门")
    kiosk_url: str = Field(description="扫码评价页地址（已签名）")


class ServicePointList(BaseModel):
    items: list[ServicePointOut]


def _json_integer(value):
    """A JSON integer, as the document says: 3 and 3.0, but not true (pydantic's lax mode reads it as 1) and not
    "3" (lax mode parses strings)."""
    if isinstance(value, (bool, str, bytes)):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


NO_BOOL_OR_TEXT = BeforeValidator(_json_integer)


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_point: Annotated[str, Field(min_length=1, max_length=24, pattern=NO_NUL, description="服务点编码，如 KF01")]
    rating: Annotated[int, Field(ge=1, le=5, description="好差评：5 非常满意 … 1 非常不满意"), NO_BOOL_OR_TEXT]
    nps: Annotated[Optional[Annotated[int, Field(ge=0, le=10), NO_BOOL_OR_TEXT]],
                   Field(description="推荐意愿 0–10（可选）")] = None
    comment: Annotated[Optional[str], Field(max_length=services.MAX_COMMENT, pattern=NO_NUL,
                                            description="意见（可选，至多 500 字）")] = None
    categories: Annotated[Optional[list[Annotated[str, Field(max_length=20, pattern=NO_NUL)]]],
                          Field(max_length=services.MAX_CATEGORIES, description="分类（可选，取自服务点的分类）")] = None


class FeedbackCreated(BaseModel):
    id: int
    query_code: str = Field(description="查询码（8 位），顾客凭此在 /q/<查询码> 查看处理结果")


class FeedbackOut(BaseModel):
    id: int
    service_point: Optional[str]
    department: str
    channel: str
    kind: str
    rating: Optional[int]
    nps: Optional[int]
    categories: list[str]
    comment: str
    status: str
    spam: bool
    rated_at: datetime
    created_at: datetime


class FeedbackPage(BaseModel):
    items: list[FeedbackOut]
    next_cursor: Optional[Annotated[str, Field(pattern=CURSOR_PATTERN)]] = Field(
        description="下一页的游标（原样作为 cursor 传回）；没有更多时为 null")


# -- helpers ----------------------------------------------------------------------------------------------
_FIELD_MESSAGES = {
    "missing": lambda e: _("This field is required."),
    "extra_forbidden": lambda e: _("Unknown field."),
    "int_type": lambda e: _("Must be an integer."),
    "int_parsing": lambda e: _("Must be an integer."),
    "int_from_float": lambda e: _("Must be an integer."),
    "string_type": lambda e: _("Must be a string."),
    "list_type": lambda e: _("Must be a list."),
    "greater_than_equal": lambda e: _("Must be at least %(n)s.", n=e["ctx"]["ge"]),
    "less_than_equal": lambda e: _("Must be at most %(n)s.", n=e["ctx"]["le"]),
    "string_too_long": lambda e: _("Too long: at most %(n)s characters.", n=e["ctx"]["max_length"]),
    "string_too_short": lambda e: _("Must not be empty."),
    "string_pattern_mismatch": lambda e: (_("Must not contain NUL characters.") if e["ctx"]["pattern"] == NO_NUL
                                          else _("Invalid value.")),
    "too_long": lambda e: _("Too many items: at most %(n)s.", n=e["ctx"]["max_length"]),
    "model_type": lambda e: _("Must be a JSON object."),
    "model_attributes_type": lambda e: _("Must be a JSON object."),
}


def _field_errors(exc: ValidationError) -> list[dict]:
    out = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "body"
        message = _FIELD_MESSAGES.get(error["type"], lambda e: _("Invalid value."))(error)
        out.append({"field": where, "message": message})
    return out


#: The submission's fields a service error may name; any other field (or none) is the body's.
_BODY_FIELDS = {"rating", "nps", "categories", "comment", "contact"}


def _service_errors(exc: ServiceError) -> list[dict]:
    return [{"field": f if f in _BODY_FIELDS else "body", "message": m} for f, m in exc.errors]


def _json_body() -> tuple[object, bytes]:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", _("Send the body as JSON (Content-Type: application/json)."))
    raw = request.get_data(cache=True)  # at most PORTAL_API_MAX_BODY_KB (hooks: web.bodylimit), else a 413 problem
    try:
        return json.loads(raw), raw
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", _("The body is not valid JSON."))


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        return ""
    if len(key) > 100 or not key.isascii() or not key.isprintable():
        raise ApiError(422, "invalid_idempotency_key",
                       _("An Idempotency-Key is at most 100 printable ASCII characters."))
    return key


def _token_key() -> str:
    token = getattr(g, "api_token", None)
    return f"api-token:{token.id}" if token is not None else "api-ip:" + client_ip()


# -- operations -------------------------------------------------------------------------------------------
@api_bp.route("/service-points")
@token_required("read")
def service_points():
    """Active service points with their signed kiosk URLs."""
    items = [ServicePointOut(code=p.code, name=p.name, department=p.department.name if p.department else "",
                             kiosk_url=services.kiosk_url(p)).model_dump() for p in services.active_points()]
    return jsonify(ServicePointList(items=items).model_dump())


@api_bp.route("/feedback", methods=["POST"])
@token_required("write")
@limiter.limit(lambda: current_app.config["PORTAL_API_WRITE_LIMIT"], key_func=_token_key)
def submit_feedback():
    """A rating from a terminal: 201 with the id and the 查询码; the same Idempotency-Key gives the same id."""
    data, raw = _json_body()
    try:
        body = FeedbackIn.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid", _("The data is invalid: see errors."), _field_errors(exc))
    key = _idempotency_key()
    point = services.point_by_code(body.service_point)
    if point is None or not point.active:
        raise ApiError(422, "unknown_service_point", _("There is no active service point %(code)s.",
                                                      code=body.service_point[:24]),
                       [{"field": "service_point", "message": _("Unknown or inactive service point.")}])
    token = g.api_token
    fingerprint = hashlib.sha256(raw).hexdigest() if key else ""
    intake = services.Intake(channel=DEVICE, api_token_id=token.id, point=point, source_ip=client_ip(),
                             idempotency_key=f"api:{token.id}:{key or services.new_request_key()}",
                             fingerprint=fingerprint)
    outcome = perform(lambda: services.receive(services.Submission(
        rating=body.rating, nps=body.nps, comment=body.comment or "", categories=body.categories or []), intake))
    if outcome.failed:
        if isinstance(outcome.error, services.IdempotencyConflict):
            raise ApiError(422, "idempotency_key_reused", str(outcome.error))
        raise ApiError(422, "invalid", _("The data is invalid: see errors."), _service_errors(outcome.error))
    received = outcome.value
    response = jsonify(FeedbackCreated(id=received.feedback.id, query_code=received.query_code).model_dump())
    response.status_code = 201
    if not received.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _parse_time(name: str) -> datetime | None:
    value = request.args.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ApiError(422, "invalid_time", _("%(name)s must be a date-time such as 2026-12-01T08:00:00+08:00.",
                                               name=name), [{"field": name, "message": _("Invalid date-time.")}])
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=portal_tz())
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        # A valid date-time that falls before 0001-01-01 or after 9999-12-31 in UTC (0001-01-01T00:00+08:00):
        # as early, or as late, as a stored time can be.
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=timezone.utc)


def _cursor(value: str | None) -> int | None:
    """The id the page starts after. A cursor is the last id of the page before, as digits (so the document can
    say exactly what a valid one is); one beyond every id gives an empty page."""
    if value is None:
        return None
    if not CURSOR_RE.fullmatch(value):
        raise ApiError(422, "invalid_cursor", _("The cursor is not one this API gave."),
                       [{"field": "cursor", "message": _("Invalid cursor.")}])
    return min(int(value), 2**31 - 1)


def _next_cursor(last_id: int | None) -> str | None:
    return str(last_id) if last_id else None


def _limit() -> int:
    value = request.args.get("limit")
    if value is None:
        return 100
    from portal.core.parsing import parse_int

    number = parse_int(value, minimum=1, maximum=MAX_PAGE)
    if number is None:
        raise ApiError(422, "invalid_limit", _("limit must be a whole number from 1 to %(n)d.", n=MAX_PAGE),
                       [{"field": "limit", "message": _("Invalid limit.")}])
    return number


@api_bp.route("/feedback")
@token_required("read")
def export_feedback():
    """Feedback in the order it arrived, a page at a time (keyset: pass next_cursor back as cursor)."""
    since, until = _parse_time("since"), _parse_time("until")
    point_code = request.args.get("service_point")
    include_spam = request.args.get("include_spam", "false")
    if include_spam not in ("true", "false"):
        raise ApiError(422, "invalid", _("include_spam is true or false."),
                       [{"field": "include_spam", "message": _("Invalid value.")}])
    page = stream.export_page(after_id=_cursor(request.args.get("cursor")), since=since, until=until,
                              point_code=point_code[:24] if point_code else None,
                              include_spam=include_spam == "true", limit=_limit())
    items = [FeedbackOut(**row).model_dump(mode="json") for row in page.rows]
    return jsonify(FeedbackPage(items=items, next_cursor=_next_cursor(page.next_after)).model_dump(mode="json"))


# -- the OpenAPI description ------------------------------------------------------------------------------
_COMMON = {400: (None, "请求格式错误（如参数中含 NUL 字符）"), 401: (None, "缺少或无效的令牌"),
           403: (None, "令牌没有所需权限"), 422: (None, "数据无效"), 503: (None, "服务暂不可用（数据库忙或无法连接），稍后重试")}


def _header(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "schema": schema or {"type": "string"}}


#: Headers every operation may send: the challenge of a 401 (RFC 6750), the wait of a 503.
_COMMON_HEADERS = {401: {"WWW-Authenticate": _header("Bearer realm=\"api\"")},
                   503: {"Retry-After": _header("建议等待的秒数", {"type": "integer"})}}


def operations() -> list[Operation]:
    time_param = lambda name, text: {"name": name, "in": "query", "required": False, "description": text,  # noqa: E731
                                     "schema": {"type": "string", "format": "date-time"}}
    return [
        Operation("/service-points", "get", "listServicePoints", "服务点列表", "read",
                  {200: (ServicePointList, "启用的服务点"), **{k: v for k, v in _COMMON.items() if k != 422}},
                  tags=("service points",), response_headers=_COMMON_HEADERS),
        Operation("/feedback", "post", "submitFeedback", "提交一条评价", "write",
                  {201: (FeedbackCreated, "已保存（同一 Idempotency-Key 重放时返回同一 id，并带 Idempotent-Replayed: true）"),
                   413: (None, "请求体过大"), 415: (None, "不是 JSON"), 429: (None, "提交过于频繁（按令牌计）"), **_COMMON},
                  body=FeedbackIn,
                  parameters=({"name": "Idempotency-Key", "in": "header", "required": False,
                               "description": "幂等键：同一令牌下相同的键只保存一次（至多 100 个可打印 ASCII 字符）",
                               "schema": {"type": "string", "maxLength": 100, "pattern": "^[\\x20-\\x7e]*$"}},),
                  tags=("feedback",),
                  response_headers={**_COMMON_HEADERS,
                                    201: {"Idempotent-Replayed": _header("重放（同一 Idempotency-Key）时为 true",
                                                                         {"type": "string", "enum": ["true"]})},
                                    429: {"Retry-After": _header("可再次提交前的秒数", {"type": "integer"})}}),
        Operation("/feedback", "get", "exportFeedback", "导出评价（游标分页）", "read",
                  {200: (FeedbackPage, "一页评价，按到达顺序"), **_COMMON},
                  parameters=(time_param("since", "起（含），RFC 3339"), time_param("until", "止（不含），RFC 3339"),
                              {"name": "service_point", "in": "query", "required": False,
                               "schema": {"type": "string", "maxLength": 24, "pattern": NO_NUL},
                               "description": "服务点编码"},
                              {"name": "include_spam", "in": "query", "required": False,
                               "schema": {"type": "string", "enum": ["true", "false"], "default": "false"}},
                              {"name": "cursor", "in": "query", "required": False,
                               "schema": {"type": "string", "pattern": CURSOR_PATTERN},
                               "description": "上一页返回的 next_cursor"},
                              {"name": "limit", "in": "query", "required": False,
                               "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 100}}),
                  tags=("feedback",), response_headers=_COMMON_HEADERS),
    ]
