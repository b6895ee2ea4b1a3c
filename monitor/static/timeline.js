// A run's timeline from its Durable history: each activity attempt (scheduled → completed or failed), each
// durable timer (created → fired), with durations, drawn as a Gantt on the run's own clock.

import { formatMs, h } from "./dom.js";

const MARKER = /\[\[pipeline-error (\{.*?\})\]\]/;

// The texts of a failure: its reason and details (Azure Storage), then the messages and stack traces of its
// failure-details chain, which is all the Durable Task Scheduler keeps (either spelling: the extension's
// FailureDetails or the gRPC JSON's failureDetails).
function failureTexts(event) {
  const texts = [event.Reason, event.Details];
  let node = event.FailureDetails || event.failureDetails;
  for (let depth = 0; node && typeof node === "object" && depth < 10; depth += 1) {
    texts.push(node.ErrorMessage ?? node.errorMessage, node.StackTrace ?? node.stackTrace);
    node = node.InnerFailure ?? node.innerFailure;
  }
  return texts;
}

// The error kind an activity raised (the app's StepError marker), read from the failure's texts.
export function errorKind(event) {
  for (const text of failureTexts(event)) {
    if (typeof text !== "string") continue;
    const found = MARKER.exec(text) || MARKER.exec(text.replace(/\\"/g, '"'));
    if (found) {
      try { return JSON.parse(found[1]); } catch { /* try the next */ }
    }
  }
  return null;
}

function ms(text) {
  const value = Date.parse(text);
  return isNaN(value) ? null : value;
}

export function buildTimeline(history) {
  const rows = [];
  const tasks = new Map();
  const timers = new Map();
  const attempts = new Map();
  let start = null;
  let end = null;
  let lastFailure = null;
  for (const event of history || []) {
    const at = ms(event.Timestamp);
    switch (event.EventType) {
      case "ExecutionStarted": start = at; break;
      case "TaskScheduled": {
        const name = event.Name || event.FunctionName || "activity";
        const attempt = (attempts.get(name) || 0) + 1;
        attempts.set(name, attempt);
        const row = { kind: "activity", name, attempt, start: at, end: null, outcome: "running" };
        tasks.set(event.EventId, row);
        rows.push(row);
        break;
      }
      case "TaskCompleted": case "TaskFailed": {
        const row = tasks.get(event.TaskScheduledId);
        if (!row) break;
        row.end = at;
        row.outcome = event.EventType === "TaskCompleted" ? "completed" : "failed";
        if (row.outcome === "failed") {
          const error = errorKind(event);
          row.errorKind = error ? error.kind : "unknown";
          const first = failureTexts(event).find((text) => typeof text === "string" && text.trim());
          row.message = error ? error.message : String(first || "").split("\n")[0];
          lastFailure = row;
        }
        break;
      }
      case "TimerCreated": {
        const label = lastFailure ? `retry wait (${lastFailure.name})` : "timer";
        const row = { kind: "timer", name: label, start: at, end: null, fireAt: ms(event.FireAt),
          outcome: "waiting" };
        timers.set(event.EventId, row);
        rows.push(row);
        lastFailure = null;
        break;
      }
      case "TimerFired": {
        const row = timers.get(event.TimerId);
        if (row) { row.end = at; row.outcome = "fired"; }
        break;
      }
      case "ExecutionCompleted": case "ExecutionTerminated": case "ExecutionFailed": end = at; break;
      default: break;
    }
  }
  return { rows, start, end };
}

export function renderTimeline(container, history, now = Date.now()) {
  const { rows, start, end } = buildTimeline(history);
  if (!rows.length || start === null) {
    container.replaceChildren(h("p", { class: "empty" }, "No activity yet."));
    return;
  }
  const stop = Math.max(end || now, ...rows.map((r) => r.end || r.fireAt || now));
  const span = Math.max(1, stop - start);
  const list = h("ol", { class: "gantt", "aria-label": "Timeline" });
  for (const row of rows) {
    const finish = row.end || (row.kind === "timer" ? row.fireAt : null) || now;
    const duration = finish - row.start;
    const bar = h("span", { class: `bar ${row.kind} ${row.outcome}` });
    // CSSOM, not a style attribute: allowed under the page's Content-Security-Policy.
    bar.style.left = `${((row.start - start) / span) * 100}%`;
    bar.style.width = `${Math.max(0.4, (duration / span) * 100)}%`;
    const label = row.kind === "activity" ? `${row.name} · attempt ${row.attempt}` : row.name;
    const detail = row.outcome === "failed" ? `failed: ${row.errorKind}` : row.outcome;
    list.append(h("li", { class: `g-row ${row.kind} ${row.outcome}`, "data-kind": row.kind,
      "data-outcome": row.outcome, title: row.message || "" },
    h("span", { class: "g-label" }, label),
    h("span", { class: "g-track" }, bar),
    h("span", { class: "g-detail" }, `${detail} · ${formatMs(duration)}`),
    row.message ? h("span", { class: "g-message" }, row.message) : null));
  }
  container.replaceChildren(list);
}
