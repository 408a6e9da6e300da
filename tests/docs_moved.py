"""Check that moving text between README.md and docs/*.md lost nothing.

    python tests/docs_moved.py [REV]

Every non-trivial line of README.md at git revision REV (default: main)
must appear, word for word, in the README.md and docs/*.md of the working
tree, once. Lines are compared with their whitespace collapsed (so a
paragraph may be rewrapped), Markdown links reduced to their text and
emphasis marks dropped (so `*Searching*` may become `[Searching](search.md)`).
Lines changed on purpose are listed in CHANGED with the reason.

Prints each line not found, and each found in more than one file; exit
status 1 when a line is not found. Not a test (pytest does not collect
it): the README it compares with is a past one, given on the command line.
"""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Old lines reworded on purpose, and why.
CHANGED = {
    "longer run. See *Searching* below.":
        "docs/search.md holds both the word index and the rules: the "
        "cross-reference was to itself",
    "load, see *Under load* above.":
        "docs/performance.md has *Under load* after *Serving*: 'below', as a link",
    "| `search` | `q`, `campaign`, `language` | up to 200 tweets with every word of `q`, best first "
    "(see *ranked* below), with a snippet where the words found are marked `⟦like this⟧` "
    "(highlighted on the HTML page) and the full `tweet_text` |":
        "*ranked* is explained on another page now (docs/search.md): a link, not 'below'",
    "Each account has its page too, **`/-/tei/accounts/<userid>`** (and `.json`):":
        "the README's account pages have their own heading now, before the "
        "network pages: 'its page', not 'its page too'",
}


def normalise(text):
    text = re.sub(r"\[((?:[^\[\]]|\[[^\]]*\])*)\]\([^)\s]*\)", r"\1", text)  # [x](y) -> x
    text = text.replace("*", "")
    return re.sub(r"\s+", " ", text).strip()


def trivial(line, in_code):
    """Blank lines, fences, section marks, table rules, and headings outside
    code (structure, not facts: pages have their own headings). Lines of
    code blocks, the commands, are checked."""
    s = line.strip()
    return (len(s) < 4 or s.startswith(("```", "<!--")) or re.fullmatch(r"[|\-: ]+", s) is not None
            or not in_code and re.match(r"#{1,6} ", s) is not None)


def main(rev="main"):
    old = subprocess.run(["git", "show", f"{rev}:README.md"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    corpus = {p.relative_to(ROOT).as_posix(): normalise(p.read_text(encoding="utf-8")) for p in pages}
    missing, repeated, checked = [], [], 0
    in_code = False
    for number, line in enumerate(old.split("\n"), 1):
        if line.strip().startswith("```"):
            in_code = not in_code
        if trivial(line, in_code) or line.strip() in CHANGED:
            continue
        checked += 1
        needle = normalise(line)
        where = [name for name, text in corpus.items() if needle in text]
        if not where:
            missing.append(f"{rev}:README.md:{number}: {line.strip()}")
        elif len(where) > 1 and len(needle) >= 40:
            repeated.append(f"{rev}:README.md:{number}: in {', '.join(where)}: {line.strip()}")
    for line in missing:
        print("not found:", line)
    for line in repeated:
        print("in more than one file:", line)
    print(f"{checked} lines checked, {len(missing)} not found, {len(repeated)} in more than one file")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
