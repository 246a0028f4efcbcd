"""Papers written out for reference managers: BibTeX, RIS and CSL-JSON (the writers beside the parsers).

``export(papers, fmt)`` gives the text of one file in the format ``fmt`` ("bib", "ris" or "csl")
with every identifier a paper carries: title, authors (only when the index has their names; a
bare author count exports no authors), date (to the precision known), DOI, arXiv id and version,
primary category, URL, venue and abstract. What the index does not hold is left out, never made up.

- BibTeX: ``@article`` (a journal), ``@inproceedings`` (proceedings, a conference or workshop) or
  ``@misc`` (a preprint); arXiv papers get ``eprint``, ``archivePrefix = {arXiv}`` and
  ``primaryClass``. Text is UTF-8 with LaTeX's special characters escaped (``{ } \\ % & # _ $ ~ ^``,
  and the ligatures ``--``, ``''`` and ````` ``), the title is braced so styles keep its
  capitals, and names are written "von Last, Jr, First". Citation keys are the first author's
  family name, the year and the title's first word (``okonkwo2024lattice``; without authors, the
  title's first word and the year), ASCII only, with ``a``, ``b``, ... added to repeats.
- RIS: ``TY`` JOUR, CONF, ELEC (online, e.g. an arXiv preprint) or GEN; one ``AU`` per author
  ("Last, First"), ``TI``, ``AB``, ``PY`` and ``DA``, ``DO``, ``UR`` (the paper's URL, then its
  arXiv abstract page), ``JO`` (a journal) or ``T2`` (proceedings), ``ER``.
- CSL-JSON: a JSON array of CSL items (``id`` is the BibTeX citation key), with ``author`` as
  ``{family, given}`` (plus ``non-dropping-particle`` and ``suffix``) or ``{literal}``, ``issued``
  as ``date-parts``, ``DOI``, ``URL``, ``container-title``, ``abstract``; an arXiv paper has
  ``archive: "arXiv"`` and ``number: "arXiv:<id>"``, as Zotero writes preprints.

Every file the BibTeX and RIS writers make is read back by ``index.formats.bibtex`` and
``index.formats.ris`` as the same papers: the same ids, titles, abstracts and identifiers, so
ingesting an export into the index that holds its papers embeds nothing.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from index.errors import AssistantError
from index.records import Paper


class ExportError(AssistantError, ValueError):
    """An export cannot be made as asked (an unknown format, no papers, a paper not in the index);
    the message says what to give instead. ``papers`` names what was not found, if that is why."""

    def __init__(self, message: str, papers: Sequence[str] = ()):
        super().__init__(message)
        self.papers = tuple(papers)


# identifiers -------------------------------------------------------------------------------

_PROCEEDINGS = re.compile(
    r"\b(?:proc(?:eedings|\.)?|conference|conf\.|workshops?|symposium|meeting|congress|"
    r"neurips|nips|icml|iclr|aaai|ijcai|acl|emnlp|naacl|eacl|coling|cvpr|iccv|eccv|wacv|kdd|sigir|"
    r"www|chi|icra|iros|corl|aistats|uai|colt|interspeech|icassp)\b",
    re.I,
)
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}
# letters NFKD does not take apart, for citation keys
_ASCII = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ł": "l",
                        "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "þ": "th", "ı": "i"})  # fmt: skip
_STOPWORDS = set("a an the on of for in to and with towards toward from via is are do does can how what why".split())


def _kind(paper: Paper) -> str:
    """The kind of publication: journal, proceedings, online (a preprint, or only a link) or generic."""
    if paper.venue:
        return "proceedings" if _PROCEEDINGS.search(paper.venue) else "journal"
    return "online" if paper.arxiv_id or paper.url else "generic"


def date_parts(paper: Paper) -> list[int]:
    """[year], [year, month] or [year, month, day]: as much of the paper's date as its source gave
    (a year alone is stored as 1 January, and its date text says it is a year)."""
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", paper.date or "")
    if not m:
        return []
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    text = (paper.date_text or "").strip()
    if re.fullmatch(r"\d{4}", text):
        return [year]
    if re.fullmatch(r"\d{4}-\d{1,2}|[A-Za-z]+\.? \d{4}", text):
        return [year, month]
    return [year, month, day]


def arxiv_ref(paper: Paper) -> str | None:
    """The arXiv id with its version when known: "2403.04567v2"."""
    if not paper.arxiv_id:
        return None
    version = getattr(paper, "version", None)  # a Source has none
    return f"{paper.arxiv_id}v{version}" if version else paper.arxiv_id


@dataclass(frozen=True)
class Name:
    """One author's name in parts: "Anneke van der Berg" is given "Anneke", particle "van der",
    family "Berg"; a one-word name is family alone."""

    given: str
    particle: str
    family: str
    suffix: str = ""

    @classmethod
    def of(cls, name: str) -> Name:
        name = " ".join(name.split())
        if "," in name:  # already "Last, First" (or "Last, Jr, First")
            parts = [p.strip() for p in name.split(",")]
            last, first = parts[0], parts[-1]
            suffix = parts[1] if len(parts) > 2 else ""
            return cls._with_particle(first.split(), last.split(), suffix)
        words = name.split()
        suffix = ""
        if not words:
            return cls("", "", "")
        if len(words) > 2 and words[-1].lower() in _SUFFIXES:
            suffix = words.pop()
        if len(words) == 1:
            return cls("", "", words[0], suffix)
        # the family name is the last word, with the lower-case words before it ("van der")
        start = len(words) - 1
        while start > 1 and words[start - 1][:1].islower():
            start -= 1
        return cls(" ".join(words[:start]), "", " ".join(words[start:]), suffix)._split_particle()

    @classmethod
    def _with_particle(cls, first: list[str], last: list[str], suffix: str) -> Name:
        return cls(" ".join(first), "", " ".join(last), suffix)._split_particle()

    def _split_particle(self) -> Name:
        words = self.family.split()
        lead = 0
        while lead < len(words) - 1 and words[lead][:1].islower():
            lead += 1
        return Name(self.given, " ".join(words[:lead]), " ".join(words[lead:]), self.suffix)

    @property
    def single(self) -> bool:
        return not self.given and not self.particle


def _names(paper: Paper) -> list[str]:
    """The author names the index holds (none for a bare author count)."""
    return [n for n in paper.author_names if n.strip()]


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in folded if not unicodedata.combining(c)).lower())


def _title_word(title: str) -> str:
    words = [_ascii_word(w) for w in re.split(r"[\s:–—/]+", title)]
    words = [w for w in words if w]
    return next((w for w in words if w not in _STOPWORDS), words[0] if words else "")


def citation_keys(papers: Sequence[Paper]) -> list[str]:
    """One BibTeX citation key per paper, in order: first author's family name, year, first word
    of the title (``okonkwo2024lattice``); without names, the title word then the year
    (``skillmimic2024``). The same papers give the same keys; repeats get a, b, c, ... added."""
    keys: list[str] = []
    taken: set[str] = set()
    for paper in papers:
        family = _ascii_word(Name.of(_names(paper)[0]).family) if _names(paper) else ""
        year = str(date_parts(paper)[0]) if date_parts(paper) else ""
        word = _title_word(paper.title)
        key = f"{family}{year}{word}" if family else f"{word}{year}"
        if not key or not key[0].isalpha():
            key = f"paper{key or paper.paper_id}"
        unique, n = key, 0
        while unique in taken:
            unique = f"{key}{_letters(n)}"
            n += 1
        taken.add(unique)
        keys.append(unique)
    return keys


def _letters(n: int) -> str:
    """a, b, ..., z, aa, ab, ...: the suffix of the (n+1)-th repeat of a key."""
    out = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        out = chr(ord("a") + rest) + out
    return out


# BibTeX ------------------------------------------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "_": r"\_",
    "$": r"\$",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "`": r"\textasciigrave{}",
}
_LATEX_TEXT = re.compile(r"[\\{}%&#_$~^`]|-(?=-)|'(?=')")


def latex(text: str) -> str:
    """Plain text as LaTeX that reads back as the same text: special characters escaped, and the
    ligatures ``--`` and ``''`` broken (``-{}-``) so they stay two characters. Letters beyond
    ASCII stay as they are (the file is UTF-8)."""

    def escape(m: re.Match[str]) -> str:
        ch = m[0]
        return _LATEX_SPECIAL.get(ch) or f"{ch}{{}}"  # "-" before "-", "'" before "'"

    return _LATEX_TEXT.sub(escape, " ".join(text.split()))


def _bib_name(name: str) -> str:
    if re.search(r"\band\b", name, re.I):  # "and" separates names: one holding it is a body, kept whole
        return f"{{{latex(name)}}}"
    parts = Name.of(name)
    last = " ".join(p for p in (parts.particle, parts.family) if p)
    return ", ".join(_bib_words(p) for p in (last, parts.suffix, parts.given) if p)


def _bib_words(text: str) -> str:
    """Words of a name in LaTeX; a word with an escape in it is braced, as BibTeX wants special
    characters in names (so a name's parts are split where the words are)."""
    return " ".join(f"{{{latex(w)}}}" if latex(w) != w else w for w in text.split())


def _verbatim(value: str) -> str:
    """A URL or DOI as BibTeX holds it (verbatim in biblatex); only braces and backslashes, which
    would end or break the field, are percent-encoded."""
    return value.replace("\\", "%5C").replace("{", "%7B").replace("}", "%7D")


def bibtex(papers: Sequence[Paper]) -> str:
    """The papers as a BibTeX library, one entry each."""
    entries = []
    for paper, key in zip(papers, citation_keys(papers)):
        kind = _kind(paper)
        entry_type = {"journal": "article", "proceedings": "inproceedings"}.get(kind, "misc")
        fields: list[tuple[str, str]] = [("title", f"{{{{{latex(paper.title)}}}}}")]
        if _names(paper):
            fields.append(("author", "{" + " and ".join(_bib_name(n) for n in _names(paper)) + "}"))
        if paper.venue:
            fields.append(("journal" if kind == "journal" else "booktitle", f"{{{latex(paper.venue)}}}"))
        parts = date_parts(paper)
        if parts:
            fields.append(("year", f"{{{parts[0]}}}"))
        if len(parts) > 1:
            fields.append(("month", _MONTHS[parts[1] - 1]))
        if len(parts) > 2:
            fields.append(("date", f"{{{paper.date}}}"))
        if paper.doi:
            fields.append(("doi", f"{{{_verbatim(paper.doi)}}}"))
        if paper.arxiv_id:
            fields.append(("eprint", f"{{{arxiv_ref(paper)}}}"))
            fields.append(("archivePrefix", "{arXiv}"))
            if paper.categories:
                fields.append(("primaryClass", f"{{{latex(paper.categories[0])}}}"))
        if paper.url:
            fields.append(("url", f"{{{_verbatim(paper.url)}}}"))
        fields.append(("abstract", f"{{{latex(paper.abstract)}}}"))
        body = "".join(f"  {name} = {value},\n" for name, value in fields)
        entries.append(f"@{entry_type}{{{key},\n{body}}}\n")
    return "\n".join(entries)


# RIS ---------------------------------------------------------------------------------------


_RIS_TYPES = {"journal": "JOUR", "proceedings": "CONF", "online": "ELEC", "generic": "GEN"}


def _ris_value(text: str) -> str:
    return " ".join(text.split())  # one line: a line break would end the field


def _ris_name(name: str) -> str:
    parts = Name.of(name)
    if parts.single:
        return parts.family
    last = " ".join(p for p in (parts.particle, parts.family) if p)
    return ", ".join(p for p in (last, parts.given, parts.suffix) if p)


def ris(papers: Sequence[Paper]) -> str:
    """The papers as RIS records, one each."""
    records = []
    for paper in papers:
        kind = _kind(paper)
        tags: list[tuple[str, str]] = [("TY", _RIS_TYPES[kind]), ("TI", paper.title)]
        tags += [("AU", _ris_name(n)) for n in _names(paper)]
        if paper.venue:
            tags.append(("JO" if kind == "journal" else "T2", paper.venue))
        parts = date_parts(paper)
        if parts:
            tags.append(("PY", str(parts[0])))
        if len(parts) > 1:
            tags.append(("DA", f"{parts[0]:04d}/{parts[1]:02d}/{f'{parts[2]:02d}' if len(parts) > 2 else ''}/"))
        if paper.doi:
            tags.append(("DO", paper.doi))
        urls = [paper.url] if paper.url else []
        if paper.arxiv_id and not any("arxiv.org/" in u.lower() for u in urls):
            urls.append(f"https://arxiv.org/abs/{arxiv_ref(paper)}")
        tags += [("UR", u) for u in urls]
        tags.append(("AB", paper.abstract))
        lines = [f"{tag}  - {_ris_value(value)}" for tag, value in tags]
        records.append("\n".join([*lines, "ER  - "]) + "\n")
    return "\n".join(records)


# CSL-JSON ----------------------------------------------------------------------------------


def _csl_name(name: str) -> dict[str, str]:
    parts = Name.of(name)
    if parts.single:
        return {"literal": parts.family}
    item = {"family": parts.family, "given": parts.given}
    if parts.particle:
        item["non-dropping-particle"] = parts.particle
    if parts.suffix:
        item["suffix"] = parts.suffix
    return item


def csl_items(papers: Sequence[Paper]) -> list[dict[str, Any]]:
    """The papers as CSL items (the citation-style language's JSON), one each."""
    items = []
    for paper, key in zip(papers, citation_keys(papers)):
        kind = _kind(paper)
        item: dict[str, Any] = {
            "id": key,
            "type": {"journal": "article-journal", "proceedings": "paper-conference"}.get(kind, "article"),
            "title": paper.title,
        }
        if _names(paper):
            item["author"] = [_csl_name(n) for n in _names(paper)]
        parts = date_parts(paper)
        if parts:
            item["issued"] = {"date-parts": [parts]}
        if paper.venue:
            item["container-title"] = paper.venue
        if paper.doi:
            item["DOI"] = paper.doi
        if paper.arxiv_id:
            item["archive"] = "arXiv"
            item["number"] = f"arXiv:{arxiv_ref(paper)}"
            if not paper.venue:
                item["publisher"] = "arXiv"  # a preprint's repository, as styles expect it
        if paper.url:
            item["URL"] = paper.url
        item["abstract"] = paper.abstract
        items.append(item)
    return items


_DATE_PARTS = re.compile(r'("date-parts": )\[\s*\[\s*(\d+(?:,\s*\d+)*)\s*\]\s*\]')  # not "[[1,2]]" in a title
_STRING = r'"(?:[^"\\]|\\.)*"'
_NAME = re.compile(rf'\{{\s*((?:"(?:family|given|literal|non-dropping-particle|suffix)": {_STRING},?\s*)+)\}}')


def csl_json(papers: Sequence[Paper]) -> str:
    """The CSL items as a JSON array, indented, with each name and date on one line."""
    text = json.dumps(csl_items(papers), indent=2, ensure_ascii=False)
    text = _DATE_PARTS.sub(lambda m: m[1] + "[[" + ", ".join(m[2].replace(",", " ").split()) + "]]", text)
    return _NAME.sub(lambda m: "{" + " ".join(line.strip() for line in m[1].splitlines()).strip() + "}", text) + "\n"


# the formats -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFormat:
    """One export format: its name, what it is called, its media type and file suffix."""

    name: str  # "bib"
    label: str  # "BibTeX"
    media_type: str  # "application/x-bibtex"
    suffix: str  # ".bib"
    write: Callable[[Sequence[Paper]], str]


EXPORT_FORMATS: dict[str, ExportFormat] = {
    "bib": ExportFormat("bib", "BibTeX", "application/x-bibtex", ".bib", bibtex),
    "ris": ExportFormat("ris", "RIS", "application/x-research-info-systems", ".ris", ris),
    "csl": ExportFormat("csl", "CSL-JSON", "application/vnd.citationstyles.csl+json", ".json", csl_json),
}
_ALIASES = {"bibtex": "bib", "csl-json": "csl", "csljson": "csl", "json": "csl"}


def export_format(name: str) -> ExportFormat:
    """The format called ``name`` ("bib", "ris", "csl"; "bibtex" and "csl-json" too), or an
    ExportError naming the choices."""
    wanted = str(name).strip().lower()
    found = EXPORT_FORMATS.get(_ALIASES.get(wanted, wanted))
    if found is None:
        raise ExportError(f"unknown export format {name!r}; choose bib (BibTeX), ris (RIS) or csl (CSL-JSON)")
    return found


def export(papers: Iterable[Paper], fmt: str) -> str:
    """The text of one ``fmt`` file ("bib", "ris" or "csl") holding ``papers``, in their order
    (a paper given twice is written once)."""
    form = export_format(fmt)
    seen: dict[str, Paper] = {}
    for paper in papers:
        seen.setdefault(paper.paper_id, paper)
    return form.write(list(seen.values()))
