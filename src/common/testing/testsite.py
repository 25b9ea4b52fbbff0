"""A synthetic job board on 127.0.0.1 for testing and measuring scraping and extraction.

Why it lives in the library: the scraping tests, the flow tests and ``benchmarks/extraction.py``
all need the same pages and the same scoring, and a user can run it to see what ingest does.

* ``posting_page``: wraps a real posting's text in the clutter of a job board (navigation, a
  cookie banner, adverts, "similar jobs", share buttons, a footer), optionally with the posting
  as schema.org ``JobPosting`` JSON-LD.
* ``build_site``: those pages plus the awkward cases (robots.txt disallow, 404, a slow page, an
  oversized page, a PDF, a redirect loop) and a sitemap.
* ``serve``: serves such a site from a background thread; nothing listens beyond loopback.
* ``recovery_and_leakage``: how much of the posting an extraction recovered and how much of the
  extraction is boilerplate (bag-of-words overlap).
"""

from __future__ import annotations

import html
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAV = [
    "Home", "Find jobs", "Companies", "Salaries", "Career advice", "Post a job", "Sign in",
    "Upload your CV", "Job alerts", "Employers", "Recruiters", "Graduate schemes",
]
COOKIE = [
    "We use cookies to give you the best possible experience on our website.",
    "By clicking accept all you agree to the storing of cookies on your device to enhance site navigation and analyse site usage.",
    "Manage preferences", "Accept all cookies", "Reject non-essential",
]
ADS = [
    "Sponsored: boost your salary with our premium membership, first month free.",
    "Advertisement: download the JobBoard app and apply on the go.",
    "Get noticed by top employers: upgrade your profile today.",
    "Limited offer: professional resume review for only 9.99.",
    "Promoted: online MBA programmes starting this autumn, apply now.",
]
SIMILAR = [
    "Senior Accountant - Leeds", "Warehouse Operative - Night Shift", "Marketing Executive - Remote",
    "Care Assistant - Bristol", "Delivery Driver - Flexible Hours", "Receptionist - Manchester",
    "Sales Associate - Glasgow", "Chef de Partie - Edinburgh",
]
FOOTER = [
    "Copyright 2024 JobBoard Ltd. All rights reserved.", "Privacy policy", "Terms and conditions",
    "Contact us", "Accessibility statement", "Sitemap", "Follow us on social media",
]
NEWSLETTER = [
    "Sign up to our newsletter and be the first to hear about new vacancies in your area every week.",
    "Create a free account to track your applications, save searches and get personalised job recommendations.",
    "Thousands of new roles are added every day, so check back often or set up an alert for jobs like this one.",
]
SHARE = ["Share this job", "LinkedIn", "Twitter", "Facebook", "Email a friend", "Save job", "Report this job"]


def boilerplate_snippets() -> list[str]:
    """Every boilerplate string the pages may contain (for leak checks)."""
    return NAV + COOKIE + ADS + SIMILAR + FOOTER + SHARE + NEWSLETTER


@dataclass
class Route:
    """One path of the test site."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    send_length: bool = True
    fail_first: int = 0  # answer 503 to the first N requests (retry tests)


@dataclass
class Site:
    """Routes plus ground truth: path -> posting text (for pages that hold a posting)."""

    routes: dict[str, Route]
    truth: dict[str, str]
    titles: dict[str, str]
    jsonld_paths: set[str]


def posting_page(title: str, sentences: list[str], rng: random.Random, jsonld: bool = False,
                 organisation: str = "Example Corp", skills: list[str] | None = None) -> str:
    """An HTML job page with the posting among typical job-board clutter."""
    esc = html.escape
    nav = "".join(f'<li><a href="/{i}">{esc(x)}</a></li>' for i, x in enumerate(rng.sample(NAV, 8)))
    cookie = "".join(f"<p>{esc(x)}</p>" for x in COOKIE[:2]) + "".join(f"<button>{esc(x)}</button>" for x in COOKIE[2:])
    ads = "".join(f'<div class="ad">{esc(x)}</div>' for x in rng.sample(ADS, 2))
    similar = "".join(f'<li><a href="/job/{i}">{esc(x)}</a></li>' for i, x in enumerate(rng.sample(SIMILAR, 4)))
    share = "".join(f'<a href="#s{i}">{esc(x)}</a> ' for i, x in enumerate(SHARE))
    footer = "".join(f'<a href="/f{i}">{esc(x)}</a> ' for i, x in enumerate(FOOTER))
    # the posting: paragraphs of 1-3 sentences, some runs as a bullet list
    body, i = [], 0
    while i < len(sentences):
        n = rng.randint(1, 3)
        chunk = sentences[i : i + n]
        if rng.random() < 0.3 and len(chunk) > 1:
            body.append("<ul>" + "".join(f"<li>{esc(s)}</li>" for s in chunk) + "</ul>")
        else:
            body.append("<p>" + " ".join(esc(s) for s in chunk) + "</p>")
        i += n
    ld = ""
    if jsonld:
        doc = {
            "@context": "https://schema.org",
            "@type": "JobPosting",
            "title": title,
            "description": "".join(f"<p>{esc(s)}</p>" for s in sentences),
            "hiringOrganization": {"@type": "Organization", "name": organisation},
            "datePosted": "2024-03-01",
            "skills": ", ".join(skills or []),
        }
        ld = f'<script type="application/ld+json">{json.dumps(doc)}</script>'
    style = rng.choice(["semantic", "divs", "table"])
    if style == "divs":  # div soup with meaningless class names, as many boards generate
        news = rng.choice(NEWSLETTER)
        return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{esc(title)}</title>{ld}</head>
<body><div class="x1"><div class="x2">{nav.replace("<li>", "<span>").replace("</li>", "</span>")}</div>
<div class="x9">{ads}</div>
<div class="x3"><div class="x4"><div class="x5">{esc(title)}</div>
<div class="x6">{''.join(body)}</div>
<div class="x7"><p>{esc(news)}</p>{share}</div>
<div class="x8"><div>Similar jobs</div><ul>{similar}</ul></div></div></div>
<div class="x10">{footer}</div><div class="x11">{cookie}</div></div></body></html>"""
    if style == "table":  # old-style table layout
        return f"""<!DOCTYPE html>
<html><head><title>{esc(title)}</title>{ld}</head><body>
<table width="100%"><tr><td colspan="2">{nav.replace("<li>", " ").replace("</li>", " | ")}</td></tr>
<tr><td width="70%"><b>{esc(title)}</b><br>{''.join(body)}<br>{share}</td>
<td valign="top">{ads}<p>Similar jobs</p><ul>{similar}</ul></td></tr>
<tr><td colspan="2">{footer}</td></tr></table>
<div id="cookies">{cookie}</div></body></html>"""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)} | JobBoard</title>{ld}</head>
<body>
<div id="cookie-banner" class="cookie-consent">{cookie}</div>
<header><nav><ul>{nav}</ul></nav></header>
<div class="breadcrumbs"><a href="/">Home</a> &gt; <a href="/jobs">Jobs</a></div>
<aside class="sidebar">{ads}</aside>
<main><article class="job-posting">
<h1>{esc(title)}</h1>
<div class="job-meta">Posted by {esc(organisation)}</div>
{''.join(body)}
</article>
<div class="share">{share}</div>
<section class="similar-jobs"><h2>Similar jobs</h2><ul>{similar}</ul></section>
</main>
<footer>{footer}</footer>
</body></html>"""


def build_site(postings: list[tuple[str, list[str], list[str]]], jsonld_every: int = 2, seed: int = 0,
               big_bytes: int = 3_000_000, slow_s: float = 3.0) -> Site:
    """Pages ``/jobs/<i>.html`` for ``(title, sentences, skills)`` postings, plus the awkward cases.

    Every ``jsonld_every``-th page carries JSON-LD (0: none). Extra paths: ``/robots.txt``
    (disallows ``/private/``), ``/private/job.html``, ``/missing.html`` (404), ``/slow.html``
    (answers after ``slow_s``), ``/big.html`` and ``/big-stream.html`` (``big_bytes``, with and
    without Content-Length), ``/file.pdf``, ``/loop-a`` <-> ``/loop-b``, ``/moved`` (one
    redirect to the first posting), ``/sitemap.xml``.
    """
    rng = random.Random(seed)
    routes: dict[str, Route] = {}
    truth: dict[str, str] = {}
    titles: dict[str, str] = {}
    jsonld_paths: set[str] = set()
    for i, (title, sentences, skills) in enumerate(postings):
        path = f"/jobs/{i}.html"
        with_ld = bool(jsonld_every) and i % jsonld_every == 0
        page = posting_page(title, sentences, rng, jsonld=with_ld, organisation=f"Org {i}", skills=skills)
        routes[path] = Route(body=page.encode("utf-8"))
        truth[path] = "\n".join(sentences)
        titles[path] = title
        if with_ld:
            jsonld_paths.add(path)
    filler = ("<p>" + "lorem ipsum dolor sit amet " * 40 + "</p>\n").encode()
    big = b"<html><body>" + filler * (big_bytes // len(filler) + 1) + b"</body></html>"
    private = posting_page("Private job", ["This page is private and must not be fetched by robots."], rng)
    routes.update({
        "/robots.txt": Route(body=b"User-agent: *\nDisallow: /private/\n", content_type="text/plain"),
        "/private/job.html": Route(body=private.encode()),
        "/slow.html": Route(body=routes[next(iter(truth))].body if truth else b"<p>slow</p>", delay_s=slow_s),
        "/big.html": Route(body=big),
        "/big-stream.html": Route(body=big, send_length=False),
        "/file.pdf": Route(body=b"%PDF-1.4 not really a pdf", content_type="application/pdf"),
        "/loop-a": Route(status=302, headers={"Location": "/loop-b"}),
        "/loop-b": Route(status=302, headers={"Location": "/loop-a"}),
        "/moved": Route(status=301, headers={"Location": next(iter(truth), "/")}),
    })
    return Site(routes=routes, truth=truth, titles=titles, jsonld_paths=jsonld_paths)


def sitemap_xml(base_url: str, paths: list[str]) -> bytes:
    """A sitemap listing ``paths`` under ``base_url``."""
    locs = "".join(f"<url><loc>{html.escape(base_url + p)}</loc></url>" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, Route] = {}
    hits: Counter = Counter()

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        path = self.path.split("?", 1)[0]
        self.hits[path] += 1
        route = self.routes.get(path) or Route(status=404, body=b"<html><body>Not found</body></html>")
        if route.fail_first and self.hits[path] <= route.fail_first:
            route = Route(status=503, body=b"busy", content_type="text/plain")
        if route.delay_s:
            time.sleep(route.delay_s)
        try:
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            for k, v in route.headers.items():
                self.send_header(k, v)
            if route.send_length:
                self.send_header("Content-Length", str(len(route.body)))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(route.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (size/timeout tests)
            pass
        if not route.send_length:
            self.close_connection = True

    def log_message(self, *args: object) -> None:  # quiet
        pass


@contextmanager
def serve(routes: dict[str, Route], sitemap: bool = True) -> Iterator[tuple[str, Counter]]:
    """Serve ``routes`` on 127.0.0.1 (free port); yields ``(base_url, hits per path)``."""
    hits: Counter = Counter()
    handler = type("SiteHandler", (_Handler,), {"routes": dict(routes), "hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.block_on_close = False
    base = f"http://127.0.0.1:{server.server_address[1]}"
    if sitemap and "/sitemap.xml" not in routes:
        pages = [p for p in routes if p.startswith("/jobs/")]
        handler.routes["/sitemap.xml"] = Route(body=sitemap_xml(base, pages), content_type="application/xml")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base, hits
    finally:
        server.shutdown()
        server.server_close()


_WORD = re.compile(r"\w+", re.UNICODE)


def _bag(text: str) -> Counter:
    return Counter(w.lower() for w in _WORD.findall(text or ""))


def recovery_and_leakage(truth: str, extracted: str | None, allowed: str = "") -> tuple[float, float]:
    """``(recovery, leakage)`` by word counts.

    recovery = words of the posting found in the extraction / words of the posting;
    leakage = words of the extraction accounted for by neither the posting nor ``allowed``
    (its title, which is part of the posting but not of the body) / words of the extraction.
    """
    t, e = _bag(truth), _bag(extracted or "")
    common = sum((t & e).values())
    rec = common / max(1, sum(t.values()))
    ok = sum(((t + _bag(allowed)) & e).values())
    leak = (sum(e.values()) - ok) / sum(e.values()) if e else 0.0
    return rec, leak


def skillspan_site_postings(postings: list, limit: int | None = None) -> list[tuple[str, list[str], list[str]]]:
    """``(title, sentences, skills)`` for ``build_site`` from SkillSpan ``Posting`` objects.

    Sentences are the tokens joined by spaces (as ``posting_text`` does); the title is made up
    (SkillSpan has none); the JSON-LD skills are the gold Skill/Knowledge spans.
    """
    from common.text.spans import gold_keywords

    out = []
    for p in postings[:limit]:
        sentences = [" ".join(s.tokens) for s in p.sentences if s.tokens]
        skills = list(dict.fromkeys(k.text for k in gold_keywords(p)))
        out.append((f"Vacancy {p.source} {p.doc_id}", sentences, skills))
    return out


def leaked_snippets(extracted: str | None) -> list[str]:
    """Boilerplate strings found verbatim in an extraction."""
    text = extracted or ""
    return [s for s in boilerplate_snippets() if len(s) > 12 and s in text]


def measure_extraction(site_postings: list[tuple[str, list[str], list[str]]], jsonld_every: int = 2,
                       seed: int = 0, extract_cfg=None) -> dict:
    """Serve pages for ``site_postings`` on loopback, fetch and extract each, and score them.

    Returns mean recovery/leakage for the ingest pipeline's text (JSON-LD preferred) and for
    trafilatura alone, split by pages with and without JSON-LD, plus the share of pages where a
    whole boilerplate snippet leaked in. This is what ``benchmarks/extraction.py`` prints.
    """
    from statistics import mean

    from common.data.extract import ExtractConfig, extract_posting, main_text
    from common.data.scrape import Fetcher, HostRateLimiter, RobotsCache, ScrapeConfig

    cfg = extract_cfg or ExtractConfig()
    site = build_site(site_postings, jsonld_every=jsonld_every, seed=seed)
    rows = []
    scfg = ScrapeConfig(min_interval_s=0.0, timeout_s=10)
    with serve(site.routes) as (base, _), Fetcher(scfg, limiter=HostRateLimiter(0), robots=RobotsCache()) as f:
        for path, truth in site.truth.items():
            res = f.fetch(base + path)
            ex = extract_posting(res.text or "", base + path, cfg) if res.ok else None
            traf = main_text(res.text or "", base + path, cfg) if res.ok else None
            rec, leak = recovery_and_leakage(truth, ex.text if ex else None, allowed=site.titles[path])
            trec, tleak = recovery_and_leakage(truth, traf, allowed=site.titles[path])
            rows.append({"path": path, "jsonld": path in site.jsonld_paths, "fetched": res.ok,
                         "source": ex.text_source if ex else None, "recovery": rec, "leakage": leak,
                         "traf_recovery": trec, "traf_leakage": tleak,
                         "leaked_snippet": bool(leaked_snippets(ex.text if ex else None)),
                         "traf_leaked_snippet": bool(leaked_snippets(traf))})

    def agg(sub: list[dict], pre: str = "") -> dict:
        if not sub:
            return {"pages": 0}
        return {"pages": len(sub), "recovery": round(mean(r[pre + "recovery"] for r in sub), 4),
                "leakage": round(mean(r[pre + "leakage"] for r in sub), 4),
                "min_recovery": round(min(r[pre + "recovery"] for r in sub), 4),
                "pages_with_leaked_snippet": round(mean(r[pre + "leaked_snippet"] for r in sub), 4)}

    with_ld = [r for r in rows if r["jsonld"]]
    without = [r for r in rows if not r["jsonld"]]
    return {
        "pages": len(rows), "fetched": sum(r["fetched"] for r in rows),
        "pipeline": agg(rows), "pipeline_jsonld_pages": agg(with_ld), "pipeline_html_only_pages": agg(without),
        "trafilatura_only": agg(rows, "traf_"), "trafilatura_only_html_only_pages": agg(without, "traf_"),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m common.testing.testsite``: serve the demo job board until Ctrl-C (for trying ingest)."""
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(description="Serve SkillSpan postings as a cluttered job board on 127.0.0.1.")
    ap.add_argument("--data", default="../shared/data", help="folder with skillspan/dev.jsonl")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args(argv)
    from common.data.skillspan import load_skillspan

    site = build_site(skillspan_site_postings(load_skillspan("dev", Path(args.data)), args.limit), slow_s=30)
    handler = type("SiteHandler", (_Handler,), {"routes": dict(site.routes), "hits": Counter()})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    handler.routes["/sitemap.xml"] = Route(body=sitemap_xml(base, sorted(site.truth)), content_type="application/xml")
    print(f"serving {len(site.truth)} postings at {base}/sitemap.xml (also /missing.html, /slow.html, /big.html, "
          "/file.pdf, /loop-a, /private/job.html); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
