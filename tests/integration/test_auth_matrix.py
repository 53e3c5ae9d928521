"""The access-control matrix, end to end over HTTP against a real server.

Every mode x allow_lan_access x {healthz, a /v1 route, an /api route, OPTIONS} x header case.
The expected outcome comes from `expected()`, a direct transcription of the rules in the
issue, kept separate from the gateway's implementation.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.conftest import LevityServer

MODES = ["off", "strict", "all_except_health", "auto"]
KEY = "sk-matrix-0123456789abcdef0123456789ab"
ADMIN = "admin-pass-for-matrix"

TARGETS = {
    "healthz": ("GET", "/healthz"),
    "v1": ("GET", "/v1/models"),
    "api": ("GET", "/api/config"),
    "options": ("OPTIONS", "/v1/chat/completions"),
}


def cases(key: str) -> dict[str, dict[str, str]]:
    return {
        "none": {},
        "bearer": {"Authorization": f"Bearer {key}"},
        "auth_raw": {"Authorization": key},
        "x_api_key": {"x-api-key": key},
        "x_goog": {"x-goog-api-key": key},
        "wrong": {"Authorization": "Bearer sk-wrong"},
        "bearer_no_space": {"Authorization": f"Bearer{key}"},
        "wrong_auth_right_x": {"Authorization": "Bearer sk-wrong", "x-api-key": key},
    }


def effective(mode: str, lan: bool) -> str:
    if mode == "auto":
        return "all_except_health" if lan else "off"
    return mode


def expected(mode: str, lan: bool, target: str, case: str, api_key: str, admin: str) -> bool:
    """True when the request must pass the access layer."""
    method, path = TARGETS[target]
    if method == "OPTIONS":
        return True
    presented = {
        "none": None,
        "bearer": KEY,
        "auth_raw": KEY,
        "x_api_key": KEY,
        "x_goog": KEY,
        "wrong": "sk-wrong",
        "bearer_no_space": "Bearer" + KEY,
        "wrong_auth_right_x": "sk-wrong",
    }[case]
    if target == "api":
        want = admin or api_key
        return bool(want) and presented == want
    eff = effective(mode, lan)
    if eff == "off":
        return True
    if eff == "all_except_health" and target == "healthz":
        return True
    return bool(api_key) and presented == api_key


def combos() -> list[tuple[bool, str, str, str]]:
    # LAN outermost so the listener moves only twice.
    return [(lan, m, t, c) for lan in (False, True) for m in MODES for t in TARGETS for c in cases(KEY)]


@pytest.fixture(scope="module")
def matrix_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    s = LevityServer(tmp_path_factory.mktemp("matrix"), proxy={"api_key": KEY, "admin_password": ADMIN})
    s.start()
    s.state = {"lan": False, "mode": "auto"}
    yield s
    s.stop()


def apply(s: LevityServer, lan: bool, mode: str) -> None:
    if s.state == {"lan": lan, "mode": mode}:
        return
    with httpx.Client(base_url=s.base, headers={"x-api-key": ADMIN}, timeout=10) as c:
        r = c.patch("/api/config", json={"proxy": {"allow_lan_access": lan, "auth_mode": mode}})
        assert r.status_code == 200, r.text
        assert r.json()["effective_auth_mode"] == effective(mode, lan)
        host = "0.0.0.0" if lan else "127.0.0.1"
        deadline = time.monotonic() + 5
        while c.get("/api/config").json()["listener"]["host"] != host:
            assert time.monotonic() < deadline, "listener did not move"
            time.sleep(0.05)
    s.state = {"lan": lan, "mode": mode}


@pytest.mark.parametrize(("lan", "mode", "target", "case"), combos())
def test_matrix(matrix_server: LevityServer, lan: bool, mode: str, target: str, case: str) -> None:
    apply(matrix_server, lan, mode)
    method, path = TARGETS[target]
    headers = cases(KEY)[case]
    r = httpx.request(method, matrix_server.base + path, headers=headers, timeout=10)
    if expected(mode, lan, target, case, KEY, ADMIN):
        assert r.status_code != 401, (r.status_code, r.text)
    else:
        assert r.status_code == 401, (r.status_code, r.text)
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert KEY not in r.text and ADMIN not in r.text and "sk-wrong" not in r.text
        err = r.json()["error"]
        assert err["code"] == "invalid_api_key"  # / routes answer in the OpenAI shape
        if case == "bearer_no_space":
            assert "starts with 'Bearer' but has no space" in err["message"]
        elif case == "wrong_auth_right_x":
            assert "Authorization takes precedence" in err["message"]
        elif case == "none":
            assert err["message"] == "no API key sent"
        else:
            assert err["message"] == "API key does not match"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lan", [False, True])
def test_empty_api_key_denies_everything_when_auth_is_on(make_server: Any, mode: str, lan: bool) -> None:
    s = make_server(
        proxy={"api_key": "", "admin_password": ADMIN, "auth_mode": mode, "allow_lan_access": lan}
    )
    eff = effective(mode, lan)
    for target in ("healthz", "v1"):
        attempts = {
            "none": {},
            "bearer": {"Authorization": "Bearer sk-anything"},
            "x_api_key": {"x-api-key": "sk-anything"},
            "x_goog": {"x-goog-api-key": "sk-anything"},
        }
        for case, headers in attempts.items():
            method, path = TARGETS[target]
            r = httpx.request(method, s.base + path, headers=headers, timeout=10)
            passes = eff == "off" or (eff == "all_except_health" and target == "healthz")
            if passes:
                assert r.status_code != 401, (target, case, r.text)
            else:
                assert r.status_code == 401, (target, case, r.text)
                assert (
                    r.json()["error"]["message"]
                    == "proxy auth is on but the server has no api_key configured"
                )
    logged = "Proxy auth is enabled but api_key is empty; denying request" in s.log()
    assert logged == (eff != "off")
    # The admin API still works with the admin password.
    r = httpx.get(s.base + "/api/config", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/v1/messages", "anthropic"),
        ("/v1/messages/count_tokens", "anthropic"),
        ("/v1beta/models/gemini-2.5-flash:generateContent", "gemini"),
        ("/v1/chat/completions", "openai"),
        ("/v1/responses", "openai"),
    ],
)
def test_401_body_in_client_protocol_shape(make_server: Any, path: str, shape: str) -> None:
    s = make_server(proxy={"auth_mode": "strict"})
    r = httpx.post(s.base + path, json={}, timeout=10)
    assert r.status_code == 401
    body = r.json()
    if shape == "anthropic":
        assert body == {
            "type": "error",
            "error": {"type": "authentication_error", "message": "no API key sent"},
        }
    elif shape == "gemini":
        assert body == {"error": {"code": 401, "message": "no API key sent", "status": "UNAUTHENTICATED"}}
    else:
        assert body["error"]["type"] == "invalid_request_error"
        assert body["error"]["code"] == "invalid_api_key"


def test_admin_api_needs_key_even_when_auth_is_off(make_server: Any) -> None:
    s = make_server(proxy={"auth_mode": "off"})
    assert httpx.get(s.base + "/api/config", timeout=10).status_code == 401
    assert httpx.get(s.base + "/metrics", timeout=10).status_code == 401
    assert httpx.get(s.base + "/api/config", headers={"x-api-key": s.api_key}, timeout=10).status_code == 200
    # With an admin password set, the proxy key no longer opens the admin API.
    s.patch({"proxy": {"admin_password": ADMIN}})
    assert httpx.get(s.base + "/api/config", headers={"x-api-key": s.api_key}, timeout=10).status_code == 401
    assert httpx.get(s.base + "/api/config", headers={"x-api-key": ADMIN}, timeout=10).status_code == 200
