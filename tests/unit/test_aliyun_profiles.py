"""restart_trigger.aliyun.profiles: the profile modes docs/credentials.md documents ("Profile
modes") are the supported ones, in order."""

from __future__ import annotations

import re
from pathlib import Path

from restart_trigger.aliyun.profiles import SUPPORTED_PROFILE_MODES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "credentials.md"


def test_the_documented_profile_modes_are_the_supported_ones():
    text = DOC.read_text(encoding="utf-8")
    paragraph = text[text.index("Profile modes") :].split("\n\n")[0]
    assert tuple(re.findall(r"`(\w+)`\s+\(", paragraph)) == SUPPORTED_PROFILE_MODES
