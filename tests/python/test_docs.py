"""The plugin guide's Python and JavaScript snippets are excerpts of code the tests build and
run (the SDK examples and the `pier new` templates), so the guide cannot drift from what works.
A line `# …` or `// …` in a snippet marks a gap; every piece between gaps must appear in one
of those files exactly."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugin-guide.md"
SOURCES = {
    "python": [ROOT / "examples/python-hello/app.py", *sorted((ROOT / "host/scaffold/python").glob("*.py"))],
    "js": [ROOT / "examples/js-hello/app.js", *sorted((ROOT / "host/scaffold/js").rglob("*.js"))],
}
GAP = re.compile(r"^\s*(#|//) …\s*$")


def snippets():
    text = GUIDE.read_text()
    for match in re.finditer(r"^```(python|js)\n(.*?)^```", text, re.S | re.M):
        line = text[: match.start()].count("\n") + 1
        yield pytest.param(match.group(1), match.group(2), id=f"{match.group(1)}@{line}")


@pytest.mark.parametrize("lang,snippet", list(snippets()))
def test_each_snippet_is_an_excerpt_of_tested_code(lang, snippet):
    sources = [p.read_text() for p in SOURCES[lang]]
    pieces, current = [], []
    for line in snippet.splitlines():
        if GAP.match(line):
            pieces.append(current)
            current = []
        else:
            current.append(line)
    pieces.append(current)
    for piece in pieces:
        text = "\n".join(piece).strip("\n")
        if text:
            assert any(text in source for source in sources), f"not in {[str(p) for p in SOURCES[lang]]}:\n{text}"


def test_the_guide_has_snippets_of_both_languages():
    langs = {p.values[0] for p in snippets()}
    assert langs == {"python", "js"}
