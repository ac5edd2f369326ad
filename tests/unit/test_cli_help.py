"""What `skinrisk <command> --help` shows a new user: every option's help reads as written."""

from __future__ import annotations

import re

from pipelines.reference import _commands


def test_no_option_help_loses_text_to_rich_markup() -> None:
    # Rich reads "[default: X]" in a help text as a markup tag and drops it, leaving "folder ."
    # on screen: a default that is not a literal goes in show_default="X" instead.
    bad = []
    for path, command in _commands():
        for param in command.params:  # type: ignore[attr-defined]
            text = getattr(param, "help", None) or ""
            if re.search(r"\[[a-z]", text) or re.search(r"\s\.$", text.strip()):
                bad.append(f"skinrisk {' '.join(path)} {param.opts[0]}: {text!r}")
    assert not bad, "\n".join(bad)
