"""Every relative link in README.md and docs/*.md opens an existing file, and
an existing heading when it names one (`page.md#anchor`), as GitHub renders
them. The README is the front door to the docs pages: a page renamed or a
heading reworded must not leave a link that opens nothing."""
import pathlib
import re
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target); the text may run over lines.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def prose(text):
    """The text without code blocks: a `#` comment in a bash block is not a
    heading, and a `[x](y)` in code is not a link."""
    return FENCE.sub("", text)


def slug(heading):
    """GitHub's anchor for a heading: links reduced to their text, lower
    case, punctuation dropped (letters of every script, digits, `_` and `-`
    kept), spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    seen, found = {}, set()
    for match in HEADING.finditer(prose(path.read_text(encoding="utf-8"))):
        base = slug(match.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(path):
    text = INLINE_CODE.sub("", prose(path.read_text(encoding="utf-8")))
    for match in LINK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        yield line, match.group(1)


def broken_links(pages, root=ROOT):
    problems = []
    for page in pages:
        for line, target in links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # https:, mailto:: not ours to check
            where = f"{page.relative_to(root)}:{line}: {target}"
            path, _, fragment = target.partition("#")
            dest = (page.parent / urllib.parse.unquote(path)).resolve() if path else page
            if not dest.exists():
                problems.append(f"{where}: no file {path}")
            elif fragment:
                if dest.suffix != ".md":
                    problems.append(f"{where}: an anchor into a file that is not Markdown")
                elif urllib.parse.unquote(fragment).lower() not in anchors(dest):
                    problems.append(f"{where}: no heading #{fragment} in {dest.relative_to(root)}")
    return problems


def test_every_relative_link_resolves():
    assert broken_links(PAGES) == []


def test_the_index_lists_every_docs_page():
    """docs/README.md is the index the README points to: a new page is
    listed there, or readers never find it."""
    index = ROOT / "docs" / "README.md"
    listed = {(index.parent / t.partition("#")[0]).resolve() for _, t in links(index)}
    assert [p.name for p in PAGES[1:] if p != index and p.resolve() not in listed] == []
    assert "docs/README.md" in {t for _, t in links(ROOT / "README.md")}


def test_the_checker_catches_what_it_should(tmp_path):
    """The checker itself: a missing file, a missing heading, a heading that
    exists only as a comment in a code block; and what must pass."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text(
        "# Page A\n\n## What *ranked* means\n\n## Runs\n\n## Runs\n\n"
        "```bash\n# not a heading\n[x](missing-in-code.md)\n```\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md) [ok](docs/a.md#what-ranked-means) [ok](docs/a.md#runs-1)\n"
        "[ok over\nlines](docs/a.md#page-a) [web](https://example.com/x#y) [self](#top)\n"
        "`[code](nowhere.md)`\n\n# Top\n\n"
        "[bad](docs/b.md) [bad](docs/a.md#not-a-heading) [bad](docs/a.md#runs-2)\n",
        encoding="utf-8")
    problems = broken_links([page, docs / "a.md"], root=tmp_path)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "docs/b.md: no file docs/b.md",
        "docs/a.md#not-a-heading: no heading #not-a-heading in docs/a.md",
        "docs/a.md#runs-2: no heading #runs-2 in docs/a.md",
    ]


@pytest.mark.parametrize("heading, anchor", [
    ("Building a database", "building-a-database"),
    ("What *ranked* means", "what-ranked-means"),
    ("Network pages, the evidence query and the network exports",
     "network-pages-the-evidence-query-and-the-network-exports"),
    ("The network page: `/-/tei/<campaign>/network`", "the-network-page--teicampaignnetwork"),
    ("Under load", "under-load"),
])
def test_slug_matches_github(heading, anchor):
    assert slug(heading) == anchor
