#!/usr/bin/env python3
"""Renders Depot's nginx templates (nginx/*.in): @NAME@ placeholders.

Usage: render_nginx.py TEMPLATE OUTPUT NAME=VALUE...
Every placeholder in the template must be given; a leftover one is an error,
so a typo can never reach a running nginx.
"""
import re
import sys


def render(template_text: str, values: dict) -> str:
    def substitute(match):
        name = match.group(1)
        if name not in values:
            raise KeyError(f"no value for @{name}@")
        return str(values[name])

    return re.sub(r"@([A-Z_]+)@", substitute, template_text)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    template, output, *pairs = argv
    values = dict(p.split("=", 1) for p in pairs)
    with open(template) as f:
        text = render(f.read(), values)
    with open(output, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
