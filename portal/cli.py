"""``flask --app wsgi portal …`` commands."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

portal_cli = AppGroup("portal", help="Service Quality Portal administration.")


@portal_cli.command("seed-demo")
def seed_demo() -> None:
    """Create the demo data of every domain (idempotent; refused in production)."""
    from portal.core.registry import demo_seeders

    if current_app.config["ENV_NAME"] == "production":
        click.echo("seed-demo refuses to run in production: it creates accounts with a published password.", err=True)
        sys.exit(1)
    created = sum(seeder.fn() for seeder in demo_seeders)
    click.echo(f"demo data: {created} new records" if created else "demo data already present: nothing added")


@portal_cli.command("build-static")
def build_static() -> None:
    """Build the hashed, gzipped static files (before the web workers start, or in a deployment step)."""
    from pathlib import Path

    from portal.web import assets

    builds = Path(current_app.config["PORTAL_STATIC_BUILD_DIR"])
    root, manifest = assets.ensure_build(Path(current_app.static_folder), builds)
    click.echo(f"static files: {len(manifest)} in {root}")


@portal_cli.command("audit-verify")
def audit_verify() -> None:
    """Verify the audit trail (keyed hash chain and daily anchors) and name the first check that fails."""
    from portal.audit.services import verify_chain

    report = verify_chain()
    if report.intact:
        records = "".join(f", {count} {key} verified" for key, count in report.records.items())
        click.echo(f"audit chain intact: {report.checked} events verified, {report.anchors} anchors checked{records}")
        return
    where = f"at event {report.broken_id}" if report.broken_id else f"at anchor line {report.anchor_line}"
    click.echo(f"audit chain BROKEN {where}: check failed: {report.check}: {report.reason} "
               f"({report.checked} events verified before it)", err=True)
    sys.exit(2)


@portal_cli.command("audit-anchor")
def audit_anchor() -> None:
    """Append today's anchor of the audit chain to instance/audit-anchors.log (the daily job does this too)."""
    from portal.audit.services import write_anchor

    anchor = write_anchor()
    click.echo(f"audit anchor {anchor.day.isoformat()}: event {anchor.event_id} {anchor.hash}")


@portal_cli.command("create-admin")
@click.argument("username")
@click.option("--name", "display_name", default="系统管理员")
@click.option("--email", default="admin@example.com")
@click.password_option()
def create_admin(username: str, display_name: str, email: str, password: str) -> None:
    """Create the first administrator of a new installation."""
    from portal.org.accounts import set_password
    from portal.audit.services import record
    from portal.extensions import db
    from portal.org.models import User
    from portal.core.roles import ADMIN
    from portal.org.services import clean_email, clean_username

    user = User(username=clean_username(username), display_name=display_name, email=clean_email(email))
    user.set_roles({ADMIN})
    db.session.add(user)
    set_password(user, password, must_change=False)
    record("user.create", user, actor=None, after={"username": user.username, "roles": [ADMIN]}, extra={"via": "cli"})
    db.session.commit()
    click.echo(f"administrator {user.username} created")


@portal_cli.command("purge-login-attempts")
@click.option("--days", default=30, show_default=True)
def purge_login_attempts(days: int) -> None:
    """Delete login attempts older than DAYS (the audit trail keeps the history)."""
    from portal.auth.services import purge_old_attempts
    from portal.extensions import db

    n = purge_old_attempts(days)
    db.session.commit()
    click.echo(f"{n} login attempts deleted")


api_token_cli = AppGroup("api-token", help="Tokens of the device and integration API (/api/v1).")
portal_cli.add_command(api_token_cli)


@api_token_cli.command("create")
@click.option("--name", required=True, help="The device or system that will use the token.")
@click.option("--scope", "scope", default="write", show_default=True, help="read, write or read,write")
def api_token_create(name: str, scope: str) -> None:
    """Issue a token. Its details go to stderr; the token itself is printed once, alone on the last line of
    stdout, for provisioning scripts (``TOKEN=$(flask --app wsgi portal api-token create ... | tail -n1)``)."""
    from portal.api.services import create_token
    from portal.core.errors import ServiceError
    from portal.extensions import db

    try:
        token, plain = create_token(None, name, scope.split(","))
    except ServiceError as exc:
        db.session.rollback()
        click.echo(f"api-token create: {exc}", err=True)
        sys.exit(2)
    db.session.commit()
    click.echo(f"token {token.id} {token.name!r}, scopes {token.scopes}; shown once, store it now:", err=True)
    click.echo(plain)


@api_token_cli.command("revoke")
@click.argument("token_id", type=int)
def api_token_revoke(token_id: int) -> None:
    """Revoke a token by its number (as listed by ``api-token list``)."""
    from portal.api.models import ApiToken
    from portal.api.services import revoke_token
    from portal.core.errors import ServiceError
    from portal.extensions import db

    token = db.session.get(ApiToken, token_id)
    try:
        if token is None:
            raise ServiceError((None, f"no token {token_id}"))
        revoke_token(None, token)
    except ServiceError as exc:
        db.session.rollback()
        click.echo(f"api-token revoke: {exc}", err=True)
        sys.exit(2)
    db.session.commit()
    click.echo(f"token {token_id} revoked")


@api_token_cli.command("list")
def api_token_list() -> None:
    """The tokens, one per line: number, prefix, scopes, state, last use, name."""
    import sqlalchemy as sa

    from portal.api.models import ApiToken
    from portal.extensions import db

    for t in db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id)):
        state = "revoked" if t.revoked_at else "active"
        used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
        click.echo(f"{t.id}\t{t.prefix}…\t{t.scopes}\t{state}\t{used}\t{t.name}")


@portal_cli.command("kiosk-url")
@click.argument("code")
def kiosk_url(code: str) -> None:
    """Print the signed kiosk URL of a service point (or of a staff code), as printed on its posters."""
    from portal.feedback import services

    point, staff_code = services.point_of_code(code)
    if point is None:
        click.echo(f"kiosk-url: no service point or staff code {code!r}", err=True)
        sys.exit(2)
    with current_app.test_request_context(base_url=current_app.config["PORTAL_BASE_URL"]):
        click.echo(services.kiosk_url(point, staff_code))


def init_app(app) -> None:
    app.cli.add_command(portal_cli)
