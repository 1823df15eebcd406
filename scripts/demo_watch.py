#!/usr/bin/env python3
"""The demo's live view and its GitHub summary (used by scripts/demo.sh).

--namespace NS [--timeout S]: prints each new Event and a progress line whenever discovery, the demo BuildPlan or
the HealingPolicy change, until discovery is done and the plan has finished (or the timeout). Exits non-zero when
discovery did not complete.
--github-writes: reads github-sim's request log (JSON) on stdin and summarizes what the operator wrote to GitHub.
--plan-summary: reads a BuildPlan (JSON) on stdin and prints one row per repository, with the commands its build
ran with.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter

PLAN = "demo-build"
TERMINAL = {"Succeeded", "Failed", "Cancelled"}


def kubectl_json(namespace, what):
    out = subprocess.run(["kubectl", "get", what, "-n", namespace, "-o", "json"], capture_output=True, text=True)
    return json.loads(out.stdout)["items"] if out.returncode == 0 and out.stdout else []


def condition(obj, kind):
    for c in obj.get("status", {}).get("conditions", []):
        if c.get("type") == kind:
            return c
    return {}


def progress_line(orgs, plans, policies):
    parts = []
    for org in orgs:
        ready = condition(org, "Ready")
        count = org.get("status", {}).get("repositoryCount")
        parts.append(f"discovery: {ready.get('reason', 'starting')}" + (f", {count} repositories" if count else ""))
    for plan in plans:
        if plan["metadata"]["name"] != PLAN:
            continue
        status = plan.get("status", {})
        running = [r["name"] for r in status.get("repositories", []) if r.get("state") in ("Dispatching", "Queued", "Running")]
        line = f"build: {status.get('phase', 'waiting')} {status.get('progress', '')}".rstrip()
        if running:
            line += f" (running: {', '.join(sorted(running))})"
        parts.append(line)
    for policy in policies:
        actions = policy.get("status", {}).get("history", policy.get("status", {}).get("actions", []))
        if actions:
            parts.append(f"healing: {len(actions)} action(s)")
    return " | ".join(parts)


def operator_stopped(pid, log):
    """Whether the operator process `pid` has ended; if so, says so with the end of its log `log`."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
        # A child that ended but was not reaped yet still answers: read its state.
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().split(") ", 1)[1].startswith("Z"):
                raise ProcessLookupError
        return False
    except (ProcessLookupError, FileNotFoundError):
        print(f"the operator stopped; the end of {log}:", file=sys.stderr)
        try:
            with open(log) as lines:
                sys.stderr.writelines(lines.readlines()[-20:])
        except OSError:
            pass
        return True


def watch(namespace, timeout, operator_pid=None, operator_log=None):
    seen, last_line, started = set(), None, time.monotonic()
    synced_at = None
    while True:
        if operator_stopped(operator_pid, operator_log):
            return 1
        for event in sorted(kubectl_json(namespace, "events"), key=lambda e: e["metadata"].get("creationTimestamp", "")):
            uid = event["metadata"]["uid"]
            if uid in seen:
                continue
            seen.add(uid)
            regarding = event.get("regarding") or event.get("involvedObject") or {}
            # Each Repository becoming Ready is the progress line's news; its Events would drown the rest.
            if regarding.get("kind") == "Repository" and event.get("reason") in ("OrganizationFound", "Discovered"):
                continue
            note = (event.get("note") or event.get("message") or "").replace("\n", " ")
            mark = "!" if event.get("type") == "Warning" else " "
            print(f"  {mark} {regarding.get('kind', '?')}/{regarding.get('name', '?')}: {event.get('reason')}: {note[:150]}")
        orgs = kubectl_json(namespace, "organizations")
        plans = kubectl_json(namespace, "buildplans")
        line = progress_line(orgs, plans, kubectl_json(namespace, "healingpolicies"))
        if line != last_line:
            print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)
            last_line = line
        synced = any(condition(o, "Ready").get("reason") == "Synced" for o in orgs)
        if synced and synced_at is None:
            synced_at = time.monotonic()
        phase = next((p.get("status", {}).get("phase") for p in plans if p["metadata"]["name"] == PLAN), None)
        if synced and phase in TERMINAL:
            return 0
        if synced and phase is None and time.monotonic() - synced_at > 30:
            print("the BuildPlan has no phase after 30s: the BuildPlan controller did not pick it up")
            return 0
        if time.monotonic() - started > timeout:
            print(f"stopped watching after {timeout}s")
            return 0 if synced else 1
        time.sleep(2)


def is_graphql_query(r):
    query = (r.get("request_body") or {}).get("query") or ""
    return r["method"] == "POST" and r["path"] == "/graphql" and not query.lstrip().startswith("mutation")


def github_writes(log):
    writes = [r for r in log
              if r["method"] != "GET" and not r["path"].startswith("/app/") and not is_graphql_query(r)]
    kinds = Counter()
    for r in writes:
        path = r["path"]
        if path.endswith("/dispatches"):
            kinds["workflow dispatches"] += 1
        elif "/rerun" in path:
            kinds["re-runs of failed jobs"] += 1
        elif path.endswith("/cancel"):
            kinds["cancelled runs"] += 1
        elif path.endswith("/pulls") and r["method"] == "POST":
            kinds["pull requests opened"] += 1
        elif path.endswith("/issues") and r["method"] == "POST":
            kinds["issues opened"] += 1
        elif "/comments" in path:
            kinds["issue comments"] += 1
        elif "/git/" in path or "/contents/" in path:
            kinds["git writes (branches, commits)"] += 1
        else:
            kinds[f"{r['method']} other"] += 1
    counted = sum(1 for r in log if r.get("counted") and r["path"] != "/graphql")
    graphql = [r for r in log if r["path"] == "/graphql"]
    graphql_points = sum(r.get("points", 0) for r in graphql)
    print(f"What the operator did on GitHub: {len(log)} requests, {counted} of them counted against the primary rate "
          f"limit, {len(graphql)} GraphQL queries costing {graphql_points} points of the GraphQL budget; "
          f"{len(writes)} writes:")
    for kind, count in sorted(kinds.items()):
        print(f"  {count:4d}  {kind}")


def commands_sent(entry):
    """The build and test commands the entry's dispatch passed to its workflow, as the BuildPlan recorded them."""
    sent = [f"{what}: {entry[key]}" for what, key in (("build", "buildCommand"), ("test", "testCommand")) if entry.get(key)]
    if sent:
        return "; ".join(sent)
    return "-" if entry.get("attempts") else ""


def plan_summary(plan):
    status = plan.get("status", {})
    print(f"BuildPlan {plan['metadata']['name']}: {status.get('phase', 'not started')} {status.get('progress', '')}")
    rows = [("REPOSITORY", "STATE", "ATTEMPTS", "SECONDS", "COMMANDS SENT", "WHY / RUN")]
    for entry in status.get("repositories", []):
        why = entry.get("reason") or entry.get("runUrl") or ""
        seconds = entry.get("durationSeconds")
        rows.append((entry["name"], entry.get("state", ""), str(entry.get("attempts", 0)),
                     "" if seconds is None else str(seconds), commands_sent(entry)[:70], why[:90]))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5])
    print("COMMANDS SENT: the build_command / test_command inputs of the latest dispatch. '-': none sent, because the "
          "workflow does not declare them, discovery had not read its inputs yet, or no command is known; the run "
          "used what its workflow holds.")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespace")
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--github-writes", action="store_true")
    parser.add_argument("--plan-summary", action="store_true")
    parser.add_argument("--operator-pid", type=int, help="stop at once, with its log's end, when it ends")
    parser.add_argument("--operator-log")
    args = parser.parse_args()
    if args.plan_summary:
        plan_summary(json.load(sys.stdin))
        return 0
    if args.github_writes:
        github_writes(json.load(sys.stdin))
        return 0
    return watch(args.namespace, args.timeout, args.operator_pid, args.operator_log)


if __name__ == "__main__":
    sys.exit(main())
