"""Checks that the README's "Use it from another language" snippets are the code the interop
tours run: each region between `-- README: <lang> (begin)` and `(end)` markers in a tour,
dedented, must appear verbatim in README.md.
"""

import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOURS = ["tests/interop/grpc_tour.py", "tests/interop/node/tour.mjs", "tests/interop/go/tour.go"]
MARK = re.compile(r"-- README: (\w+) \((begin|end)\)")


def regions(path: Path) -> dict[str, str]:
    """The marked regions of one file, by language, dedented."""
    found, lines, lang = {}, [], None
    for line in path.read_text().splitlines():
        mark = MARK.search(line)
        if mark and mark.group(2) == "begin":
            lang, lines = mark.group(1), []
        elif mark:
            found[lang] = textwrap.dedent("\n".join(lines))
            lang = None
        elif lang:
            lines.append(line)
    return found


def main() -> int:
    readme = (ROOT / "README.md").read_text()
    checked = 0
    for tour in TOURS:
        found = regions(ROOT / tour)
        if not found:
            print(f"readme snippets: FAILED: no README region in {tour}", file=sys.stderr)
            return 1
        for lang, text in found.items():
            if text not in readme:
                print(f"readme snippets: FAILED: README.md lacks the {lang} snippet of {tour}",
                      file=sys.stderr)
                return 1
            checked += 1
    print(f"readme snippets: passed ({checked} snippets match the tours)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
