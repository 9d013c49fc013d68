"""Sign-in against guessing, and the pages' security headers, on both databases.

Sign-in is throttled per user name and per client address with a lockout IT can lift
(``wi-adapter user unlock``), audited; users change their own password on a page, IT resets
it from the CLI; hashes made at older scrypt parameters are re-made at the next sign-in;
pages forbid framing, set a strict CSP (the card-reader bridge allowed in connect-src) and
are never cached; cookies are Secure when the site is served over TLS.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from adapter.bootstrap import build_app
from adapter.cli import main
from adapter.settings import SettingsError, load_settings
from adapter.store.migrate import upgrade
from adapter.store.tables.web import web_user
from adapter.store.uow import UnitOfWork
from adapter.web.users import create_user, set_hash_cost
from adapter.wiring.runtime import build_runtime
from tests.support.live import serving

CHEAP = 2**12  # tests may hash cheaply; the settings refuse it outside the demo


@pytest.fixture
def db(engine: Engine) -> Engine:
    upgrade(engine)
    return engine


@contextmanager
def site(db: Engine, db_url: str, **web: Any) -> Iterator[str]:
    settings = load_settings(database={"url": db_url}, web=web)
    runtime = build_runtime(settings, engine=db, workers=0, hl7=False, scheduled=False)
    app = build_app(settings, runtime)
    set_hash_cost(CHEAP)
    try:
        with serving(app) as base:
            yield base
    finally:
        set_hash_cost(2**17)


@pytest.fixture
def base(db: Engine, db_url: str) -> Iterator[str]:
    with site(db, db_url, signin_max_failures=5, signin_address_max_failures=0) as url:
        yield url


def _client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, follow_redirects=False, timeout=30)


def _sign_in(client: httpx.Client, name: str, password: str) -> httpx.Response:
    form = client.get("/web/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    return client.post(
        "/web/login",
        data={"name": name, "password": password, "csrf_token": token[1], "next": "/web/"},
    )


def _audit(db: Engine, action: str) -> list[Any]:
    with UnitOfWork(db) as uow:
        return uow.audit.query(action=action)


def test_forty_wrong_passwords_lock_the_user_until_it_unlocks_them(
    db: Engine, db_url: str, base: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    set_hash_cost(CHEAP)
    create_user(db, "结算处-01", ["billing"], "right-password-1")

    def wrong(_: int) -> int:
        with _client(base) as client:
            return _sign_in(client, "结算处-01", "wrong-password").status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(wrong, range(40)))
    assert set(codes) <= {401, 429} and codes.count(429) >= 40 - 5 - 8
    with _client(base) as client:
        refused = _sign_in(client, "结算处-01", "right-password-1")
    assert refused.status_code == 429 and "锁定" in refused.text and "信息科" in refused.text
    (locked,) = _audit(db, "web.signin_locked")
    assert (locked.subject_type, locked.subject_id) == ("web_user", "结算处-01")

    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    assert main(["user", "unlock", "结算处-01"]) == 0
    assert "unlocked 结算处-01" in capsys.readouterr().out
    (lifted,) = _audit(db, "user.unlock")
    assert lifted.subject_id == "结算处-01" and lifted.actor.startswith("cli")
    with _client(base) as client:
        assert _sign_in(client, "结算处-01", "right-password-1").status_code == 303
    assert main(["user", "unlock", "nobody"]) == 1


def test_one_address_guessing_many_names_is_locked_out(db: Engine, db_url: str) -> None:
    set_hash_cost(CHEAP)
    create_user(db, "入院处-01", ["admission"], "right-password-1")
    throttled = site(db, db_url, signin_max_failures=5, signin_address_max_failures=3)
    with throttled as base, _client(base) as client:
        codes = [_sign_in(client, f"guess-{n}", "x" * 9).status_code for n in range(3)]
        assert codes == [401, 401, 401]
        assert _sign_in(client, "入院处-01", "right-password-1").status_code == 429
    (locked,) = _audit(db, "web.signin_locked")
    assert (locked.subject_type, locked.subject_id) == ("address", "127.0.0.1")


def test_a_user_changes_their_password_on_a_page_and_other_sessions_end(
    db: Engine, base: str
) -> None:
    set_hash_cost(CHEAP)
    create_user(db, "器具室-01", ["device"], "old-password-1")
    with _client(base) as other, _client(base) as client:
        assert _sign_in(other, "器具室-01", "old-password-1").status_code == 303
        assert _sign_in(client, "器具室-01", "old-password-1").status_code == 303
        form = client.get("/web/password")
        assert form.status_code == 200 and "修改密码" in form.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf
        change = {"csrf_token": csrf[1], "current": "wrong-one-1", "new": "new-password-2",
                  "repeat": "new-password-2"}  # fmt: skip
        wrong = client.post("/web/password", data=change)
        assert wrong.status_code == 422 and "当前密码不正确" in wrong.text
        done = client.post("/web/password", data={**change, "current": "old-password-1"})
        assert done.status_code == 200 and "密码已修改" in done.text
        assert client.get("/web/").status_code == 200  # this session goes on
        assert other.get("/web/").status_code == 303  # the other one ended
    with _client(base) as client:
        assert _sign_in(client, "器具室-01", "old-password-1").status_code == 401
        assert _sign_in(client, "器具室-01", "new-password-2").status_code == 303
    (entry,) = _audit(db, "user.password_changed")
    assert entry.actor == "器具室-01"


def test_it_resets_a_password_from_the_cli(
    db: Engine, db_url: str, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_hash_cost(CHEAP)
    create_user(db, "信息科-01", ["it"], "forgotten-pass-1")
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("fresh-password-9\n"))
    assert main(["user", "reset-password", "信息科-01", "--password-stdin"]) == 0
    with _client(base) as client:
        assert _sign_in(client, "信息科-01", "forgotten-pass-1").status_code == 401
        assert _sign_in(client, "信息科-01", "fresh-password-9").status_code == 303
    (entry,) = _audit(db, "user.password_reset")
    assert entry.subject_id == "信息科-01"


def test_a_hash_at_older_parameters_is_remade_at_the_next_sign_in(db: Engine, base: str) -> None:
    set_hash_cost(2**10)  # as an older release stored it
    create_user(db, "结算处-02", ["billing"], "steady-password")

    def stored() -> str:
        with db.connect() as connection:
            return str(
                connection.execute(
                    select(web_user.c.password_hash).where(web_user.c.name == "结算处-02")
                ).scalar_one()
            )

    assert stored().startswith("scrypt$1024$")
    set_hash_cost(CHEAP)
    with _client(base) as client:
        assert _sign_in(client, "结算处-02", "steady-password").status_code == 303
    assert stored().startswith(f"scrypt${CHEAP}$8$1$")


def test_the_settings_refuse_cheap_password_hashing_outside_the_demo() -> None:
    with pytest.raises(SettingsError, match="131072"):
        load_settings(web={"password_hash_n": 2**14})
    assert load_settings(web={"password_hash_n": 2**14}, demo=True).web.password_hash_n == 2**14
    with pytest.raises(SettingsError, match="power of two"):
        load_settings(web={"password_hash_n": 200000})


def _check_page_headers(reply: httpx.Response, bridge: str) -> None:
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["cache-control"] == "no-store"
    policy = reply.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert f"connect-src 'self' {bridge}" in policy


def test_pages_forbid_framing_and_caching_and_allow_only_the_card_bridge(
    db: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTER_CARDS__BRIDGE_URL", "http://127.0.0.1:9600")
    set_hash_cost(CHEAP)
    create_user(db, "信息科-02", ["admission", "billing", "device", "it"], "right-password-1")
    pages = ("/web/", "/web/admission", "/web/billing", "/web/device", "/web/reconciliation",
             "/web/password")  # fmt: skip
    with site(db, db_url) as base, _client(base) as client:
        _check_page_headers(client.get("/web/login"), "http://127.0.0.1:9600")
        assert _sign_in(client, "信息科-02", "right-password-1").status_code == 303
        for path in pages:
            reply = client.get(path)
            assert reply.status_code == 200, path
            _check_page_headers(reply, "http://127.0.0.1:9600")
            # the CSP allows no inline style or script: every page keeps to files
            assert "<style" not in reply.text and " style=" not in reply.text, path
            assert not re.search(r"<script(?![^>]*\bsrc=)", reply.text), path
        static = client.get("/web/static/app.css")
        assert static.status_code == 200 and "no-store" not in static.headers.get(
            "cache-control", ""
        )
        assert "content-security-policy" not in client.get("/docs").headers


@pytest.mark.parametrize("secure", [False, True])
def test_cookies_are_secure_when_served_over_tls(db: Engine, db_url: str, secure: bool) -> None:
    check: Callable[[str], bool] = (
        (lambda c: "secure" in c.lower()) if secure else (lambda c: "secure" not in c.lower())
    )
    with site(db, db_url, secure_cookies=secure) as base, _client(base) as client:
        cookie = client.get("/web/login").headers["set-cookie"]
        assert check(cookie), cookie


def test_sign_ins_failures_lockouts_and_sign_outs_are_in_the_log_with_name_and_address(
    db: Engine, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # IT asked "who signed in as 结算处-02 at 14:02, from which PC?" and the log had only
    # `POST /web/login 303`: no name, no lockout (that was in the audit log alone)
    set_hash_cost(CHEAP)
    create_user(db, "结算处-02", ["billing"], "right-password-1")
    caplog.set_level("INFO", logger="adapter.web")
    throttled = site(db, db_url, signin_max_failures=2, signin_address_max_failures=0)
    with throttled as base, _client(base) as client:
        assert _sign_in(client, "结算处-02", "right-password-1").status_code == 303
        home = client.get("/web/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
        assert token, home.text
        assert client.post("/web/logout", data={"csrf_token": token[1]}).status_code == 303
        codes = [_sign_in(client, "结算处-02", "wrong-password").status_code for _ in range(2)]
        assert codes == [401, 401]
    lines = [(r.levelname, r.getMessage(), r.__dict__) for r in caplog.records]
    seen = [(level, event) for level, event, _ in lines if event.startswith("web.")]
    assert seen == [
        ("INFO", "web.signin"),
        ("INFO", "web.signout"),
        ("WARNING", "web.signin_failed"),
        ("WARNING", "web.signin_failed"),
        ("WARNING", "web.signin_locked"),
    ]
    for _, event, fields in lines:
        if event.startswith("web."):
            assert fields["user"] == "结算处-02" and fields["client"] == "127.0.0.1", event
    signin = next(fields for _, event, fields in lines if event == "web.signin")
    assert signin["roles"] == ["billing"]
    locked = next(fields for _, event, fields in lines if event == "web.signin_locked")
    assert locked["failures"] == 2 and locked["until"]
