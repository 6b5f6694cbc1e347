"""Every numeric and choice option of every subcommand has a range in cli/ranges.py, checked before any work.

The options are enumerated from the typer app itself: a new command, or a new option the table does not
classify, fails `test_the_table_classifies_every_option_of_every_command`. Then every rule is tried with
values outside it (below, above, NaN, infinity, an unknown word) through the real entry point, and each
must end with exit code 2, exactly one line on stderr naming the option and what it allows, and nothing
written.
"""

from __future__ import annotations

import inspect
import typing

import pytest

from cotdistill.cli import app, main
from cotdistill.cli.ranges import Choice, Free, Range, commands, option_flag, rules


def _base(annotation):
    """int, float, str, bool, Path... of an annotation, less Optional[] and list[]."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is list or (args and len(args) == 1 and typing.get_origin(annotation) is not None):
        return _base(args[0])
    return annotation


def _parameters(callback):
    original = inspect.unwrap(callback)
    hints = typing.get_type_hints(original)
    for name, parameter in inspect.signature(original).parameters.items():
        yield name, _base(hints[name]), parameter.default


COMMANDS = {path: info.callback for path, info in commands(app)}


def _required_args(path: str, skip: str) -> list[str]:
    """The least command line of `path` that typer accepts (dummy values; the check runs before they are used)."""
    positional, options = [], []
    for name, base, default in _parameters(COMMANDS[path]):
        if name == skip or getattr(default, "default", None) is not ...:
            continue
        rule = rules()[path].get(name)
        value = rule.values[0] if isinstance(rule, Choice) else "x"
        if type(default).__name__ == "ArgumentInfo":
            positional.append(value)
        else:
            options += [option_flag(name, default), value]
    return [*path.split(), *positional, *options]


def _cases():
    for path, callback in COMMANDS.items():
        for name, base, default in _parameters(callback):
            rule = rules()[path].get(name)
            if isinstance(rule, (Range, Choice)):
                flag = option_flag(name, default)
                for value in rule.outside(integer=base is int):
                    yield pytest.param(path, name, flag, value, id=f"{path} {flag}={value}")


CASES = list(_cases())


def test_the_table_classifies_every_option_of_every_command():
    assert set(COMMANDS) == set(rules()), "a command without an entry in cli/ranges.py RULES (or a stale entry)"
    for path, callback in COMMANDS.items():
        names = set()
        for name, base, default in _parameters(callback):
            names.add(name)
            if base is bool:
                continue
            rule = rules()[path].get(name)
            assert rule is not None, f"`cotdistill {path}` {option_flag(name, default)} has no rule in cli/ranges.py"
            if base in (int, float):
                assert isinstance(rule, Range), f"`cotdistill {path}` {option_flag(name, default)} is a number without a Range"
            else:
                assert isinstance(rule, (Choice, Free)), f"`cotdistill {path}` {option_flag(name, default)}: a Range on a {base}"
        assert set(rules()[path]) <= names, f"cli/ranges.py names options `cotdistill {path}` does not have"


def test_every_number_rule_is_tried():
    numeric = [(path, name) for path, callback in COMMANDS.items() for name, base, _ in _parameters(callback)
               if base in (int, float)]
    tried = {(case.values[0], case.values[1]) for case in CASES}
    assert set(numeric) <= tried
    assert len(numeric) >= 40 and len(COMMANDS) >= 13  # the app as it stands: grows, never shrinks unnoticed


@pytest.mark.parametrize("path, name, flag, value", CASES)
def test_an_out_of_range_option_is_one_line_exit_2_before_any_work(path, name, flag, value, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [*_required_args(path, skip=name), f"{flag}={value}"]
    try:
        main(argv)
        code = 0
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (argv, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert f"{flag} " in lines[0] and ("allowed" in lines[0] or "not one of" in lines[0] or "comma list" in lines[0]), lines[0]
    assert list(tmp_path.iterdir()) == [], "a refused option left files behind"


def test_several_bad_options_are_reported_together_on_one_line(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["teach", "--task", "synth-coin-flip", "--teacher", "reference", "--store", "s.sqlite", "--top-p", "0",
              "--samples", "0", "--prompt", "zero-shot"])
    err = capsys.readouterr().err.strip()
    assert exit.value.code == 2 and len(err.splitlines()) == 1
    assert "--top-p 0: out of range; allowed: 0 < x <= 1" in err and "--samples 0" in err
    assert "--prompt zero-shot: not one of" in err and "did you mean 'zero-shot-cot'" in err


def test_a_value_the_backend_would_refuse_never_reaches_it(capsys):
    """SamplingParams refused top_p 0 with a pydantic ValidationError: that was a crash ("a cotdistill bug")."""
    with pytest.raises(SystemExit) as exit:
        main(["teach", "--task", "synth-coin-flip", "--teacher", "reference", "--store", "s.sqlite", "--top-p", "1.5"])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "cotdistill bug" not in err and "--top-p 1.5: out of range" in err


@pytest.mark.parametrize("argv, words", [
    (["teach", "--samples", "abc"], ["cotdistill teach", "'--samples'", "valid integer"]),
    (["teach", "--task", "t"], ["cotdistill teach", "Missing option", "--teacher"]),
    (["frobnicate"], ["No such command 'frobnicate'"]),
    (["eval", "--no-such-flag"], ["No such option", "--no-such-flag"]),
])
def test_a_command_line_typer_cannot_parse_is_one_line_exit_2(argv, words, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exit.value.code == 2 and len(err.splitlines()) == 1 and err.startswith("error: "), err
    for word in words:
        assert word in err, err


def test_help_shows_the_ranges_and_exits_0(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["teach", "--help"])
    assert exit.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "(allowed: x >= 1)" in out and "0 < x <= 1" in out


def test_the_table_agrees_with_the_libraries_it_does_not_import():
    from cotdistill.export import FORMATS, QUANTIZATIONS
    from cotdistill.routing.pair import RouterFile

    assert rules()["export"]["fmt"].values == FORMATS and rules()["export"]["quantization"].values == QUANTIZATIONS
    threshold = {meta.ge for meta in RouterFile.model_fields["threshold"].metadata if getattr(meta, "ge", None) is not None}
    assert {rules()[command]["threshold"].ge for command in ("eval", "serve")} == threshold


def test_a_range_reads_as_its_bounds():
    assert Range(gt=0, le=1).allowed() == "0 < x <= 1" and Range(ge=1).allowed() == "x >= 1"
    assert Range(ge=0, le=2**32 - 1).problem(2**32) == "out of range; allowed: 0 <= x <= 4294967295"
    assert Range(ge=0).problem(float("nan")).startswith("not a finite number")
    assert Choice(("tensorboard", "wandb", "none"), comma=True).problem("tensorboard,wandb") is None
