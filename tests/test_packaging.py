"""The set-up files agree with each other: pyproject, environment.yml, README, CI."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in ("course", "dev", "llm", "cluster", "interop"):
        reqs += project["optional-dependencies"][extra]
    return {_name(r): r.replace(" ", "") for r in reqs}


def _environment_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    reqs = [r for r in pip_section if not r.startswith("-e")]
    return {_name(r): r.replace(" ", "") for r in reqs}


def test_environment_yml_mirrors_pyproject():
    assert _environment_requirements() == _pyproject_requirements()


def test_environment_yml_installs_the_package_with_extras():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e .[course,dev,llm,cluster]" in pip_section


def test_torch_is_pinned():
    assert _pyproject_requirements()["torch"] == "torch==2.13.0"


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command():
    ci_lines = [l for l in (ROOT / ".ci/run").read_text().splitlines() if l and not l.startswith(("#", "set ", "cd "))]
    assert len(ci_lines) == 1
    readme_blocks = [b.strip() for b in _readme_commands()]
    assert ci_lines[0].strip() in readme_blocks


def test_readme_test_and_course_commands_pin_cpu_torch():
    blocks = [b for b in _readme_commands() if "pip install" in b]
    assert any("pytest" in b for b in blocks) and any("jupyter lab" in b for b in blocks)
    for b in blocks:
        assert "torch==2.13.0" in b


def test_llm_extra_pins_transformers_and_peft_exactly():
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["llm"]
    pins = {_name(r): r for r in extra}
    assert set(pins) >= {"transformers", "peft"}
    for name in ("transformers", "peft"):
        assert re.fullmatch(rf"{name}==\d+(\.\d+)+", pins[name].replace(" ", "")), pins[name]


def test_cluster_and_interop_extras_pin_exactly():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, names in (("cluster", {"ray"}), ("interop", {"pettingzoo", "gymnasium"})):
        pins = {_name(r): r.replace(" ", "") for r in extras[extra]}
        assert set(pins) == names
        for pin in pins.values():
            assert re.fullmatch(r"[a-z]+(\[[a-z]+\])?==\d+(\.\d+)+", pin), pin
    dev = {_name(r) for r in extras["dev"]}
    assert {"pettingzoo", "gymnasium", "tensorboard"} <= dev  # so that their tests run in the suite
