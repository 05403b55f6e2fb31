"""Fetch article pages and feeds over HTTP(S): the one module of the product that touches the network.

Every fetch is bounded (connect and total timeouts, a size cap read as a stream, a redirect limit)
and, unless QA_ALLOW_PRIVATE_URLS is on, refuses hosts that resolve to a private, loopback,
link-local or otherwise non-global address, at every redirect hop, so that adding a document by URL
can't be used to reach inside the network the product runs in.

The request goes to the very address that was checked: the URL's host is replaced by that address,
the Host header keeps the name, and for https the TLS server name (SNI) and the certificate check
keep the name too (httpx's `sni_hostname` extension). A DNS answer that changes between the check
and the connection (DNS rebinding) therefore can't redirect the request. What remains:
- a resolver answer naming any non-global address refuses the URL, even if other answers are public;
  only the first address is tried, with no fallback to the next;
- name resolution (`socket.getaddrinfo`) has no timeout of its own: the system resolver's applies;
- the total timeout is checked between reads, so a body trickling in byte by byte can overrun it by
  at most one read wait (the same length again);
- proxies from the environment (HTTP_PROXY, ...) are ignored on purpose: a proxy would resolve the
  name itself, out of reach of the check.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus
from types import TracebackType

import httpx

from qa.config import FETCH_BACKOFF_S, FETCH_MAX_REDIRECTS, FETCH_RETRIES, Settings
from qa.errors import FetchFailed

# The distribution's name and version (pyproject.toml), so a site's operator can tell who asks.
USER_AGENT = "newsqa/0.1 (question answering over news articles)"
SCHEMES = ("http", "https")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Encodings httpx decodes and the size cap then counts after decoding; zlib inflates at most about
# 1000:1, so one 64 KiB read can't become more than about 64 MiB before the cap sees it. Others
# (br, zstd) could expand much further in one step and are failed.
ENCODINGS = ("identity", "gzip", "deflate")
# Bodies whose declared type says nothing useful: their first bytes decide (see `_sniff`).
UNTYPED = ("", "application/octet-stream")
SNIFF_BYTES = 1024

SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")  # an IPv4 address in its last 32 bits
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class Accept(Enum):
    """What the caller takes: an HTML page (an article) or an RSS/Atom feed."""

    PAGE = ("an HTML page", ("text/html", "application/xhtml+xml"))
    FEED = (
        "an RSS or Atom feed",
        ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml"),
    )

    @property
    def description(self) -> str:
        """The kind of content in words, for messages."""
        return self.value[0]

    @property
    def media_types(self) -> tuple[str, ...]:
        """The media types taken as they are declared."""
        return self.value[1]

    @property
    def header(self) -> str:
        """The Accept header asking for these types (anything else last, so no site answers 406)."""
        return ", ".join((*self.media_types, "*/*;q=0.1"))

    @property
    def sniffed(self) -> tuple[str, ...]:
        """Declared types whose body is judged by its first bytes instead.

        Feeds are often served as text/plain; a page served as text/plain is not HTML.
        """
        return (*UNTYPED, "text/plain") if self is Accept.FEED else UNTYPED


@dataclass(frozen=True)
class Fetched:
    """A fetched body with where it came from and what it is."""

    url: str  # the URL asked for
    final_url: str  # after redirects (as httpx writes URLs: `http://a.example` is `http://a.example/`)
    content: bytes
    content_type: str  # media type, lowercased, without parameters (sniffed when undeclared)
    charset: str | None  # from the Content-Type header, if any


class _Failed(Exception):
    """Why one URL failed, in words for people; a `transient` failure is worth another try."""

    def __init__(self, reason: str, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class Fetcher:
    """One HTTP client with the product's limits; `fetch` one URL at a time, `close` when done."""

    def __init__(
        self,
        settings: Settings,
        *,
        backoff_s: float = FETCH_BACKOFF_S,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """A client with the limits of `settings`; `ssl_context` replaces the default trust store."""
        self._settings = settings
        self._backoff_s = backoff_s
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.fetch_timeout_s, connect=settings.fetch_connect_timeout_s),
            follow_redirects=False,  # each hop is checked here, see `fetch`
            trust_env=False,  # no proxy or .netrc from the environment: see the module's docstring
            # No connection is reused: the pool knows connections by address, not by name, so a
            # kept-alive TLS connection checked for one name could carry a request for another.
            limits=httpx.Limits(max_keepalive_connections=0),
            verify=ssl_context if ssl_context is not None else True,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": ", ".join(ENCODINGS[1:])},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the client and its connections."""
        self._client.close()

    def fetch(self, url: str, accept: Accept) -> Fetched:
        """GET `url`, checking every redirect hop; FetchFailed says why when it can't."""
        hops: list[httpx.URL] = []
        try:
            target = _checked_url(url)
            for _ in range(FETCH_MAX_REDIRECTS + 1):
                result = self._with_retries(url, target, accept)
                if isinstance(result, Fetched):
                    return result
                target = result
                hops.append(target)
            raise _Failed(f"it redirects more than {FETCH_MAX_REDIRECTS} times")
        except _Failed as failed:
            where = f" (redirected to {hops[-1]})" if hops else ""
            raise FetchFailed(f"could not fetch {url}{where}: {failed.reason}") from None

    def _with_retries(self, url: str, target: httpx.URL, accept: Accept) -> Fetched | httpx.URL:
        """One hop, tried again after a 5xx or a timeout, waiting longer each time."""
        for attempt in range(FETCH_RETRIES + 1):
            if attempt:
                time.sleep(self._backoff_s * 2 ** (attempt - 1))
            try:
                return self._attempt(url, target, accept)
            except _Failed as failed:
                if not failed.transient:
                    raise
                last = failed
        raise _Failed(f"{last.reason} ({FETCH_RETRIES + 1} tries)")

    def _attempt(self, url: str, target: httpx.URL, accept: Accept) -> Fetched | httpx.URL:
        """One GET of `target`: the page, the next hop of a redirect, or _Failed."""
        request = self._pinned_request(target, accept)
        settings = self._settings
        deadline = time.monotonic() + settings.fetch_timeout_s
        try:
            response = self._client.send(request, stream=True)
            try:
                return self._answer(url, target, accept, response, deadline)
            finally:
                response.close()
        except httpx.ConnectTimeout:
            raise _Failed(
                _timed_out("connecting", settings.fetch_connect_timeout_s), transient=True
            ) from None
        except httpx.TimeoutException:
            raise _Failed(
                _timed_out("waiting for the answer", settings.fetch_timeout_s), transient=True
            ) from None
        except httpx.ConnectError as error:
            raise _Failed(f"could not connect to {target.host}: {_plain(error)}") from None
        except httpx.RemoteProtocolError as error:
            raise _Failed(f"the server broke off its answer ({_plain(error)})") from None
        except httpx.DecodingError as error:
            raise _Failed(f"the body can't be decoded ({_plain(error)})") from None
        except httpx.HTTPError as error:
            raise _Failed(f"the connection failed ({_plain(error)})") from None

    def _pinned_request(self, target: httpx.URL, accept: Accept) -> httpx.Request:
        """A request for `target` addressed to its checked IP address, the name kept for Host and TLS."""
        host = target.raw_host.decode("ascii")  # IDNA-encoded, as DNS and TLS want it
        port = target.port or (443 if target.scheme == "https" else 80)
        address = self._checked_address(host, port)
        return self._client.build_request(
            "GET",
            target.copy_with(host=address),
            headers={"Host": target.netloc.decode("ascii"), "Accept": accept.header},
            extensions={"sni_hostname": host} if target.scheme == "https" else {},
        )

    def _checked_address(self, host: str, port: int) -> str:
        """The address to connect to for `host`, after refusing any non-global one it resolves to."""
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            transient = error.errno == socket.EAI_AGAIN  # "temporary failure in name resolution"
            raise _Failed(f"could not find the server {host} ({error.strerror})", transient) from None
        addresses = list(dict.fromkeys(str(answer[4][0]) for answer in answers))
        if not self._settings.allow_private_urls:
            for address in addresses:
                kind = classify_address(address)
                if kind != "public":
                    where = f"{address} is" if host == address else f"{host} resolves to {address},"
                    what = "a private address" + ("" if kind == "private" else f" ({kind})")
                    raise _Failed(f"{where} {what}; set QA_ALLOW_PRIVATE_URLS=1 to allow it")
        return addresses[0].split("%")[0]  # no IPv6 zone (fe80::1%eth0): URLs can't carry one

    def _answer(
        self, url: str, target: httpx.URL, accept: Accept, response: httpx.Response, deadline: float
    ) -> Fetched | httpx.URL:
        """What a response means: a redirect's next hop, a refusal, or the body checked and read."""
        status = response.status_code
        if status in REDIRECT_STATUSES:
            return _next_hop(target, response)
        if not 200 <= status < 300:
            raise _Failed(f"the server answered {_status_words(response)}", transient=status >= 500)
        declared = response.headers.get("content-type", "")
        media_type = declared.split(";")[0].strip().lower()
        if media_type not in accept.media_types and media_type not in accept.sniffed:
            raise _Failed(f"it is {media_type}, not {accept.description}")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ENCODINGS:
            raise _Failed(f"it is sent with the {encoding} encoding, which was not asked for")
        content = self._read(response, deadline)
        if media_type not in accept.media_types:
            sniffed = _sniff(content, accept)
            if sniffed is None:
                said = media_type or "without a content type"
                raise _Failed(f"it is {said} and does not look like {accept.description}")
            media_type = sniffed
        return Fetched(url, str(target), content, media_type, response.charset_encoding)

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        """The body, read as a stream and given up as soon as it passes the size cap or the deadline."""
        cap = self._settings.max_file_bytes
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            raise _Failed(f"it says it is {int(length):,} bytes, {_over(cap)}")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():  # decoded: the cap counts what would be kept
            size += len(chunk)
            if size > cap:
                raise _Failed(f"it is {_over(cap)}")
            if time.monotonic() > deadline:
                raise _Failed(
                    _timed_out("waiting for the answer", self._settings.fetch_timeout_s), transient=True
                )
            chunks.append(chunk)
        return b"".join(chunks)


def classify_address(address: str) -> str:
    """'public' for a global unicast address, else what it is instead ('loopback', 'private', ...)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 inside IPv6 (mapped, 6to4, NAT64) reaches that IPv4 address: judge that one.
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in NAT64_PREFIX:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return classify_address(str(inner))
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip in SHARED_ADDRESS_SPACE:
        return "carrier-grade NAT"
    if ip in UNIQUE_LOCAL:
        return "unique local"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return "public"


def _checked_url(url: str) -> httpx.URL:
    """`url` parsed, if it is an http(s) URL with a host and no credentials."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise _Failed(f"it is not a valid URL ({error})") from None
    if parsed.scheme not in SCHEMES:
        scheme = f"an {parsed.scheme} URL" if parsed.scheme else "a URL without a scheme"
        raise _Failed(f"it is {scheme}; only http and https URLs can be fetched")
    if not parsed.host:
        raise _Failed("it has no host")
    # A user name or password in a URL would be sent to the site and stored with the document (the
    # URL is its source), and `http://public.example@10.0.0.1/` is a classic way to mislead a reader.
    if parsed.userinfo:
        raise _Failed("it holds a user name or password; give the URL without them")
    return parsed


def _next_hop(target: httpx.URL, response: httpx.Response) -> httpx.URL:
    """Where a redirect leads, checked like the URL asked for."""
    location = response.headers.get("location")
    if not location:
        raise _Failed(f"the server answered {_status_words(response)} without saying where to go")
    try:
        nxt = target.join(location)
    except httpx.InvalidURL:
        raise _Failed(f"it redirects to {location!r}, which is not a valid URL") from None
    try:
        return _checked_url(str(nxt))
    except _Failed as failed:
        raise _Failed(f"it redirects to {nxt}, and {failed.reason}") from None


def _sniff(content: bytes, accept: Accept) -> str | None:
    """The media type the first bytes of a body show, if it is the kind asked for; else None."""
    head = content[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if accept is Accept.PAGE:
        return "text/html" if head.startswith(b"<!doctype html") or b"<html" in head else None
    for root, media_type in ((b"<rss", "application/rss+xml"), (b"<feed", "application/atom+xml")):
        if root in head:
            return media_type
    return "application/rdf+xml" if b"<rdf:rdf" in head else None


def _status_words(response: httpx.Response) -> str:
    """'404 Not Found': the status with its standard phrase (or the server's, for unknown ones)."""
    try:
        phrase = HTTPStatus(response.status_code).phrase
    except ValueError:
        phrase = response.reason_phrase
    return f"{response.status_code} {phrase}".strip()


def _timed_out(during: str, limit_s: float) -> str:
    return f"timed out {during} (after {limit_s:g} s)"


def _over(cap: int) -> str:
    return f"over the {cap:,}-byte limit (QA_MAX_FILE_BYTES)"


def _plain(error: Exception) -> str:
    """An exception's message without the errno prefix ('[Errno 111] Connection refused')."""
    return re.sub(r"^\[Errno -?\d+\] ", "", str(error)) or type(error).__name__
