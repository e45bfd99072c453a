"""Email: building multipart messages from templates, and sending them.

With an SMTP host configured, mail goes over SMTP (one connection per batch). With none — the embedded
default — every message is captured in the ``captured_email`` table and shown on the admin 发件箱 page.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app, render_template

from portal.extensions import db
from portal.notify.models import CapturedEmail, NotifySettings


@dataclass
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str
    message_id: str = ""
    delivery_id: int | None = None


class PermanentFailure(Exception):
    """The server refused this message for good (a 5xx reply, e.g. an unknown recipient)."""


class TemporaryFailure(Exception):
    """Try again later (server down, timeout, 4xx reply)."""


def render_email(template: str, **context) -> tuple[str, str]:
    """(text, html) from ``templates/email/<template>.txt`` and ``.html``."""
    return (render_template(f"email/{template}.txt", **context),
            render_template(f"email/{template}.html", **context))


def build_message(mail: OutgoingEmail, sender: str) -> EmailMessage:
    message = EmailMessage()
    # non-ASCII is RFC 2047-encoded by the email package; a line break (a title typed or imported with one)
    # would make it raise, so the subject is kept on one line
    message["Subject"] = " ".join(mail.subject.splitlines())
    message["From"] = sender
    message["To"] = mail.to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = mail.message_id or make_msgid(domain="quality-portal")
    message.set_content(mail.text, charset="utf-8")
    message.add_alternative(mail.html, subtype="html", charset="utf-8")
    return message


class Transport:
    """Send many messages over one connection. Use as a context manager."""

    def __init__(self, settings: NotifySettings, password: str):
        self.settings = settings
        self.password = password
        self.smtp: smtplib.SMTP | None = None

    @property
    def capturing(self) -> bool:
        return not self.settings.smtp_host

    def __enter__(self) -> "Transport":
        if self.capturing:
            return self
        s = self.settings
        timeout = current_app.config["PORTAL_SMTP_TIMEOUT"]
        try:
            if s.smtp_security == "ssl":
                self.smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=timeout,
                                             context=ssl.create_default_context())
            else:
                self.smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout)
                if s.smtp_security == "starttls":
                    self.smtp.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                self.smtp.login(s.smtp_user, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise TemporaryFailure(f"SMTP login refused: {exc.smtp_code} {exc.smtp_error!r}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"cannot connect to {s.smtp_host}:{s.smtp_port}: {exc}") from exc
        return self

    def __exit__(self, *exc_info) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
            self.smtp = None

    def send(self, mail: OutgoingEmail) -> None:
        try:
            message = build_message(mail, self.settings.smtp_from)
        except (ValueError, TypeError) as exc:  # e.g. a line break in an address: this message can never be sent
            raise PermanentFailure(f"cannot build the message: {exc}") from exc
        if self.capturing:
            db.session.add(CapturedEmail(delivery_id=mail.delivery_id, to=mail.to, subject=mail.subject,
                                         text=mail.text, html=mail.html, raw=message.as_string()))
            db.session.flush()
            return
        try:
            self.smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            if all(400 <= code < 500 for code in codes):
                raise TemporaryFailure(f"recipient deferred: {exc.recipients}") from exc
            raise PermanentFailure(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise TemporaryFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except (OSError, socket.timeout, smtplib.SMTPException) as exc:
            self.smtp = None
            raise TemporaryFailure(str(exc) or type(exc).__name__) from exc
