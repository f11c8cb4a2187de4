#!/usr/bin/env python3
"""Replaces one section of docs/results.md with the contents of a file (or stdin).

    scripts/update_results.py SECTION [FILE]

A section is the text between `<!-- BEGIN SECTION -->` and `<!-- END SECTION -->`; it is
appended at the end of the document when it does not exist yet. Each benchmark script and
example owns its section, so concurrent areas never overwrite each other's numbers.
"""
import pathlib
import sys


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    section = sys.argv[1]
    body = pathlib.Path(sys.argv[2]).read_text() if len(sys.argv) == 3 else sys.stdin.read()
    path = pathlib.Path(__file__).resolve().parent.parent / "docs" / "results.md"
    text = path.read_text() if path.exists() else "# Results\n"
    begin, end = f"<!-- BEGIN {section} -->", f"<!-- END {section} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
