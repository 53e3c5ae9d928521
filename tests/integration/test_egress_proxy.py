"""`proxy.upstream_proxy`: upstream calls tunnel through an HTTP CONNECT proxy, switchable live.

The proxy is a real CONNECT proxy on loopback (threads piping bytes); it records each tunnel.
"""

from __future__ import annotations

import socket
import threading

import httpx

from .conftest import add_account, base_for
from .fake_upstream import TEXT


class ConnectProxy:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.tunnels: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(4096)
            if not data:
                client.close()
                return
            head += data
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        self.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
        self._pipe(client, upstream)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


def chat(gateway) -> httpx.Response:
    return httpx.post(
        gateway.base + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {gateway.api_key}"},
        json={"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )


def test_upstream_calls_go_through_the_egress_proxy_until_it_is_switched_off(make_server, fake):
    proxy = ConnectProxy()
    try:
        gateway = make_server(proxy={"upstream_proxy": proxy.url, "read_timeout": 5.0})
        add_account(gateway, "openai", "sk-up-egress-1111", "egress", ["gpt-fake"], base_for(fake, "openai"))
        r = chat(gateway)
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == TEXT
        fake_port = fake.url.rsplit(":", 1)[1]
        assert proxy.tunnels == [f"127.0.0.1:{fake_port}"]

        gateway.patch({"proxy": {"upstream_proxy": ""}})  # applies at once: the next call goes direct
        r = chat(gateway)
        assert r.status_code == 200, r.text
        assert len(proxy.tunnels) == 1
        assert len(fake.calls(path_part="/chat/completions")) == 2
    finally:
        proxy.close()
