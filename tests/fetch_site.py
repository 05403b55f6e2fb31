"""The test site of qa.fetch's tests: an HTTP server on 127.0.0.1 with fixed routes, run in a thread,
and a stand-in for `socket.getaddrinfo` that answers made-up names, so no test leaves the machine."""

from __future__ import annotations

import gzip
import http.server
import ipaddress
import socket
import socketserver
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from qa.config import Settings

CAP = 1_000_000  # QA_MAX_FILE_BYTES in these tests
HUGE = 30_000_000
SETTINGS = Settings(allow_private_urls=True, max_file_bytes=CAP, fetch_timeout_s=5, fetch_connect_timeout_s=5)
# A test CA (ca.pem) and a certificate for news.example.com it signed, with its key
# (news.example.com.pem), both valid until 2126. Made with OpenSSL 3 (the CA's key was thrown away):
#   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key
#     -out ca.pem -days 36500 -subj "/CN=newsqa test CA" -addext basicConstraints=critical,CA:TRUE
#     -addext keyUsage=critical,keyCertSign,cRLSign -addext subjectKeyIdentifier=hash
#   openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout leaf.key -out leaf.csr
#     -subj /CN=news.example.com
#   openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -days 36500 -extfile leaf.ext -out leaf.pem
#   cat leaf.pem leaf.key > news.example.com.pem
# where leaf.ext holds basicConstraints=critical,CA:FALSE, keyUsage=critical,digitalSignature,
# extendedKeyUsage=serverAuth, subjectAltName=DNS:news.example.com, subjectKeyIdentifier=hash and
# authorityKeyIdentifier=keyid, one a line.
TLS_DIR = Path(__file__).parent / "data" / "fetch"
NAME = "news.example.com"
ServerT = TypeVar("ServerT", bound=socketserver.BaseServer)

ARTICLE = b"<!DOCTYPE html><html><head><title>Story</title></head><body><p>News.</p></body></html>"
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title></channel></rss>'
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)


class Site(http.server.ThreadingHTTPServer):
    """The test server: counts hits per path, remembers request headers and bytes written."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits: Counter[str] = Counter()
        self.headers_seen: dict[str, dict[str, str]] = {}
        self.written: dict[str, int] = {}
        self.done: dict[str, threading.Event] = {}
        self.release = threading.Event()  # ends the handlers that never answer

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server_address[1]}{path}"


class Handler(http.server.BaseHTTPRequestHandler):
    """Fixed routes; HTTP/1.0, so a body without Content-Length ends when the connection does."""

    server: Site

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        path = self.path
        self.server.hits[path] += 1
        self.server.headers_seen[path] = dict(self.headers)
        route = path.split("?")[0]
        if route.startswith("/redirect/"):
            left = int(route.rsplit("/", 1)[1])
            return self._redirect("/article" if left == 0 else f"/redirect/{left - 1}")
        simple = SIMPLE.get(route)
        if simple is not None:
            return self._send(*simple)
        getattr(self, "route_" + route.strip("/").replace("-", "_"))()

    def _send(self, status: int, content_type: str | None, body: bytes, **headers: str) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.end_headers()

    def route_flaky(self) -> None:  # 500 twice, then the page
        if self.server.hits[self.path] <= 2:
            return self._send(500, "text/plain", b"oops")
        self._send(200, "text/html", ARTICLE)

    def route_never_answers(self) -> None:
        self.server.release.wait(10)

    def route_huge(self) -> None:  # 30 MB, no Content-Length
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self._stream(ARTICLE + b" " * HUGE)

    def route_lying_length(self) -> None:  # says 1,000 bytes, sends 30 MB
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self._stream(ARTICLE + b" " * HUGE)

    def route_declared_huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(HUGE))
        self.end_headers()
        self._stream(b" " * HUGE)

    def route_gzip_bomb(self) -> None:  # 30 kB on the wire (an honest Content-Length), 30 MB unpacked
        self._send(200, "text/html", BOMB, Content_Encoding="gzip")

    def route_brotli(self) -> None:
        self._send(200, "text/html", b"\x0b\x02\x80\x00", Content_Encoding="br")

    def route_to_ftp(self) -> None:
        self._redirect("ftp://127.0.0.1/story.html")

    def route_to_intranet(self) -> None:
        self._redirect("http://intranet.example.com/admin")

    def _stream(self, body: bytes) -> None:
        """Write `body` in 64 KiB pieces until done or the client hangs up; record what got out."""
        written = 0
        try:
            for start in range(0, len(body), 65536):
                self.wfile.write(body[start : start + 65536])
                written += len(body[start : start + 65536])
        except OSError:
            pass
        self.server.written[self.path] = written
        self.server.done.setdefault(self.path, threading.Event()).set()


BOMB = gzip.compress(ARTICLE + b" " * HUGE, compresslevel=9)
SIMPLE: dict[str, tuple[int, str | None, bytes]] = {
    "/article": (200, "text/html; charset=UTF-8", ARTICLE),
    "/xhtml": (200, "application/xhtml+xml", ARTICLE),
    "/untyped-page": (200, None, ARTICLE),
    "/feed.xml": (200, "application/rss+xml", RSS),
    "/plain-feed": (200, "text/plain", RSS),
    "/plain-text": (200, "text/plain", b"Just words, no markup."),
    "/untyped-binary": (200, None, PNG),
    "/missing": (404, "text/html", b"<html>gone</html>"),
    "/forbidden": (403, "text/html", b"<html>no</html>"),
    "/broken": (503, "text/html", b"<html>down</html>"),
    "/image": (200, "image/png", PNG),
    "/pdf": (200, "application/pdf", b"%PDF-1.7"),
    "/nowhere": (302, "text/html", b""),  # a redirect without Location
}


class FakeResolver:
    """Stands in for socket.getaddrinfo: made-up names get fixed addresses, IP literals pass through
    (nothing to look up), and any other name is unknown, so no test can reach a real DNS server."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.asked: Counter[str] = Counter()
        self.real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        self.asked[str(host)] += 1
        if host not in self.names:
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            return self.real(host, port, *args, **kwargs)
        answers = []
        for address in self.names[host]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            answers.append((family, socket.SOCK_STREAM, 6, "", (address, port)))
        return answers


def resolve(monkeypatch: pytest.MonkeyPatch, **names: list[str]) -> FakeResolver:
    fake = FakeResolver({name.replace("_", "."): addresses for name, addresses in names.items()})
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


def serving(tls: bool = False) -> AbstractContextManager[Site]:
    """A Site serving from a thread (over TLS, as news.example.com, if `tls`), stopped at the end."""
    server = Site()
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(TLS_DIR / "news.example.com.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return in_thread(server, server.release)


@contextmanager
def in_thread(server: ServerT, release: threading.Event | None = None) -> Iterator[ServerT]:
    """Serve from a daemon thread until the block ends; then set `release` (which ends the handlers
    waiting on it), stop the server and close its socket."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if release is not None:
            release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
