"""Pages that list service points or staff codes run a fixed number of queries, however many there are."""
from __future__ import annotations

from portal.api.services import create_token
from portal.core.roles import QUALITY_MANAGER
from portal.extensions import db
from tests.feedback.api_helpers import bearer
from tests.feedback.helpers import make_point, make_staff_code
from tests.helpers import count_queries, create_department, create_user


def _queries(client, url: str, **headers) -> int:
    with count_queries() as statements:
        assert client.get(url, headers=headers).status_code == 200
    return len(statements)


def test_the_api_lists_points_in_fixed_queries(client):
    _token, plain = create_token(None, "计数", ["read"])
    for n in range(2):
        make_point(f"Q{n}", create_department())
    db.session.commit()
    _queries(client, "/api/v1/service-points", **bearer(plain))  # the token's first use is stamped (once a minute)
    few = _queries(client, "/api/v1/service-points", **bearer(plain))
    for n in range(2, 8):
        make_point(f"Q{n}", create_department())
    db.session.commit()
    assert _queries(client, "/api/v1/service-points", **bearer(plain)) == few


def test_a_points_page_lists_its_staff_codes_in_fixed_queries(client_for):
    point = make_point("QS1")
    make_staff_code(point, create_user(), "QS1-01")
    manager = create_user("q_manager", roles=(QUALITY_MANAGER,))
    db.session.commit()
    client = client_for(manager)
    few = _queries(client, f"/service-points/{point.id}")
    for n in range(2, 8):
        make_staff_code(point, create_user(), f"QS1-{n:02d}")
    db.session.commit()
    assert _queries(client, f"/service-points/{point.id}") == few
