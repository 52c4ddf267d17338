"""Every registered subcommand answers --help, and `hqmed --help` lists them all."""

import pytest

from hqmed import cli


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out, f"`hqmed --help` does not list {name!r}"


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_each_command_has_help(name, capsys):
    assert name in cli._available_commands(), f"command module for {name!r} is missing"
    with pytest.raises(SystemExit) as exc:
        cli.main([name, "--help"])
    assert exc.value.code == 0
    assert f"usage: hqmed {name}" in capsys.readouterr().out


def test_errors_are_one_line_without_debug(tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    assert cli.main(["train", str(missing)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("hqmed: error:") and "nope.yaml" in err[0]
    assert "Traceback" not in "\n".join(err)
