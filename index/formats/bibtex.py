"""BibTeX and biblatex libraries, as Zotero, Mendeley and JabRef export them (``bibtexparser`` 2.x).

Each entry with a title and an abstract is a paper: LaTeX accents, braces, emphasis and math are
turned into plain text (pylatexenc, which bibtexparser depends on), authors into "First Last"
names, year/month/day or a biblatex ``date`` into an ISO date, and ``doi``, ``eprint``, ``url``,
``journal``, ``booktitle`` and ``primaryClass`` into the identifiers, venue and categories of
``index.records.Paper``. ``@string`` macros are resolved; ``@comment`` and ``@preamble`` are
ignored. An entry without a title or abstract, or one the BibTeX parser cannot read, is a
``Problem`` at the line its ``@type{`` starts on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import date as Date
from functools import lru_cache
from typing import Any

from index.formats import Format, storable
from index.parse import MAX_FIELD_CHARS, MAX_TITLE_CHARS, MIN_ABSTRACT_CHARS
from index.records import Paper, ParseResult, Problem, arxiv_id_of, doi_of, paper_id_for

ENTRY_TYPES = (
    "article|inproceedings|conference|misc|online|electronic|www|preprint|unpublished|techreport|report|book"
    "|inbook|incollection|booklet|proceedings|phdthesis|mastersthesis|thesis|manual|software|dataset"
)
# an entry start at the beginning of a line: "@article{key," (or "@misc(key,")
_ENTRY_START = re.compile(rf"^[ \t]*@(?:{ENTRY_TYPES})[ \t]*[{{(][ \t]*[^\s,{{}}()=\"#%'@]+[ \t]*,", re.I | re.M)
_RAW_KEY = re.compile(r"@\s*\w+\s*[{(]\s*([^\s,{}()]+)")
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_MONTH_NAMES = [m.capitalize() for m in _MONTHS]
_YEAR = re.compile(r"\b(\d{4})\b")
_ISO_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_LATEX_MARKUP = re.compile(r"[\\{}$~`]|--|''")
_UNESCAPED_PERCENT = re.compile(r"(?<!\\)%")  # a comment in LaTeX, but "50%" in an abstract
_ESCAPED = re.compile(r"\\([_%&#$~{}])")
_COMMAND = re.compile(r"\\[a-zA-Z]+\*?|\\.")
_NOT_A_VENUE = re.compile(r"arxiv|^\s*corr\s*$|^\s*\\url|^\s*https?://", re.I)
MAX_RAW_CHARS = 2 * MAX_FIELD_CHARS  # LaTeX longer than this is not decoded: it cannot fit the limit


def sniff(head: str) -> bool:
    """An ``@article{key,``-like entry start at the beginning of a line."""
    return _ENTRY_START.search(head) is not None


@lru_cache(maxsize=1)
def _decoder() -> Any:
    from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

    context = get_default_latex_context_db()
    macros = [MacroTextSpec("url", simplify_repl="%s")]
    macros += [MacroTextSpec("textasciicircum", simplify_repl="^")]  # pylatexenc gives the modifier letter ˆ
    macros += [MacroTextSpec(name, simplify_repl="") for name in ("cite", "citep", "citet", "ref", "label")]
    context.add_context_category("abstracts", prepend=True, macros=macros)
    return LatexNodes2Text(latex_context=context, math_mode="text", keep_braced_groups=False)


def plain(value: str) -> str:
    """LaTeX as plain text, whitespace normalised: ``{\\"u}ber {BERT} \\emph{x} $\\alpha$`` is
    ``über BERT x α``. A bare ``%`` is a per cent sign, not a comment."""
    if _LATEX_MARKUP.search(value):
        escaped = _UNESCAPED_PERCENT.sub(r"\\%", value)
        try:
            value = _decoder().latex_to_text(escaped)
        except (Exception, RecursionError):  # pylatexenc fails on some malformed input (\href{x})
            value = _COMMAND.sub(lambda m: m[0][1:] if len(m[0]) == 2 else " ", _ESCAPED.sub(r"\1", value))
            value = value.replace("{", "").replace("}", "").replace("$", "")
    return " ".join(value.split())


def _raw(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _name(name: str) -> str:
    """One BibTeX name ("Müller, Jörg", "van der Berg, Anna", "{OpenAI Team}") as "First Last"."""
    from bibtexparser.middlewares.names import parse_single_name_into_parts

    try:
        parts = parse_single_name_into_parts(name, strict=False)
        name = parts.merge_first_name_first or name
    except Exception:  # an unsplittable name is kept as written
        pass
    return plain(name)


def _authors(value: str) -> tuple[tuple[str, ...], int | None]:
    """The names in an ``author`` field and their count (None after "and others")."""
    from bibtexparser.middlewares.names import split_multiple_persons_names

    if not value.strip() or len(value) > MAX_FIELD_CHARS:
        return (), None
    try:
        raw = split_multiple_persons_names(value)
    except Exception:
        raw = re.split(r"\s+and\s+", value)
    others = any(n.strip().lower() == "others" for n in raw)
    names = tuple(n for n in (_name(r) for r in raw if r.strip().lower() != "others") if n)
    return names, (None if others or not names else len(names))


def _month(value: str) -> int | None:
    text = plain(value).strip(" .").lower()
    if text.isdigit():
        return int(text) if 1 <= int(text) <= 12 else None
    return _MONTHS.index(text[:3]) + 1 if text[:3] in _MONTHS else None


def _day(value: str) -> int | None:
    text = plain(value).strip(" .")
    return int(text) if text.isdigit() and 1 <= int(text) <= 31 else None


def iso_date(year: int | None, month: int | None, day: int | None) -> tuple[str | None, str | None]:
    """(ISO date, date as the listings write it) from what is known: the year alone is
    ``("2023-01-01", "2023")``, with a month ``("2023-03-01", "Mar 2023")``; no year, no date."""
    if year is None:
        return None, None
    try:
        Date(year, month or 1, day or 1)
    except ValueError:
        day = None
        try:
            Date(year, month or 1, 1)
        except ValueError:
            return None, None
    iso = f"{year:04d}-{month or 1:02d}-{day or 1:02d}"
    if month is None:
        return iso, str(year)
    return iso, f"{_MONTH_NAMES[month - 1]} {day}, {year}" if day else f"{_MONTH_NAMES[month - 1]} {year}"


def _date(fields: dict[str, str]) -> tuple[str | None, str | None]:
    m = _ISO_DATE.match(fields.get("date", ""))  # biblatex: date = {2024-03-05}, {2024-03} or {2024}
    if m and 1 <= int(m[1]):
        month = int(m[2]) if m[2] and 1 <= int(m[2]) <= 12 else None
        day = int(m[3]) if m[3] and month else None
        return iso_date(int(m[1]), month, day)
    year = _YEAR.search(fields.get("year", ""))
    if not year or int(year[1]) < 1:
        return None, None
    month = _month(fields.get("month", ""))
    return iso_date(int(year[1]), month, _day(fields.get("day", "")) if month else None)


def _identifiers(fields: dict[str, str]) -> tuple[str | None, int | None, str | None]:
    """(arXiv id, version, DOI) from doi, eprint, url and an "arXiv preprint arXiv:..." journal."""
    unescape = lambda v: _ESCAPED.sub(r"\1", v).strip()  # noqa: E731
    doi_field, url, eprint = (unescape(fields.get(k, "")) for k in ("doi", "url", "eprint"))
    doi = doi_of(doi_field) or (doi_of(url) if "doi.org/" in url.lower() else None)
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").strip().lower()
    candidates = [eprint if prefix == "arxiv" else ""]
    candidates += [url if "arxiv.org/" in url.lower() else ""]
    candidates += [v for v in (fields.get("journal", ""), fields.get("howpublished", "")) if "arxiv" in v.lower()]
    if fields.get("journal", "").strip().lower() == "corr":  # DBLP: journal = {CoRR}, volume = {abs/2401.12345}
        candidates.append("arXiv:" + fields.get("volume", "").strip().removeprefix("abs/"))
    if doi and doi.startswith("10.48550/arxiv."):  # arXiv's own DOIs
        candidates.append("arXiv:" + doi.removeprefix("10.48550/arxiv."))
    for text in candidates:
        if len(text) > MAX_TITLE_CHARS:
            continue
        arxiv_id, version = arxiv_id_of(plain(text).removesuffix("."))
        if arxiv_id:
            return arxiv_id, version, doi
    return None, None, doi


def _venue(fields: dict[str, str]) -> str | None:
    for key in ("journal", "journaltitle", "booktitle", "howpublished"):
        value = fields.get(key, "")
        text = plain(value) if len(value) <= 4 * MAX_TITLE_CHARS else ""
        if text and not _NOT_A_VENUE.search(text) and len(text) <= MAX_TITLE_CHARS:
            return text
    return None


def _url(fields: dict[str, str]) -> str | None:
    url = _ESCAPED.sub(r"\1", fields.get("url", "")).strip()
    url = url.removeprefix("\\url{").removesuffix("}") if url.startswith("\\url{") else url
    return url if re.match(r"https?://\S+$", url) and len(url) <= 2000 else None


def _text(fields: dict[str, str], name: str, key: str) -> str:
    value = fields.get(name, "")
    text = plain(value) if len(value) <= MAX_RAW_CHARS else value
    if len(text) > MAX_FIELD_CHARS:
        raise ValueError(f"entry {key!r}: {name} longer than {MAX_FIELD_CHARS:,} characters, skipped")
    if not storable(text):
        raise ValueError(f"entry {key!r}: {name} holds invalid Unicode (a lone surrogate), skipped")
    return text


def _keep(text: str | None) -> str | None:
    return text if text and storable(text) else None


def entry_to_paper(key: str, raw_fields: Iterable[tuple[str, Any]], where: str) -> Paper:
    """One entry's fields (keys in any case; the first of a repeated one counts) as a Paper,
    or ValueError saying what is wrong."""
    fields: dict[str, str] = {}
    for name, value in raw_fields:
        fields.setdefault(name.strip().lower(), _raw(value))
    title = _text(fields, "title", key)
    abstract = _text(fields, "abstract", key)
    missing = [what for what, text in (("title", title), ("abstract", abstract)) if not text]
    if missing:
        raise ValueError(f"entry {key!r} has no {' and no '.join(missing)}, skipped")
    if len(title) > MAX_TITLE_CHARS:
        raise ValueError(f"entry {key!r}: title longer than {MAX_TITLE_CHARS} characters, skipped")
    if len(abstract) < MIN_ABSTRACT_CHARS:
        raise ValueError(f"entry {key!r}: abstract too short ({len(abstract)} characters), skipped")
    names, count = _authors(fields.get("author", ""))
    iso, date_text = _date(fields)
    arxiv_id, version, doi = _identifiers(fields)
    primary = _keep(plain(fields.get("primaryclass", "")[:100]))
    return Paper(
        paper_id=paper_id_for(title),
        title=title,
        abstract=abstract,
        authors=count,
        date_text=date_text,
        date=iso,
        url=_keep(_url(fields)),
        author_names=tuple(n for n in names if storable(n)),
        arxiv_id=arxiv_id,
        version=version,
        doi=_keep(doi),
        venue=_keep(_venue(fields)),
        categories=(primary,) if primary and len(primary) <= 40 and " " not in primary else (),
        sources=(where,),
    )


def _failure(block: Any) -> str:
    """Why bibtexparser could not read a block, without its 0-based line numbers."""
    error = getattr(block, "error", None)
    reason = getattr(error, "abort_reason", None) or str(error or "") or type(error).__name__
    reason = " ".join(reason.split("in bibtex:", 1)[-1].split())[:200]
    m = _RAW_KEY.match(getattr(block, "raw", "") or "")
    return f"unreadable BibTeX entry {m[1][:60]!r}: {reason}" if m else f"unreadable BibTeX: {reason}"


def parse(text: str, source: str) -> ParseResult:
    """Parse a BibTeX library into papers; entries that are not papers become problems."""
    import bibtexparser
    from bibtexparser.model import Entry, ParsingFailedBlock

    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)  # what it would log, the problems say
    result = ParseResult()
    try:
        library = bibtexparser.parse_string(text)
    except (Exception, RecursionError) as exc:
        return ParseResult(problems=[Problem(source, 1, f"unreadable BibTeX: {type(exc).__name__}")])
    for block in library.blocks:
        line = (block.start_line or 0) + 1  # bibtexparser counts lines from 0
        if isinstance(block, ParsingFailedBlock):
            entry = block.ignore_error_block  # a duplicate key or field: the entry as read
            if not isinstance(entry, Entry):
                result.problems.append(Problem(source, line, _failure(block)))
                continue
            block = entry
        if not isinstance(block, Entry):
            continue  # @string, @preamble, @comment and text between entries
        try:
            fields = [(str(f.key), f.value) for f in block.fields]
            result.papers.append(entry_to_paper(str(block.key), fields, f"{source}:{line}"))
        except ValueError as exc:
            result.problems.append(Problem(source, line, str(exc)))
        except (Exception, RecursionError) as exc:  # never let one odd entry end the file
            result.problems.append(Problem(source, line, f"entry {str(block.key)[:60]!r} unreadable: {exc!r}"[:300]))
    return result


FORMAT = Format("bibtex", (".bib", ".bibtex"), sniff, parse)
