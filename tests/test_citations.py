"""Author-year citations from thesis/references.bib, and chapters that read without LaTeX."""

import ast
import re

import jupytext
import pytest

from poisondetect import citations, pipeline

BIB = r"""
@comment{ignored}
@article{one,
  author  = {M{\"u}ller, Klaus-Robert},
  title   = {{Clever Hans} and {\'e}t{\'e}},
  journal = {Journal of Tests},
  volume  = {7},
  number  = {2},
  pages   = {10--20},
  year    = {2019}
}
@inproceedings{two,
  author    = {Peyr{\'e}, Gabriel and Cuturi, Marco},
  title     = "Beta",
  booktitle = {Proceedings},
  year      = 2016
}
@misc{three_b,
  author = {Chen, Xinyun and Liu, Chang and Li, Bo},
  title  = {Zeta},
  year   = {2017}
}
@misc{three_a,
  author = {Chen, Pin-Yu and Zhang, Huan and Sharma, Yash},
  title  = {Alpha},
  note   = {Chapter~8},
  year   = {2017}
}
"""


@pytest.fixture
def bib(tmp_path):
    path = tmp_path / "references.bib"
    path.write_text(BIB)
    return citations.bibliography(path)


def test_parse_fields_accents_and_dashes(bib):
    assert set(bib) == {"one", "two", "three_a", "three_b"}
    one = bib["one"]
    assert one.authors == ("Müller, Klaus-Robert",)
    assert one.fields["title"] == "Clever Hans and été"
    assert one.fields["pages"] == "10–20"
    assert bib["two"].fields["title"] == "Beta" and bib["two"].year == "2016"


def test_author_year_labels_follow_natbib(bib):
    assert bib["one"].label == "Müller, 2019"
    assert bib["two"].label == "Peyré and Cuturi, 2016"
    # equal labels in one year get letters in the order of their titles
    assert (bib["three_a"].label, bib["three_b"].label) == ("Chen et al., 2017a", "Chen et al., 2017b")


def test_full_entry_in_markdown(bib):
    assert bib["one"].markdown() == "Müller, Klaus-Robert (2019). Clever Hans and été. *Journal of Tests* 7(2), 10–20."
    assert bib["two"].markdown() == "Peyré, Gabriel and Marco Cuturi (2016). Beta. In *Proceedings*."
    assert bib["three_a"].markdown().endswith("Alpha. Chapter 8.")


def test_citations_of_the_thesis_bibliography():
    assert citations.citep("bach2015", "lapuschkin2019") == "(Bach et al., 2015; Lapuschkin et al., 2019)"
    assert citations.citet("goodfellow2015") == "Goodfellow et al. (2015)"
    listing = citations.references("lapuschkin2019", "bach2015", "bach2015")._repr_markdown_().splitlines()
    assert len(listing) == 2 and listing[0].startswith("- Bach, Sebastian, Alexander Binder, Grégoire Montavon")
    with pytest.raises(KeyError, match=r"no entry 'nosuchkey' in .*references\.bib"):
        citations.citep("nosuchkey")


def _markdown(notebook) -> str:
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def _cited_keys(notebook) -> list[str]:
    """The keys a chapter passes to ``citations.references`` in its code cells."""
    keys = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or "references(" not in cell.source:
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "references":
                keys += [arg.value for arg in node.args]
    return keys


@pytest.mark.parametrize("notebook", pipeline.discover(), ids=lambda p: p.stem)
def test_chapter_markdown_reads_without_latex(notebook):
    """Markdown keeps maths ($...$) and code, but no citation command, reference or thesis macro."""
    text = _markdown(jupytext.read(notebook))
    prose = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`", " ", text, flags=re.S)
    latex = re.findall(r"\\[A-Za-z]+|~", prose)
    assert not latex, f"{notebook.name}: LaTeX outside maths in markdown: {sorted(set(latex))}"


@pytest.mark.parametrize("notebook", pipeline.discover(), ids=lambda p: p.stem)
def test_chapter_lists_exactly_the_references_it_cites(notebook):
    """Every author-year citation in the text is in the chapter's reference list, and vice versa."""
    parsed = jupytext.read(notebook)
    text = " ".join(_markdown(parsed).split())
    cited = {key for key, ref in citations.bibliography().items()
             if ref.label in text or f"{ref.names} ({ref.year})" in text}
    listed = _cited_keys(parsed)
    assert len(listed) == len(set(listed)), f"{notebook.name}: a key is listed twice"
    assert set(listed) == cited, (f"{notebook.name}: cited but not listed {sorted(cited - set(listed))}, "
                                  f"listed but not cited {sorted(set(listed) - cited)}")
