"""An Ollama Modelfile for an exported GGUF: the student's prompt as TEMPLATE, its stops, greedy decoding."""

from __future__ import annotations

import json

from cotdistill.export.spec import ServingSpec


def modelfile(gguf_name: str, spec: ServingSpec, eos_token: str | None) -> str:
    """Modelfile text; `ollama create NAME -f Modelfile` in the export folder builds the model."""
    lines = [
        f"# cotdistill student ({spec.strategy}); prompt: {json.dumps(spec.metadata()['prompt_template'])}",
        f"FROM ./{gguf_name}",
        # Go template: Ollama puts the user's message at {{ .Prompt }}; the text around it is the strategy's.
        f'TEMPLATE """{_go_literal(spec.prompt_prefix)}{{{{ .Prompt }}}}{_go_literal(spec.prompt_suffix)}"""',
        "PARAMETER temperature 0",
    ]
    stops = dict.fromkeys([*spec.stop_strings, *([eos_token] if eos_token else [])])
    lines += [f"PARAMETER stop {_quoted(stop)}" for stop in stops]
    if spec.answer_first and spec.separator == eos_token:
        lines.append("# answer-first: its separator is the end-of-sequence token, so generation ends after the answer; "
                     "for the rationale after it, serve the student with `cotdistill serve` and send \"explain\": true")
    elif spec.answer_first and spec.separator:
        lines.append(f"# answer-first: generation ends at {json.dumps(spec.separator)} (its separator); "
                     "remove that stop line to get the rationale after it")
    return "\n".join(lines) + "\n"


def _go_literal(text: str) -> str:
    """Text that Go's text/template prints verbatim (a literal '{{' would start an action)."""
    return text.replace("{{", '{{ "{{" }}')


def _quoted(value: str) -> str:
    """A Modelfile value: "..." for plain text; a value with a newline (a newline separator), a quote
    or a backslash is written verbatim inside triple quotes instead of relying on escape sequences."""
    if any(c in value for c in '\n"\\'):
        return f'"""{value}"""'
    return f'"{value}"'
