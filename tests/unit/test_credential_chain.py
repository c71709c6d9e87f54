"""The chain's shape: its one table (docs/credentials.md) is the loader tuple, its specs are
its providers' arguments, and the package has no import cycle."""

from __future__ import annotations

import ast
import inspect
import json
import re
from dataclasses import fields
from pathlib import Path

from restart_trigger.aliyun import Credentials, sources
from restart_trigger.aliyun import credentials as chain
from restart_trigger.aliyun.profiles import SUPPORTED_PROFILE_MODES
from restart_trigger.aliyun.specs import AccessKey, AssumeRole
from tests.unit.sts_fakes import OIDC_PROVIDER_ARN, ROLE_ARN

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "credentials.md"
PACKAGE = ROOT / "providers" / "restart_trigger"


# --- the one credentials table --------------------------------------------------------------


def doc_table(heading: str) -> list[list[str]]:
    """The cells of the rows of the first table after the line starting with ``heading``."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 1 :]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[2:]  # the header and the --- line


def expected(source: chain.Source) -> tuple[str, list[str], list[str], list[str]]:
    """A row as the code has it: source, config keys, object fields, environment (in order)."""
    return (
        source.source,
        [setting.config_key for setting in source.settings],
        [f.name for f in source.fields],
        [
            *(name for setting in source.settings for name in setting.env),
            *(name for f in source.fields for name in f.env),
            *source.alone,
        ],
    )


def documented(name: str, config: str, environment: str) -> tuple[str, list[str], ...]:
    object_fields = re.search(r"\{(.*)\}", config)
    return (
        name,
        re.findall(r"`(alicloud:\w+)`", config),
        re.findall(r"`(\w+)`", object_fields.group(1)) if object_fields else [],
        re.findall(r"`([A-Z][A-Z0-9_]+)`", environment),
    )


def test_the_base_credentials_table_is_the_loader_tuple_in_order():
    rows = doc_table("Base credentials")
    assert [row[0] for row in rows] == [str(n) for n in range(1, len(chain.LOADERS) + 1)]
    assert [documented(*row[1:4]) for row in rows] == [expected(lo) for lo in chain.LOADERS]


def test_the_role_on_top_table_is_the_assume_role_source():
    rows = doc_table("Then, on top")
    assert [documented(*row[:3]) for row in rows] == [expected(chain.ROLE_ON_TOP)]


def test_every_key_a_source_reads_is_a_config_key():
    for source in (*chain.LOADERS, chain.ROLE_ON_TOP):
        assert {s.config_key for s in source.settings} <= set(chain.CONFIG_KEYS)


def test_the_documented_profile_modes_are_the_supported_ones():
    text = DOC.read_text(encoding="utf-8")
    paragraph = text[text.index("Profile modes") :].split("\n\n")[0]
    assert tuple(re.findall(r"`(\w+)`\s+\(", paragraph)) == SUPPORTED_PROFILE_MODES


def test_the_table_is_written_once():
    copies = [
        path.relative_to(ROOT).as_posix()
        for pattern in ("*.md", "docs/**/*.md", "providers/**/*.py")
        for path in ROOT.glob(pattern)
        if "| AccessKey pair |" in path.read_text(encoding="utf-8")
    ]
    assert copies == ["docs/credentials.md"]


# --- one walk, in the table's order -----------------------------------------------------------


def test_a_preview_reports_problems_in_the_tables_order(tmp_path):
    config = {
        "alicloud:assumeRole": {"roleArn": "bad"},
        "alicloud:ecsRoleName": "bad role!",
        "alicloud:assumeRoleWithOidc": {"oidcProviderArn": ROLE_ARN},
    }
    assert [key for key, _ in chain.check_credential_config(config, {})] == [
        "alicloud:ecsRoleName",
        "alicloud:assumeRoleWithOidc.oidcProviderArn",
        "alicloud:assumeRole.roleArn",
    ]


def test_the_first_source_set_wins_and_the_role_goes_on_top(tmp_path):
    config = {
        "alicloud:ecsRoleName": "ecs-role",
        "alicloud:assumeRoleWithOidc": {
            "oidcProviderArn": OIDC_PROVIDER_ARN,
            "roleArn": ROLE_ARN,
            "oidcToken": "t",
        },
        "alicloud:assumeRole": {"roleArn": ROLE_ARN},
    }
    settings = chain.resolve_settings(config, {}, tmp_path / "none.json")
    assert settings.source == (
        f"alicloud:assumeRole (role {ROLE_ARN}) on alicloud:ecsRoleName (role ecs-role)"
    )


# --- specs and the providers built from them --------------------------------------------------


def test_each_spec_field_is_its_providers_argument_and_no_argument_is_missing():
    for spec_type, provider in sources.PROVIDERS.items():
        parameters = inspect.signature(provider).parameters
        arguments = {f.name for f in fields(spec_type) if f.metadata.get("argument", True)}
        assert arguments <= set(parameters), provider
        required = {
            name
            for name, p in parameters.items()
            if p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
        assert required <= arguments, provider


def test_equal_specs_share_one_provider_and_a_key_pair_is_its_own_source():
    sources.clear_provider_cache()
    pair = Credentials("key-id", "secret-value")

    def role():
        return AssumeRole(
            base=AccessKey(pair, "test"),
            role_arn=ROLE_ARN,
            session_name="s",
            duration=900,
            policy=json.dumps({"Version": "1"}),
            external_id=None,
            sts_endpoint="https://sts.example.test",
            source="test",
        )

    first = sources.provider_for(role())
    assert sources.provider_for(role()) is first
    assert first.base is pair
    assert sources.provider_for(AccessKey(pair, "test")) is pair
    sources.clear_provider_cache()
    assert sources.provider_for(role()) is not first


def test_specs_show_no_secret():
    spec = AssumeRole(
        base=AccessKey(Credentials("key-id", "secret-value", "token-value"), "stack config"),
        role_arn=ROLE_ARN,
        session_name="s",
        duration=900,
        policy=None,
        external_id=None,
        sts_endpoint="https://sts.example.test",
        source="alicloud:assumeRole",
    )
    for text in (repr(spec), str(spec), repr(spec.base)):
        assert "secret-value" not in text and "token-value" not in text


# --- no import cycle ----------------------------------------------------------------------------


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The package's modules ``name`` imports, at module level or in a function (lazy imports
    count: they only hide a cycle), but not under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in modules:
                    found.add(f"{target}.{alias.name}")
                elif target in modules:
                    found.add(target)
    return found


def test_no_module_of_the_package_imports_itself_through_others():
    modules = module_names()
    graph = {name: imports_of(name, path, set(modules)) for name, path in modules.items()}
    cycles = []
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = "open"
        path.append(name)
        for imported in sorted(graph[name]):
            if state.get(imported) == "open":
                cycles.append(" -> ".join([*path[path.index(imported) :], imported]))
            elif imported not in state:
                visit(imported)
        path.pop()
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert "restart_trigger.aliyun.credentials" in graph  # the graph is the package's
    assert cycles == []
