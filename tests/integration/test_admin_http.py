"""The UI shell, /metrics and the key endpoint on a real gateway process."""

from __future__ import annotations

from typing import Any

import httpx


def test_ui_shell_is_served_without_a_key_and_locked_down(server: Any) -> None:
    r = httpx.get(server.base + "/ui", follow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "/ui/"
    r = httpx.get(server.base + "/ui/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert '<script type="module" src="js/app.js">' in r.text
    js = httpx.get(server.base + "/ui/js/app.js")
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
    assert httpx.get(server.base + "/ui/app.css").headers["Content-Type"].startswith("text/css")
    assert httpx.get(server.base + "/ui/js/nope.js").status_code == 404
    # No way out of the UI directory, however the path is spelled.
    for path in ("/ui/../config.toml", "/ui/%2e%2e/%2e%2e/config.toml", "/ui/..%2f..%2fconfig.py"):
        r = httpx.get(server.base + path)
        assert r.status_code == 404 or "api_key" not in r.text, path
        assert server.api_key not in r.text
    # The shell carries no data: nothing of the config or the key is in it.
    for name in ("index.html", "js/app.js", "js/pages/proxy.js"):
        assert server.api_key not in httpx.get(f"{server.base}/ui/{name}").text


def test_metrics_and_key_endpoint_need_the_admin_key(make_server: Any) -> None:
    srv = make_server(proxy={"admin_password": "admin-pass-123"})
    for path in ("/metrics", "/api/proxy/api-key", "/api/monitor/requests"):
        assert httpx.get(srv.base + path).status_code == 401, path
        # The proxy key is not the admin key once an admin password is set.
        assert (
            httpx.get(srv.base + path, headers={"Authorization": f"Bearer {srv.api_key}"}).status_code == 401
        )
    admin = {"Authorization": "Bearer admin-pass-123"}
    r = httpx.get(srv.base + "/metrics", headers=admin)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE levity_requests_total counter" in r.text
    assert "# TYPE levity_request_duration_seconds histogram" in r.text
    assert "levity_monitor_dropped_records_total 0" in r.text
    r = httpx.get(srv.base + "/api/proxy/api-key", headers=admin)
    assert r.json() == {"api_key": srv.api_key}
    status = httpx.get(srv.base + "/api/monitor/status", headers=admin).json()
    assert status["path"] == str(srv.home / "monitor.db") and (srv.home / "monitor.db").exists()


def test_monitor_config_section_is_validated(server: Any) -> None:
    with server.admin() as c:
        r = c.patch("/api/config", json={"monitor": {"retention_days": 0}})
        assert r.status_code == 422 and "monitor.retention_days" in r.json()["error"]["message"]
        r = c.patch("/api/config", json={"monitor": {"log_bodies": True, "max_rows": 5000}})
        assert r.status_code == 200 and r.json()["monitor"]["log_bodies"] is True
        assert c.get("/api/monitor/status").json()["log_bodies"] is True


def test_an_open_live_tail_does_not_hold_up_shutdown(server: Any) -> None:
    import time

    headers = {"Authorization": f"Bearer {server.api_key}"}
    with httpx.stream("GET", server.base + "/api/monitor/tail", headers=headers, timeout=10) as r:
        assert r.status_code == 200
        first = next(r.iter_lines())
        assert first == "event: ready"
        t0 = time.monotonic()
        server.proc.terminate()
        server.proc.wait(8)
        assert time.monotonic() - t0 < 3, "shutdown waited on the open event stream"
