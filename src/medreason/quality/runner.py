"""Run a Great Expectations suite on a DataFrame: a JSON summary, HTML data docs, and a readable failure."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ValidationFailed(RuntimeError):
    """A dataset broke its suite; the message lists each failed expectation and how many rows broke it."""

    def __init__(self, summary: dict[str, Any]):
        self.summary = summary
        lines = [f"dataset {summary['suite']!r} failed {summary['failed']} of {summary['evaluated']} expectations:"]
        for label, r in summary["results"].items():
            if not r["success"]:
                lines.append(f"  - {label}: {r['unexpected_count']} row(s) unexpected, e.g. {r['examples']}"
                             + (f", observed {r['observed']}" if "observed" in r else ""))
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Check:
    """One expectation: a Great Expectations class name (ExpectColumnValuesToBeUnique) and its arguments."""

    expectation: str
    kwargs: dict[str, Any]


def run_suite(name: str, frame, checks: list[Check], docs_dir: str | Path | None = None) -> dict[str, Any]:
    """Validate ``frame`` against ``checks``; return the summary (raise nothing: see ``require``)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    if docs_dir is not None:
        context.add_data_docs_site(site_name="local", site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(Path(docs_dir).resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    batch_def = context.data_sources.add_pandas(name).add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for c in checks:
        suite.add_expectation(getattr(gx.expectations, c.expectation)(**c.kwargs))
    vd = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_def, suite=suite))
    actions = [gx.checkpoint.UpdateDataDocsAction(name="docs")] if docs_dir is not None else []
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=name, validation_definitions=[vd], actions=actions, result_format={"result_format": "SUMMARY"}))
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    (validation,) = run.run_results.values()
    results = {}
    for r in validation.results:
        cfg = r.expectation_config
        label = cfg.type + (f"({cfg.kwargs['column']})" if "column" in cfg.kwargs else "")
        results[label] = {
            "success": bool(r.success),
            "unexpected_count": int(r.result.get("unexpected_count") or 0),
            "examples": [_plain(v) for v in (r.result.get("partial_unexpected_list") or [])[:5]],
        }
        if r.result.get("observed_value") is not None:
            results[label]["observed"] = _plain(r.result["observed_value"])
    failed = sum(not r["success"] for r in results.values())
    return {"suite": name, "rows": len(frame), "success": failed == 0, "evaluated": len(results),
            "failed": failed, "results": results}


def require(summary: dict[str, Any]) -> None:
    if not summary["success"]:
        raise ValidationFailed(summary)


def _plain(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
