"""The portal's roles. Every layer checks them (navigation, access, services), so they live at the bottom,
apart from the user model that stores them."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

ADMIN, QUALITY_MANAGER, DEPT_HEAD, EMPLOYEE = "admin", "quality_manager", "dept_head", "employee"

ROLE_LABELS = {
    ADMIN: _l("System administrator"),
    QUALITY_MANAGER: _l("Quality manager"),
    DEPT_HEAD: _l("Department head"),
    EMPLOYEE: _l("Employee"),
}
ROLES = tuple(ROLE_LABELS)
