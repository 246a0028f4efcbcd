"""A researcher's own small library (a Zotero export, an arXiv feed, a Daily Papers day, a snapshot
slice: the format fixtures, 18 papers) is answered as the bundled corpus is: the topic model was
fitted on 426 papers, and must neither refuse what a small library plainly holds nor answer what
it does not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant import Assistant, Config

FORMATS = Path(__file__).parent / "fixtures" / "formats"
FILES = (
    "library.bib",
    "library.ris",
    "arxiv-rss-cs.LG.rss",
    "daily-papers-2024-02-08.json",
    "snapshot-arxiv-metadata.json",
)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Assistant:
    folder = tmp_path_factory.mktemp("library")
    for name in FILES:
        shutil.copy(FORMATS / name, folder / name)
    assistant = Assistant(Config(data_dir=tmp_path_factory.mktemp("store"), sources=[folder]))
    assistant.ingest()
    return assistant


@pytest.mark.parametrize(
    "question, cited",
    [
        ("Which papers study soil?", "Mycelial Networks as Living Sensors for Soil Moisture"),
        ("Which papers are about soil sensors?", "Lichen-Inspired Federated Learning for Low-Power Soil Sensors"),
        ("Which papers use fungi?", "Lichen-Inspired Federated Learning for Low-Power Soil Sensors"),
        ("Which papers use diffusion models?", "Origami Diffusion: Generating Foldable Crease Patterns from Text"),
        ("Which papers forecast water levels?", "Tidal Graph Networks for Coastal Flood Forecasting"),
        (
            "How much power does the lichen scheme use per node?",
            "Lichen-Inspired Federated Learning for Low-Power Soil Sensors",
        ),
    ],
)
def test_what_the_library_holds_is_answered_with_its_paper_cited(library, question, cited):
    answer = library.ask(question)
    assert not answer.refused, answer.text
    assert cited in [c.title for c in answer.citations]


@pytest.mark.parametrize(
    "question, named",
    [
        ("Which papers study music generation?", "music generation"),
        ("Which papers are about protein folding?", "protein folding"),
        ("What is known about quantum error correction?", "quantum error correction"),
        ("Which papers study transformers for stock prices?", "stock prices"),
    ],
)
def test_what_it_does_not_hold_is_refused_naming_nothing_but_its_topic(library, question, named):
    answer = library.ask(question)
    assert answer.refused and not answer.citations
    if answer.text.startswith("None of the indexed abstracts mention "):
        said = answer.text.split(".")[0].removeprefix("None of the indexed abstracts mention ")
        assert set(said.replace(" or ", " ").replace(",", "").split()) <= set(named.split())
    else:
        assert answer.text.startswith("The indexed abstracts do not answer this question.")


@pytest.mark.parametrize(
    "question, says",
    [
        (
            "Where was Tidal Graph Networks for Coastal Flood Forecasting published?",
            "Coastal Flood Forecasting was published in Journal of Hydroinformatic Learning [1].",
        ),
        (
            "What is the DOI of Tidal Graph Networks for Coastal Flood Forecasting?",
            "The DOI of Tidal Graph Networks for Coastal Flood Forecasting is 10.5555/jhl.2023.0417 [1].",
        ),
        (
            "What arXiv categories is Tidal Attention in?",
            "is in the arXiv categories cs.LG, physics.ao-ph, stat.ML [1].",
        ),
        (
            "Who are the authors of Tidal Attention?",
            "are Maren Oyelaran-Visser, Tomasz Quillfeather and Ines Abernathy-Kohl [1].",
        ),
        ("What is the arXiv id of Lattice Distillation?", "is 2403.04567 [1]."),
    ],
)
def test_what_a_reference_manager_or_arxiv_gives_can_be_asked(library, question, says):
    answer = library.ask(question)
    assert answer.kind == "metadata" and not answer.refused
    assert says in answer.text and len(answer.citations) == 1


def test_a_field_the_source_lacks_is_said_of_that_paper(library):
    answer = library.ask("What is the DOI of Origami Diffusion?")
    assert answer.refused and answer.text.startswith("The listing for Origami Diffusion")
    assert answer.text.endswith("does not give its DOI.")
