"""Log in in Chinese, see the home page, log out — in a real browser against the real server."""
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_login_home_logout_in_chinese(page, live_server, tmp_path):
    page.goto("/")
    assert "/login" in page.url  # anonymous users are sent to the login page
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_label("用户名").is_visible()

    page.get_by_label("用户名").fill("zhangsan")
    page.get_by_label("密码").fill("demo1234")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + "/")
    assert page.get_by_role("heading", name="我的待办").is_visible()
    assert page.get_by_text("张三").first.is_visible()
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)

    page.locator("#user-menu").click()
    page.locator("#logout-button").click()
    page.wait_for_url("**/login")
    assert page.get_by_role("button", name="登录").is_visible()
    page.goto("/")
    assert "/login" in page.url
    assert page.csp_errors == []


def test_wrong_password_shows_chinese_error_without_reload(page, live_server):
    page.goto("/login")
    page.get_by_label("用户名").fill("zhangsan")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    error = page.locator("#login-form .alert-danger")
    error.wait_for()
    assert "用户名或密码" in error.inner_text()
    assert page.url.endswith("/login")
    assert page.csp_errors == []
