"""`assistant fetch`: arXiv API queries and the Daily Papers, saved as sources and ingested.

Everything runs against tests/fetch_standin.py on 127.0.0.1; nothing leaves the machine. The
HTTP-side tests (paging, politeness, retries, errors) need no model; the ones that ingest are slow.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from assistant import Assistant, AssistantError, Config
from index.fetch import MAX_RETRY_AFTER, STATE_FILE, FetchError, arxiv_query, fetch_arxiv, fetch_daily, slug
from index.formats import detect
from index.ingest import ingest
from tests.fetch_standin import ArxivPaper, StandIn, daily_item
from tests.helpers import SMALL, free_port, run_cli, write_jsonl

BASE = datetime(2025, 10, 7, 18, 0, tzinfo=UTC)
WORDS = "retrieval graphs robots proteins speech vision tables code agents music".split()


def paper(n: int, category: str = "cs.CL", hours_ago: float | None = None) -> ArxivPaper:
    topic = WORDS[n % len(WORDS)]
    return ArxivPaper(
        arxiv_id=f"2510.{n:05d}",
        title=f"Study {n} of {topic} with model family {n * 7 % 13}",
        summary=f"We study {topic} in setting number {n}. Our method improves the baseline by {n % 9 + 1} points "
        f"on three {topic} benchmarks and we release the code.",
        published=BASE - timedelta(hours=n if hours_ago is None else hours_ago),
        authors=(f"Author {n}", f"Second Author {n % 5}"),
        categories=(category, "cs.AI"),
    )


@pytest.fixture
def stand_in():
    service = StandIn(papers=[paper(n) for n in range(1, 31)])  # 2510.00001 is the newest
    yield service
    service.close()


@pytest.fixture
def config(tmp_path, stand_in) -> Config:
    small = write_jsonl(tmp_path / "mine.jsonl", SMALL)  # a small own corpus, not the bundled one
    return Config(
        data_dir=tmp_path / "store",
        sources=[small],
        arxiv_api_url=stand_in.arxiv_url,
        daily_papers_url=stand_in.daily_url,
        fetch_delay_s=0.05,
        fetch_retries=2,
    )


def saved_ids(config: Config) -> list[str]:
    """The arXiv ids in the saved pages, as the arXiv format parses them."""
    ids = []
    for path in sorted((config.fetch_folder / "arxiv").glob("*.atom")):
        text = path.read_text(encoding="utf-8")
        fmt = detect(path.name, text)
        assert fmt is not None and fmt.name == "arxiv"
        parsed = fmt.parse(text, str(path))
        assert not parsed.problems, parsed.problems
        ids += [p.arxiv_id for p in parsed.papers]
    return ids


# queries and file names


def test_a_bare_category_is_a_cat_query():
    assert arxiv_query("cs.LG") == "cat:cs.LG"
    assert arxiv_query("hep-th") == "cat:hep-th"
    assert arxiv_query(" cat:cs.CL  AND abs:retrieval ") == "cat:cs.CL AND abs:retrieval"
    assert arxiv_query("retrieval") == "retrieval"
    assert slug("cat:cs.CL AND abs:retrieval") == "cat-cs-cl-and-abs-retrieval"


# arXiv: paging, new papers, --max, --since


def test_arxiv_pages_newest_first_and_saves_each_page(config, stand_in):
    report = fetch_arxiv(config, "cs.CL", max_papers=25, page_size=10)
    queries = stand_in.to("/api/query")
    assert [(q.params["start"], q.params["max_results"]) for q in queries] == [("0", "10"), ("10", "10"), ("20", "5")]
    assert all(q.params["sortBy"] == "submittedDate" and q.params["sortOrder"] == "descending" for q in queries)
    assert all(q.params["search_query"] == "cat:cs.CL" for q in queries)
    names = [w.path.name for w in report.files]
    assert len(names) == 3 and all(
        n.startswith("cat-cs-cl-") and n.endswith(f"-p{i}.atom") for i, n in enumerate(names, 1)
    )
    assert saved_ids(config) == [f"2510.{n:05d}" for n in range(1, 26)]
    assert (report.seen, report.new) == (25, 25)
    state = json.loads((config.data_dir / STATE_FILE).read_text())
    assert len(state["arxiv"]["cat:cs.CL"]["files"]) == 3


def test_arxiv_stops_at_the_end_of_the_results(config, stand_in):
    report = fetch_arxiv(config, "cs.CL", max_papers=500, page_size=12)
    assert report.seen == 30 and len(stand_in.to("/api/query")) == 3  # 12 + 12 + 6 of totalResults 30


def test_a_second_fetch_with_nothing_new_writes_nothing(config, stand_in):
    fetch_arxiv(config, "cs.CL", max_papers=20, page_size=10)
    before = sorted((config.fetch_folder / "arxiv").iterdir())
    again = fetch_arxiv(config, "cs.CL", max_papers=20, page_size=10)
    assert again.files == [] and again.new == 0 and again.seen == 20
    assert sorted((config.fetch_folder / "arxiv").iterdir()) == before


def test_since_last_fetches_only_what_is_newer(config, stand_in):
    fetch_arxiv(config, "cs.CL", max_papers=10, since="last", page_size=5)  # a first "last": the newest 10
    assert saved_ids(config) == [f"2510.{n:05d}" for n in range(1, 11)]
    stand_in.papers.append(paper(90, hours_ago=-1))  # submitted after the newest one fetched
    stand_in.requests.clear()
    report = fetch_arxiv(config, "cs.CL", max_papers=10, since="last", page_size=5)
    # the page stopped after the newest paper the last fetch had looked at (seen again, not saved again)
    assert (report.new, report.seen) == (1, 2) and len(stand_in.to("/api/query")) == 1
    ids = saved_ids(config)
    assert len(ids) == 11 and set(ids) == {f"2510.{n:05d}" for n in [*range(1, 11), 90]}


def test_since_a_date_stops_paging_at_older_papers(config, stand_in):
    since = (BASE - timedelta(hours=12)).date().isoformat()  # 2025-10-07: papers 1..18 are that day
    report = fetch_arxiv(config, "cs.CL", max_papers=200, since=since, page_size=10)
    assert report.seen == 18 and len(stand_in.to("/api/query")) == 2
    assert saved_ids(config) == [f"2510.{n:05d}" for n in range(1, 19)]


def test_max_before_since_says_what_was_left(config, stand_in):
    report = fetch_arxiv(config, "cs.CL", max_papers=5, since="2025-10-01", page_size=5)
    assert report.seen == 5 and any("larger --max" in note for note in report.notes)


def test_papers_another_query_saved_are_not_saved_again(config, stand_in):
    stand_in.papers += [paper(n, category="cs.IR") for n in range(40, 45)]
    fetch_arxiv(config, "cs.CL", max_papers=50)
    report = fetch_arxiv(config, "cat:cs.AI", max_papers=50)  # every paper is in cs.AI too
    assert report.seen == 35 and report.new == 5
    assert sorted(saved_ids(config)) == sorted(
        {*[f"2510.{n:05d}" for n in range(1, 31)], *[f"2510.{n:05d}" for n in range(40, 45)]}
    )


def test_a_deleted_page_makes_its_papers_fetchable_again(config, stand_in):
    first = fetch_arxiv(config, "cs.CL", max_papers=10)
    first.files[0].path.unlink()
    again = fetch_arxiv(config, "cs.CL", max_papers=10)
    assert again.new == 10


# politeness


def test_requests_are_spaced_and_name_the_product(config, stand_in):
    polite = config.model_copy(update={"fetch_delay_s": 0.2})
    fetch_arxiv(polite, "cs.CL", max_papers=30, page_size=10)
    fetch_daily(polite, "2025-10-01", "2025-10-03")
    for path in ("/api/query", "/api/daily_papers"):
        times = [r.at for r in stand_in.to(path)]
        assert len(times) == 3
        assert min(b - a for a, b in zip(times, times[1:])) >= 0.18
    agents = {r.user_agent for r in stand_in.requests}
    assert len(agents) == 1
    agent = agents.pop()
    assert agent.startswith("paper-assistant/") and "https://" in agent


def test_429_then_success_waits_as_asked(config, stand_in):
    stand_in.fail_next(429, retry_after="1")
    report = fetch_arxiv(config, "cs.CL", max_papers=5)
    times = [r.at for r in stand_in.to("/api/query")]
    assert len(times) == 2 and times[1] - times[0] >= 0.95
    assert report.new == 5


def test_503_then_success_is_retried(config, stand_in):
    stand_in.fail_next(503, times=2)
    report = fetch_daily(config, "2025-10-01", "2025-10-01")
    assert report.requests == 3 and len(stand_in.to("/api/daily_papers")) == 3


def test_429_forever_is_one_sentence_and_writes_nothing(config, stand_in):
    stand_in.fail_always(429, retry_after="0")
    with pytest.raises(FetchError) as raised:
        fetch_arxiv(config, "cs.CL", max_papers=5)
    message = str(raised.value)
    assert message.startswith("arXiv asked us to slow down (HTTP 429)") and "try again in" in message
    assert "nothing was changed" in message and "\n" not in message
    assert len(stand_in.to("/api/query")) == 3  # the first try and fetch_retries=2 retries
    assert not config.fetch_folder.exists() and not (config.data_dir / STATE_FILE).exists()


def test_a_long_retry_after_is_not_waited_for(config, stand_in):
    stand_in.fail_always(429, retry_after="3600")
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"try again in 3600 s"):
        fetch_arxiv(config, "cs.CL", max_papers=5)
    assert time.monotonic() - started < MAX_RETRY_AFTER / 10 and len(stand_in.to("/api/query")) == 1


def test_a_failure_on_a_later_page_writes_nothing(config, stand_in):
    config = config.model_copy(update={"fetch_retries": 0})
    original = stand_in._arxiv

    def failing_second_page(params):
        return original(params) if params.get("start") == "0" else (503, "Service Unavailable")

    stand_in._arxiv = failing_second_page
    with pytest.raises(FetchError, match="answered HTTP 503"):
        fetch_arxiv(config, "cs.CL", max_papers=20, page_size=10)
    assert not config.fetch_folder.exists()


def test_unreachable_is_one_sentence(config):
    closed = config.model_copy(update={"arxiv_api_url": f"http://127.0.0.1:{free_port()}/api/query"})
    with pytest.raises(FetchError) as raised:
        fetch_arxiv(closed, "cs.CL")
    message = str(raised.value)
    assert message.startswith("cannot reach 127.0.0.1 (") and "check the network" in message
    assert message.endswith("nothing was changed") and "\n" not in message


def test_retry_after_in_seconds_or_as_a_date():
    from email.utils import format_datetime

    from index.fetch import _retry_after

    assert _retry_after("7") == 7.0 and _retry_after(None) is None and _retry_after("soon") is None
    assert 50 < _retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)) <= 60


# errors a user can fix


def test_an_arxiv_error_feed_is_one_sentence(config, stand_in):
    with pytest.raises(FetchError) as raised:
        fetch_arxiv(config, "nosuch:thing AND cat:cs.CL")
    message = str(raised.value)
    assert message.startswith("arXiv rejected the query 'nosuch:thing AND cat:cs.CL': unknown field prefix nosuch")
    assert isinstance(raised.value, AssistantError) and "\n" not in message


def test_something_that_is_not_a_feed_is_one_sentence(config, stand_in):
    wrong = config.model_copy(update={"arxiv_api_url": stand_in.daily_url})  # JSON, not Atom
    with pytest.raises(FetchError, match="not an Atom feed"):
        fetch_arxiv(wrong, "cs.CL")


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda c: fetch_arxiv(c, "cs.CL", since="2025-13-01"), "--since '2025-13-01' is not a date"),
        (lambda c: fetch_arxiv(c, "cs.CL", since="yesterday"), "--since 'yesterday' is not a date"),
        (lambda c: fetch_daily(c, "2025-10-05", "2025-10-01"), "after it ends on"),
        (lambda c: fetch_daily(c, "1 Oct", "2025-10-01"), "--from '1 Oct' is not a date"),
        (lambda c: fetch_daily(c), "say which days"),
        (lambda c: fetch_daily(c, "2020-01-01", "2025-01-01"), "at most 366 days"),
        (lambda c: fetch_arxiv(c, "  "), "the arXiv query is empty"),
        (lambda c: fetch_arxiv(c, "cs.CL", max_papers=0), "--max 0"),
    ],
)
def test_bad_input_is_one_sentence_before_any_request(config, stand_in, call, words):
    with pytest.raises(FetchError, match=words) as raised:
        call(config)
    assert "\n" not in str(raised.value) and stand_in.requests == []


# Daily Papers


def day_of(n: int, day: str, upvotes: int = 3) -> dict:
    p = paper(n)
    return daily_item(p.arxiv_id, p.title, p.summary, day, p.authors, upvotes, "Some Lab" if n % 2 else None)


def test_daily_asks_once_per_day_and_saves_each_day(config, stand_in):
    stand_in.daily = {
        "2025-10-01": [day_of(1, "2025-10-01"), day_of(2, "2025-10-01")],
        "2025-10-03": [day_of(3, "2025-10-03")],
    }
    report = fetch_daily(config, "2025-10-01", "2025-10-03")
    assert [r.params["date"] for r in stand_in.to("/api/daily_papers")] == ["2025-10-01", "2025-10-02", "2025-10-03"]
    assert [(w.path.name, w.papers, w.status) for w in report.files] == [
        ("2025-10-01.json", 2, "new"),
        ("2025-10-03.json", 1, "new"),
    ]
    assert any("2025-10-02: no papers" in note for note in report.notes)
    saved = json.loads((config.fetch_folder / "daily" / "2025-10-01.json").read_text())
    assert saved == stand_in.daily["2025-10-01"]  # the response as sent

    again = fetch_daily(config, "2025-10-01", "2025-10-03")
    assert [w.status for w in again.files] == ["unchanged", "unchanged"]
    stand_in.daily["2025-10-03"] = [day_of(3, "2025-10-03", upvotes=40)]
    later = fetch_daily(config, since="last", date_to="2025-10-03")  # the newest day fetched, asked again
    assert [(w.path.name, w.status) for w in later.files] == [("2025-10-03.json", "replaced")]
    assert not list((config.fetch_folder / "daily").glob(".*"))  # no temporary file left


# ingest: what was fetched is part of every plain ingest


@pytest.mark.slow
def test_fetched_papers_are_ingested_and_a_second_fetch_embeds_nothing(config, stand_in, embedder):
    fetch_arxiv(config, "cs.CL", max_papers=12, page_size=5)
    stand_in.daily = {"2025-10-01": [day_of(1, "2025-10-01", upvotes=9), day_of(50, "2025-10-01")]}
    fetch_daily(config, "2025-10-01", "2025-10-01")
    assert config.ingest_sources == [*config.sources, config.fetch_folder]
    first = ingest(config, embedder=embedder)
    assert first.papers == 3 + 12 + 1 and first.added == first.papers and not first.skipped  # 2510.00001 in both

    fetch_arxiv(config, "cs.CL", max_papers=12, page_size=5)
    fetch_daily(config, "2025-10-01", "2025-10-01")
    second = ingest(config, embedder=embedder)
    assert (second.added, second.updated, second.removed, second.embedded) == (0, 0, 0, 0)

    stand_in.papers.append(paper(91, hours_ago=-2))
    fetch_arxiv(config, "cs.CL", max_papers=12, since="last")
    third = ingest(config, embedder=embedder)
    assert (third.added, third.removed) == (1, 0) and third.embedded > 0


@pytest.mark.slow
def test_cli_fetch_prints_each_file_then_the_ingest_summary(config, stand_in, tmp_path):
    env = {
        "ASSISTANT_DATA_DIR": str(config.data_dir),
        "ASSISTANT_SOURCES": str(config.sources[0]),
        "ASSISTANT_ARXIV_API_URL": stand_in.arxiv_url,
        "ASSISTANT_FETCH_DELAY_S": "0.05",
    }
    out = run_cli("fetch", "arxiv", "cs.CL", "--max", "8", env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("wrote ") and lines[0].endswith(".atom (8 papers)")
    assert any(line.startswith("read ") for line in lines) and "added 11" in out.stdout

    again = run_cli("fetch", "arxiv", "cs.CL", "--max", "8", "--since", "last", "--json", env=env)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["fetch"]["files"] == [] and report["ingest"]["embedded"] == 0

    plain = run_cli("ingest", "--json", env=env)  # a plain ingest keeps what was fetched
    assert plain.returncode == 0 and json.loads(plain.stdout)["removed"] == 0


def test_cli_offline_is_one_sentence_and_fails(tmp_path):
    env = {
        "ASSISTANT_DATA_DIR": str(tmp_path / "store"),
        "ASSISTANT_ARXIV_API_URL": f"http://127.0.0.1:{free_port()}/api/query",
        "ASSISTANT_FETCH_DELAY_S": "0.05",
        "ASSISTANT_FETCH_RETRIES": "1",
    }
    out = run_cli("fetch", "arxiv", "cs.LG", env=env)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("error: cannot reach 127.0.0.1 (") and out.stderr.count("\n") == 1
    assert "nothing was changed" in out.stderr and not (tmp_path / "sources").exists()


def test_cli_bad_date_is_one_sentence(tmp_path):
    out = run_cli("--data-dir", str(tmp_path / "store"), "fetch", "daily", "--from", "2025-02-30", "--to", "2025-03-01")
    assert out.returncode == 1
    assert out.stderr == "error: --from '2025-02-30' is not a date; write it as YYYY-MM-DD, e.g. 2025-10-01\n"


def test_assistant_ingest_reads_the_fetch_folder(config, stand_in):
    assert config.ingest_sources == config.sources  # nothing fetched yet: nothing added
    fetch_arxiv(config, "cs.CL", max_papers=3)
    assert Assistant(config).config.ingest_sources[-1] == config.fetch_folder == config.data_dir.parent / "sources"
