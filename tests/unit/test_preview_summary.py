"""restart-trigger-preview: `pulumi preview --json` -> Markdown summary of the restarts it plans.

``fixtures/preview_mixed.json`` is a real preview of the example stack (written by
tests/e2e/test_preview_summary_e2e.py); the other cases are built in the same shape.
"""

from __future__ import annotations

import copy
import io
import json
import random
import re
from html import escape as html_escape
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from restart_trigger.preview_summary import (
    TRIGGER_TYPE,
    PreviewFormatError,
    escape_markdown,
    inline_code,
    main,
    short_hash,
    summarize_preview,
)
from restart_trigger.validation import KNOWN_AFTER_APPLY, UNKNOWN, escaped

FIXTURE = Path(__file__).parent / "fixtures" / "preview_mixed.json"
H1 = "sha256:" + "a1" * 32
H2 = "sha256:" + "b2" * 32
STACK_URN = "urn:pulumi:dev::restart-trigger::pulumi:pulumi:Stack::restart-trigger-dev"

EXPECTED_MIXED = """\
### Restart preview (stack `e2e-stack`)

**2 targets would restart.**

| Trigger | Target | Strategy | Hash | Why |
|---|---|---|---|---|
| `api` | EDAS app test-app-0000-0000-0000-000000000001 | ECC test-ecc-0001-a,test-ecc-0001-b; \
wait up to 1800s | 5e78e033bcbc → 2959979a8ebb | hash changed |
| `canary` | Web+ env we-test00000000000000000002 | 50% per batch, pause between batches; \
no wait | — → 0e9a01e97ab7 | new trigger with restart_on_create |

#### Trigger changes without restart

- `both`: targets changed, no restart (drops Web+ env we-test00000000000000000002)
- `old`: deleted; deleting a trigger restarts nothing
- `web`: options only, no restart (timeout 1800 → 600)
- `worker`: created, no restart (restart_on_create is off)
"""


def load_fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def inputs(hash_: Any = H1, targets: Any = None, **options: Any) -> dict[str, Any]:
    """Trigger inputs as check() normalizes them (defaults filled in)."""
    out = {
        "hash": hash_,
        "targets": targets if targets is not None else [{"kind": "edas", "app_id": "app-1"}],
        "restart_on_create": False,
        "timeout": 1800,
        "wait": True,
    }
    out.update(options)
    return out


def step(
    op: str,
    name: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    type_: str = TRIGGER_TYPE,
    **extra: Any,
) -> dict[str, Any]:
    urn = f"urn:pulumi:dev::restart-trigger::pulumi:pulumi:Stack${type_}::{name}"
    out: dict[str, Any] = {"op": op, "urn": urn, "detailedDiff": None, **extra}
    if old is not None:
        out["oldState"] = {"urn": urn, "type": type_, "inputs": old, "outputs": old}
    if new is not None:
        out["newState"] = {"urn": urn, "type": type_, "inputs": new}
    return out


def preview(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    stack = {"op": "same", "urn": STACK_URN, "detailedDiff": None}
    return {"config": {}, "steps": [stack, *steps], "changeSummary": {}, **extra}


def rows(markdown: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("|").split(" | ")]
        for line in markdown.splitlines()
        if line.startswith("| `")
    ]


# -- the real preview -----------------------------------------------------------------------------
def test_real_preview_fixture_summarizes_to_the_expected_markdown():
    assert summarize_preview(load_fixture()) == EXPECTED_MIXED


def test_real_preview_fixture_has_the_shape_the_summary_relies_on():
    data = load_fixture()
    ops = {s["urn"].rsplit("::", 1)[1]: s["op"] for s in data["steps"]}
    assert ops == {
        "restart-trigger-e2e-stack": "same",
        "api": "update",
        "web": "update",
        "both": "update",
        "old": "delete",
        "canary": "create",
        "worker": "create",
    }
    both = next(s for s in data["steps"] if s["urn"].endswith("::both"))
    assert not both.get("replaceReasons")  # a target set change updates in place


def test_output_does_not_depend_on_step_order():
    data = load_fixture()
    for seed in range(5):
        shuffled = copy.deepcopy(data)
        random.Random(seed).shuffle(shuffled["steps"])
        assert summarize_preview(shuffled) == EXPECTED_MIXED


def test_non_trigger_resources_are_ignored():
    noop = "pulumi-python:dynamic/noop:Noop"
    data = preview(
        step("update", "src", {"value": "a"}, {"value": "b"}, type_=noop),
        step("create", "other", None, {"hash": H2, "restart_on_create": True}, type_=noop),
    )
    assert summarize_preview(data) == "### Restart preview (stack `dev`)\n\n**No restarts.**\n"


def test_nothing_changed_says_no_restarts():
    same = step("same", "api", inputs(), inputs())
    out = summarize_preview(preview(same))
    assert "**No restarts.**" in out
    assert "without restart" not in out
    assert "|" not in out


# -- what restarts --------------------------------------------------------------------------------
def test_hash_change_restarts_every_target_of_the_trigger_sorted():
    targets = [
        {"kind": "webplus", "env_id": "we-2", "batch_size": 2},
        {"kind": "edas", "app_id": "app-9"},
        {"kind": "webplus", "env_id": "we-1", "batch_interval": 5},
    ]
    data = preview(
        step(
            "update", "z", inputs(H1, targets, max_parallel=2), inputs(H2, targets, max_parallel=2)
        )
    )
    assert rows(summarize_preview(data)) == [
        ["`z`", "EDAS app app-9", "all instances; wait up to 1800s, 2 at a time",
         "a1a1a1a1a1a1 → b2b2b2b2b2b2", "hash changed"],
        ["`z`", "Web+ env we-1", "default batches, batch interval 5; wait up to 1800s, 2 at a time",
         "a1a1a1a1a1a1 → b2b2b2b2b2b2", "hash changed"],
        ["`z`", "Web+ env we-2", "batches of 2; wait up to 1800s, 2 at a time",
         "a1a1a1a1a1a1 → b2b2b2b2b2b2", "hash changed"],
    ]  # fmt: skip


def test_hash_change_with_other_changes_names_them_and_still_restarts():
    old = inputs(H1, [{"kind": "edas", "app_id": "a"}])
    new = inputs(H2, [{"kind": "edas", "app_id": "b"}], wait=False)
    [row] = rows(summarize_preview(preview(step("update", "t", old, new))))
    assert row[1] == "EDAS app b"
    assert row[2] == "all instances; no wait"
    assert row[4] == "hash changed (also: wait true → false; adds EDAS app b; drops EDAS app a)"


def test_create_restarts_only_with_restart_on_create():
    data = preview(
        step("create", "quiet", None, inputs()),
        step("create", "loud", None, inputs(H2, restart_on_create=True)),
    )
    out = summarize_preview(data)
    assert rows(out) == [
        ["`loud`", "EDAS app app-1", "all instances; wait up to 1800s",
         "— → b2b2b2b2b2b2", "new trigger with restart_on_create"],
    ]  # fmt: skip
    assert "- `quiet`: created, no restart (restart_on_create is off)" in out


def test_replace_for_region_is_quiet_unless_restart_on_create():
    old, new = inputs(region="cn-hangzhou"), inputs(region="cn-shanghai")
    out = summarize_preview(preview(step("replace", "r", old, new, replaceReasons=["region"])))
    assert "**No restarts.**" in out
    assert (
        "- `r`: replaced, region changed (cn-hangzhou → cn-shanghai); "
        "the new trigger does not restart"
    ) in out
    new["restart_on_create"] = True
    [row] = rows(summarize_preview(preview(step("replace", "r", old, new))))
    assert row[4] == (
        "replaced, region changed (cn-hangzhou → cn-shanghai); new trigger has restart_on_create"
    )


def test_replacement_steps_are_merged_into_one_trigger():
    old = inputs(targets=[{"kind": "edas", "app_id": "a"}])
    new = inputs(targets=[{"kind": "edas", "app_id": "b"}], restart_on_create=True)
    data = preview(
        step("create-replacement", "m", old, new, replaceReasons=["targets"]),
        step("replace", "m", old, new, replaceReasons=["targets"]),
        step("delete-replaced", "m", old, None),
    )
    out = summarize_preview(data)
    assert rows(out) == [
        ["`m`", "EDAS app b", "all instances; wait up to 1800s", "a1a1a1a1a1a1 → a1a1a1a1a1a1",
         "replaced, targets changed (EDAS app a → EDAS app b); new trigger has restart_on_create"],
    ]  # fmt: skip
    assert "without restart" not in out


def test_options_only_change_lists_each_change_including_target_settings():
    targets_old = [{"kind": "webplus", "env_id": "we-1", "batch_size": 1}]
    targets_new = [{"kind": "webplus", "env_id": "we-1", "batch_percent": 25}]
    old = inputs(targets=targets_old)
    new = inputs(targets=targets_new, max_parallel=3, endpoint="http://127.0.0.1:9")
    out = summarize_preview(preview(step("update", "w", old, new)))
    assert "**No restarts.**" in out
    assert (
        "- `w`: options only, no restart (max_parallel unset → 3; endpoint unset → "
        "http&#58;//127.0.0.1:9; Web+ env we-1: batches of 1 → 25% per batch)"
    ) in out


def test_delete_and_import_restart_nothing():
    data = preview(step("delete", "gone", inputs(), None), step("import", "imp", None, inputs()))
    out = summarize_preview(data)
    assert "**No restarts.**" in out
    assert "- `gone`: deleted; deleting a trigger restarts nothing" in out
    assert "- `imp`: imported, no restart" in out


# -- unknowns -------------------------------------------------------------------------------------
def test_unknown_hash_is_a_possible_restart_shown_as_known_after_apply():
    out = summarize_preview(preview(step("update", "u", inputs(H1), inputs(UNKNOWN))))
    [row] = rows(out)
    assert row[3] == f"a1a1a1a1a1a1 → {KNOWN_AFTER_APPLY}"
    assert row[4] == "hash known only at apply: restarts if it changed"
    assert "(1 trigger depends on values known only at apply: listed as possible restarts.)" in out
    assert UNKNOWN not in out


def test_unknown_target_ids_and_lists_do_not_crash():
    unknown_id = [{"kind": "edas", "app_id": UNKNOWN, "ecc_ids": UNKNOWN}]
    data = preview(
        step("update", "a", inputs(H1, unknown_id), inputs(H2, unknown_id)),
        step("create", "b", None, inputs(UNKNOWN, UNKNOWN, restart_on_create=UNKNOWN)),
    )
    out = summarize_preview(data)
    assert rows(out) == [
        ["`a`", f"EDAS app {KNOWN_AFTER_APPLY}", f"ECC {KNOWN_AFTER_APPLY}; wait up to 1800s",
         "a1a1a1a1a1a1 → b2b2b2b2b2b2", "hash changed"],
        ["`b`", f"target {KNOWN_AFTER_APPLY}", f"{KNOWN_AFTER_APPLY}; wait up to 1800s",
         f"— → {KNOWN_AFTER_APPLY}", f"new trigger with restart_on_create {KNOWN_AFTER_APPLY}"],
    ]  # fmt: skip
    assert UNKNOWN not in out


# -- rendering details ----------------------------------------------------------------------------
def test_failed_preview_warns_and_does_not_claim_no_restarts():
    diagnostics = [
        {"urn": "u", "severity": "error", "message": "error: resource 'bad': hash | invalid\n"},
        {"urn": "u", "severity": "warning", "message": "warning: ignore me"},
    ]
    out = summarize_preview(preview(diagnostics=diagnostics))
    assert "> The preview failed, so this summary may be incomplete:" in out
    assert "> - resource 'bad': hash \\| invalid" in out
    assert "ignore me" not in out
    assert "**No restarts.**" not in out
    assert "**No restarts found**" in out


def test_table_cells_are_escaped():
    targets = [{"kind": "edas", "app_id": "a|b"}]
    out = summarize_preview(
        preview(step("update", "x|y", inputs(H1, targets), inputs(H2, targets)))
    )
    [line] = [line for line in out.splitlines() if line.startswith("| `")]
    assert line.startswith("| `x\\|y` | EDAS app a\\|b |")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("sha256:" + "0123456789abcdef" * 4, "0123456789ab"),
        ("v1", "v1"),
        ("x" * 40, "x" * 12 + "…"),
        (UNKNOWN, KNOWN_AFTER_APPLY),
        (None, "—"),
        ("[secret]", "[secret]"),
    ],
)
def test_short_hash(value, shown):
    assert short_hash(value) == shown


# -- input validation and the command line --------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "the input is a JSON list"),
        ({"resources": []}, 'no "steps" key (keys: resources)'),
        ({"steps": {"op": "same"}}, '"steps" must be a list'),
        ({"steps": [{"op": "same"}]}, '"steps" must be a list'),
    ],
)
def test_summarize_refuses_what_is_not_preview_json(data, message):
    with pytest.raises(PreviewFormatError, match="pulumi preview --json") as info:
        summarize_preview(data)
    assert message in str(info.value)


def test_steps_null_is_an_empty_preview():
    assert "**No restarts.**" in summarize_preview({"steps": None})


def test_main_reads_a_file_and_writes_markdown(capsys):
    assert main([str(FIXTURE)]) == 0
    out, err = capsys.readouterr()
    assert out == EXPECTED_MIXED
    assert err == ""


def test_main_reads_stdin(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(FIXTURE.read_text()))
    assert main([]) == 0
    assert capsys.readouterr().out == EXPECTED_MIXED


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("Previewing update (dev):\n", "is not JSON (Expecting value at line 1 column 1)"),
        ('{"stack": "dev"}', 'no "steps" key'),
    ],
)
def test_main_explains_bad_input_on_stderr(text, message, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert main(["-"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: stdin")
    assert message in err
    assert "pulumi preview --json" in err


def test_main_reports_a_missing_file(tmp_path, capsys):
    assert main([str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_ids_cannot_inject_images_links_html_or_terminal_escapes():
    hostile = "x|![t](http://203.0.113.9/p.png)|<b>y</b>\x1b[31m"
    step = {
        "op": "update",
        "urn": f"urn:pulumi:dev::restart-trigger::{TRIGGER_TYPE}::api",
        "oldState": {"inputs": {"hash": H1, "targets": [{"kind": "edas", "app_id": hostile}]}},
        "newState": {"inputs": {"hash": H2, "targets": [{"kind": "edas", "app_id": hostile}]}},
    }
    markdown = summarize_preview({"steps": [step]})
    row = next(line for line in markdown.splitlines() if line.startswith("| `api`"))
    assert row.count(" | ") == 4  # still five columns: no `|` from the id splits the row
    for raw in ("![t](", "<b>", "http://", "\x1b"):
        assert raw not in markdown, raw
    assert "&lt;b&gt;" in markdown and "\\[t\\]" in markdown and "\\x1b" in markdown


# -- hostile text, rendered as GitHub renders a comment -------------------------------------------
# markdown-it-py's CommonMark preset with GFM's tables and strikethrough: what GitHub parses.
# GitHub's mentions, issue references and emoji are found afterwards in the rendered text
# (outside <code>), and its URL autolinks in the parser's text runs: the checks below do both.
GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])
GITHUB_TEXT_LINKS = {
    "mention": re.compile(r"(?<![\w`])@[A-Za-z0-9-]+"),
    "issue reference": re.compile(r"(?<![\w&])#\d+"),
    "GH- reference": re.compile(r"\bGH-\d+", re.IGNORECASE),
    "repository reference": re.compile(r"[\w.-]+/[\w.-]+#\d+"),
    "emoji": re.compile(r":[\w+-]+:"),
}
URL_AUTOLINK = re.compile(r"(?:https?|ftp)://|\bwww\.", re.IGNORECASE)
HOSTILE = [
    "a``b<img src=https://x.example/p.png>",
    "@octocat",
    "#1",
    "org/repo#12",
    "GH-3",
    "~~a~~**b**",
    "_x_",
    "[l](https://e.example)",
    "![i](https://e.example/i.png)",
    "<script>",
    "a|b",
    "line\nbreak",
    "https://e.example",
    "www.e.example",
    "`",
    "a\\|b",
    "- item",
    "1. item",
    "# heading",
    "> quote",
    "&lt;b&gt; &#64;x",
    "$x^2$",
    ":tada:",
    "me@e.example",
    "x|![t](http://203.0.113.9/p.png)|<b>y</b>\x1b[31m",
]


def everywhere(text: str) -> dict[str, Any]:
    """A preview with ``text`` wherever the summary shows user text: the stack, a trigger's
    name (a table row and a list line), a target id, ECC ids, a hash, option values, a replace
    reason and an error message."""
    targets = [{"kind": "edas", "app_id": text, "ecc_ids": [text]}]
    web = [{"kind": "webplus", "env_id": text}]
    steps = [
        step("update", text, inputs(H1, targets), inputs(text, targets)),
        step("delete", f"gone {text}", inputs(), None),
        step("update", "q-opts", inputs(H1, web), inputs(H1, web, endpoint=text, region=text)),
        step("replace", "q-repl", inputs(), inputs(), replaceReasons=[text]),
    ]
    stack = text if ":" not in text else "dev"  # a colon would split the URN elsewhere
    for one in steps:  # the stack's name is the URN's
        one["urn"] = one["urn"].replace("urn:pulumi:dev::", f"urn:pulumi:{stack}::")
    diagnostics = [{"severity": "error", "message": f"error: {text}"}]
    return {"steps": steps, "diagnostics": diagnostics}


def tags(html: str) -> list[str]:
    """The document's element structure, code spans aside (a name may be escaped text)."""
    return [t for t in re.findall(r"</?[a-z][a-z0-9]*", html) if t.strip("</") != "code"]


def outside_code(html: str) -> str:
    """The rendered text GitHub would look for mentions and references in."""
    return unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<code>.*?</code>", " ", html, flags=re.S)))


def visible(html: str) -> str:
    """What a reader sees (the zero-width breakers are invisible)."""
    return unescape(re.sub(r"<[^>]+>", "", html)).replace("\u200b", "")


def parser_text_runs(markdown: str) -> list[str]:
    """The text runs the inline parser sees (entities and code spans apart): where GFM's URL
    and www autolinks are found."""
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"]).disable("text_join")
    runs = []
    for token in parser.parse(markdown):
        runs += [c.content for c in token.children or () if c.type == "text"]
    return runs


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_renders_inert_and_readable(text):
    markdown = summarize_preview(everywhere(text))
    html = GFM.render(markdown)
    benign = GFM.render(summarize_preview(everywhere("plain")))
    # The same document as for a plain id: no element, row, column, list or heading added.
    assert tags(html) == tags(benign), markdown
    for raw in ("<img", "<a ", "<script", "<del>", "<s>", "<em>", "<b>", "<h1", "<hr", "<ol"):
        assert raw not in html, (raw, markdown)
    assert html.count("<strong>") == benign.count("<strong>") == 1
    for run in parser_text_runs(markdown):
        assert not URL_AUTOLINK.search(run), (run, markdown)
    text_outside = outside_code(html)
    for what, pattern in GITHUB_TEXT_LINKS.items():
        assert not pattern.search(text_outside), (what, pattern.search(text_outside), markdown)
    # The reader still sees the text as written (control characters as escapes).
    shown = " ".join(escaped(text).split())
    [row] = re.findall(r"<tbody>\s*<tr>(.*?)</tr>", html, flags=re.S)
    cells = [visible(c) for c in re.findall(r"<td>(.*?)</td>", row, flags=re.S)]
    assert cells[:2] == [shown, f"EDAS app {shown}"]
    assert cells[2].startswith(f"ECC {shown}; ")
    [quote] = re.findall(r"<blockquote>(.*?)</blockquote>", html, flags=re.S)
    errors = [visible(li) for li in re.findall(r"<li>(.*?)</li>", quote, flags=re.S)]
    assert errors == [escaped(" ".join(text.split()))]  # a message's lines are joined first
    assert f"(stack {shown if ':' not in text else 'dev'})" in visible(html)
    assert f"gone {shown}: deleted" in visible(html)
    assert f"region unset → {shown}; endpoint unset → {shown}" in visible(html)
    assert f"{shown} changed" in visible(html)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("api", "`api`"),
        ("a`b", "``a`b``"),
        ("a``b<img src=https://x.example/p.png>", "```a``b<img src=https://x.example/p.png>```"),
        ("`a", "`` `a ``"),
        ("a``", "``` a`` ```"),
        ("@octocat #1", "`@octocat #1`"),
        ("line\nbreak", "`line\\nbreak`"),
    ],
)
def test_inline_code_fence_is_longer_than_any_backtick_run_inside(text, code):
    assert inline_code(text) == code
    shown = " ".join(escaped(text).split())
    assert GFM.render(code) == f"<p><code>{html_escape(shown, quote=False)}</code></p>\n"


def test_inline_code_in_a_table_cell_escapes_pipes_and_avoids_an_ambiguous_backslash():
    assert inline_code("a|b", cell=True) == "`a\\|b`"
    assert inline_code("a|b") == "`a|b`"  # outside a table a \ would be shown
    assert inline_code("a\\|b", cell=True) == escape_markdown("a\\|b") == "a\\\\\\|b"


@pytest.mark.parametrize(
    ("text", "markdown"),
    [
        ("restart_on_create", "restart_on_create"),  # intraword: no emphasis, left as it is
        ("_x_", "\\_x\\_"),
        ("~~a~~**b**", "\\~\\~a\\~\\~\\*\\*b\\*\\*"),
        ("@octocat", "@&#8203;octocat"),
        ("org/repo#12", "org/repo#&#8203;12"),
        ("GH-3", "GH-&#8203;3"),
        ("https://e.example", "https&#58;//e.example"),
        ("www.e.example", "www&#46;e.example"),
        ("<b>&amp;", "&lt;b&gt;&amp;amp;"),
        ("[l](u)", "\\[l\\](u)"),
        ("- x", "\\- x"),
        ("12) x", "12\\) x"),
    ],
)
def test_escape_markdown(text, markdown):
    assert escape_markdown(text) == markdown


# -- what an earlier update left to resolve ---------------------------------------------------
@pytest.mark.parametrize(
    ("record", "why"),
    [
        pytest.param(
            {
                "unknown_hash": H2,
                "unknown_snapshot": ["co-1"],
                "unknown_sent_at": "2026-12-03T01:49:32.000Z",
            },
            "outcome unknown, checked at up",
            id="outcome-unknown",
        ),
        pytest.param(
            {"unsettled_change_id": "co-2", "unsettled_hash": H2},
            "issued earlier, not seen to finish: waited for at up",
            id="unsettled",
        ),
        pytest.param(
            {"unknown_hash": H1, "unknown_snapshot": [], "unknown_sent_at": "2026-12-03T01:49Z"},
            "owed: the last rollout for this hash did not restart it",
            id="unknown-for-another-hash-is-plain-owed",
        ),
    ],
)
def test_a_target_an_earlier_up_left_unresolved_says_what_up_will_do_first(record, why):
    key = "edas:app-1"
    old = {**inputs(H2), "progress": {key: record}, "owed": [key]}
    markdown = summarize_preview(preview(step("update", "api", old, inputs(H2))))
    (row,) = rows(markdown)
    assert row[-1].startswith(why), row
    assert "**1 target would restart.**" in markdown


def test_an_unknown_outcome_is_said_when_the_state_still_holds_the_hash_before_it():
    # a failed `up` keeps its outputs (the unknown outcome) with the inputs of the `up` before
    key = "edas:app-1"
    record = {"unknown_hash": H2, "unknown_snapshot": [], "unknown_sent_at": "2026-12-03T01:49Z"}
    old = {**inputs(H1), "progress": {key: record}, "owed": [key]}
    (row,) = rows(summarize_preview(preview(step("update", "api", old, inputs(H2)))))
    assert row[-1].startswith("outcome unknown, checked at up"), row


# -- verification ------------------------------------------------------------------------------


URN = "urn:pulumi:dev::proj::pulumi-python:dynamic/restart:RestartTrigger::api"


SECRET = "probe-token-value-9c1d"


URL = "http://127.0.0.1:9/health"


TARGETS = [{"kind": "edas", "app_id": "a"}, {"kind": "edas", "app_id": "b"}]


VERIFY = {"http": [{"url": URL}], "cloud": False, "within": 30, "interval": 2, "successes": 1}


def test_the_preview_summary_says_verify_again_at_up_and_shows_what_is_verified():
    progress = {
        "edas:a": {"hash": "h2", "change_id": "co-1", "unverified_hash": "h2"},
        "edas:b": {"hash": "h1", "change_id": "co-0"},
    }
    verify = {**VERIFY, "http": [{"url": URL, "headers": {"Authorization": SECRET}}]}
    inputs = {"hash": "h2", "targets": TARGETS, "verify": verify}
    preview = {
        "steps": [
            {
                "op": "update",
                "urn": URN,
                "oldState": {
                    "inputs": inputs,
                    "outputs": {**inputs, "progress": progress, "owed": ["edas:a", "edas:b"]},
                },
                "newState": {"inputs": inputs},
            }
        ]
    }
    text = summarize_preview(preview)
    assert "**1 target would restart.**" in text
    assert "EDAS app b" in text and "verify GET http&#58;//127.0.0.1:9/health" in text
    assert "#### Verified again at up (no restart)" in text
    assert "- `api`: EDAS app a: verify again at up, no restart" in text
    assert SECRET not in text
