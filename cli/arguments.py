"""An argument parser for subcommands that reports its own mistakes.

argparse leaves a subcommand's unknown options to the top-level parser, which prints the top-level usage
(`pipeline ask --topk 5 hello` said nothing about `ask`, and took "5" as the question). This parser refuses them
itself: the subcommand's usage, and the closest option it does have.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence

__all__ = ["SubcommandParser", "closest_option"]


def closest_option(typed: str, options: Sequence[str]) -> str | None:
    """The option a mistyped one most likely meant (`--topk` → `--top-k`), or None."""
    name = typed.split("=", 1)[0]
    longs = [o for o in options if o.startswith("--")]
    # Compare without dashes too, so a dropped or added hyphen inside the name still matches.
    bare = {o.replace("-", ""): o for o in longs}
    if name.replace("-", "") in bare:
        return bare[name.replace("-", "")]
    match = difflib.get_close_matches(name, longs, n=1, cutoff=0.6)
    return match[0] if match else None


class SubcommandParser(argparse.ArgumentParser):
    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            options = [s for action in self._actions for s in action.option_strings]
            unknown = next((e for e in extras if e.startswith("-")), None)
            if unknown is not None:
                hint = closest_option(unknown, options)
                self.error(f"unrecognized option {unknown}" + (f"; did you mean {hint}?" if hint else ""))
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras
