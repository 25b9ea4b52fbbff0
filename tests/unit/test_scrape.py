"""Fetching against a loopback site: every awkward case is reported, none raises."""

from __future__ import annotations

import time

import pytest

from common.data.scrape import (
    Fetcher,
    HostRateLimiter,
    RobotsCache,
    ScrapeConfig,
    TransientFetchError,
    parse_sitemap,
    read_url_list,
    sitemap_urls,
)
from common.testing.testsite import Route, build_site, serve

POSTINGS = [
    ("Data engineer", ["We need a data engineer with Python and SQL.", "You will build pipelines in the cloud."], ["Python"]),
    ("Nurse", ["Caring for patients on a busy ward.", "Registration with the nursing council is required."], []),
]


@pytest.fixture(scope="module")
def site():
    s = build_site(POSTINGS, big_bytes=300_000, slow_s=1.5)
    s.routes["/flaky.html"] = Route(body=s.routes["/jobs/0.html"].body, fail_first=2)
    s.routes["/chain0"] = Route(status=302, headers={"Location": "/chain1"})
    for i in range(1, 5):
        s.routes[f"/chain{i}"] = Route(status=302, headers={"Location": f"/chain{i + 1}"})
    s.routes["/index.xml"] = Route(
        body=b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sitemap><loc>/sitemap.xml</loc></sitemap></sitemapindex>",
        content_type="application/xml",
    )
    with serve(s.routes) as (base, hits):
        yield base, hits, s


def _fetcher(**kw) -> Fetcher:
    cfg = ScrapeConfig(**{"timeout_s": 0.4, "min_interval_s": 0.0, "max_bytes": 200_000, "retries": 0,
                          "backoff_s": 0.05, "max_redirects": 3, **kw})
    # fresh limiter/robots per test: the shared per-process ones would carry state across tests
    return Fetcher(cfg, limiter=HostRateLimiter(cfg.min_interval_s), robots=RobotsCache())


@pytest.mark.parametrize(
    ("path", "error", "transient"),
    [
        ("/private/job.html", "robots_disallowed", False),
        ("/missing.html", "http_error", False),
        ("/slow.html", "timeout", True),
        ("/big.html", "too_large", False),
        ("/big-stream.html", "too_large", False),
        ("/file.pdf", "not_html", False),
        ("/loop-a", "redirect_loop", False),
        ("/chain0", "too_many_redirects", False),
    ],
)
def test_failures_are_results_not_exceptions(site, path, error, transient):
    base, hits, _ = site
    with _fetcher() as f:
        res = f.fetch(base + path)
    assert not res.ok and res.error == error and res.transient is transient and res.detail
    if error == "robots_disallowed":
        assert hits[path] == 0  # never requested
    if error == "too_large":
        assert res.text is None


def test_ok_page_and_redirect(site):
    base, _, s = site
    with _fetcher() as f:
        direct = f.fetch(base + "/jobs/0.html")
        moved = f.fetch(base + "/moved")
    assert direct.ok and direct.status_code == 200 and "data engineer" in direct.text
    assert moved.ok and moved.final_url == base + "/jobs/0.html" and moved.redirects == [base + "/moved"]
    assert moved.text == direct.text


def test_only_http_and_https(site):
    with _fetcher() as f:
        for url in ("ftp://example.org/a", "file:///etc/passwd", "javascript:alert(1)"):
            res = f.fetch(url)
            assert res.error == "bad_scheme"


def test_redirect_to_other_scheme_is_refused():
    routes = {"/r": Route(status=302, headers={"Location": "file:///etc/passwd"})}
    with serve(routes, sitemap=False) as (base, _), _fetcher() as f:
        res = f.fetch(base + "/r")
    assert res.error == "bad_scheme"


def test_transient_raises_when_asked_and_retrying_recovers(site):
    base, hits, _ = site
    with _fetcher() as f:
        with pytest.raises(TransientFetchError) as info:
            f.fetch(base + "/slow.html", raise_transient=True)
        assert info.value.result.error == "timeout"
    with _fetcher(retries=3) as f:
        res = f.fetch_retrying(base + "/flaky.html")
    assert res.ok and res.attempts == 3 and hits["/flaky.html"] == 3


def test_transient_error_pickles():
    import pickle

    from common.data.scrape import FetchResult

    err = TransientFetchError(FetchResult(url="http://x", ok=False, error="timeout", transient=True))
    again = pickle.loads(pickle.dumps(err))
    assert again.result.error == "timeout"


def test_rate_limit_per_host(site):
    base, _, _ = site
    with _fetcher(min_interval_s=0.3) as f:
        t0 = time.monotonic()
        for _ in range(3):
            assert f.fetch(base + "/jobs/1.html").ok
        elapsed = time.monotonic() - t0
    assert elapsed >= 0.6  # three requests to one host: two full intervals
    lim = HostRateLimiter(0.3)
    lim.wait("a")
    assert lim.wait("b") == 0  # another host is not delayed


def test_robots_can_be_switched_off(site):
    base, hits, _ = site
    with _fetcher(obey_robots=False) as f:
        assert f.fetch(base + "/private/job.html").ok
    assert hits["/private/job.html"] >= 1


def test_sitemaps(site):
    base, _, s = site
    with _fetcher() as f:
        urls = sitemap_urls(base + "/index.xml", f)
    assert sorted(urls) == sorted(base + p for p in s.truth)
    pages, children = parse_sitemap("<urlset><url><loc> http://a/1 </loc></url></urlset>")
    assert pages == ["http://a/1"] and children == []
    with pytest.raises(ValueError, match="(?i)entit"):
        parse_sitemap('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><urlset><loc>&e;</loc></urlset>')


def test_read_url_list():
    assert read_url_list(["# comment", "", " http://a ", "http://b", "http://a"]) == ["http://a", "http://b"]
