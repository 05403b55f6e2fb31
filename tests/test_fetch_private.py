"""qa.fetch refuses private addresses after DNS, at every hop, and connects to the address it checked;
over https the certificate is checked against the name. Names are answered by a stand-in resolver."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from fetch_site import ARTICLE, NAME, SETTINGS, TLS_DIR, Site, resolve, serving

from qa import fetch as fetch_module
from qa.config import Settings
from qa.errors import FetchFailed
from qa.fetch import Accept, Fetcher, classify_address


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serving() as server:
        yield server


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(SETTINGS, backoff_s=0.01) as f:
        yield f


# --- private addresses, after DNS -------------------------------------------------------------------


def test_fetch_refuses_a_private_address_by_default(site: Site) -> None:
    with Fetcher(Settings(), backoff_s=0.01) as fetcher, pytest.raises(FetchFailed) as caught:
        fetcher.fetch(site.url("/article?private"), Accept.PAGE)
    assert caught.value.message == (
        f"could not fetch {site.url('/article?private')}: 127.0.0.1 is a private address (loopback); "
        "set QA_ALLOW_PRIVATE_URLS=1 to allow it"
    )
    assert site.hits["/article?private"] == 0


def test_fetch_allows_a_private_address_when_told(site: Site) -> None:
    with Fetcher(Settings(allow_private_urls=True)) as fetcher:
        assert fetcher.fetch(site.url("/article?allowed"), Accept.PAGE).content == ARTICLE


@pytest.mark.parametrize(
    ("answers", "said"),
    [
        (["127.0.0.1"], "resolves to 127.0.0.1, a private address (loopback)"),
        (["8.8.8.8", "10.1.2.3"], "resolves to 10.1.2.3, a private address;"),
        (["::ffff:169.254.169.254"], "resolves to ::ffff:169.254.169.254, a private address (link-local)"),
    ],
    ids=["loopback", "one-private-among-public", "mapped-link-local"],
)
def test_fetch_checks_the_address_a_name_resolves_to(
    monkeypatch: pytest.MonkeyPatch, site: Site, answers: list[str], said: str
) -> None:
    resolve(monkeypatch, news_example_com=answers)
    with Fetcher(Settings()) as fetcher, pytest.raises(FetchFailed) as caught:
        fetcher.fetch(site.url("/article?dns", host=NAME), Accept.PAGE)
    assert f": {NAME} {said}" in caught.value.message
    assert site.hits["/article?dns"] == 0


def test_fetch_connects_to_the_address_it_checked(monkeypatch: pytest.MonkeyPatch, site: Site) -> None:
    # The name is resolved once, by the check, and the request goes to that address with the name
    # as its Host: nothing resolves it a second time (which DNS could answer differently).
    fake = resolve(monkeypatch, news_example_com=["127.0.0.1"])
    with Fetcher(SETTINGS) as fetcher:
        got = fetcher.fetch(site.url("/article?pinned", host=NAME), Accept.PAGE)
    assert got.final_url == site.url("/article?pinned", host=NAME)
    assert fake.asked[NAME] == 1
    assert site.headers_seen["/article?pinned"]["Host"] == f"{NAME}:{site.server_address[1]}"


def test_fetch_checks_every_redirect_hop(monkeypatch: pytest.MonkeyPatch, site: Site) -> None:
    # The test server plays a public site; it redirects to a name that resolves inside the network.
    resolve(monkeypatch, news_example_com=["127.0.0.1"], intranet_example_com=["10.0.0.9"])
    real = classify_address
    monkeypatch.setattr(fetch_module, "classify_address", lambda a: "public" if a == "127.0.0.1" else real(a))
    with Fetcher(Settings()) as fetcher, pytest.raises(FetchFailed) as caught:
        fetcher.fetch(site.url("/to-intranet", host=NAME), Accept.PAGE)
    hop = "http://intranet.example.com/admin"
    assert caught.value.message == (
        f"could not fetch {site.url('/to-intranet', host=NAME)} (redirected to {hop}): intranet.example.com "
        "resolves to 10.0.0.9, a private address; set QA_ALLOW_PRIVATE_URLS=1 to allow it"
    )


def test_fetch_says_when_a_name_does_not_resolve(monkeypatch: pytest.MonkeyPatch, fetcher: Fetcher) -> None:
    def no_such_name(*args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(FetchFailed) as caught:
        fetcher.fetch("https://no-such-site.example/story", Accept.PAGE)
    assert caught.value.message == (
        "could not fetch https://no-such-site.example/story: "
        "could not find the server no-such-site.example (Name or service not known)"
    )


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "unique local"),
        ("fd12:3456::1", "unique local"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::7f00:1", "loopback"),
        ("2002:a00:1::1", "private"),
        ("8.8.8.8", "public"),
        ("2001:4860:4860::8888", "public"),
        ("::ffff:8.8.8.8", "public"),
    ],
)
def test_classify_address(address: str, kind: str) -> None:
    assert classify_address(address) == kind


# --- https: the certificate is checked for the name, while the connection goes to the checked address


@pytest.fixture(scope="module")
def tls_site() -> Iterator[Site]:
    with serving(tls=True) as server:
        yield server


@pytest.mark.parametrize(
    ("host", "fails"),
    [
        (NAME, None),
        ("other.example.com", "certificate verify failed"),
        ("127.0.0.1", "certificate verify failed"),
    ],
    ids=["its-name", "another-name", "its-address"],
)
def test_fetch_checks_the_certificate_against_the_name(
    monkeypatch: pytest.MonkeyPatch, tls_site: Site, host: str, fails: str | None
) -> None:
    resolve(monkeypatch, news_example_com=["127.0.0.1"], other_example_com=["127.0.0.1"])
    url = tls_site.url("/article", host=host).replace("http:", "https:")
    trusted = ssl.create_default_context(cafile=TLS_DIR / "ca.pem")
    with Fetcher(SETTINGS, ssl_context=trusted) as fetcher:
        if fails is None:
            assert fetcher.fetch(url, Accept.PAGE).content == ARTICLE
        else:
            with pytest.raises(FetchFailed, match=fails):
                fetcher.fetch(url, Accept.PAGE)
