#!/usr/bin/env python3
"""Validates slad configuration files against the JSON Schemas of contrib/schema.

    scripts/check-schema.py KIND FILE...     KIND: slad, contract, calendar, source-mapping
    scripts/check-schema.py --folder DIR     slad.yaml, contracts.d, calendars and sources of DIR

YAML is read with the YAML 1.2 core schema, as editors (yaml-language-server) read it: a date
like 2026-01-01 and a word like `yes` are strings, not a date and a boolean. Prints one line
per error (file: path: message) and exits 1 when there is one. Needs python3-yaml and
python3-jsonschema (Debian), which scripts/test.sh installs.
"""
import json
import os
import re
import sys

import jsonschema
import yaml

SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "contrib", "schema")


class Core12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core resolvers: no timestamps, booleans only true/false."""


Core12Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Core12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def validator(kind):
    with open(os.path.join(SCHEMAS, f"{kind}.schema.json")) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check(kind, path):
    with open(path) as f:
        doc = yaml.load(f, Loader=Core12Loader)
    errors = sorted(validator(kind).iter_errors(doc if doc is not None else {}), key=lambda e: list(e.path))
    for e in errors:
        print(f"{path}: {'/'.join(map(str, e.path)) or '(top)'}: {e.message}")
    return not errors


def folder(directory):
    ok = True
    if os.path.exists(os.path.join(directory, "slad.yaml")):
        ok &= check("slad", os.path.join(directory, "slad.yaml"))
    for sub, kind in [("contracts.d", "contract"), ("calendars", "calendar"), ("sources", "source-mapping")]:
        d = os.path.join(directory, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.endswith((".yaml", ".yml")):
                ok &= check(kind, os.path.join(d, name))
    return ok


def main(argv):
    if len(argv) == 3 and argv[1] == "--folder":
        return 0 if folder(argv[2]) else 1
    if len(argv) >= 3:
        return 0 if all([check(argv[1], p) for p in argv[2:]]) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
