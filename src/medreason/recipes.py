"""Recipes: a params profile (configs/<name>.yaml) merged into params.yaml, keeping its comments.

    python -m medreason.recipes configs/paper.yaml            # rewrite params.yaml with the paper's settings
    python -m medreason.recipes configs/paper.yaml --check    # only validate the merged result

Mappings merge key by key; lists and scalars replace. The merged params are validated before anything is
written, so a profile can never leave params.yaml invalid. `git diff params.yaml` shows the switch, `git checkout
params.yaml` undoes it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _yaml():
    from ruamel.yaml import YAML  # round-trip: comments and key order survive (ruamel comes with DVC)

    y = YAML()
    y.width = 120
    y.indent(mapping=2, sequence=4, offset=2)
    y.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


def merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        for key, value in override.items():
            base[key] = merge(base[key], value) if key in base else value
        return base
    return override


def apply_recipe(params: dict, recipe: str | Path) -> dict:
    with open(recipe, encoding="utf-8") as f:
        return merge(params, _yaml().load(f) or {})


def main(argv: list[str] | None = None) -> None:
    import json

    from medreason.config import Params, build, complete

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", help="a params profile, e.g. configs/paper.yaml")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--check", action="store_true", help="validate only; write nothing")
    args = parser.parse_args(argv)
    with open(args.params, encoding="utf-8") as f:
        params = _yaml().load(f)
    merged = apply_recipe(params, args.recipe)
    complete(Params, merged)  # a list the recipe replaced lists its items' defaults too: every field stays visible
    build(Params, json.loads(json.dumps(merged)))  # plain types for the validator; raises ConfigError
    if not args.check:
        with open(args.params, "w", encoding="utf-8") as f:
            _yaml().dump(merged, f)
    print(f"{args.recipe}: valid{'' if args.check else f', merged into {args.params}'}")


if __name__ == "__main__":
    main()
