"""The chat UI: a Gradio app over the public API only (no LlamaIndex or Chroma here).

    assistant ui            # serves on 127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT respected)
    python ui.py            # the same, in a checkout (gradio ui.py: reloading on edits)

Optional login for shared deployments: set ASSISTANT_UI_USER and ASSISTANT_UI_PASSWORD (both,
or neither: with only one set the UI refuses to start, rather than run without the login).
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from assistant import (  # noqa: E402
    Answer,
    Assistant,
    AssistantError,
    BackendError,
    Config,
    ConfigError,
    EvidenceTable,
    Filters,
    Turn,
    defuse,
    mask_secrets_in_logs,
)

log = logging.getLogger("assistant.ui")
EXAMPLES = [
    "How many participants took part in the struggle-determination video dataset?",
    "Which papers study continual learning without forgetting?",
    "How do SkillMimic and EvoStruggle differ in what they learn from human demonstrations?",
    "What does the Master Key Hypothesis state?",
]
USER_ERRORS = AssistantError  # errors a user can act on: the chat shows their one sentence
LOGIN_VARIABLES = ("ASSISTANT_UI_USER", "ASSISTANT_UI_PASSWORD")
_MARKER = re.compile(r"\\\[(\d+)\\\]")  # a [n] marker, as inert() leaves it
_MARKDOWN = re.compile(r"([\\`*_\[\]#|~$:.])")  # ':' and '.' too, so no bare URL becomes a link
Chat = list[dict[str, str]]
EXPORT_DIR = Path(tempfile.gettempdir()) / "paper-assistant-ui"  # Gradio serves files from the temp folder


class Backends:
    """The backends the UI offers, all answered by ONE Assistant (one copy of the index and the
    model, whatever the number of backends): the backend is an argument of each question."""

    def __init__(self, config: Config):
        self.config = config
        self.names = ["extractive"] + ([config.llm] if config.llm != "extractive" else [])
        self.assistant = Assistant(config)

    @property
    def default(self) -> str:
        return self.config.llm

    def check(self, name: str) -> str:
        if name not in self.names:
            raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(self.names)}")
        return name


def parse_filters(date_from: str, date_to: str, organization: str, category: str = "") -> Filters | None:
    """Filters from the UI fields (blank means no filter); a bad value is a FilterError naming it,
    which the chat shows."""
    filters = Filters(
        date_from=(date_from or "").strip() or None,
        date_to=(date_to or "").strip() or None,
        organization=(organization or "").strip() or None,
        category=(category or "").strip() or None,
    )
    return filters or None


def inert(text: str) -> str:
    """Text the chat shows as written: no HTML, and no Markdown links, autolinks, images, emphasis
    or headings (abstracts and titles come from the corpus, and may carry such markup)."""
    return html.escape(_MARKDOWN.sub(r"\\\1", text), quote=False)


def format_answer(answer: Answer) -> str:
    """The answer for the chat: text made inert, [n] linked to the sources panel, notes after it."""
    text = inert(answer.text)
    if not answer.refused:
        text = _MARKER.sub(lambda m: f"[[{m.group(1)}]](#source-{m.group(1)})", text)
    notes = [f"*{inert(note)}*" for note in answer.notes()]
    notes.append(f"<sub>backend: {inert(answer.backend)}</sub>")
    return "\n\n".join([text, *notes])


def _safe_url(url: str | None) -> str | None:
    """Only web links become links; ``javascript:`` and other schemes stay out of the page."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def _highlight(abstract: str, quotes: tuple[str, ...], marks: tuple[str, ...] = ()) -> str:
    """The abstract with its own [n] defused (they are not the answer's citations), the quoted
    sentences highlighted and, inside them, the spans that hold what was asked in bold."""
    escaped = html.escape(defuse(abstract))
    for quote in quotes:
        q = html.escape(defuse(quote.strip()))
        if q and q in escaped:
            marked = q
            for mark in marks:
                m = html.escape(defuse(mark))
                if m and m in marked:
                    marked = marked.replace(m, f"<b class='asked'>{m}</b>", 1)
            escaped = escaped.replace(q, f"<mark>{marked}</mark>", 1)
    return escaped


def render_sources(answer: Answer | None) -> str:
    """The sources panel: every source numbered as in the answer, cited ones open with the
    supporting sentences highlighted; for a refusal, the closest papers."""
    if answer is None or not answer.sources:
        return "<p class='empty'>Sources appear here after a question.</p>"
    quotes = {c.number: c.quotes for c in answer.citations}
    marks = {c.number: c.marks for c in answer.citations}
    heading = "Closest papers (the abstracts do not answer this)" if answer.refused else "Sources"
    items = []
    for n, source in enumerate(answer.sources, 1):
        cited = n in quotes
        byline = html.escape(source.byline())
        meta = " · ".join(x for x in (byline, f"score {source.score:.3f}") if x)
        url = _safe_url(source.url)
        link = f" <a href='{html.escape(url)}' target='_blank' rel='noopener noreferrer'>link</a>" if url else ""
        items.append(
            f"<details id='source-{n}' class='source{' cited' if cited else ''}'{' open' if cited else ''}>"
            f"<summary><b>[{n}]</b> {html.escape(source.title)}</summary>"
            f"<div class='meta'>{meta}{link}</div>"
            f"<p class='abstract'>{_highlight(source.abstract, quotes.get(n, ()), marks.get(n, ()))}</p></details>"
        )
    # its own scrolling box: Gradio sets the HTML component's overflow inline, over any stylesheet
    box = "max-height: 640px; overflow-y: auto;"
    return f"<h3>{heading}</h3><div class='sources-list' style='{box}'>{''.join(items)}</div>"


def cited_file(answer: Answer, assistant: Assistant) -> str | None:
    """A BibTeX file of the papers ``answer`` cites, for the download button; None when it cites none."""
    if not answer.citations:
        return None
    text = assistant.export(answer, "bib")
    folder = EXPORT_DIR / hashlib.sha1(text.encode()).hexdigest()[:16]  # one folder per content: the name stays
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cited-papers.bib"
    path.write_text(text, encoding="utf-8")
    os.utime(folder)  # offered again now: kept a day from now
    _forget_old_exports(EXPORT_DIR, keep=folder)
    return str(path)


EXPORT_KEEP_S = 24 * 3600  # a download link older than this is no longer offered: its file goes


def _forget_old_exports(root: Path, keep: Path) -> None:
    """Delete the export folders under ``root`` last written more than EXPORT_KEEP_S ago (never
    ``keep``); one another process is deleting too is left to it."""
    cutoff = time.time() - EXPORT_KEEP_S
    for folder in root.iterdir():
        try:
            if folder != keep and folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder)
        except OSError:
            continue


def respond(
    message: str,
    chat: Chat,
    turns: list[Turn],
    backend: str,
    date_from: str,
    date_to: str,
    organization: str,
    k: float,
    backends: Backends,
    category: str = "",
) -> Iterator[tuple[Chat, str, list[Turn], str, str | None]]:
    """Stream one answer into the chat; errors become a chat message, never a traceback. The last
    item is the BibTeX file of the answer's cited papers, once it is checked (None before, or when
    it cites none)."""
    chat = [*chat, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
    panel = render_sources(None)
    try:
        filters = parse_filters(date_from, date_to, organization, category)
        name = backends.check(backend)
        for item in backends.assistant.stream(message, k=int(k), filters=filters, history=turns, backend=name):
            cited = None
            if isinstance(item, Answer):
                chat[-1]["content"] = format_answer(item)
                turns = [*turns, Turn.from_answer(item)]
                panel = render_sources(item)
                cited = cited_file(item, backends.assistant)
            else:
                chat[-1]["content"] += inert(item)
            yield chat, panel, turns, "", cited
    except USER_ERRORS as exc:
        chat[-1]["content"] = f"⚠️ {inert(str(exc))}"
        yield chat, panel, turns, "", None
    except Exception:  # a bug: the user gets one sentence, the log gets the traceback
        log.exception("answering failed")
        chat[-1]["content"] = "⚠️ Something went wrong while answering; the details are in the server log."
        yield chat, panel, turns, "", None


TABLE_KINDS = ["Topic", "Papers, one per line"]


def make_table(text: str, kind: str, k: float, assistant: Assistant) -> tuple[Any, str]:
    """The Table tab: the evidence table's cells for the grid, and under it the numbered papers
    with any note, or the error in one sentence."""
    import pandas as pd

    made, message = EvidenceTable(rows=()), ""
    try:
        if kind == TABLE_KINDS[1]:
            made = assistant.table(papers=[line for line in (text or "").splitlines() if line.strip()])
        else:
            made = assistant.table(topic=text or "", k=int(k))
    except USER_ERRORS as exc:
        message = f"⚠️ {inert(str(exc))}"
    except Exception:  # a bug: the user gets one sentence, the log gets the traceback
        log.exception("making a table failed")
        message = "⚠️ Something went wrong while making the table; the details are in the server log."
    papers = [f"{r.number}. {inert(r.title)}" + (f" ([link]({url}))" if (url := _safe_url(r.url)) else "")
              for r in made.rows]  # fmt: skip
    notes = [f"*{inert('Note: ' + made.notice)}*"] if made.notice else []
    backend = [f"<sub>backend: {inert(made.backend)}</sub>"] if made.rows else []
    below = "\n\n".join([message or "\n".join(papers), *notes, *backend])
    return pd.DataFrame(made.grid(), columns=made.header()), below


def corpus_overview(assistant: Assistant) -> tuple[str, list[str], Any]:
    """Paper count, the organisations for the filter, and papers per month for the plot."""
    import pandas as pd

    papers = assistant.papers()
    dated = Counter(p.date[:7] for p in papers if p.date)
    frame = pd.DataFrame(sorted(dated.items()), columns=["month", "papers"])
    organizations = sorted({p.organization for p in papers if p.organization})
    summary = (
        f"**{len(papers)} papers** indexed · {sum(dated.values())} with a full date · "
        f"{len(organizations)} organisations named"
    )
    return summary, organizations, frame


def related_choices(turns: list[Turn]) -> Any:
    """The papers the last answer cited (its sources when it cited none), for "Papers related to"."""
    titles = list(turns[-1].cited_titles) if turns else []
    return gr.update(choices=titles, value=titles[0] if titles else None)


def related_markdown(assistant: Assistant, paper: str | None, k: int = 5) -> str:
    """The papers nearest in meaning to one paper, each with the sentence that says what it does."""
    if not paper:
        return "Ask a question first, then choose one of its papers."
    try:
        near = assistant.related(paper, k)
    except USER_ERRORS as exc:
        return f"⚠️ {inert(str(exc))}"
    lines = [f"**Related to {inert(paper)}:**"]
    lines += [f"{n}. **{inert(s.title)}**: {inert(s.contribution())}" for n, s in enumerate(near, 1)]
    return "\n".join(lines)


def digest_markdown(assistant: Assistant, since: str, until: str, by: str) -> str:
    """The Digest tab: the window's papers in topics as Markdown, or the error's one sentence."""
    try:
        return assistant.digest((since or "").strip() or "7d", (until or "").strip() or None, by).to_markdown()
    except USER_ERRORS as exc:
        return f"⚠️ {inert(str(exc))}"


def watches_markdown(assistant: Assistant, action: str = "list", value: str = "") -> str:
    """The Watches tab: add a watch, remove one, or check now; then every watch with the papers it
    has reported (newest first), or the error's one sentence."""
    try:
        note = ""
        if action == "add":
            note = f"Watching: {assistant.watch(value, where='ui').question}"
        elif action == "remove":
            note = f"Removed: {assistant.unwatch(value).question}"
        elif action == "check":
            found = assistant.check_watches()
            note = "; ".join(r.headline() for r in found) or "No new papers answer a watch."
        lines = [f"*{inert(note)}*"] if note else []
        for w in assistant.watches():
            papers = assistant.watch_papers(w.id).papers
            lines.append(f"### {w.id}. {inert(w.question)} ({len(papers)} reported)")
            lines += [f"- **{inert(p.title)}**: {inert(p.contribution)}" for p in reversed(papers[-20:])]
        return "\n\n".join(lines) or "No watches yet: add a question to follow."
    except USER_ERRORS as exc:
        return f"⚠️ {inert(str(exc))}"


CSS = """
.source { border-left: 3px solid #ddd; padding: 2px 8px; margin: 6px 0; }
.source.cited { border-left-color: #f59e0b; }
.source .meta { color: #666; font-size: 0.85em; }
mark { background: #fde68a; }
.asked { background: #f59e0b; color: #111; padding: 0 2px; }
"""


def build_app(backends: Backends) -> gr.Blocks:
    """The Blocks app; every handler goes through the public API."""
    default = backends.assistant
    summary, organizations, frame = corpus_overview(default)
    with gr.Blocks(title="Paper assistant") as demo:
        gr.Markdown("## Paper assistant\nAsk about the indexed abstracts; every claim cites its paper.")
        turns = gr.State([])
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(height=520, label="Answers", elem_id="chat", feedback_options=None)
                    question = gr.Textbox(
                        placeholder="Ask about the papers…", label="Question", elem_id="question", autofocus=True
                    )
                    with gr.Row():
                        send = gr.Button("Ask", variant="primary", elem_id="ask")
                        clear = gr.Button("Clear chat", elem_id="clear")
                        download = gr.DownloadButton("Cited papers (BibTeX)", visible=False, elem_id="export")
                    gr.Examples(EXAMPLES, inputs=question)
                with gr.Column(scale=2):
                    sources = gr.HTML(render_sources(None), elem_id="sources")
                    with gr.Row():
                        related_of = gr.Dropdown([], label="Papers related to", elem_id="related-of", scale=3)
                        related = gr.Button("Related papers", elem_id="related", scale=1)
                    related_list = gr.Markdown(elem_id="related-list")
                    with gr.Accordion("Filters and settings", open=False):
                        date_from = gr.Textbox(label="From date (2024, 2024-05, 2024-05-31)", elem_id="date-from")
                        date_to = gr.Textbox(label="To date", elem_id="date-to")
                        organization = gr.Dropdown([""] + organizations, value="", label="Organisation", elem_id="org")
                        category = gr.Textbox(label="arXiv category (cs.LG, or cs for all of it)", elem_id="category")
                        k = gr.Slider(1, 10, value=backends.config.top_k, step=1, label="Sources", elem_id="k")
                        backend = gr.Dropdown(
                            backends.names, value=backends.default, label="Answering backend", elem_id="backend"
                        )
            turns.change(related_choices, turns, related_of)
            related.click(lambda paper: related_markdown(default, paper), related_of, related_list, api_name="related")
        with gr.Tab("Table"):
            gr.Markdown("A row per paper: problem, method, data and benchmarks, headline result, code or data "
                        "released. Every cell cites its paper's abstract [n]; an empty cell says why.")  # fmt: skip
            with gr.Row():
                table_text = gr.Textbox(lines=4, label="A topic, or one paper (title or id) per line", scale=3,
                                        elem_id="table-input")  # fmt: skip
                with gr.Column(scale=1):
                    table_kind = gr.Radio(TABLE_KINDS, value=TABLE_KINDS[0], label="The text is", elem_id="table-kind")
                    table_k = gr.Slider(1, 10, value=5, step=1, label="Papers for a topic", elem_id="table-k")
                    make = gr.Button("Make table", variant="primary", elem_id="make-table")
            empty = EvidenceTable(rows=())
            widths: list[str | int] = ["40px", "14%", *["16%"] * (len(empty.header()) - 2)]
            grid = gr.Dataframe(empty.grid(), headers=empty.header(), wrap=True, interactive=False,
                                column_widths=widths, max_height=800, elem_id="table")  # fmt: skip
            table_papers = gr.Markdown(elem_id="table-papers")
            make.click(lambda text, kind, k_: make_table(text, kind, k_, default), [table_text, table_kind, table_k],
                       [grid, table_papers], api_name="table")  # fmt: skip
        with gr.Tab("Corpus"):
            gr.Markdown(summary, elem_id="corpus-summary")
            top = int(frame["papers"].max()) if len(frame) else 1
            gr.BarPlot(
                frame,
                x="month",
                y="papers",
                title="Papers per month (listings with a year)",
                y_lim=[0, top + 1],
                x_label_angle=-45,
            )

        with gr.Tab("Digest"):
            with gr.Row():
                since = gr.Textbox("7d", label="Since (7d, 2w, 24h or 2025-01-01)", elem_id="digest-since")
                until = gr.Textbox(label="Until (blank: now)", elem_id="digest-until")
                by = gr.Dropdown(["added", "date"], value="added", label="By time added or own date")
            show = gr.Button("Show digest", variant="primary", elem_id="digest-show")
            shown = gr.Markdown("The papers of a time window, in topics.", elem_id="digest")
            show.click(lambda *window: digest_markdown(default, *window), [since, until, by], shown, api_name="digest")

        with gr.Tab("Watches"):
            with gr.Row():
                watched = gr.Textbox(label="Question to follow (new papers that answer it)", elem_id="watch-question")
                watch_id = gr.Textbox(label="Watch id (to remove)", elem_id="watch-id")
            with gr.Row():
                add = gr.Button("Watch", variant="primary", elem_id="watch-add")
                remove = gr.Button("Remove", elem_id="watch-remove")
                check = gr.Button("Check now", elem_id="watch-check")
            listed = gr.Markdown(watches_markdown(default), elem_id="watches")
            add.click(lambda q: watches_markdown(default, "add", q), [watched], listed, api_name="watch_add")
            remove.click(lambda i: watches_markdown(default, "remove", i), [watch_id], listed, api_name="unwatch")
            check.click(lambda: watches_markdown(default, "check"), None, listed, api_name="watch_check")

        def handler(message, chat, turns_, backend_, from_, to_, org_, k_, cat_):
            for *shown, cited in respond(message, chat, turns_, backend_, from_, to_, org_, k_, backends, cat_):
                yield *shown, gr.DownloadButton(value=cited, visible=cited is not None)

        inputs = [question, chatbot, turns, backend, date_from, date_to, organization, k, category]
        outputs = [chatbot, sources, turns, question, download]
        question.submit(handler, inputs, outputs, api_name="ask")
        send.click(handler, inputs, outputs, api_name=False)  # type: ignore[arg-type]  # False: not in the API
        cleared: tuple[Any, ...] = ([], render_sources(None), [], "", gr.DownloadButton(value=None, visible=False))
        clear.click(lambda: cleared, None, outputs, api_name=False)  # type: ignore[arg-type]
    return demo


def login(env: Mapping[str, str]) -> tuple[str, str] | None:
    """The user name and password the app asks for, or None for no login; only one of the two
    variables set is a ConfigError, so a deployment meant to be guarded never runs open."""
    user, password = (env.get(name, "") for name in LOGIN_VARIABLES)
    if user and password:
        return user, password
    if user or password:
        given, missing = LOGIN_VARIABLES if user else LOGIN_VARIABLES[::-1]
        raise ConfigError(f"{given} is set but {missing} is not; set both to require a login, or neither")
    return None


def main(config: Config | None = None) -> int:
    """Serve the UI (with ``config``, default: from the environment). A setting that stops it is
    one sentence on stderr and exit status 2, before any port is bound."""
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own requests to itself at start-up
    try:
        auth = login(os.environ)
        config = config if config is not None else Config.load()
        mask_secrets_in_logs(config)  # e.g. the LLM client logs each request's URL
        app = build_app(Backends(config))
    except USER_ERRORS as exc:
        print(f"error: the UI cannot start: {exc}", file=sys.stderr)
        return 2
    app.queue(default_concurrency_limit=4).launch(auth=auth, css=CSS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
