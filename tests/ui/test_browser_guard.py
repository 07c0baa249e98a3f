"""Without Chromium the browser tests are skipped on a developer's machine, and fail in CI."""

from __future__ import annotations

import pytest
import ui_support


@pytest.mark.parametrize("ci, outcome", [("", pytest.skip.Exception), ("true", pytest.fail.Exception)])
def test_a_missing_browser_skips_or_fails_in_ci(monkeypatch, tmp_path, ci, outcome):
    # Given a machine without chromium-driver
    monkeypatch.setattr(ui_support, "browser_binaries", lambda: ("/usr/bin/chromium", None))
    monkeypatch.setenv("CI", ci)
    # Then starting a browser skips the test, or fails it when CI is set
    with pytest.raises(outcome, match="chromium-driver"):
        ui_support.make_driver(tmp_path)
