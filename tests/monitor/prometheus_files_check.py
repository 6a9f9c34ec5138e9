#!/usr/bin/env python3
"""Check deploy/prometheus and deploy/grafana with promtool.

  * promtool check rules alerts.yml
  * promtool test rules alerts_test.yml (the rules fire on synthetic series)
  * promtool check config on a copy of prometheus.yml next to alerts.yml
  * every PromQL expression of deploy/grafana/edgeroute.json parses (Grafana's
    variables replaced by plain values), and every panel uses the
    ${DS_PROMETHEUS} input

Exit codes: 0 pass, 1 fail, 77 skipped (no promtool), for ctest.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m", "$instance": ".*"}


def run(cmd, cwd):
    result = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} (in {cwd}) exited {result.returncode}:\n{result.stdout}")
    return result.stdout


def grafana_rules(dashboard_path):
    """A recording-rule file holding every query of the dashboard."""
    with open(dashboard_path) as f:
        dashboard = json.load(f)
    if [i.get("name") for i in dashboard.get("__inputs", [])] != ["DS_PROMETHEUS"]:
        raise RuntimeError(f"{dashboard_path}: __inputs must declare DS_PROMETHEUS alone")
    rules = []
    for panel in dashboard["panels"]:
        if panel.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            raise RuntimeError(f"{dashboard_path}: panel {panel.get('title')!r} does not use ${{DS_PROMETHEUS}}")
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(name, value)
            rules.append({"record": f"grafana:panel{panel['id']}:{target['refId']}", "expr": expr})
    if not rules:
        raise RuntimeError(f"{dashboard_path}: no queries")
    return {"groups": [{"name": "grafana_queries", "rules": rules}]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deploy", required=True, help="the repository's deploy/ folder")
    parser.add_argument("--promtool", default=shutil.which("promtool"))
    args = parser.parse_args()
    if not args.promtool:
        print("SKIP: no promtool on PATH: install the Debian package prometheus", file=sys.stderr)
        return SKIP
    prom_dir = os.path.join(args.deploy, "prometheus")
    work = tempfile.mkdtemp(prefix="edgeroute-promtool-")
    try:
        print(run([args.promtool, "check", "rules", "alerts.yml"], prom_dir))
        print(run([args.promtool, "test", "rules", "alerts_test.yml"], prom_dir))
        for name in ("prometheus.yml", "alerts.yml"):
            shutil.copy(os.path.join(prom_dir, name), work)
        print(run([args.promtool, "check", "config", "prometheus.yml"], work))
        # JSON is YAML, so promtool reads this file as it is.
        with open(os.path.join(work, "grafana_queries.yml"), "w") as f:
            json.dump(grafana_rules(os.path.join(args.deploy, "grafana", "edgeroute.json")), f, indent=1)
        print(run([args.promtool, "check", "rules", "grafana_queries.yml"], work))
    except RuntimeError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
