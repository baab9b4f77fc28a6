"""`identity-gateway plugin new NAME [--idp]`: a new plugin distribution, ready to install,
test and type-check: its pyproject (with the entry point), a module with the hooks such a
plugin usually implements, tests on the gateway's harness, a README.

The files are the templates in ``plugin_template/`` (``common/`` and one of ``idp/`` or
``policy/``), with ``{{key}}`` replaced; ``package/`` becomes the plugin's package.
"""

from __future__ import annotations

import argparse
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from gateway import __version__
from gateway.errors import GatewayError

TEMPLATES = resources.files("gateway.cli") / "plugin_template"
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
SUMMARIES = {
    "idp": "its SCIM dialect and rules, for the providers whose plugin is \"{name}\".",
    "policy": "a policy for every provider, set in the config file's [{name}] section.",
}
USAGE = {
    "idp": "Then create a provider of this IdP: `identity-gateway provider add NAME --plugin "
           "{name}` (or `\"plugin\": \"{name}\"` in the admin API, or the console's \"Add "
           "provisioning provider\"). The plugin's hooks see that provider's requests, and "
           "no other IdP's.",
    "policy": "```toml\n[{name}]\nblocked_domains = [\"contractors.example.com\"]\n```",
}


def values(name: str, kind: str, title: str | None) -> dict[str, str]:
    return {
        "name": name, "package": f"identity_gateway_{name}",
        "dist": f"identity-gateway-{name.replace('_', '-')}",
        "title": title or name.replace("_", " ").title(),
        "gateway_version": __version__, "idp_flag": " --idp" if kind == "idp" else "",
        "summary": SUMMARIES[kind].format(name=name), "usage": USAGE[kind].format(name=name),
    }


def files(kind: str) -> list[tuple[str, Traversable]]:
    """(path in the new distribution, template) of every file of this kind of plugin."""
    found: list[tuple[str, Traversable]] = []

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif entry.name.endswith(".tmpl"):
                found.append((prefix + entry.name.removesuffix(".tmpl"), entry))

    walk(TEMPLATES / "common", "")
    walk(TEMPLATES / kind, "")
    return found


def render(text: str, given: dict[str, str]) -> str:
    for key, value in given.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def write_plugin(name: str, target: Path, idp: bool = False, title: str | None = None
                 ) -> list[Path]:
    """The new distribution's files, written under `target` (which must not exist yet, or
    be empty); returns them."""
    if not NAME.fullmatch(name):
        raise GatewayError(f"plugin name '{name}': use lower-case letters, digits and _, "
                           "starting with a letter (it is the entry point and the config "
                           "section, as in [plugins] enabled = [\"acme\"])")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise GatewayError(f"{target} already exists and is not empty: nothing was written")
    kind = "idp" if idp else "policy"
    given = values(name, kind, title)
    written = []
    for relative, template in files(kind):
        path = target / relative.replace("package/", f"{given['package']}/", 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(template.read_text(), given))
        written.append(path)
    typed = target / given["package"] / "py.typed"  # the plugin's own users type-check too
    typed.write_text("")
    written.append(typed)
    return written


def cmd_new(args: argparse.Namespace) -> int:
    target = Path(args.directory or f"identity-gateway-{args.name.replace('_', '-')}")
    written = write_plugin(args.name, target, idp=args.idp, title=args.title)
    for path in written:
        print(path)
    print(f"\nNext: cd {target} && pip install -e '.[test]' && pytest && mypy\n"
          f"then enable it: [plugins] enabled = [\"{args.name}\"] (docs/plugins.md)")
    return 0


def add_commands(sub: Any) -> None:
    group = sub.add_parser("plugin", help="make a new plugin")
    commands = group.add_subparsers(dest="plugin_command", required=True)
    new = commands.add_parser(
        "new", help="write a new plugin distribution that installs, tests and type-checks",
        description="Write a new plugin distribution (pyproject with the entry point, a "
                    "module of hooks, tests on gateway.testing, a README) into DIRECTORY.")
    new.add_argument("name", metavar="NAME",
                     help="the plugin's name: its entry point, config section and the "
                          "providers' plugin (lower case, e.g. acme)")
    new.add_argument("--idp", action="store_true",
                     help="an identity provider's plugin (its dialect and rules, scoped to "
                          "its providers) rather than a policy for every provider")
    new.add_argument("--title", help="the name people know it by (default: from NAME)")
    new.add_argument("--directory", help="where to write it (default ./identity-gateway-NAME)")
    new.set_defaults(func=cmd_new)
