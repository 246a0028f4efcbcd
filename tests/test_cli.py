"""The `assistant` console script, run as a user runs it: a real process, real output."""

from __future__ import annotations

import json

import pytest

from assistant import Assistant, Config
from tests.helpers import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir(bundled: Assistant) -> str:
    return str(bundled.config.data_dir)


def test_ask_json_shape(data_dir):
    out = run_cli(
        "--data-dir", data_dir, "ask", "What credit assignment strategy does the AVATAR agent introduce?", "--json"
    )
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert {"answer", "refused", "citations", "sources"} <= set(answer)
    assert answer["refused"] is False
    assert "Temporal Advantage Shaping" in answer["answer"]
    assert {"number", "paper_id", "title"} <= set(answer["citations"][0])
    assert {"paper_id", "title", "score"} <= set(answer["sources"][0])
    assert answer["citations"][0]["paper_id"] in {s["paper_id"] for s in answer["sources"]}


def test_ask_text_lists_citations_and_backend(data_dir):
    out = run_cli("--data-dir", data_dir, "ask", "Which paper is about a service learning database course?", "-k", "3")
    assert out.returncode == 0, out.stderr
    assert "[1]" in out.stdout and "Citations:" in out.stdout
    assert "Database Systems Course: Service Learning Project" in out.stdout
    assert "[backend: extractive]" in out.stdout


def test_stats_json_reports_426_papers(data_dir):
    out = run_cli("--data-dir", data_dir, "stats", "--json")
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)
    assert stats["papers"] == 426 and stats["chunks"] > 426


def test_reingest_adds_nothing(data_dir):
    out = run_cli("--data-dir", data_dir, "ingest", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["entries"], report["papers"], report["added"], report["unchanged"], report["embedded"]) == (
        525,
        426,
        0,
        426,
        0,
    )


def test_eval_prints_metrics(data_dir, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps(
            {
                "id": "a",
                "type": "fact",
                "question": "How many participants took part in the struggle-determination video dataset?",
                "gold_titles": [
                    "EvoStruggle: A Dataset Capturing the Evolution of Struggle across Activities and Skill Levels"
                ],
                "answer_keywords": ["76"],
            }
        )
        + "\n"
        + json.dumps(
            {
                "id": "b",
                "type": "unanswerable",
                "question": "Any papers on Kolmogorov-Arnold networks?",
                "gold_titles": [],
                "answer_keywords": [],
            }
        )
        + "\n"
    )
    out = run_cli("--data-dir", data_dir, "eval", str(questions), "--json")
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)["metrics"]
    assert metrics["hit@1"] == 1.0 and metrics["fact_keywords"] == 1.0
    assert metrics["refused_unanswerable"] == 1.0 and metrics["false_refusal"] == 0.0
    assert metrics["gold_cited"] == 1.0


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "   "], "error: the question is empty"),
        (["ask", "why " * 1000], "characters long"),
        (["eval", "/nonexistent/q.jsonl"], "does not exist"),
    ],
)
def test_errors_are_one_line_without_traceback(data_dir, args, message):
    out = run_cli("--data-dir", data_dir, *args)
    assert out.returncode == 1
    assert message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_missing_index_says_how_to_build_it(tmp_path):
    env = {"ASSISTANT_SOURCES": str(tmp_path / "mine.jsonl")}
    out = run_cli("--data-dir", str(tmp_path / "empty"), "ask", "anything?", env=env)
    assert out.returncode == 1
    assert "no paper index" in out.stderr and "assistant ingest" in out.stderr
    assert "Traceback" not in out.stderr


def test_ingest_of_nothing_usable_fails_and_keeps_the_store(data_dir, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,text\nx,y\n")
    out = run_cli("--data-dir", data_dir, "ingest", str(bad))
    assert out.returncode == 1
    assert "left unchanged" in out.stderr and "lacks abstract, title" in out.stderr
    assert json.loads(run_cli("--data-dir", data_dir, "stats", "--json").stdout)["papers"] == 426


def test_debug_shows_the_traceback(data_dir):
    out = run_cli("--data-dir", data_dir, "--debug", "ask", "  ")
    assert out.returncode == 1 and "Traceback" in out.stderr


def test_unreachable_llm_server_is_one_line_naming_the_url(data_dir):
    url = "http://127.0.0.1:9/v1"
    env = {"ASSISTANT_LLM_TIMEOUT": "3", "ASSISTANT_LLM_RETRIES": "0"}
    llm = ["--llm", "openai", "--base-url", url, "--model", "m"]
    out = run_cli("--data-dir", data_dir, *llm, "ask", "What is EvoStruggle?", env=env)
    assert out.returncode == 1
    assert f"cannot reach the LLM server at {url}" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_fallback_is_visible_in_the_cli(data_dir):
    env = {"ASSISTANT_LLM_FALLBACK": "true", "ASSISTANT_LLM_RETRIES": "0"}
    llm = ["--llm", "openai", "--base-url", "http://127.0.0.1:9/v1"]
    question = "How many participants took part in the struggle-determination video dataset?"
    out = run_cli("--data-dir", data_dir, *llm, "ask", question, "--json", env=env)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["backend"] == "extractive" and "extractive backend instead" in answer["notice"]


def test_stream_flag_prints_the_answer(data_dir):
    out = run_cli("--data-dir", data_dir, "ask", "--stream",
                  "How many participants took part in the struggle-determination video dataset?")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "76 participants" in out.stdout and "[backend: extractive]" in out.stdout


def test_cli_shows_filters_read_from_the_question(data_dir):
    question = "What did papers from ByteDance Seed report about spatial abilities?"
    out = run_cli("--data-dir", data_dir, "ask", question)
    assert out.returncode == 0, out.stderr
    assert "Filters read from the question: papers from ByteDance Seed" in out.stdout
    off = run_cli("--data-dir", data_dir, "ask", question, "--no-auto-filters", "--json")
    assert json.loads(off.stdout)["filters"] is None


def test_eval_on_a_beir_dataset(tmp_path, bundled):
    """`assistant eval --beir DIR` runs the product and both baselines over a BEIR-format dataset."""
    papers = bundled.papers()[:40]
    beir = tmp_path / "tiny-beir"
    (beir / "qrels").mkdir(parents=True)
    corpus = [{"_id": f"d{i}", "title": p.title, "text": p.abstract} for i, p in enumerate(papers)]
    queries = [{"_id": f"q{i}", "text": p.abstract.split(". ")[0]} for i, p in enumerate(papers[:12])]
    (beir / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    (beir / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    qrels = "".join(f"q{i}\td{i}\t1\n" for i in range(12))
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels)
    out = run_cli("--data-dir", str(tmp_path / "store"), "eval", "--beir", str(beir), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result["ndcg10"]) == {"bm25", "dense", "assistant"}
    assert result["queries"]["count"] == 12
    assert result["ndcg10"]["assistant"] >= 0.8  # a query is the paper's own first sentence
    again = run_cli("--data-dir", str(tmp_path / "store"), "eval", "--beir", str(beir))
    assert again.returncode == 0 and "assistant" in again.stdout and "nDCG@10" in again.stdout
    assert "(0 texts embedded now)" in again.stderr  # the rerun reuses the stored embeddings
    missing = run_cli("--data-dir", str(tmp_path / "store"), "eval", "--beir", str(tmp_path))
    assert missing.returncode != 0 and "is not a BEIR dataset" in missing.stderr


def test_related_papers_are_the_nearest_in_meaning_each_with_what_it_does(data_dir, bundled):
    out = run_cli("--data-dir", data_dir, "related", "SkillMimic", "-k", "3")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "Papers related to SkillMimic: Learning Reusable Basketball Skills from Demonstrations:"
    near = bundled.related("SkillMimic", 3)
    assert [s.title for s in near] == [line.split(". ", 1)[1].rsplit(" (", 1)[0] for line in lines[1::2]]
    assert all(s.contribution() in s.abstract for s in near)  # one sentence of each paper's own abstract
    skill = bundled.find_paper("SkillMimic")
    assert skill.paper_id not in {s.paper_id for s in near}
    assert [s.paper_id for s in bundled.related(skill.paper_id, 3)] == [s.paper_id for s in near]  # id or name
    missing = run_cli("--data-dir", data_dir, "related", "No Such Paper At All")
    assert missing.returncode == 1 and missing.stderr.strip().count("\n") == 0
    assert "no indexed paper has the id, title or name" in missing.stderr


def test_ingesting_a_library_into_the_bundled_index_adds_and_only_prune_removes(bundled, tmp_path, capsys):
    """A user's BibTeX file joins the 426 bundled papers; the others go only with --prune, which says how many."""
    import shutil
    from pathlib import Path

    from assistant.cli import main

    store = tmp_path / "store"
    shutil.copytree(bundled.config.data_dir, store)
    library = Path(__file__).parent / "fixtures" / "formats" / "library.bib"
    assert main(["--data-dir", str(store), "ingest", str(library), "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["added"] >= 1 and added["removed"] == 0 and added["kept"] == 426
    assert Assistant(Config(data_dir=store)).stats()["papers"] == 426 + added["papers"]
    assert main(["--data-dir", str(store), "ingest", str(library), "--prune"]) == 0
    said = capsys.readouterr().out
    assert "removed 426" in said
    assert Assistant(Config(data_dir=store)).stats()["papers"] == added["papers"]
