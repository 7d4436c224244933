"""Post-processing of the Snakemake HTML report: one rule-graph node per rule.

Snakemake's report draws its rule graph from the job DAG keeping one job *per rule and per
topological level* (``snakemake/report/rulegraph_spec.py``). A rule whose jobs sit at different
depths appears several times: ``train_cell`` three times, since LightGCN cells need only the
interactions, Visual/Textual cells an extraction and Dual cells an extraction plus the combine
step. ``merge_rule_graph`` rebuilds the graph with one node per rule (edges = the union of the
drawn ones, nodes ordered by their longest path from a source), and ``tidy_report`` rewrites a
report file in place. ``make demo`` runs it after ``snakemake --report``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vlmrec.utils.cli import add_documented_parser
from vlmrec.utils.io import atomic_path

# The template line is `var rulegraph_spec = {{rulegraph}};` with the spec as one-line JSON.
_SPEC = re.compile(r"(var rulegraph_spec = )(\{.*?\})(;\s*\n)", re.S)
_NODE_DATA, _LINKS, _DIRECT = "node-data", "link-data", "link-data-direct"


def _data(spec: dict[str, Any], name: str) -> list[dict[str, Any]]:
    for entry in spec.get("data", []):
        if entry.get("name") == name:
            return entry.setdefault("values", [])
    raise ValueError(f"rule graph spec has no data '{name}' (a Snakemake report of another version?)")


def _levels(rules: Iterable[str], edges: set[tuple[str, str]]) -> dict[str, int]:
    """Longest-path depth of every rule in the (acyclic) rule graph."""
    parents: dict[str, set[str]] = {rule: set() for rule in rules}
    for source, target in edges:
        parents[target].add(source)
    depth: dict[str, int] = {}

    def visit(rule: str, path: tuple[str, ...]) -> int:
        if rule in depth:
            return depth[rule]
        if rule in path:
            raise ValueError(f"rule graph has a cycle through '{rule}'")
        depth[rule] = max((visit(p, (*path, rule)) + 1 for p in parents[rule]), default=0)
        return depth[rule]

    for rule in parents:
        visit(rule, ())
    return depth


def merge_rule_graph(spec: dict[str, Any]) -> dict[str, Any]:
    """The rule-graph spec with one node per rule name (mutated and returned)."""
    nodes, links, direct = _data(spec, _NODE_DATA), _data(spec, _LINKS), _data(spec, _DIRECT)
    names = [node["rule"] for node in nodes]
    edges = {(names[link["source"]], names[link["target"]]) for link in [*links, *direct]}
    levels = _levels(dict.fromkeys(names), edges)
    order = sorted(levels, key=lambda rule: (levels[rule], rule))
    index = {rule: i for i, rule in enumerate(order)}
    x = nodes[0].get("fx", 10) if nodes else 10
    nodes[:] = [{"rule": rule, "fx": x, "fy": i * 50} for i, rule in enumerate(order)]
    links[:], direct[:] = [], []
    for source, target in sorted(edges, key=lambda e: (index[e[1]], index[e[0]])):
        link = {
            "target": index[target],
            "source": index[source],
            "sourcerule": source,
            "targetrule": target,
            "value": 1,
        }
        (direct if index[target] - index[source] == 1 else links).append(link)
    return spec


def tidy_report(path: str | Path) -> int:
    """Rewrite a `snakemake --report` HTML file with one rule-graph node per rule.

    Returns how many duplicate nodes were merged (0: nothing to do, the file is left as it is).
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    match = _SPEC.search(text)
    if match is None:
        raise ValueError(f"{path}: no rule graph found (not a Snakemake HTML report?)")
    spec = json.loads(match.group(2))
    before = len(_data(spec, _NODE_DATA))
    merged = merge_rule_graph(spec)
    removed = before - len(_data(merged, _NODE_DATA))
    if removed:
        new = match.group(1) + json.dumps(merged) + match.group(3)
        with atomic_path(path) as tmp:
            tmp.write_text(text[: match.start()] + new + text[match.end() :], encoding="utf-8")
    return removed


def rule_graph_rules(path: str | Path) -> list[str]:
    """The rule names of a report's rule graph, in drawing order (for tests and checks)."""
    match = _SPEC.search(Path(path).read_text(encoding="utf-8"))
    if match is None:
        raise ValueError(f"{path}: no rule graph found (not a Snakemake HTML report?)")
    return [node["rule"] for node in _data(json.loads(match.group(2)), _NODE_DATA)]


def _run(args: argparse.Namespace) -> int:
    removed = tidy_report(args.report)
    print(f"{args.report}: merged {removed} duplicate rule-graph node(s)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """`python -m vlmrec tidy-report results/report.html`."""
    helptext = "one rule-graph node per rule in a `snakemake --report` HTML file (in place)"
    parser = add_documented_parser(subparsers, "tidy-report", helptext, __doc__)
    parser.add_argument("report", type=Path, help="the report.html written by snakemake --report")
    parser.set_defaults(func=_run)
