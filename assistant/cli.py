"""The ``assistant`` command: a thin adapter over the public API.

Imports stay inside the commands so that ``assistant --help`` and errors are instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assistant", description="Cited answers from research-paper abstracts.")
    p.add_argument("--config", type=Path, help="TOML config file (default: $ASSISTANT_CONFIG)")
    p.add_argument(
        "--data-dir",
        type=Path,
        help="where the index lives (default: the platform's data folder, e.g. ~/.local/share/paper-assistant/store)",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("--llm", help="answering backend: extractive (default), openai, llama-cpp, llamaindex")
    p.add_argument("--model", help="LLM model name (openai) or GGUF file (llama-cpp)")
    p.add_argument("--base-url", help="base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    sub = p.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser(
        "ingest", help="add paper sources to the index (default: the configured sources, the bundled corpus)"
    )
    ingest.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="files or folders: page dumps, .jsonl, .json, .csv, .bib, .ris, arXiv Atom/RSS, the arXiv snapshot",
    )
    ingest.add_argument(
        "--prune", action="store_true", help="also remove the indexed papers these sources do not hold (says how many)"
    )
    ingest.add_argument(
        "--rebuild", action="store_true", help="build the index again from these sources alone (implies --prune)"
    )
    ingest.add_argument("--category", help="keep only papers in this arXiv category (cs.CL) or archive (cs)")
    ingest.add_argument("--since", help="keep only papers dated on or after this date (YYYY[-MM[-DD]])")
    ingest.add_argument("--until", help="keep only papers dated on or before this date")
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")

    fetch = sub.add_parser(
        "fetch", help="save new papers from an arXiv query or the Hugging Face Daily Papers, then ingest"
    )
    fetch_from = fetch.add_subparsers(dest="service", required=True)
    arxiv = fetch_from.add_parser("arxiv", help="the newest papers of an arXiv API query or category")
    arxiv.add_argument("query", help="a category (cs.CL) or an arXiv API search_query ('cat:cs.CL AND abs:rag')")
    arxiv.add_argument("--max", type=int, default=200, help="look at the newest N papers at most (default: 200)")
    arxiv.add_argument(
        "--since", help="only papers submitted on or after YYYY-MM-DD, or 'last': since the last fetch of this query"
    )
    daily = fetch_from.add_parser("daily", help="the Hugging Face Daily Papers of each day in a range")
    daily.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="the first day")
    daily.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="the last day (default: today, UTC)")
    daily.add_argument("--since", help="YYYY-MM-DD (as --from), or 'last': from the newest day fetched before")
    for service in (arxiv, daily):
        service.add_argument("--no-ingest", action="store_true", help="only save the sources; do not ingest")
        service.add_argument("--json", action="store_true", help="print the fetch and ingest reports as JSON")

    ask = sub.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, help="number of sources")
    ask.add_argument("--since", help="only papers dated on or after this ISO date")
    ask.add_argument("--until", help="only papers dated on or before this ISO date")
    ask.add_argument("--org", help="only papers from this organisation")
    ask.add_argument("--category", help="only papers in this arXiv category (cs.LG) or archive (cs)")
    ask.add_argument("--venue", help="only papers whose venue holds these words (NeurIPS)")
    ask.add_argument("--doi", help="only the paper with this DOI")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--stream", action="store_true", help="print the answer as it is written")
    ask.add_argument(
        "--no-auto-filters", action="store_true", help='do not read filters such as "since 2024" from the question'
    )
    _export_options(ask, "--export", "also export the papers the answer cites")

    related = sub.add_parser("related", help="the papers nearest in meaning to one paper, each with what it does")
    related.add_argument("paper", help="the paper: its id, its title or a name such as SkillMimic")
    related.add_argument("-k", type=int, default=5, help="how many related papers (default 5)")
    related.add_argument("--json", action="store_true")
    _export_options(related, "--export", "also export the related papers")

    export = sub.add_parser("export", help="write papers as BibTeX, RIS or CSL-JSON for a reference manager")
    export.add_argument(
        "papers", nargs="+", metavar="PAPER", help="a paper's id, its title or a name such as SkillMimic"
    )
    _export_options(export, "--format", "the format (default: bib, or the one --output's suffix names)")

    digest = sub.add_parser("digest", help="the papers of a time window in topics, each with what it does")
    digest.add_argument("--since", default="7d", help="start: 7d, 2w or 24h back, or a date YYYY-MM-DD (default: 7d)")
    digest.add_argument("--until", help="end, in the same forms (default: now)")
    digest.add_argument(
        "--by", choices=["added", "date"], default="added", help="when papers entered the index (default) or their date"
    )
    digest.add_argument("--json", action="store_true", help="print the digest as JSON (default: Markdown)")

    table = sub.add_parser("table", help="an evidence table of papers on a topic, or of named papers, every cell cited")
    table.add_argument("topic", nargs="?", help="what the papers are about (its top -k papers), or --papers")
    table.add_argument("--papers", nargs="+", metavar="PAPER", help="the papers instead: ids, titles or names")
    table.add_argument("-k", type=int, default=5, help="how many papers for a topic (default 5)")
    table_form = table.add_mutually_exclusive_group()
    table_form.add_argument("--csv", action="store_true", help="print CSV instead of Markdown")
    table_form.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    watch = sub.add_parser("watch", help="standing questions: the new papers that answer them, after every ingest")
    watching = watch.add_subparsers(dest="action", required=True)
    watching.add_parser("add", help="keep a question; every ingest reports the new papers that answer it").add_argument(
        "question"
    )
    watching.add_parser("list", help="the watches, each with its id")
    watching.add_parser("remove", help="remove a watch").add_argument("id", help="the watch's id, as list shows it")
    watching.add_parser("check", help="look now for new papers that answer the watches")
    watching.add_parser("papers", help="every paper a watch has reported").add_argument("id")
    for action in watching.choices.values():
        action.add_argument("--json", action="store_true")

    stats = sub.add_parser("stats", help="what the index holds")
    stats.add_argument("--json", action="store_true")

    slack = sub.add_parser("slack", help="run the Slack bot (HTTP mode, or --socket for Socket Mode)")
    slack.add_argument("--host", default="127.0.0.1", help="address to listen on (HTTP mode)")
    slack.add_argument("--port", type=int, default=3000, help="port to listen on (HTTP mode)")
    slack.add_argument("--socket", action="store_true", help="connect with Socket Mode ($SLACK_APP_TOKEN)")

    serve = sub.add_parser("serve", help="serve the OpenAI-compatible HTTP API (/v1/chat/completions, /v1/search, ...)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--cors-origin", action="append", default=[], metavar="ORIGIN", help="a browser origin allowed to call the API"
    )

    sub.add_parser("ui", help="open the chat UI (Gradio) on http://127.0.0.1:7860")

    mcp = sub.add_parser("mcp", help="serve the papers to agents and editors over MCP (stdio, or --http)")
    mcp.add_argument("--http", action="store_true", help="serve streamable HTTP at http://HOST:PORT/mcp, not stdio")
    mcp.add_argument("--host", default="127.0.0.1", help="address to listen on (--http)")
    mcp.add_argument("--port", type=int, default=8765, help="port to listen on (--http)")

    ev = sub.add_parser("eval", help="measure retrieval and answers on a question set, or on a BEIR dataset")
    ev.add_argument(
        "questions",
        nargs="?",
        type=Path,
        help="a .jsonl question file (default: the bundled assistant/data/questions.jsonl)",
    )
    ev.add_argument("--part", choices=["tuning", "heldout"], help="only this part of the question set")
    ev.add_argument("--beir", type=Path, metavar="DIR", help="a BEIR dataset (corpus.jsonl, queries.jsonl, qrels/)")
    ev.add_argument("--split", default="test", help="the BEIR split to evaluate (default: test)")
    ev.add_argument("--json", action="store_true")
    ev.add_argument(
        "--markdown", action="store_true", help="print the evaluation report as Markdown (docs/evaluation.md)"
    )
    ev.add_argument(
        "--record-first-run",
        action="store_true",
        help="record these figures as the question file's first run, shown in the report (once per file)",
    )
    return p


def _export_options(command: argparse.ArgumentParser, flag: str, what: str) -> None:
    command.add_argument(flag, dest="export", choices=["bib", "ris", "csl"], help=f"{what}: bib, ris or csl (CSL-JSON)")
    rest = "" if flag == "--format" else " and what else the command prints to stderr"
    command.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help=f"write the export to FILE (a .bib, .ris or .json suffix names the format); without it the export goes "
        f"to stdout{rest}",
    )


def _export_format(args: argparse.Namespace, default: str | None, flag: str = "--export") -> str | None:
    """The export format asked for: the option, else the suffix of --output, else ``default``."""
    if args.export:
        return args.export
    if not _to_stdout(args):
        from assistant import EXPORT_FORMATS, ExportError

        by_suffix = {f.suffix: f.name for f in EXPORT_FORMATS.values()} | {".bibtex": "bib"}
        found = by_suffix.get(args.output.suffix.lower())
        if found is None:
            raise ExportError(f"cannot tell the export format from {args.output.name!r}; add {flag} bib, ris or csl")
        return found
    return default


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _to_stdout(args: argparse.Namespace) -> bool:
    return args.output is None or str(args.output) == "-"


def _write_export(text: str, args: argparse.Namespace, fmt: str, what: str) -> None:
    """The export to --output, saying so on stderr, or to stdout."""
    from assistant import EXPORT_FORMATS

    if _to_stdout(args):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {what} to {args.output} ({EXPORT_FORMATS[fmt].label})", file=sys.stderr)


def _print_answer(answer: Any, streamed: str | None = None, out: Any = None) -> None:
    out = out or sys.stdout
    if streamed is None:
        print(answer.text, file=out)
    elif streamed.strip() != answer.text:
        print(f"\n\nChecked answer:\n{answer.text}", file=out)
    else:
        print(file=out)
    for note in answer.notes():
        print(f"\n{note}", file=out)
    if answer.citations:
        print("\nCitations:", file=out)
        for c in answer.citations:
            print(f"  [{c.number}] {c.title}", file=out)
            for mark in c.marks:
                print(f"      answer: «{mark}»", file=out)
    if answer.sources:
        print("\nSources:" if not answer.refused else "\nClosest papers:", file=out)
        for i, s in enumerate(answer.sources, 1):
            byline = s.byline()
            print(f"  {i}. {s.title}" + (f" ({byline})" if byline else "") + f"  score {s.score:.3f}", file=out)
    print(f"\n[backend: {answer.backend}]", file=out)


def _run(args: argparse.Namespace) -> int:
    from assistant import Assistant, Config

    config = Config.load(
        args.config, data_dir=args.data_dir, llm=args.llm, llm_model=args.model, llm_base_url=args.base_url
    )
    if getattr(args, "no_auto_filters", False):
        config = config.model_copy(update={"auto_filters": False})
    assistant = Assistant(config)
    if args.command == "ingest":
        from assistant import Filters

        kept = Filters(date_from=args.since, date_to=args.until, category=args.category) or None
        report = assistant.ingest(
            args.paths or None, rebuild=args.rebuild, progress=sys.stderr.isatty(), filters=kept, prune=args.prune
        )
        print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
        _print_watches(report.watches, args.json)
    elif args.command == "watch":
        return _watch(assistant, args)
    elif args.command == "fetch":
        return _fetch(assistant, args)
    elif args.command == "ask":
        from assistant import Filters

        filters = Filters(
            date_from=args.since,
            date_to=args.until,
            organization=args.org,
            category=args.category,
            venue=args.venue,
            doi=args.doi,
        )
        fmt = _export_format(args, None)
        out = sys.stderr if fmt and _to_stdout(args) else sys.stdout  # stdout holds the export alone
        if args.stream and not args.json:
            streamed = []
            for item in assistant.stream(args.question, k=args.k, filters=filters or None):
                if isinstance(item, str):
                    streamed.append(item)
                    print(item, end="", file=out, flush=True)
                else:
                    answer = item
                    _print_answer(item, "".join(streamed), out)
        else:
            answer = assistant.ask(args.question, k=args.k, filters=filters or None)
            if args.json:
                print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False), file=out)
            else:
                _print_answer(answer, out=out)
        if fmt:
            out.flush()
            cited = len({c.paper_id for c in answer.citations})
            if not cited:
                print("the answer cites no paper, so the export holds none", file=sys.stderr)
            _write_export(assistant.export(answer, fmt), args, fmt, _count(cited, "cited paper"))
    elif args.command == "related":
        fmt = _export_format(args, None)
        out = sys.stderr if fmt and _to_stdout(args) else sys.stdout
        paper = assistant.find_paper(args.paper)
        near = assistant.related(paper.paper_id, args.k)
        if args.json:
            rows = [{"paper_id": s.paper_id, "title": s.title, "score": round(s.score, 4)} for s in near]
            print(json.dumps({"paper": paper.title, "related": rows}, indent=2), file=out)
        else:
            print(f"Papers related to {paper.title}:", file=out)
            for n, s in enumerate(near, 1):
                print(f"  {n}. {s.title} ({s.score:.3f})\n     {s.contribution()}", file=out)
        if fmt:
            out.flush()
            _write_export(assistant.export(near, fmt), args, fmt, _count(len(near), "related paper"))
    elif args.command == "export":
        fmt = _export_format(args, "bib", "--format")
        assert fmt is not None
        _write_export(assistant.export(args.papers, fmt), args, fmt, "the papers")
    elif args.command == "digest":
        digest = assistant.digest(args.since, args.until, args.by)
        print(json.dumps(digest.to_dict(), indent=2, ensure_ascii=False) if args.json else digest.to_markdown(), end="")
    elif args.command == "table":
        made = assistant.table(args.papers, args.topic, args.k)
        if args.json:
            print(json.dumps(made.to_dict(), indent=2, ensure_ascii=False))
        else:
            print(made.to_csv() if args.csv else made.to_markdown(), end="")
    elif args.command == "stats":
        stats = assistant.stats()
        print(json.dumps(stats, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in stats.items()))
    elif args.command == "slack":
        from assistant.bot import BotCore
        from assistant.slack import run

        run(BotCore(assistant, where="slack"), args.host, args.port, socket_mode=args.socket)
    elif args.command == "serve":
        run_server = _extra("assistant.server", "server", "the HTTP API").run
        run_server(assistant, args.host, args.port, args.cors_origin)
    elif args.command == "ui":
        return int(_extra("assistant.webui", "ui", "the chat UI").main(assistant.config))
    elif args.command == "mcp":
        from assistant.mcp_server import run as run_mcp

        run_mcp(assistant, "http" if args.http else "stdio", args.host, args.port)
    elif args.command == "eval" and args.beir:
        from assistant import beir

        result = beir.run(args.beir, args.split, config.data_dir / "beir", config)
        print(json.dumps(result, indent=2) if args.json else beir.format_table(result))
    elif args.command == "eval":
        from assistant.evaluate import (
            DEFAULT_QUESTIONS,
            evaluate,
            first_run,
            format_report,
            load_first_runs,
            load_questions,
            markdown_report,
            record_first_run,
        )

        path = args.questions or DEFAULT_QUESTIONS
        if not path.exists():
            raise FileNotFoundError(f"question file {path} does not exist; pass the path of a .jsonl file")
        questions = [q for q in load_questions(path) if args.part in (None, q.split)]
        result = evaluate(assistant, questions)
        if args.record_first_run:
            record_first_run(first_run(result, path.name, date.today().isoformat(), _code_version()))
        if args.markdown:
            command = "assistant eval --markdown" + (f" --part {args.part}" if args.part else "")
            command += f" {args.questions}" if args.questions else ""
            print(markdown_report(result, command, date.today().isoformat(), load_first_runs()), end="")
        else:
            print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0


def _code_version() -> str:
    """The commit of a checkout, else the installed package's version: what answered an evaluation."""
    import subprocess
    from importlib.metadata import version

    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True)
    except OSError:
        done = None
    return done.stdout.strip() if done and done.returncode == 0 else version("paper-assistant")


def _fetch(assistant: Any, args: argparse.Namespace) -> int:
    """``assistant fetch``: save what is new as source files, print one line per file, then ingest
    the configured sources with the fetch folder (what a plain ``assistant ingest`` reads)."""
    where = "arXiv" if args.service == "arxiv" else "the Hugging Face Daily Papers"
    if sys.stderr.isatty() and not args.json:  # a person waiting, not a script reading the error
        print(f"fetching from {where}; a slow or unreachable service is retried a few times ...", file=sys.stderr)
    if args.service == "arxiv":
        report = assistant.fetch_arxiv(args.query, max_papers=args.max, since=args.since)
    else:
        report = assistant.fetch_daily(args.date_from, args.date_to, since=args.since)
    ingested = None if args.no_ingest else assistant.ingest(progress=sys.stderr.isatty() and not args.json)
    if args.json:
        out = {
            "fetch": {**report.__dict__, "files": [{**w.__dict__, "path": str(w.path)} for w in report.files]},
            "ingest": ingested.to_dict() if ingested else None,
        }
        print(json.dumps(out, indent=2))
    else:
        print("\n".join(report.lines()))
        if ingested is not None:
            print(ingested.summary())
            _print_watches(ingested.watches, False)
    return 0


def _print_watches(reports: Sequence[Any], as_json: bool) -> None:
    """After an ingest: each watch with new papers, and the papers (the JSON report holds them)."""
    if not as_json:
        for report in reports:
            print(report.to_text())


def _watch(assistant: Any, args: argparse.Namespace) -> int:
    """``assistant watch add|list|remove|check|papers``."""
    if args.action == "add":
        made = assistant.watch(args.question, where="cli")
        print(json.dumps(made.to_dict(), indent=2) if args.json else f"watch {made.id}: {made.question}")
    elif args.action == "list":
        watches = assistant.watches()
        if args.json:
            print(json.dumps([w.to_dict() for w in watches], indent=2))
        for w in [] if args.json else watches:
            print(f"{w.id}. {w.question} (set {w.created[:10]} from {w.where}, last looked {w.checked})")
        if not watches and not args.json:
            print("no watches; add one with: assistant watch add QUESTION")
    elif args.action == "remove":
        gone = assistant.unwatch(args.id)
        print(json.dumps(gone.to_dict(), indent=2) if args.json else f"removed watch {gone.id}: {gone.question}")
    elif args.action == "check":
        reports = assistant.check_watches()
        if args.json:
            print(json.dumps([r.to_dict() for r in reports], indent=2, ensure_ascii=False))
        else:
            print("\n".join(r.to_text() for r in reports) if reports else "no new papers answer a watch")
    else:
        report = assistant.watch_papers(args.id)
        if args.json:
            print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        else:
            print(report.to_text().replace(" new paper", " reported paper", 1))
    return 0


def _extra(module: str, extra: str, what: str) -> Any:
    """The module behind a subcommand; a missing optional dependency is one sentence naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(("assistant", "index")):
            raise
        raise ExtraMissing(
            f"{what} needs the '{extra}' extra ({exc.name} is not installed): pip install 'paper-assistant[{extra}]'"
        ) from None


class ExtraMissing(RuntimeError):
    """An optional part is not installed; the message names the pip install to run."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``assistant`` console script."""
    args = _parser().parse_args(argv)
    try:
        from assistant import Config, mask_secrets_in_logs

        mask_secrets_in_logs(Config.load(args.config))  # before any command runs: the servers' logs too
        return _run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `assistant ask ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except Exception as exc:  # one line for the user; the traceback only on request
        if args.debug:
            raise
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 1


_GLOBAL_OPTIONS = ("--config", "--data-dir", "--llm", "--model", "--base-url")


def run_command(command: str, argv: Sequence[str] | None = None) -> int:
    """``assistant COMMAND ARGV``, with the global options (``--config``, ``--data-dir``, ...) taken
    wherever they stand in ``argv``: what ``python -m assistant.server`` and ``python -m
    assistant.mcp_server`` run."""
    top = argparse.ArgumentParser(add_help=False)
    for flag in _GLOBAL_OPTIONS:
        top.add_argument(flag)
    top.add_argument("--debug", action="store_true")
    known, rest = top.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    front = [x for flag in _GLOBAL_OPTIONS if (v := getattr(known, flag[2:].replace("-", "_"))) for x in (flag, v)]
    return main([*front, *(["--debug"] if known.debug else []), command, *rest])


def _message(exc: Exception) -> str:
    """The one line the user sees: an AssistantError's own sentence, or the operating system's for a
    missing file or a port in use; anything else is a bug, named as one."""
    from assistant import AssistantError

    if isinstance(exc, AssistantError | ExtraMissing | OSError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
