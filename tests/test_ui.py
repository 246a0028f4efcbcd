"""The Gradio UI: handlers without a browser, then the real app in Debian's Chromium."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from assistant import Answer, Source
from tests.helpers import CHROMIUM_ARGS, REPO, free_port, stop, wait_for_http

pytestmark = pytest.mark.slow
sys.path.insert(0, str(REPO))
import ui  # noqa: E402

OUTPUT = REPO / "test-output"
FACT = "How many participants took part in the struggle-determination video dataset?"
OFF_TOPIC = "Is there a paper on quantum reinforcement learning for chip placement?"


@pytest.fixture(scope="module")
def backends(bundled):
    return ui.Backends(bundled.config)


def _respond(backends, message, **kw):
    args = {"chat": [], "turns": [], "backend": "extractive", "date_from": "", "date_to": "", "organization": "",
            "k": 5, **kw}  # fmt: skip
    return list(ui.respond(message, backends=backends, **args))


def test_handler_streams_then_shows_linked_citations(backends):
    updates = _respond(backends, FACT)
    chat, panel, turns, box, cited = updates[-1]
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert "76 participants" in chat[1]["content"] and "[[1]](#source-1)" in chat[1]["content"]
    assert "id='source-1'" in panel and "<mark>" in panel and box == ""
    assert len(turns) == 1 and turns[0].cited_titles[0].startswith("EvoStruggle")
    assert all(update[-1] is None for update in updates[:-1])  # the download comes with the checked answer
    assert cited.endswith("cited-papers.bib") and "title = {{EvoStruggle: " in open(cited, encoding="utf-8").read()


def test_handler_follow_up_uses_the_conversation(backends):
    _, _, turns, *_ = _respond(backends, "How do the basketball skill imitation work and EvoStruggle differ?")[-1]
    chat, _, turns, *_ = _respond(backends, "and what did the second one find?", turns=turns)[-1]
    assert "Searched for\\: and what did the second one find? (" in chat[-1]["content"]


@pytest.mark.parametrize(
    "message, fields, expected",
    [
        ("   ", {}, "the question is empty"),
        ("x" * 5000, {}, "characters long"),
        (FACT, {"date_from": "May 2024"}, "is not a date"),
        (FACT, {"backend": "nope"}, "unknown backend"),
    ],
)
def test_handler_errors_are_chat_messages(backends, message, fields, expected):
    chat, _, turns, _, cited = _respond(backends, message, **fields)[-1]
    assert chat[-1]["content"].startswith("⚠️") and expected in chat[-1]["content"]
    assert turns == [] and cited is None


def test_handler_filters_change_the_sources(backends):
    _, unfiltered, *_ = _respond(backends, "spatial abilities of multimodal models")[-1]
    _, filtered, *_ = _respond(backends, "spatial abilities of multimodal models", organization="ByteDance Seed")[-1]
    assert filtered != unfiltered and filtered.count("<details") == 1 and "ByteDance Seed" in filtered


def test_parse_filters_accepts_years_and_months():
    f = ui.parse_filters("2024", "2024-06", "")
    assert (f.date_from, f.date_to, f.organization) == ("2024-01-01", "2024-06-30", None)
    assert ui.parse_filters("", "", "  ") is None


def test_cited_papers_downloads_older_than_a_day_are_deleted(tmp_path):
    from assistant import webui

    old, fresh, kept = (tmp_path / name for name in ("old", "fresh", "kept"))
    for folder in (old, fresh, kept):
        folder.mkdir()
        (folder / "cited-papers.bib").write_text("@article{x}", encoding="utf-8")
    day_ago = os.stat(fresh).st_mtime - webui.EXPORT_KEEP_S - 60
    for folder in (old, kept):
        os.utime(folder, (day_ago, day_ago))
    webui._forget_old_exports(tmp_path, keep=kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "kept"]


def test_sources_panel_is_inert_html():
    evil = Source(paper_id="p", title="<script>alert(1)</script>", score=1.0, abstract="<img src=x onerror=alert(1)>")
    panel = ui.render_sources(Answer(question="q", text="t", sources=[evil]))
    assert "<script>" not in panel and "<img" not in panel and "&lt;script&gt;" in panel


# The real app in a real browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def app_url(bundled):
    port = free_port()
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(bundled.config.data_dir), "GRADIO_SERVER_PORT": str(port),
           "GRADIO_SERVER_NAME": "127.0.0.1"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, str(REPO / "ui.py")], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    wait_for_http(url, proc, 90, "the UI")
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    page.wait_for_selector("#question textarea")
    yield page
    page.close()


def _ask(page, question: str) -> None:
    page.fill("#question textarea", question)
    page.click("#ask")


def test_browser_answer_with_citation_and_sources_panel(page):
    OUTPUT.mkdir(exist_ok=True)
    _ask(page, FACT)
    page.wait_for_function(
        "document.querySelector('#chat') && document.querySelector('#chat').innerText.includes('76 participants')"
    )
    link = page.locator("#chat a[href='#source-1']").first
    link.wait_for()
    assert link.inner_text() == "[1]"
    source = page.locator("#sources details#source-1")
    assert "EvoStruggle" in source.locator("summary").inner_text()
    assert source.get_attribute("open") is not None and source.locator("mark").count() >= 1
    page.locator("#sources details#source-2 summary").click()  # open another source
    assert page.locator("#sources details#source-2 .abstract").is_visible()
    with page.expect_download() as download:  # the cited papers, for a reference manager
        page.click("#export")
    assert download.value.suggested_filename == "cited-papers.bib"
    page.screenshot(path=str(OUTPUT / "ui-answer.png"), full_page=True)


def test_browser_refusal_shows_closest_papers(page):
    OUTPUT.mkdir(exist_ok=True)
    _ask(page, OFF_TOPIC)
    page.wait_for_function(  # plainly, or naming the topic word no paper holds
        "['The indexed abstracts do not answer this question', 'None of the indexed abstracts mention']"
        ".some(s => document.querySelector('#chat').innerText.includes(s))"
    )
    # the refusal streams into the chat first; the panel fills when the finished answer arrives
    page.wait_for_function("document.querySelector('#sources').innerText.includes('Closest papers')")
    page.screenshot(path=str(OUTPUT / "ui-refusal.png"), full_page=True)


def test_browser_filter_changes_the_sources(page):
    question = "spatial abilities of multimodal models"
    _ask(page, question)
    page.wait_for_selector("#sources details#source-5")
    before = page.locator("#sources summary").all_inner_texts()
    page.get_by_text("Filters and settings").click()
    page.fill("#date-from textarea, #date-from input", "2025-12")
    _ask(page, question)
    page.wait_for_function(f"document.querySelectorAll('#sources summary').length !== {len(before)} || "
                           "document.querySelector('#sources').innerText.includes('Closest')")  # fmt: skip
    after = page.locator("#sources summary").all_inner_texts()
    assert after != before


def test_browser_error_is_a_message_and_clear_empties_the_chat(page):
    _ask(page, "   ")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('the question is empty')")
    page.click("#clear")
    page.wait_for_function("!document.querySelector('#chat').innerText.includes('the question is empty')")


def test_browser_table_tab_shows_cited_cells_of_named_papers(page):
    page.get_by_role("tab", name="Table").click()
    page.fill("#table-input textarea", "SkillMimic\nEvoStruggle")
    page.get_by_label("Papers, one per line").check()
    page.click("#make-table")
    page.wait_for_function("document.querySelector('#table').innerText.includes('76 participants [2].')")
    assert "SkillMimic: Learning Reusable Basketball Skills" in page.locator("#table").inner_text()
    assert page.locator("#table-papers ol li").nth(1).inner_text().startswith("EvoStruggle: A Dataset")


def test_optional_login_guards_the_app(bundled):
    import urllib.error
    import urllib.request

    port = free_port()
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(bundled.config.data_dir), "GRADIO_SERVER_PORT": str(port),
           "ASSISTANT_UI_USER": "ada", "ASSISTANT_UI_PASSWORD": "s3cret-pass"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, str(REPO / "ui.py")], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(url + "/", proc, 90, "the UI")
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(url + "/config", timeout=10)
        assert denied.value.code == 401
        login = urllib.request.Request(url + "/login", data=b"username=ada&password=s3cret-pass", method="POST")
        with urllib.request.urlopen(login, timeout=10) as response:
            assert response.status == 200
    finally:
        stop(proc)


def _answered(page, question: str, marker: str):
    """Ask, wait for ``marker`` in the last reply, and give that reply's element."""
    before = page.locator("#chat .message-row, #chat [data-testid='bot']").count()
    _ask(page, question)
    page.wait_for_function(
        "([n, m]) => { const r = document.querySelectorAll(\"#chat .message-row, #chat [data-testid='bot']\");"
        " return r.length > n && r[r.length - 1].innerText.includes(m); }",
        arg=[before, marker],
    )
    page.wait_for_function("document.querySelector('#sources details#source-1') !== null")
    return page.locator("#chat .message-row, #chat [data-testid='bot']").last


def test_browser_comparison_list_fact_and_corpus_chart(page):
    """Each kind of answer as a reader sees it, and the corpus chart; screenshots for review."""
    OUTPUT.mkdir(exist_ok=True)
    compared = _answered(page, "How do SkillMimic and EvoStruggle differ?", "EvoStruggle")
    for title in ("SkillMimic: Learning Reusable", "EvoStruggle: A Dataset Capturing"):  # each paper's heading
        assert compared.locator(f"p:has-text('{title}')").count() == 1  # a paragraph of its own...
        assert compared.locator(f"li:has-text('{title}')").count() == 0  # ...not inside the other's bullets
    assert compared.locator("li").count() >= 4
    page.screenshot(path=str(OUTPUT / "ui-compare.png"), full_page=True)
    page.click("#related")  # the papers nearest to the first one the answer cites
    page.wait_for_function("document.querySelector('#related-list').innerText.includes('Related to SkillMimic')")
    assert page.locator("#related-list li").count() == 5
    page.screenshot(path=str(OUTPUT / "ui-related.png"), full_page=True)

    listed = _answered(page, "Which papers study catastrophic forgetting in continual learning?", "retrieved papers")
    assert listed.locator("li").count() >= 2 and listed.locator("a[href^='#source-']").count() >= 2
    page.screenshot(path=str(OUTPUT / "ui-list.png"), full_page=True)

    fact = _answered(page, FACT, "76 participants")
    assert fact.locator("a[href='#source-1']").count() >= 1
    asked = page.locator("#sources details#source-1 mark b.asked")  # the span the question asks for, in bold
    assert any("76" in t for t in asked.all_inner_texts())
    page.screenshot(path=str(OUTPUT / "ui-fact.png"), full_page=True)

    page.get_by_role("tab", name="Corpus").click()
    page.wait_for_selector("#corpus-summary")
    chart = page.locator("canvas, svg.marks").first
    chart.wait_for()
    assert chart.bounding_box()["height"] > 100
    page.screenshot(path=str(OUTPUT / "ui-corpus.png"), full_page=True)
