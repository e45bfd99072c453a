"""Nothing lost: with Redis down the customer still gets the thank-you page and the 查询码, the row is stored,
and the head's email goes out exactly once after Redis is back; with the database down, a Chinese
"please try again" page (HTTP 503), never a stack trace."""
from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from portal.core.roles import ADMIN
from portal.extensions import db
from portal.feedback.models import Feedback
from portal.notify.models import SENT, Delivery, Notification
from portal.notify.services import save_settings
from tests.faults import CollectingHandler, SMTPServer, start_worker
from tests.feedback.helpers import kiosk_path, make_point, open_form, query_code
from tests.helpers import create_department, create_user, text
from tests.livesrv import free_port

pytestmark = [pytest.mark.committing, pytest.mark.slow]




def test_redis_down_the_customer_is_thanked_and_the_head_hears_once_after_it_returns(client, private_redis,
                                                                                     database_url, tmp_path):
    admin = create_user("fo_admin", roles=(ADMIN,))
    head = create_user("fo_head")
    head.email = "head@example.cn"
    hall = create_department(name="营业大厅", code="YYDT", head=head)
    point = make_point("YY01", hall, name="营业大厅一号窗口")
    db.session.commit()

    with SMTPServer(CollectingHandler()) as smtp:
        save_settings(admin, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none", smtp_user="",
                      smtp_password=None, smtp_from="服务质量门户 <portal@example.cn>", quiet_start="00:00",
                      quiet_end="00:00", digest_time="08:30")
        db.session.commit()
        fields = open_form(client, kiosk_path(point))

        private_redis.kill9()
        response = client.post(kiosk_path(point), data={**fields, "rating": "1", "comment": "排队一个小时"}, csrf=False)
        assert response.status_code == 200
        assert query_code(text(response))
        row = db.session.scalar(sa.select(Feedback).where(Feedback.comment == "排队一个小时"))
        assert row is not None and row.rating == 1
        note = db.session.scalar(sa.select(Notification).where(Notification.recipient_id == head.id))
        assert note is not None and "营业大厅一号窗口" in note.title
        assert db.session.scalar(sa.select(Delivery.status).where(Delivery.notification_id == note.id)) == "pending"

        private_redis.start()  # an empty Redis: the job enqueued after the commit was never there
        from portal.notify.jobs import sweep_outbox

        sweep_outbox()
        sweep_outbox()  # twice: the delivery's claim must stop a second email
        db.session.commit()
        log = tmp_path / "worker.log"
        worker = start_worker(database_url, private_redis.url, burst=True, log=log)
        assert worker.wait(timeout=120) == 0, log.read_text()[-3000:]

        recipients = Counter(smtp.handler.recipients())
        assert recipients == {"head@example.cn": 1}, log.read_text()[-3000:]
    db.session.expire_all()
    assert list(db.session.scalars(sa.select(Delivery.status))) == [SENT]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Feedback)) == 1


def test_database_down_is_a_chinese_503_page_not_a_stack_trace(tmp_path):
    from tests.web import separate_app

    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    with separate_app(tmp_path, SQLALCHEMY_DATABASE_URI=dead) as other:
        client = other.test_client()
        page = client.get("/k/KF01/abcdefghij")
        assert page.status_code == 503
        html = text(page)
        assert "暂时不可用" in html and "Traceback" not in html and "kiosk.css" in html
        assert page.headers["Retry-After"]
        fragment = client.get("/k/KF01/abcdefghij", headers={"HX-Request": "true"})
        assert fragment.status_code == 503 and "<html" not in text(fragment)
        api = client.get("/api/v1/service-points", headers={"Authorization": "Bearer sqp_x"})
        assert api.status_code == 503 and api.mimetype == "application/problem+json"
        assert api.get_json()["code"] == "unavailable"
