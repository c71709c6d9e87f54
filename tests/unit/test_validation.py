"""restart_trigger.validation: the loggers it makes show control characters as escapes."""

from __future__ import annotations


def test_client_log_lines_show_control_characters_as_escapes(caplog):
    from restart_trigger.aliyun import recovery

    with caplog.at_level("INFO", logger=recovery.__name__):
        recovery.log.info("accepted for %s: change %s", "app", "co-\x1b]0;pwned\x07")
    (record,) = caplog.records
    assert record.getMessage() == "accepted for app: change co-\\x1b]0;pwned\\x07"
