"""Hand-written report sections survive a regenerated docs/benchmarks.md."""

from __future__ import annotations

from bench.report import kept_sections


def test_kept_sections_are_carried_over_and_nothing_else() -> None:
    old = (
        "# generated\n| a | b |\n"
        "<!-- kept: durable-write-path -->\n## Durable write path\nfigures\n<!-- /kept: durable-write-path -->\n"
        "## generated again\n"
        "<!-- kept: other -->\nmore\n<!-- /kept: other -->"
    )
    kept = kept_sections(old)
    assert kept.startswith("<!-- kept: durable-write-path -->\n## Durable write path\nfigures\n")
    assert "generated" not in kept and kept.count("<!-- /kept:") == 2 and kept.endswith("-->\n")
    assert kept_sections("# no kept sections\n") == ""
