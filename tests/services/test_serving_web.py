"""The web page in headless Chromium: paste a posting, see the keywords highlighted, send feedback.

Uses Debian's ``chromium`` driven by Playwright; skipped (with the reason) where either is absent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from common.data.request_log import iter_jsonl

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
POSTING = ("We are looking for a software engineer with Python and SQL experience.\n"
           "Strong communication skills and cloud design knowledge are required.")


@pytest.fixture(scope="module")
def page(server):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver)")
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        except Exception as exc:  # noqa: BLE001  (e.g. a chromium too old for this playwright)
            pytest.skip(f"chromium could not be started by playwright: {exc}")
        context = browser.new_context()
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        yield pg
        context.close()
        browser.close()


def test_paste_a_posting_and_see_keywords_highlighted(page, server, client, data_dir):
    body = client.post("/analyze", json={"text": POSTING, "level": 2, "top_k": 3}).json()
    expected = body["keywords"]
    assert expected, "the tiny tagger found nothing; the highlight check would be vacuous"
    assert body["occupations"], "no occupation: the occupation line check would be vacuous"

    page.goto(f"{server}/ui/")
    page.wait_for_function("document.getElementById('status').textContent.includes('keywords:')")
    assert "not available" not in page.text_content("#status")
    # the status line names each model with its tier and dev score; a weak one gets a visible warning
    status = client.post("/status", json={}).json()
    line = page.text_content("#status")
    assert status["keywords"]["tag"] in line and "fast tier" in line and "dev span.overall.f1" in line
    weak = [m["model"]["warning"] for m in (status["keywords"], status["groups"])
            if m["model"]["quality"] == "below_floor"]
    assert page.is_visible("#quality") == bool(weak)
    if weak:
        assert page.text_content("#quality") == " ".join(weak)
    page.fill("#posting", POSTING)
    page.click("#analyze")
    page.wait_for_selector("#highlighted mark.kw")

    marks = page.eval_on_selector_all(
        "#highlighted mark.kw", "els => els.map(e => ({text: e.textContent, type: e.dataset.type, title: e.title}))")
    # the highlighted box shows the posting unchanged, with the marks in it
    assert page.text_content("#highlighted") == POSTING
    # every mark is a keyword the API returned, with its type as colour class and its groups in the tooltip
    returned = {(k["text"], k["type"]) for k in expected}
    assert marks and all((m["text"], m["type"]) in returned for m in marks)
    # the tiny tagger was trained to tag tools as Knowledge (see build_tiny_models.py)
    assert {"text": "Python", "type": "Knowledge"} in [{"text": m["text"], "type": m["type"]} for m in marks]
    by_text = {k["text"]: k for k in expected}
    for m in marks:
        groups = by_text[m["text"]]["groups"]
        if groups:
            assert groups[0]["label"] in m["title"]
    classes = page.eval_on_selector_all("#highlighted mark.kw", "els => els.map(e => e.className)")
    assert all(("kw-skill" in c) or ("kw-knowledge" in c) for c in classes)
    assert page.locator("#keywords tbody tr").count() == len(expected)
    # the table shows each keyword's decided groups, then the ranked extras marked as such
    for i, k in enumerate(expected):
        cell = page.locator("#keywords tbody tr").nth(i).locator("td.groups")
        decided = cell.locator(".decided").text_content()
        assert [g["label"] in decided for g in k["groups"]] == [True] * len(k["groups"])
        extras = [g for g in k["ranked"] if not g["decided"]]
        assert (cell.locator(".extra").count() == 1) == bool(extras)
        if extras:
            assert "also ranked" in cell.locator(".extra").text_content()
    # the ESCO column: the linked skill's label as a link to its URI, else "not linked"
    linked = [k for k in expected if k["esco"]]
    assert linked, "no keyword of the posting is linked: the ESCO column check would be vacuous"
    for i, k in enumerate(expected):
        cell = page.locator("#keywords tbody tr").nth(i).locator("td.esco-cell")
        if k["esco"]:
            link = cell.locator("a.esco")
            assert link.text_content() == k["esco"]["label"] and link.get_attribute("href") == k["esco"]["uri"]
        else:
            assert cell.text_content() == "not linked"
        assert (cell.locator(".essential").count() == 1) == (k["importance"] == "essential")
    # the occupation line: the best ESCO occupation, linked to its URI
    occ = page.locator("#occupation-label")
    assert occ.text_content() == body["occupations"][0]["label"]
    assert occ.get_attribute("href") == body["occupations"][0]["uri"]
    # ... with its calibrated confidence, as the API returns it
    assert page.locator("#occupation-confidence").text_content() == \
        f"confidence {round(body['occupations'][0]['score'] * 100)} %"
    # the posting's ESCO skills: each linked to its URI, the implied ones marked
    assert body["skills"], "no ESCO skills: the skills list check would be vacuous"
    items = page.locator("#skills li")
    assert page.is_visible("#skills-section") and items.count() == len(body["skills"])
    for i, sk in enumerate(body["skills"]):
        item = items.nth(i)
        assert item.locator("a").text_content() == sk["label"] and item.locator("a").get_attribute("href") == sk["uri"]
        assert ("implied" in (item.get_attribute("class") or "")) == sk["implied"]

    # correct: drop one keyword, add "Python" as Knowledge, send with the API key
    py = (POSTING.index("Python"), POSTING.index("Python") + len("Python"))
    drop = next(i for i, k in enumerate(expected) if (k["start"], k["end"]) != py)
    page.locator("#keywords tbody tr").nth(drop).locator("input[type=checkbox]").uncheck()
    page.evaluate(
        """([s, e]) => { const box = document.getElementById('highlighted');
            const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT); let pos = 0, n, r = document.createRange();
            let startSet = false;
            while ((n = walker.nextNode())) { const len = n.textContent.length;
              if (!startSet && s < pos + len) { r.setStart(n, s - pos); startSet = true; }
              if (e <= pos + len) { r.setEnd(n, e - pos); break; } pos += len; }
            const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(r); }""",
        list(py),
    )
    page.click("#add-knowledge")
    assert not page.is_visible("#error"), page.text_content("#error")
    page.fill("#api-key", "test-key-123")
    page.fill("#note", "from the browser test")
    page.click("#send")
    page.wait_for_function("document.getElementById('sent').textContent.includes('stored')")

    recs = [r for r in iter_jsonl(data_dir / "feedback", "feedback") if r.get("note") == "from the browser test"]
    assert len(recs) == 1
    kws = recs[0]["keywords"]
    assert {"text": "Python", "type": "Knowledge"} in [{"text": k["text"], "type": k["type"]} for k in kws]
    dropped = expected[drop]
    assert (dropped["start"], dropped["end"], dropped["type"]) not in [(k["start"], k["end"], k["type"]) for k in kws]


def test_page_shows_api_errors(page, server):
    page.goto(f"{server}/ui/")
    page.evaluate("document.getElementById('posting').value = 'x'.repeat(3001)")
    page.click("#analyze")
    page.wait_for_selector("#error:not([hidden])")
    assert "3000" in page.text_content("#error")
