"""Settings the parser cannot read (a wrong type, an unknown option) as one line on stderr, exit status 2.

jsonargparse reports such a setting with the command's whole usage (about 3.5 KB for ``textlab fit``)
and a nested account of every type it tried, for example::

    error: Parser key "model":
      Does not validate against any of the Union subtypes
      Subtypes: [<class 'lightning.pytorch.core.module.LightningModule'>, <class 'NoneType'>]
      Errors:
        - Problem with given class_path 'textlab.models.SequenceTagger':
            Parser key "hidden_size":
              Expected a <class 'int'>. Got value: abc
        - Expected a <class 'NoneType'>
      Given value type: <class 'jsonargparse._util.NestedArg'>
      Given value: NestedArg(key='hidden_size', val='abc')

What the user needs is the setting and what it expected:
``--model.init_args.hidden_size: Expected a <class 'int'>. Got value: abc``. No library condenses these
messages, so this module reads their structure. A message it does not recognise is printed whole, still
without the usage. ``JSONARGPARSE_DEBUG=true`` gives jsonargparse's own report.
"""

from __future__ import annotations

import re
import sys
from typing import NoReturn

from lightning.pytorch.cli import LightningArgumentParser

# at the start of a line, or ending one that says why a callable (an optimizer's class_path) failed
_KEY = re.compile(r'(?:^|(callable class): )Parser key "([^"]+)":$')
_CLASS = re.compile(r"^(?:- )?Problem with given class_path '([^']+)':$")
_NOT_ACCEPTED = re.compile(r"^Option '([^']+)' is not accepted$")
_GIVEN = re.compile(r"^Given value: (.*?)(?:\. Got value: .*)?$")
# the alternatives jsonargparse tries for every value (a file path, an import path), rarely what was meant
_ALTERNATIVE = re.compile(r"^(Expected a path but .*|Expected a dot import path string: .*)$")
# lines that only frame the account: the alternatives tried, and the None a setting may also be
_FRAME = re.compile(r"^(Does not validate against any of the Union subtypes|Subtypes: .*|Errors:|Given value type: .*"
                    r"|Given value: .*|- Expected a <class 'NoneType'>)$")


def one_line(message: str) -> str:
    """The setting a jsonargparse error names and what was wrong with it, on one line."""
    lines = [line for line in message.splitlines() if line.strip()]
    if len(lines) <= 1:
        return message.strip()
    path: list[str] = []
    reasons: list[tuple[int, str]] = []
    given = None
    class_path = None  # the class whose arguments the keys that follow are
    for line in lines:
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        if key := _KEY.search(text):
            path.extend(["init_args", key.group(2)] if class_path or key.group(1) else [key.group(2)])
            class_path = None
        elif found := _CLASS.match(text):
            class_path = found.group(1)
        elif value := _GIVEN.match(text):
            given = given or value.group(1)
        elif not _FRAME.match(text):
            text = re.sub(r"\. Got value: Namespace\(.*$", "", text.removeprefix("- "))
            text = text.split("callable class: ", 1)[-1]  # an optimiser's or scheduler's own arguments
            if option := _NOT_ACCEPTED.match(text):
                key = option.group(1)
                text = f"not an argument of {class_path}" if class_path else "not accepted"
                path.extend(["init_args", key] if path and path[-1] != "init_args" else [key])
            reasons.append((indent, text))
    if not path or not reasons:
        return " ".join(line.strip() for line in lines)
    reasons = [r for r in reasons if not _ALTERNATIVE.match(r[1])] or reasons
    deepest = max(indent for indent, _ in reasons)
    reason = " or ".join(dict.fromkeys(text for indent, text in reasons if indent == deepest))
    if "Got value" not in reason and given is not None and not given.startswith("NestedArg("):
        reason += f"; got {given}"
    return f"--{'.'.join(path)}: {reason}"


class TextlabArgumentParser(LightningArgumentParser):
    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error or _debugging():
            super().error(message, ex)  # raised for jsonargparse's own use (nested parsers, unions)
        parser = getattr(ex, "subcommand_parser", None) or self  # the subcommand's, when the root parser reports
        command = " ".join(["textlab", *parser.prog.replace(" [options]", "").split()[1:]])
        print(f"textlab: error: {one_line(message)} (options: {command} --help)", file=sys.stderr)
        sys.exit(2)


def _debugging() -> bool:
    from jsonargparse._common import debug_mode_active  # jsonargparse's JSONARGPARSE_DEBUG switch

    return debug_mode_active()
