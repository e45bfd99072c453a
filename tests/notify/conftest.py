"""Fixtures of the notification tests (none of them autouse; ``drain_queue`` is in tests/conftest.py)."""
from __future__ import annotations

import pytest

from portal.extensions import db
from tests.livesrv import free_port
from tests.notify.helpers import RecordingHandler, RobotReceiver, SENDER, SMTPServer


@pytest.fixture
def smtp_server():
    """``smtp_server(refuse=(), start=True)``: a real aiosmtpd server on a free loopback port."""
    servers = []

    def make(refuse=(), start: bool = True, port: int | None = None) -> SMTPServer:
        server = SMTPServer(port or free_port(), RecordingHandler(refuse))
        servers.append(server)
        return server.start() if start else server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def use_smtp(admin):
    """``use_smtp(port)``: point the portal at 127.0.0.1:port through the settings service, and commit."""
    from portal.notify.services import save_settings

    def configure(port: int, **overrides):
        values = dict(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_user="", smtp_password=None,
                      smtp_from=SENDER, quiet_start="20:00", quiet_end="08:00", digest_time="08:30")
        values.update(overrides)
        row = save_settings(admin, **values)
        db.session.commit()
        return row

    return configure


@pytest.fixture
def robots(admin):
    """The robot receiver on a loopback port. Loopback is refused for robots unless an administrator
    allow-lists the literal address, which is what this test setup does."""
    from portal.notify.admin import save_allowed_webhook_hosts

    receiver = RobotReceiver().start()
    save_allowed_webhook_hosts(admin, "127.0.0.1")
    db.session.flush()
    yield receiver
    receiver.stop()
