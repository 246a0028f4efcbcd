"""Answers by question type over the real bundled index, checked the way a reader would check them:
the named papers are cited, the quantity is in the answer and marked in its quote, the gap
sentence names what is missing. Plus the pure parts: question kinds and sentence roles."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from assistant import Answer, Assistant, judge
from assistant.answerability import counted, phrase_in
from assistant.backends import BACKENDS
from assistant.backends.generative import GenerativeBackend
from assistant.names import NameIndex, abbreviates, introduced_names, names_of, short_name, spelled_before, spelled_out
from assistant.questions import Kind, asked_head, compare_parts, core, read
from assistant.roles import Role, contribution, headline_result, roles

EVO = "EvoStruggle: A Dataset Capturing the Evolution of Struggle across Activities and Skill Levels"
SKILLMIMIC = "SkillMimic: Learning Reusable Basketball Skills from Demonstrations"


def cited_titles(answer: Answer) -> list[str]:
    return [c.title for c in answer.citations]


def assert_invariants(answer: Answer) -> None:
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.number for c in answer.citations}
    for c in answer.citations:
        source = answer.sources[c.number - 1]
        assert source.paper_id == c.paper_id
        assert all(q in source.abstract for q in c.quotes)
        assert all(any(m in q for q in c.quotes) for m in c.marks), "a mark is a span of a quote"


# the pure parts


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many participants took part in the struggle dataset?", Kind.FACT),
        ("Which LLM was the structure-aware fine-tuning applied to?", Kind.FACT),
        ("What is the name of the dataset released with 'Let's Verify Step by Step'?", Kind.FACT),
        ("Which papers tackle catastrophic forgetting in speech models?", Kind.WHICH),
        ("How do SkillMimic and EvoStruggle differ?", Kind.COMPARE),
        ("Compare TIES-Merging with Model Breadcrumbs.", Kind.COMPARE),
        ("Which summarization dataset was used to compare prompt chaining with stepwise prompt?", Kind.FACT),
        # the papers that compare two methods: a list of them, or the two set side by side
        ("Which papers compare prompt chaining with stepwise prompting?", {Kind.WHICH, Kind.COMPARE}),
        ("What does the TIES-Merging paper propose?", Kind.SUMMARY),
        ("Summarise the Thought Cloning paper.", Kind.SUMMARY),
        ("How many authors does OmniGen have?", Kind.METADATA),
        ("Which organisation is behind SpatialTree?", Kind.METADATA),
        ("How many upvotes did Trace2Skill receive?", Kind.METADATA),
        ("When was CLIPort published?", Kind.METADATA),
        ("What sparsity percentage does Model Breadcrumbs use when masking weight differences?", Kind.FACT),
        # a question word that asks for a thing, with a comparison word in the question: a fact
        ("Which model families are compared base vs. post-trained in the mechanistic study?", Kind.FACT),
        ("What is the inference latency overhead of Deep-Thinking compared with vanilla ICL?", Kind.FACT),
        ("The study contrasts usage-based models with whose theory of universal grammar?", Kind.FACT),
        ("What is the difference between LoRA and prefix tuning?", Kind.COMPARE),
        ("Contrast TIES-Merging with Model Breadcrumbs in terms of what they merge", Kind.COMPARE),
        ("In the motion control work, what part of the pre-trained model is optimized?", Kind.FACT),
        ("What are the lowest and highest levels of the Prompting Framework lifecycle?", Kind.FACT),
        ("What are Relaxed Recursive Transformers?", Kind.SUMMARY),
        ("In 'Shaking the foundations', what kind of delusions do sequence models suffer from?", Kind.FACT),
        # a listing field asked tersely, or named in passing
        ("number of authors of Using Transfer Learning for Code-Related Tasks", Kind.METADATA),
        ("author count for 'Is Diversity All You Need for Scalable Robotic Manipulation?'", Kind.METADATA),
        ("What listing date does Uni-Skill have?", Kind.METADATA),
        ("SkillMimic link", Kind.METADATA),
        ("SkillClaw authors count", Kind.METADATA),
        ("Is SkillClaw popular?", Kind.METADATA),
        ("Who published SkillClaw?", Kind.METADATA),
        ("What is the link between scaling and emergence?", {Kind.FACT, Kind.SUMMARY}),  # not the URL
        ("How many human ratings were collected in the 'Law of the Weakest Link' paper?", Kind.FACT),
        ("Which study beats BM-25 with inverse cloze and Wikipedia link prediction?", Kind.WHICH),
        # "which <words> paper" asks for a paper; "which model does the X paper use" does not
        ("Which theory paper proves that SGD learns XOR?", Kind.WHICH),
        ("Which LLM forgetting paper treats knowledge as a confounder?", Kind.WHICH),
        ("Which benchmark does the OWL paper use?", Kind.FACT),
        ("Which papers work on concept bottleneck models?", Kind.WHICH),
        # a method that does something is a paper; a method a paper does something to is a fact
        ("Which interpretable classifier defines a joint score over triples?", Kind.WHICH),
        ("Which existing methods does Rollout Routing Replay outperform?", Kind.FACT),
        ("Which benchmark datasets was SCHEMA evaluated on?", Kind.FACT),
        ("Which methods improve RL stability?", Kind.WHICH),
        # participants of a study are not the listing's authors
        ("How many writers took part in the survey CharacterChat was developed from?", Kind.FACT),
        # "writers" is read as a count the work reports as often as the listing's authors
        ("How many writers does CharacterChat have?", {Kind.METADATA, Kind.FACT}),
        ("How many people co-authored LIBERO?", Kind.METADATA),
        ("Number of upvotes for LIBERO, please.", Kind.METADATA),
    ],
)
def test_question_kinds(question: str, kind: Kind | set[Kind]):
    assert read(question).kind in (kind if isinstance(kind, set) else {kind})


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("Quick question: What does HyperCRL propose?", "What does HyperCRL propose?"),
        ("What does HyperCRL propose? Thanks!", "What does HyperCRL propose?"),
        ("Hi, quick question: can you tell me which papers use RL?", "which papers use RL?"),
        ("Could you list papers on RL please", "list papers on RL"),
        ("Do you know which paper introduced LIMA?", "which paper introduced LIMA?"),
        # what the question asks stays
        ("Can you tell me about SkillMimic?", "Can you tell me about SkillMimic?"),
        ("Do you know a paper on RL?", "Do you know a paper on RL?"),
        ("Which papers study thank-you notes?", "Which papers study thank-you notes?"),
        ("Thanks", "Thanks"),
        ("Who made LIBERO?", "Who made LIBERO?"),
    ],
)
def test_courtesies_around_a_question_are_not_what_it_asks(question: str, asked: str):
    assert core(question) == asked


@pytest.mark.slow
def test_a_question_wrapped_in_courtesies_is_answered_as_without_them(bundled: Assistant):
    asked = "how many participants took part in the struggle-determination video dataset?"
    plain = bundled.ask(asked)
    wrapped = bundled.ask(f"Quick question: {asked} Thanks!")
    assert_invariants(wrapped)
    assert not wrapped.refused and wrapped.text == plain.text
    assert wrapped.question.startswith("Quick question:")  # the user's words are kept


def test_a_question_in_several_parts():
    from assistant.questions import question_parts

    assert question_parts("What kind of delusions do they suffer from, and how can it be resolved?") == [
        "What kind of delusions do they suffer from",
        "how can it be resolved?",
    ]
    assert question_parts("How many tasks and which robots were used?") == ["How many tasks", "which robots were used?"]
    assert question_parts("Which tasks and robots were used?") == ["Which tasks and robots were used?"]


@pytest.mark.slow
def test_a_fact_in_two_parts_quotes_the_sentence_for_each(bundled: Assistant):
    answer = bundled.ask(
        "In 'Shaking the foundations', what kind of delusions do sequence models suffer from, "
        "and how do the authors say the mismatch can be resolved?"
    )
    assert_invariants(answer)
    assert "auto-suggestive delusions" in answer.text and "causal interventions" in answer.text


def test_which_paper_asks_for_one_and_compare_parts_name_each_paper():
    assert read("Which paper trains a humanoid to dribble?").single
    assert not read("Which papers train humanoids?").single
    first, second = compare_parts("How do SkillMimic and EvoStruggle differ?")  # one paper each
    assert first.endswith("SkillMimic") and second == "EvoStruggle"


def test_names_and_asked_words():
    assert short_name(SKILLMIMIC) == "SkillMimic"
    assert names_of("Proposer-Agent-Evaluator(PAE): Autonomous Skill Discovery")[:3] == [
        "Proposer-Agent-Evaluator(PAE)",
        "Proposer-Agent-Evaluator",
        "PAE",
    ]
    index = NameIndex([("a", SKILLMIMIC, ""), ("b", "Memory Networks", ""), ("c", "Deep Learning: A Review", "")])
    assert index.find("How do Memory Networks and SkillMimic differ?") == ["b", "a"]
    assert index.find("what is deep learning, and are memory networks good?") == []  # ordinary words
    assert index.find("What is SkillMimic's success rate?") == ["a"]  # a possessive names the paper too
    assert read("How accurate is SkillMimic on layups?").numeric
    assert asked_head("How many GPUs were used to pre-train YuLan?") == ["GPUs"]
    assert asked_head("There's an RL method. How much sample-efficiency improvement does it claim?") == [
        "sample-efficiency",
        "improvement",
    ]
    assert asked_head("What is the deep learning model called that picks P and S waves?") == [
        "deep",
        "learning",
        "model",
    ]
    assert asked_head("What are the two modules SymAgent consists of?") == ["two", "modules"]
    assert read("What are the two modules SymAgent consists of?").kind is Kind.FACT
    assert not read("What is the score called that SymbolicAI introduces?").numeric  # a name, not a number


def test_an_acronym_is_spelled_out_by_the_words_it_abbreviates():
    """Both readings use one rule: the gap check ("QA" held by an abstract that says "question
    answering") and the extractive answer ("reinforcement learning (RL)" names nothing new)."""
    assert abbreviates("QA", ["question", "answering"]) and not abbreviates("QA", ["question"])
    assert spelled_out("FFNs", "the feed-forward networks of a transformer")
    assert not spelled_out("QA", "answering questions")  # the initials in the wrong order
    assert not spelled_out("qa", "question answering")  # not an acronym
    sentence = "We train with reinforcement learning (RL) and a reward model (RM)."
    found = [m for m in re.finditer(r"[A-Z]{2,}", sentence)]
    assert spelled_before(found[0], sentence) == ["reinforcement", "learning"]
    assert spelled_before(found[1], sentence) == ["reward", "model"]
    assert spelled_before(re.search("RL", "RL is used"), "RL is used") is None  # not in brackets


def test_words_many_papers_share_name_no_paper():
    """In SciFact, claims saying "DNA" or "Vitamin D" were lifted to papers titled "The DNA damage
    response ..." and "Vitamin D and ...": -0.0045 nDCG@10. A one-word name must be rare in the
    corpus, and a name more than two papers go by names none; a whole title still names its paper."""
    rare = {"SkillMimic", "COPD"}.__contains__
    titles = [
        ("dna", "The DNA damage response during mitosis.", ""),
        ("copd", "COPD: epidemiology, prevalence, morbidity and mortality", ""),
        ("sm", SKILLMIMIC, ""),
        ("mn", "Memory Networks", ""),
        *((f"vd{i}", f"Vitamin D and {topic}.", "") for i, topic in enumerate(["cancer", "birth", "bones"])),
    ]
    index = NameIndex(titles, rare)
    assert index.find("The repair of double strand breaks in human DNA is error-prone.") == []
    assert index.find("Vitamin D deficiency is unrelated to birth weight.") == []
    assert index.find("Does COPD raise the risk?") == ["copd"]  # a rare acronym is a name
    assert index.find("How do Memory Networks and SkillMimic differ?") == ["mn", "sm"]


def test_a_number_counts_the_word_it_stands_before():
    assert counted("We evaluate outputs of nine of the most widely-available large language models.", {"model"})
    assert not counted("Nine tasks were run, and the results for large language models vary.", {"model"})
    assert not counted("It has two types of activity: one in which participants follow the recipe.", {"particip"})
    assert counted("We recruited 76 participants, who were recorded.", {"particip"})


def test_sentence_roles():
    abstract = (
        "Large models are costly to adapt. Prior work fine-tunes every weight. "
        "We propose LoFT, a method that tunes a low-rank update. Specifically, we learn two small matrices per layer. "
        "LoFT matches full fine-tuning while training 0.1% of the parameters. Code is available at github.com/x/loft."
    )
    assert [r for _, r in roles(abstract)] == [
        Role.BACKGROUND,
        Role.BACKGROUND,
        Role.CONTRIBUTION,
        Role.METHOD,
        Role.RESULT,
        Role.AVAILABILITY,
    ]
    assert contribution(abstract).startswith("We propose LoFT")
    assert headline_result(abstract).startswith("LoFT matches")


# answers over the bundled index


@pytest.mark.slow
def test_fact_answer_holds_the_quantity_and_marks_it(bundled: Assistant):
    answer = bundled.ask("How many participants took part in the struggle-determination video dataset?")
    assert_invariants(answer)
    assert answer.kind == "fact" and not answer.refused
    assert cited_titles(answer)[0] == EVO
    assert "76 participants" in answer.text
    assert "76 participants" in answer.citations[0].marks


@pytest.mark.slow
def test_what_a_thing_is_called_is_answered_by_the_sentence_that_names_it(bundled: Assistant):
    answer = bundled.ask("What is the score called that SymbolicAI introduces for evaluating its computational graphs?")
    assert_invariants(answer)
    assert cited_titles(answer)[0].startswith("SymbolicAI")
    assert "VERTEX score" in answer.text and "VERTEX" in answer.citations[0].marks


@pytest.mark.slow
def test_a_date_that_describes_the_paper_is_not_a_filter(bundled: Assistant):
    """In a question about one paper, a date no paper is dated with describes the paper; the answer
    says so and gives the asked score, marked (not the question's own "2022")."""
    answer = bundled.ask(
        "What average score did the 6B model that sat at the top of the SuperGLUE leaderboard in October 2022 reach?"
    )
    assert_invariants(answer)
    assert not answer.refused and "91.3" in answer.text
    assert cited_titles(answer)[0].endswith("A Case Study on SuperGLUE")
    assert answer.citations[0].marks == ("91.3",)
    assert answer.filters and answer.filters.startswith("none: papers dated 2022-10-01 to 2022-10-31 would leave no")
    listing = bundled.ask("Which papers from October 2022 study SuperGLUE?")  # a list keeps its filter
    assert listing.refused and listing.text.startswith("No indexed paper matches the filters read from the question")


@pytest.mark.slow
def test_which_papers_lists_every_match_with_a_count(bundled: Assistant):
    answer = bundled.ask("Which papers tackle catastrophic forgetting in speech or spoken language models?")
    assert_invariants(answer)
    assert answer.kind == "which" and len(answer.sources) == 10  # a list reads list_top_k papers
    gold = [
        "Analyzing Mitigation Strategies for Catastrophic Forgetting in End-to-End Training of Spoken Language Models",
        "An Investigation of the Combination of Rehearsal and Knowledge Distillation in Continual Learning for "
        "Spoken Language Understanding",
    ]
    assert set(gold) <= set(cited_titles(answer))
    count = re.match(r"(\w+) of the ten retrieved papers match", answer.text)
    assert count, answer.text
    listed = [line for line in answer.text.splitlines() if line.startswith("- ")]
    assert len(listed) == len(answer.citations) >= 3  # one line per paper, each cited


@pytest.mark.slow
def test_compare_puts_each_named_paper_side_by_side_in_the_asked_order(bundled: Assistant):
    answer = bundled.ask("How do EvoStruggle and SkillMimic differ?")
    assert_invariants(answer)
    assert answer.kind == "compare"
    text = answer.text
    assert text.index("EvoStruggle") < text.index("SkillMimic")
    assert {EVO, SKILLMIMIC} <= set(cited_titles(answer))
    assert text.count("- It proposes:") >= 2  # each paper's own contribution, not a background sentence
    assert "Traditional reinforcement learning methods" not in text.split("- It proposes:")[2]


@pytest.mark.slow
def test_summary_gives_contribution_then_result(bundled: Assistant):
    answer = bundled.ask("What does the TIES-Merging paper propose?")
    assert_invariants(answer)
    assert answer.kind == "summary"
    assert cited_titles(answer) == ["Resolving Interference When Merging Models"]
    assert "TIES-Merging" in answer.text.split("[1]", 1)[1]  # the contribution names the method


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many authors does the EvoStruggle dataset paper have?", "3 authors"),
        ("Which organisation is behind SpatialTree?", "ByteDance Seed"),
        ("How many upvotes did Trace2Skill receive?", "14 upvotes"),
        # terse, and a title that ends a sentence is quoted so its marker stays with it
        (
            "author count for 'Is Diversity All You Need for Scalable Robotic Manipulation?'",
            "“Is Diversity All You Need for Scalable Robotic Manipulation?” gives 10 authors [1].",
        ),
    ],
)
def test_metadata_from_the_listing(bundled: Assistant, question: str, expected: str):
    answer = bundled.ask(question)
    assert_invariants(answer)
    assert answer.kind == "metadata" and not answer.refused
    assert expected in answer.text and answer.citations


@pytest.mark.slow
def test_a_terse_listing_question_is_answered_from_the_listing(bundled: Assistant):
    answer = bundled.ask("number of authors of EvoStruggle")
    assert_invariants(answer)
    assert answer.kind == "metadata" and "3 authors" in answer.text


@pytest.mark.slow
def test_a_name_with_a_suffix_is_the_name(bundled: Assistant):
    # "CNN-based" asks about the CNN the abstract calls "CNN-based"; "PassUntil-based" about PassUntil
    answer = bundled.ask("How fast can a CNN-based policy collect samples in ManiSkill2 on a regular workstation?")
    assert_invariants(answer)
    assert not answer.refused and "2000 FPS" in answer.text


@pytest.mark.slow
def test_which_topic_paper_asks_for_the_paper_not_the_topic(bundled: Assistant):
    answer = bundled.ask(
        "Which LLM forgetting paper treats knowledge about one particular person as a confounder "
        "and casts removing it as deconfounding?"
    )
    assert_invariants(answer)
    assert not answer.refused and cited_titles(answer)[0].startswith("Revisiting Who's Harry Potter")


@pytest.mark.slow
def test_which_named_thing_quotes_a_sentence_that_names_one(bundled: Assistant):
    # the best-matching sentence describes the method ("model-agnostic meta-learning (MAML)", which the
    # question says): a sentence naming the benchmarks joins it
    answer = bundled.ask(
        "Which benchmarks are used for the few-shot spoken word classification experiments with the MAML "
        "extension that stores one template per class?"
    )
    assert_invariants(answer)
    assert not answer.refused and "Google Commands" in answer.text and "FACC" in answer.text


@pytest.mark.slow
def test_whether_code_is_released_is_answered_by_the_sentence_that_says_so(bundled: Assistant):
    answer = bundled.ask("Is the code of ManiSkill2 available?")
    assert_invariants(answer)
    assert not answer.refused and "We open-source all codes of our benchmark" in answer.text
    answer = bundled.ask(
        "Has the code been released for the Teacher-Student curriculum algorithm that replaces learning progress "
        "with a mastering rate?"
    )
    assert answer.refused and answer.text == (
        "The abstract of Mastering Rate based Curriculum Learning [1] does not say whether its code is released."
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # "QA" is spelled out in the abstract ("question answering")
        (
            "What model does the paper asking how much LLMs learn from negative examples use to control the "
            "influence of negative examples on multiple-choice QA?",
            "Likra",
        ),
        # "the attention layers" describes the method; the question does not ask how many layers
        (
            "Is there a training-free way to make an LLM 'think over' its few-shot demonstrations several times, "
            "by manipulating the key-value matrices in the attention layers?",
            "Iterative Forward Tuning",
        ),
        # "a simple board game, Othello": the name beside the kind asked for
        (
            "What board game is the GPT variant trained on in 'Emergent World Representations: Exploring a "
            "Sequence Model Trained on a Synthetic Task'?",
            "Othello",
        ),
    ],
)
def test_details_the_abstract_gives_in_other_words_are_answered(bundled: Assistant, question: str, expected: str):
    answer = bundled.ask(question)
    assert_invariants(answer)
    assert not answer.refused and expected in answer.text


@pytest.mark.slow
def test_listing_field_that_is_not_given_is_said_so(bundled: Assistant):
    answer = bundled.ask("Which organisation is behind the EvoStruggle dataset?")
    assert_invariants(answer)
    assert answer.refused and answer.gaps == ("organisation",)
    assert f"The listing for {EVO} [1] does not give its organisation." == answer.text


@pytest.mark.slow
def test_a_venue_the_listing_lacks_is_read_from_the_abstract(bundled: Assistant):
    answer = bundled.ask("Where was the tutorial 'LLMs in Education' published?")
    assert_invariants(answer)
    assert not answer.refused and "COLING 2025" in answer.text
    assert "gives no venue" in answer.text  # and says where it comes from
    assert cited_titles(answer)[0].startswith("LLMs in Education")


@pytest.mark.slow
def test_a_name_the_named_abstract_never_mentions_is_a_gap(bundled: Assistant):
    answer = bundled.ask(
        "What accuracy do Tabular Foundation Models (TabFMs) get zero-shot on the Adult income dataset?"
    )
    assert_invariants(answer)
    assert answer.refused and "does not mention Adult" in answer.text
    assert cited_titles(answer) == ["Towards Foundation Models for Learning on Tabular Data"]


@pytest.mark.slow
def test_a_name_of_another_kind_does_not_answer_which_model(bundled: Assistant):
    # the abstract names only "PyTorch" (a library, in its code link): no backbone network is named
    answer = bundled.ask(
        "Which backbone network do the experiments in 'A Closer Look at Few-shot Classification Again' use?"
    )
    assert_invariants(answer)
    assert answer.refused and "does not say which backbone network" in answer.text


@pytest.mark.slow
def test_details_the_title_holds_name_the_paper_and_are_not_asked(bundled: Assistant):
    # "attention heads" is in the title: every asked detail (batch size, learning rate) is missing
    answer = bundled.ask(
        "What batch size and learning rate were used in the paper on the emergence of stacked attention heads?"
    )
    assert answer.refused
    assert "does not report its batch size" in answer.text and "does not report its learning rate" in answer.text


@pytest.mark.slow
def test_detail_the_named_abstract_lacks_is_said_of_that_paper(bundled: Assistant):
    answer = bundled.ask("What batch size did the Memory Networks authors train with?")
    assert_invariants(answer)
    assert answer.refused
    assert answer.text == "The abstract of Memory Networks [1] does not report its batch size."
    assert cited_titles(answer) == ["Memory Networks"] and answer.citations[0].quotes == ()


@pytest.mark.slow
def test_base_model_the_abstract_never_names_is_a_gap(bundled: Assistant):
    # "preference-based ... the model" is not "base model", and "Chain-of-Thought (CoT)" or "LLM" name no model
    answer = bundled.ask("Which 3-billion-parameter base model was PRefLexOR built on?")
    assert_invariants(answer)
    assert answer.refused and cited_titles(answer)[0].startswith("PRefLexOR")
    assert "does not say which 3-billion-parameter base model" in answer.text


@pytest.mark.slow
def test_benchmark_the_abstract_never_names_is_a_gap(bundled: Assistant):
    answer = bundled.ask("What does Zamba score on MMLU?")
    assert answer.refused and "MMLU" in answer.text
    assert answer.text.startswith("The abstract of Zamba")


@pytest.mark.slow
def test_a_paper_asked_about_by_the_name_its_abstract_gives_its_method(bundled: Assistant):
    """ "Step-Back Prompting" is only in the abstract of "Take a Step Back: ...": the question names
    that paper, so a benchmark its abstract never names is a gap said of it."""
    answer = bundled.ask("How well does Step-Back Prompting do on GSM8K?")
    assert answer.refused and cited_titles(answer) == [answer.sources[0].title]
    assert answer.text == (
        "The abstract of Take a Step Back: Evoking Reasoning via Abstraction in Large Language Models [1] "
        "does not mention GSM8K."
    )
    answered = bundled.ask("What does Step-Back Prompting help LLMs derive?")
    assert not answered.refused and cited_titles(answered)[0].startswith("Take a Step Back")


@pytest.mark.slow
def test_a_missing_count_is_said_once_in_plain_words(bundled: Assistant):
    answer = bundled.ask("How many GPUs were used to train YuLan?")
    assert answer.refused
    assert answer.text == "The abstract of YuLan: An Open-source Large Language Model [1] does not say how many GPUs."


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "expected"),
    [  # a name with a decimal ("VQA2.0") is the name the abstract gives, not "VQA2" of no paper
        ("By how much does dynamic architecture skipping (DAS) cut the FLOPs of METER on VQA2.0?", "VQA2.0"),
        # "T5 variants" names the model family, though it is two characters long
        ("Which smaller model family is GPT-3.5's multi-step math reasoning distilled into in "
         "'Specializing Smaller Language Models towards Multi-Step Reasoning'?", "T5"),
    ],
)  # fmt: skip
def test_short_and_dotted_names_in_the_abstract_answer(bundled: Assistant, question: str, expected: str):
    answer = bundled.ask(question)
    assert_invariants(answer)
    assert not answer.refused and expected in answer.text


@pytest.mark.slow
def test_which_named_thing_is_a_gap_when_the_abstract_names_none(bundled: Assistant):
    """The abstract says "real-world experiments" and links its code, but names no robot platform
    (the GitHub handle in the link is not one)."""
    answer = bundled.ask("What robot platform was RoboMatrix deployed on in its real-world experiments?")
    assert answer.refused and answer.text.startswith("The abstract of RoboMatrix")
    assert answer.text.endswith("does not say what robot platform.")
    # "RGB" and "RL" are kinds of things, not the name of a dataset
    answer = bundled.ask("Which object-centric dataset was the voxel-based 3D autoencoder pretrained on, in the visual "
                         "RL work with self-supervised 3D representations?")  # fmt: skip
    assert answer.refused and answer.text.endswith("does not say which object-centric dataset.")
    # ...while a name glued to a word by a hyphen ("task set-BabyAI") is a name the abstract gives
    answer = bundled.ask("On which instruction-following task suite was Self-Driven Grounding (SDG) evaluated?")
    assert not answer.refused and "BabyAI" in answer.text


@pytest.mark.slow
def test_a_task_the_corpus_holds_is_answered(bundled: Assistant):
    answer = bundled.ask("Which papers do music generation?")  # "music generation system" (Musika)
    assert not answer.refused and any(t.startswith("Musika") for t in cited_titles(answer))


def test_names_an_abstract_introduces():
    abstract = (
        "We present Step-Back Prompting, a simple technique. Building on this, we develop Multi-Task "
        "Trajectory Transfer (MT3), an imitation method. We propose a Python library, called TorchKit."
    )
    assert introduced_names(abstract) == ("Step-Back Prompting", "Multi-Task Trajectory Transfer", "MT3", "TorchKit")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("Are there any papers on Kolmogorov-Arnold networks as a replacement for MLPs?", "Kolmogorov-Arnold"),
        ("Which papers detect deepfake videos?", "deepfake"),
        # every word is in some paper: refused without naming a word as the missing topic
        ("Are there papers that use retrieval-augmented LLMs for automated fact-checking of claims?", None),
    ],
)
def test_topic_no_abstract_covers_is_refused_naming_it_when_no_paper_has_its_word(
    bundled: Assistant, question: str, term: str | None
):
    answer = bundled.ask(question)
    assert answer.refused and answer.citations == []
    if term is None:
        assert answer.text.startswith("The indexed abstracts do not answer this question.")
    else:
        assert answer.text.startswith(f"None of the indexed abstracts mention {term}.")
    assert "The closest papers are:" in answer.text


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "Which paper lets you train a song generator on one gaming graphics card and then spit out music on a "
        "regular laptop chip?",
        "paper claiming leter-level language models are way better than token-piece ones at telling real words "
        "from made-up ones?",
    ],
)
def test_a_refusal_never_names_an_everyday_word_or_a_misspelling(bundled: Assistant, question: str):
    answer = bundled.ask(question)
    if answer.refused and answer.text.startswith("None of the indexed abstracts mention"):
        named = answer.text.split(".")[0].removeprefix("None of the indexed abstracts mention ")
        pytest.fail(f"the refusal names {named!r}")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("I was figuring there might be work on blurry photos of wildfire smoke, is there?", "wildfire"),
        ("Are there any papers on Kolmogorov-Arnold networks as a replacement for MLPs?", "Kolmogorov-Arnold"),
        ("I vaguely remember a paper on federated learning across phones, which one was it?", ""),
    ],
)
def test_a_refusal_names_the_word_the_question_is_about_not_how_it_is_asked(
    bundled: Assistant, question: str, named: str
):
    search = bundled.open().search
    assert judge.topic(question, search.keyword, search.embedder.embed_queries) == named


class _Writes(GenerativeBackend):
    """An LLM backend that writes one fixed reply."""

    name = "fixed"
    reply = ""

    @property
    def where(self) -> str:
        return "a fixed reply"

    def _chat(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        yield type(self).reply


@pytest.mark.slow
def test_generated_claim_with_a_focus_term_its_source_lacks_loses_the_citation(bundled, monkeypatch):
    monkeypatch.setitem(BACKENDS, "fixed", lambda config, search: _Writes(config))
    question = "How many participants did EvoStruggle record, and how much basketball footage does SkillMimic use?"
    n = next(i for i, s in enumerate(bundled.retrieve(question), 1) if s.title == EVO)
    _Writes.reply = (
        f"EvoStruggle recorded 61.68 hours of video from 76 participants [{n}]. "
        f"EvoStruggle recorded 76 participants dribbling a basketball in 61.68 hours of video [{n}]."
    )
    answer = Assistant(bundled.config.model_copy(update={"llm": "fixed"})).ask(question)
    assert_invariants(answer)
    first, second = answer.text.split("\n")[0].split(". ", 1)
    assert f"[{n}]" in first
    assert f"[{n}]" not in second  # basketball is in the question and in SkillMimic, not in EvoStruggle
    assert answer.unsupported == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("phrase", "text", "held"),
    [
        ("POS-tagging", "Modeling of learning curves with applications to pos tagging", True),
        ("fine tuning", "parameter-efficient fine-tuning", True),
        ("GPT-4", "we prompt GPT-4o", False),
        ("RL", "an RLHF pipeline", False),
    ],
)
def test_a_phrase_is_held_with_a_hyphen_or_a_space_alike(phrase: str, text: str, held: bool):
    assert phrase_in(phrase, text) is held


@pytest.mark.parametrize(
    ("question", "quantity", "title"),
    [
        # a count is a number: "parameter count" is held by "12 billion parameters"
        ("What parameter count do the YuLan open-source LLMs have?", "12 billion", "YuLan"),
        # what is counted may be what the title names
        (
            "How many model zoos were released in 'A Model Zoo on Phase Transitions in Neural Networks'?",
            "12",
            "A Model Zoo",
        ),
        # "gain" is what the number is, not a word the abstract must hold
        ("What sample-efficiency gain does MBTL report over multi-task training?", "50x", "Model-Based Transfer"),
    ],
)
def test_a_detail_the_abstract_gives_in_its_own_words_is_answered(
    bundled: Assistant, question: str, quantity: str, title: str
):
    answer = bundled.ask(question)
    assert_invariants(answer)
    assert not answer.refused and quantity in answer.text
    assert cited_titles(answer)[0].startswith(title)


@pytest.mark.slow
def test_co_authored_asks_the_listing(bundled: Assistant):
    answer = bundled.ask("How many people co-authored LIBERO?")
    assert not answer.refused and "7 authors" in answer.text
    assert cited_titles(answer)[0].startswith("LIBERO")


@pytest.mark.slow
def test_a_task_named_by_its_synonym_is_not_absent(bundled: Assistant):
    """'video search' is what the abstract calls 'video retrieval'."""
    answer = bundled.ask(
        "Is there a system that builds step-by-step task structures from web how-to videos "
        "and uses language models to adapt them to new tasks for zero-shot video search?"
    )
    assert not answer.refused
    assert cited_titles(answer)[0].startswith("Induce, Edit, Retrieve")


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    ["Which papers deal with concept bottleneck models?", "Which papers talk about intelligent tutoring systems?"],
)
def test_the_verb_of_a_which_papers_question_is_not_its_topic(bundled: Assistant, question: str):
    answer = bundled.ask(question)
    assert_invariants(answer)
    assert not answer.refused, answer.text


@pytest.mark.slow
def test_a_detail_of_two_words_is_named_whole_not_by_its_first_word(bundled: Assistant):
    answer = bundled.ask(
        "How long does the ARTE pipeline (aligning the teacher with student preferences) take in GPU hours?"
    )
    assert_invariants(answer)
    assert answer.refused and "does not report its gpu hours." in answer.text, answer.text
