"""Author-year citations and reference lists for the chapter notebooks, from ``thesis/references.bib``.

A notebook must read well without LaTeX: its markdown cites as
``(Lapuschkin et al., 2019)`` or ``Goodfellow et al. (2015)``, exactly the text
:func:`citep` and :func:`citet` make, and its last cell shows the full entries::

    >>> citep("bach2015", "lapuschkin2019")
    '(Bach et al., 2015; Lapuschkin et al., 2019)'
    >>> references("bach2015", "lapuschkin2019")   # a Markdown list in JupyterLab

The thesis cites the same keys with natbib; one ``references.bib`` serves both.
Labels follow natbib's author-year rules: one author ``Cuturi``, two
``Peyré and Cuturi``, more ``Bach et al.``; equal labels of one year get
``a``, ``b``, ... in the order of their titles.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from . import paths

#: LaTeX accent commands and the Unicode combining characters they stand for.
_ACCENTS = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303", "=": "\u0304", ".": "\u0307",
            "c": "\u0327", "v": "\u030c", "u": "\u0306", "H": "\u030b"}
_ACCENT = re.compile(r"""\\([`'"^~=.]|[cvuH](?=[\s{]))\s*\{?([A-Za-z])\}?""")
_ENTRY = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,")
_FIELD = re.compile(r"\s*(\w+)\s*=\s*")


def latex_to_text(value: str) -> str:
    r"""Plain Unicode for a BibTeX field: accents resolved, other commands and braces dropped, ``--`` an en dash.

    >>> latex_to_text(r"M{\"u}ller, Gr{\'e}goire {BadNets} 323--332 Chapter~8")
    'Müller, Grégoire BadNets 323–332 Chapter 8'
    """
    text = _ACCENT.sub(lambda m: m.group(2) + _ACCENTS[m.group(1)], value)
    text = text.replace("---", "\u2014").replace("--", "\u2013").replace("~", " ")
    text = re.sub(r"\\([&%$#_])", r"\1", text)
    text = re.sub(r"\\[A-Za-z]+\s*", "", text).replace("{", "").replace("}", "")  # \emph{x} -> x
    return unicodedata.normalize("NFC", " ".join(text.split()))


def _braced(text: str, start: int) -> tuple[str, int]:
    """The content of the brace group opening at ``text[start]`` and the index after it."""
    depth = 0
    for end in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0:
            return text[start + 1:end], end + 1
    raise ValueError(f"unbalanced braces in the BibTeX entry starting {text[start:start + 60]!r}")


def parse_bibtex(text: str) -> dict[str, dict[str, str]]:
    """Entries of a BibTeX file: ``{key: {"type": ..., field: raw value}}``.

    Field values may be braced (nested braces allowed), quoted or bare numbers;
    ``@comment``, ``@string`` and ``@preamble`` blocks are skipped.
    """
    entries = {}
    for match in _ENTRY.finditer(text):
        kind, key = match.group(1).lower(), match.group(2)
        if kind in ("comment", "string", "preamble"):
            continue
        body, _ = _braced(text, text.index("{", match.start()))
        fields, position = {"type": kind}, body.index(",") + 1
        while (field := _FIELD.match(body, position)) is not None:
            position = field.end()
            if body[position] == "{":
                value, position = _braced(body, position)
            elif body[position] == '"':
                end = body.index('"', position + 1)
                value, position = body[position + 1:end], end + 1
            else:
                value = re.match(r"[^,\s}]*", body[position:]).group(0)
                position += len(value)
            fields[field.group(1).lower()] = value
            position = body.find(",", position) + 1 or len(body)
        entries[key] = fields
    return entries


def _last_name(author: str) -> str:
    """``"von Luxburg, Ulrike"`` -> ``"von Luxburg"``; ``"Marco Cuturi"`` -> ``"Cuturi"``."""
    return author.split(",")[0].strip() if "," in author else author.split()[-1]


def _full_name(author: str) -> str:
    """``"Cuturi, Marco"`` -> ``"Marco Cuturi"``."""
    last, _, first = author.partition(",")
    return f"{first.strip()} {last.strip()}".strip()


def _markdown_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def _sentence(text: str) -> str:
    """``text`` ending in a full stop (unless it ends in other punctuation already)."""
    return text if text.endswith((".", "?", "!")) else text + "."


@dataclass(frozen=True)
class Reference:
    """One bibliography entry, formatted author-year.

    Parameters
    ----------
    key : str
        The BibTeX key, as the thesis cites it.
    authors : tuple of str
        Authors in BibTeX order, each ``"Last, First"`` (accents resolved).
    year : str
        Year of publication with its disambiguating letter, e.g. ``"2017a"``.
    fields : dict
        Every field of the entry as plain text (``title``, ``journal``, ``pages`` ...).
    """

    key: str
    authors: tuple[str, ...]
    year: str
    fields: dict[str, str]

    @property
    def names(self) -> str:
        """``Cuturi``, ``Peyré and Cuturi`` or ``Bach et al.``."""
        last = [_last_name(author) for author in self.authors]
        if len(last) > 2 or last[-1] == "others":
            return f"{last[0]} et al."
        return " and ".join(last)

    @property
    def label(self) -> str:
        """The text inside a parenthetical citation, e.g. ``Lapuschkin et al., 2019``."""
        return f"{self.names}, {self.year}"

    def markdown(self) -> str:
        """The full entry as one Markdown line: authors (year). Title. *Venue* volume, pages."""
        names = [self.authors[0]] + [_full_name(author) for author in self.authors[1:]]
        if names[-1] == "others":  # BibTeX's "and others"
            authors = ", ".join(names[:-1]) + " et al."
        else:
            authors = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        get = self.fields.get
        if get("journal"):
            venue = f"*{_markdown_escape(get('journal'))}*" + (f" {get('volume')}" if get("volume") else "")
            venue += f"({get('number')})" if get("number") else ""
        elif get("booktitle"):
            venue = f"In *{_markdown_escape(get('booktitle'))}*"
        else:
            venue = _markdown_escape(get("howpublished") or get("publisher") or "")
        details = [part for part in (venue, get("pages")) if part]
        parts = [f"{_markdown_escape(authors)} ({self.year}).", _sentence(_markdown_escape(get("title", "")))]
        parts += [_sentence(", ".join(details))] if details else []
        parts += [_sentence(_markdown_escape(get("note")))] if get("note") else []
        return " ".join(parts)


@functools.cache
def _bibliography(path: Path, mtime_ns: int) -> dict[str, Reference]:
    entries = parse_bibtex(path.read_text(encoding="utf-8"))
    references = {}
    for key, fields in entries.items():
        missing = [name for name in ("author", "title", "year") if name not in fields]
        if missing:
            raise ValueError(f"{path}: entry {key!r} lacks {', '.join(missing)}; author-year citations need all three")
        text = {name: latex_to_text(value) for name, value in fields.items()}
        authors = tuple(name.strip() for name in re.split(r"\s+and\s+", text["author"]))
        references[key] = Reference(key, authors, text["year"], text)
    # natbib's rule: entries with the same names and year get a, b, ... (here in the order of their titles)
    clashes = defaultdict(list)
    for reference in references.values():
        clashes[reference.label].append(reference)
    for group in clashes.values():
        if len(group) > 1:
            for letter, reference in zip(string.ascii_lowercase, sorted(group, key=lambda r: r.fields["title"].lower())):
                references[reference.key] = Reference(reference.key, reference.authors, reference.year + letter, reference.fields)
    return references


def bibliography(path: Path | None = None) -> dict[str, Reference]:
    """Every entry of ``thesis/references.bib`` (or ``path``) by key; re-read when the file changes."""
    path = Path(path or paths.THESIS / "references.bib")
    if not path.is_file():
        raise FileNotFoundError(f"bibliography {path} not found: the notebooks cite from the thesis's references.bib")
    return _bibliography(path, path.stat().st_mtime_ns)


def lookup(*keys: str) -> list[Reference]:
    """The references of ``keys``, in order; an unknown key raises ``KeyError`` naming the file."""
    entries = bibliography()
    unknown = [key for key in keys if key not in entries]
    if unknown:
        raise KeyError(f"no entry {', '.join(map(repr, unknown))} in {paths.THESIS / 'references.bib'}: "
                       "add it there (the thesis and the notebooks share it) or fix the key")
    return [entries[key] for key in keys]


def citep(*keys: str) -> str:
    """A parenthetical citation, e.g. ``(Bach et al., 2015; Lapuschkin et al., 2019)``."""
    return "(" + "; ".join(reference.label for reference in lookup(*keys)) + ")"


def citet(key: str) -> str:
    """A textual citation, e.g. ``Goodfellow et al. (2015)``."""
    reference, = lookup(key)
    return f"{reference.names} ({reference.year})"


class ReferenceList:
    """A chapter's reference list: Markdown in a notebook, plain text elsewhere.

    Parameters
    ----------
    references : sequence of Reference
        The entries, listed sorted by author names and year.
    """

    def __init__(self, references) -> None:
        self.references = tuple(sorted(references, key=lambda r: (r.names.lower(), r.year)))

    def _repr_markdown_(self) -> str:
        return "\n".join(f"- {reference.markdown()}" for reference in self.references)

    def __repr__(self) -> str:
        return self._repr_markdown_()


def references(*keys: str) -> ReferenceList:
    """The full entries of the cited ``keys``, shown as a Markdown list by the last cell of a chapter.

    Examples
    --------
    >>> print(references("cuturi2013"))
    - Cuturi, Marco (2013). Sinkhorn Distances: Lightspeed Computation of Optimal Transport. In *Advances in Neural Information Processing Systems 26*, 2292–2300.
    """
    return ReferenceList(lookup(*dict.fromkeys(keys)))
