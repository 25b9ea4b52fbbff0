"""Polite HTTP fetching of posting pages: the network half of ingest (parsing is elsewhere).

Why hand-roll the redirect loop: robots.txt, the http/https-only rule and the per-host rate
limit must apply to every hop, and a loop must be reported as a loop rather than as a generic
error. Everything else is httpx.

One ``fetch`` is one attempt and returns a ``FetchResult`` whatever happens. Failures that may
go away (timeouts, connection errors, 429, 5xx) are marked ``transient``; with
``raise_transient=True`` they raise ``TransientFetchError`` instead so that an orchestrator
(Prefect task retries with backoff) can retry them. ``fetch_retrying`` does the same retries
with exponential backoff for callers without an orchestrator.
"""

from __future__ import annotations

import threading
import time
import urllib.robotparser
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import BaseModel, Field

from common.core.config import StageConfig

HTML_TYPES = ("text/html", "application/xhtml+xml")
XML_TYPES = ("application/xml", "text/xml", "application/rss+xml", "application/atom+xml")


class ScrapeConfig(StageConfig):
    """Fetching limits; load from YAML with ``ScrapeConfig.from_yaml``."""

    user_agent: str = "jobskills-bot/0.1 (+https://github.com/jobskills)"
    timeout_s: float = Field(10.0, gt=0, description="Connect/read timeout of one request.")
    total_timeout_s: float = Field(30.0, gt=0, description="Longest time one page may take to download.")
    max_bytes: int = Field(2_000_000, gt=0, description="Pages larger than this are refused.")
    max_redirects: int = Field(5, ge=0)
    retries: int = Field(2, ge=0, description="Extra attempts for transient failures.")
    backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each retry.")
    min_interval_s: float = Field(1.0, ge=0, description="Least time between two requests to one host.")
    obey_robots: bool = True
    robots_cache_s: float = 3600.0

class FetchResult(BaseModel):
    """Outcome of fetching one URL. ``error`` is one of the ERROR_KINDS below when not ``ok``."""

    url: str
    ok: bool
    final_url: str | None = None
    status_code: int | None = None
    content_type: str | None = None
    text: str | None = None
    error: str | None = None
    detail: str | None = None
    transient: bool = False
    attempts: int = 1
    elapsed_s: float = 0.0
    redirects: list[str] = Field(default_factory=list)


ERROR_KINDS = (
    "bad_scheme",  # not http/https (also for a redirect target)
    "robots_disallowed",  # robots.txt forbids our user agent
    "http_error",  # 4xx other than 429 (e.g. 404)
    "server_error",  # 5xx or 429 (transient)
    "timeout",  # connect/read/total timeout (transient)
    "connect_error",  # DNS, refused connection, TLS (transient)
    "too_large",  # Content-Length or body over max_bytes
    "not_html",  # content type is not HTML (or XML for sitemaps)
    "redirect_loop",  # a redirect came back to a URL already visited
    "too_many_redirects",
    "bad_redirect",  # 3xx without a Location header
)


class TransientFetchError(RuntimeError):
    """A failure worth retrying; carries the ``FetchResult`` of the failed attempt."""

    def __init__(self, result: FetchResult):
        super().__init__(f"{result.error} fetching {result.url}: {result.detail}")
        self.result = result

    def __reduce__(self):  # picklable across processes (Dask workers)
        return (type(self), (self.result,))


class HostRateLimiter:
    """At most one request per ``min_interval_s`` to each host (thread-safe, per process)."""

    def __init__(self, min_interval_s: float):
        self.min_interval_s = min_interval_s
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str) -> float:
        """Block until a request to ``host`` is allowed; returns the seconds waited."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(host, now))
            self._next[host] = slot + self.min_interval_s
        delay = slot - now
        if delay > 0:
            time.sleep(delay)
        return delay


class RobotsCache:
    """robots.txt per origin, fetched once (RFC 9309: 4xx -> allow all, 5xx/unreachable -> deny)."""

    def __init__(self, ttl_s: float = 3600.0):
        self.ttl_s = ttl_s
        self._parsers: dict[str, tuple[float, urllib.robotparser.RobotFileParser | bool]] = {}
        self._lock = threading.Lock()

    def allowed(self, url: str, user_agent: str, client: httpx.Client, timeout_s: float) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            cached = self._parsers.get(origin)
        if cached is None or time.monotonic() - cached[0] > self.ttl_s:
            rules = self._load(origin, client, timeout_s)
            with self._lock:
                self._parsers[origin] = (time.monotonic(), rules)
        else:
            rules = cached[1]
        if isinstance(rules, bool):
            return rules
        return rules.can_fetch(user_agent, url)

    @staticmethod
    def _load(origin: str, client: httpx.Client, timeout_s: float) -> urllib.robotparser.RobotFileParser | bool:
        try:
            resp = client.get(origin + "/robots.txt", timeout=timeout_s, follow_redirects=True)
        except httpx.HTTPError:
            return False
        if resp.status_code >= 500:
            return False
        if resp.status_code >= 400:
            return True
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(resp.text[:500_000].splitlines())
        return parser


# Shared per process so that many short-lived fetchers (one per Prefect task) share limits.
_SHARED_LOCK = threading.Lock()
_SHARED_LIMITERS: dict[float, HostRateLimiter] = {}
_SHARED_ROBOTS: dict[float, RobotsCache] = {}


def _shared(cfg: ScrapeConfig) -> tuple[HostRateLimiter, RobotsCache]:
    with _SHARED_LOCK:
        lim = _SHARED_LIMITERS.setdefault(cfg.min_interval_s, HostRateLimiter(cfg.min_interval_s))
        rob = _SHARED_ROBOTS.setdefault(cfg.robots_cache_s, RobotsCache(cfg.robots_cache_s))
    return lim, rob


class Fetcher:
    """Fetch pages under a ``ScrapeConfig``; use as a context manager to close the client."""

    def __init__(
        self,
        cfg: ScrapeConfig | None = None,
        client: httpx.Client | None = None,
        limiter: HostRateLimiter | None = None,
        robots: RobotsCache | None = None,
    ):
        self.cfg = cfg or ScrapeConfig()
        shared_lim, shared_rob = _shared(self.cfg)
        self.limiter = limiter or shared_lim
        self.robots = robots or shared_rob
        self._own_client = client is None
        self.client = client or httpx.Client(
            headers={"User-Agent": self.cfg.user_agent, "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"},
            timeout=httpx.Timeout(self.cfg.timeout_s),
            follow_redirects=False,
            trust_env=False,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    # ---- one attempt -----------------------------------------------------------------------
    def fetch(self, url: str, raise_transient: bool = False, accept: tuple[str, ...] = HTML_TYPES) -> FetchResult:
        """Fetch ``url`` once, following redirects by hand; never raises for HTTP-level failures."""
        t0 = time.monotonic()
        result = self._fetch(url, accept)
        result.elapsed_s = round(time.monotonic() - t0, 4)
        if raise_transient and result.transient:
            raise TransientFetchError(result)
        return result

    def _fetch(self, url: str, accept: tuple[str, ...]) -> FetchResult:
        seen: list[str] = []
        current = url
        while True:
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                return FetchResult(url=url, ok=False, final_url=current, error="bad_scheme",
                                   detail=f"only http/https URLs are fetched, got {current!r}", redirects=seen)
            if self.cfg.obey_robots and not self.robots.allowed(
                current, self.cfg.user_agent, self.client, self.cfg.timeout_s
            ):
                return FetchResult(url=url, ok=False, final_url=current, error="robots_disallowed",
                                   detail="robots.txt disallows this URL for our user agent", redirects=seen)
            self.limiter.wait(parts.netloc)
            try:
                with self.client.stream("GET", current) as resp:
                    if resp.is_redirect:
                        loc = resp.headers.get("location")
                        if not loc:
                            return FetchResult(url=url, ok=False, final_url=current, status_code=resp.status_code,
                                               error="bad_redirect", detail="redirect without Location", redirects=seen)
                        seen.append(current)
                        nxt = urljoin(current, loc)
                        if nxt in seen:
                            return FetchResult(url=url, ok=False, final_url=nxt, status_code=resp.status_code,
                                               error="redirect_loop",
                                               detail=f"redirect back to {nxt} after {len(seen)} hops", redirects=seen)
                        if len(seen) > self.cfg.max_redirects:
                            return FetchResult(url=url, ok=False, final_url=nxt, status_code=resp.status_code,
                                               error="too_many_redirects",
                                               detail=f"more than {self.cfg.max_redirects} redirects", redirects=seen)
                        current = nxt
                        continue
                    return self._read(url, current, resp, accept, seen)
            except httpx.TimeoutException as exc:
                return FetchResult(url=url, ok=False, final_url=current, error="timeout", transient=True,
                                   detail=f"{type(exc).__name__} after {self.cfg.timeout_s}s", redirects=seen)
            except httpx.TransportError as exc:
                return FetchResult(url=url, ok=False, final_url=current, error="connect_error", transient=True,
                                   detail=f"{type(exc).__name__}: {exc}", redirects=seen)

    def _read(self, url: str, current: str, resp: httpx.Response, accept: tuple[str, ...], seen: list[str]) -> FetchResult:
        base: dict[str, Any] = {"url": url, "final_url": current, "status_code": resp.status_code, "redirects": seen}
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower() or None
        base["content_type"] = ctype
        if resp.status_code == 429 or resp.status_code >= 500:
            return FetchResult(ok=False, error="server_error", transient=True, detail=f"HTTP {resp.status_code}", **base)
        if resp.status_code >= 400:
            return FetchResult(ok=False, error="http_error", detail=f"HTTP {resp.status_code}", **base)
        if ctype not in accept:
            return FetchResult(ok=False, error="not_html", detail=f"content type {ctype!r} is not one of {accept}", **base)
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.cfg.max_bytes:
            return FetchResult(ok=False, error="too_large",
                               detail=f"Content-Length {declared} > max_bytes {self.cfg.max_bytes}", **base)
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.cfg.total_timeout_s
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > self.cfg.max_bytes:
                return FetchResult(ok=False, error="too_large",
                                   detail=f"body over max_bytes {self.cfg.max_bytes}", **base)
            if time.monotonic() > deadline:
                return FetchResult(ok=False, error="timeout", transient=True,
                                   detail=f"download took over {self.cfg.total_timeout_s}s", **base)
            chunks.append(chunk)
        body = b"".join(chunks)
        text = body.decode(resp.charset_encoding or _sniff_encoding(body), errors="replace")
        return FetchResult(ok=True, text=text, **base)

    # ---- retries without an orchestrator -----------------------------------------------------
    def fetch_retrying(self, url: str, accept: tuple[str, ...] = HTML_TYPES) -> FetchResult:
        """``fetch`` with up to ``cfg.retries`` extra attempts on transient failures (backoff x2)."""
        delay = self.cfg.backoff_s
        for attempt in range(1, self.cfg.retries + 2):
            result = self.fetch(url, accept=accept)
            result.attempts = attempt
            if not result.transient or attempt == self.cfg.retries + 1:
                return result
            time.sleep(delay)
            delay *= 2
        return result  # pragma: no cover


def _sniff_encoding(body: bytes) -> str:
    """Charset of an HTML body without a header charset: meta tag, else charset-normalizer."""
    head = body[:2048].lower()
    marker = b"charset="
    if marker in head:
        rest = head.split(marker, 1)[1].strip(b"\"' ")
        name = rest.split(b'"')[0].split(b"'")[0].split(b";")[0].split(b">")[0].strip()
        try:
            import codecs

            return codecs.lookup(name.decode("ascii")).name
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(body[:50_000]).best()
        if best is not None:
            return best.encoding
    except ImportError:  # pragma: no cover
        pass
    return "utf-8"


# ---- sitemaps ---------------------------------------------------------------------------------
def parse_sitemap(xml: str | bytes) -> tuple[list[str], list[str]]:
    """``(page_urls, child_sitemaps)`` of a sitemap or sitemap index (entities never resolved)."""
    from defusedxml import ElementTree as ET

    root = ET.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    tag = root.tag.split("}")[-1]
    locs = [el.text.strip() for el in root.iter() if el.tag.split("}")[-1] == "loc" and el.text and el.text.strip()]
    return ([], locs) if tag == "sitemapindex" else (locs, [])


def sitemap_urls(sitemap_url: str, fetcher: Fetcher, max_depth: int = 3, max_urls: int = 100_000) -> list[str]:
    """All page URLs listed by a sitemap, following sitemap indexes up to ``max_depth``."""
    out: list[str] = []
    todo: list[tuple[str, int]] = [(sitemap_url, 0)]
    seen: set[str] = set()
    while todo and len(out) < max_urls:
        url, depth = todo.pop(0)
        if url in seen or depth > max_depth:
            continue
        seen.add(url)
        res = fetcher.fetch_retrying(url, accept=XML_TYPES + ("text/plain",))
        if not res.ok or res.text is None:
            raise ValueError(f"could not read sitemap {url}: {res.error} ({res.detail})")
        if res.content_type == "text/plain":
            pages, children = [ln.strip() for ln in res.text.splitlines() if ln.strip()], []
        else:
            pages, children = parse_sitemap(res.text)
        out.extend(urljoin(url, p) for p in pages)
        todo.extend((urljoin(url, c), depth + 1) for c in children)
    return list(dict.fromkeys(out))[:max_urls]


def read_url_list(lines: Iterable[str]) -> list[str]:
    """URLs from a text file's lines (blank lines and ``#`` comments skipped, order kept, deduped)."""
    urls = [ln.strip() for ln in lines]
    return list(dict.fromkeys(u for u in urls if u and not u.startswith("#")))
