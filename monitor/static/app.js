// The monitor page: views (runs, one run, dead letters, undelivered events), live polling, and actions.

import * as api from "./api.js";
import { renderChart, lastHour } from "./chart.js";
import { byId, formatMs, formatTime, h, pretty, replace } from "./dom.js";
import { defaultFilters, FINISHED, newestFirst, windowStart } from "./runs.js";
import { buildTimeline, renderTimeline } from "./timeline.js";

const POLL_MS = 2000;
const CHART_MS = 30000;
const RUNNING = new Set(["Pending", "Running", "ContinuedAsNew", "Suspended"]);

const state = { filters: defaultFilters(), tokens: [null], page: 0, next: null, timer: null,
  chartAt: 0, view: "runs", runId: null, run: null };

function banner(message) {
  const el = byId("banner");
  if (!message) { el.hidden = true; el.textContent = ""; return; }
  el.hidden = false;
  el.textContent = message;
}

function fail(error) {
  banner(error instanceof Error ? error.message : String(error));
}

// -- runs ----------------------------------------------------------------------------------------------------
function custom(run) {
  return run.customStatus && typeof run.customStatus === "object" ? run.customStatus : {};
}

function duration(run) {
  const end = RUNNING.has(run.runtimeStatus) ? Date.now() : Date.parse(run.lastUpdatedTime);
  return end - Date.parse(run.createdTime);
}

function questionOf(run) {
  const input = run.input && typeof run.input === "object" ? run.input : {};
  return input.question && typeof input.question === "object" ? input.question.question : input.question;
}

const QUESTION_CHARS = 80;

function durationCell(run) {
  // The status times are whole seconds: a completed run's own elapsed_ms (acceptance to answer, in ms) is
  // the precise figure; anything else is marked as approximate rather than shown as "0 ms".
  const out = run.output && typeof run.output === "object" ? run.output : {};
  if (typeof out.elapsed_ms === "number") return h("td", { class: "num" }, formatMs(out.elapsed_ms));
  return h("td", { class: "num", title: "from whole-second status times" }, `≈ ${formatMs(duration(run))}`);
}

function runRow(run) {
  const cs = custom(run);
  const step = cs.step ? `${cs.step}${cs.attempt ? " · " + cs.attempt : ""}${cs.failed ? " (failed)" : ""}` : "–";
  const question = typeof questionOf(run) === "string" ? questionOf(run) : "";
  const short = question.length > QUESTION_CHARS ? `${question.slice(0, QUESTION_CHARS - 1)}…` : question;
  return h("tr", { "data-instance": run.instanceId },
    h("td", {}, h("a", { href: `#/run/${encodeURIComponent(run.instanceId)}`, class: "mono" }, run.instanceId)),
    h("td", { class: "question", title: question || null }, short || "–"),
    h("td", {}, h("span", { class: `status s-${String(run.runtimeStatus).toLowerCase()}` }, run.runtimeStatus)),
    h("td", {}, step, cs.retries
      ? h("span", { class: "retries", title: "failed attempts retried, over all steps" }, ` · retried ${cs.retries}×`)
      : null),
    h("td", {}, formatTime(run.createdTime)),
    h("td", {}, formatTime(run.lastUpdatedTime)),
    durationCell(run));
}

function readFilters() {
  const form = byId("filters");
  const data = new FormData(form);
  const iso = (value) => (value ? new Date(value).toISOString() : "");
  return { statuses: data.getAll("status"), window: String(data.get("window") || "any"), from: iso(data.get("from")),
    to: iso(data.get("to")), prefix: String(data.get("prefix") || "").trim(), top: Number(data.get("top") || 25) };
}

async function loadRuns() {
  try {
    const token = state.tokens[state.page];
    const { runs, next } = await api.listRuns(state.filters, token);
    state.next = next;
    // A deployed app on Azure Storage answers in instance-id order: each page is put newest first here.
    byId("runs").tBodies[0].replaceChildren(...newestFirst(runs).map(runRow));
    byId("runs-empty").hidden = runs.length > 0;
    byId("next-page").disabled = !next;
    byId("first-page").disabled = state.page === 0;
    const unknown = next === null && runs.length >= state.filters.top;
    byId("page-info").textContent = `Page ${state.page + 1}` + (unknown
      ? " · the app does not expose x-ms-continuation-token to this origin, so later pages cannot be read" : "");
    banner(null);
  } catch (error) {
    fail(error);
  }
  if (Date.now() - state.chartAt > CHART_MS) {
    state.chartAt = Date.now();
    lastHour().then((runs) => renderChart(byId("chart-runs"), byId("chart-steps"), runs)).catch(fail);
  }
}

// -- one run -------------------------------------------------------------------------------------------------
function fact(name, ...value) {
  return [h("dt", {}, name), h("dd", {}, ...value)];
}

function traceId(run) {
  const tp = run.input && typeof run.input === "object" ? run.input.traceparent : null;
  const found = typeof tp === "string" ? /^[0-9a-f]{2}-([0-9a-f]{32})-/.exec(tp) : null;
  return found ? found[1] : null;
}

function traceLink(id) {
  const template = api.settings().traceTemplate;
  if (!template) return h("code", {}, id);
  const url = template.replace("{traceId}", encodeURIComponent(id));
  return /^https?:\/\//.test(url) ? h("a", { href: url, rel: "noreferrer noopener", target: "_blank" }, id)
    : h("code", {}, id);
}

function publishedEvents(run) {
  // The publish step's result names the CloudEvent it sent (id, type, destination); a completed run's
  // event carries the result as data.
  const history = run.historyEvents || [];
  const scheduled = new Map(history.filter((e) => e.EventType === "TaskScheduled").map((e) => [e.EventId, e]));
  const events = [];
  for (const e of history) {
    if (e.EventType !== "TaskCompleted") continue;
    const task = scheduled.get(e.TaskScheduledId);
    const result = e.Result;
    if (!task || task.Name !== "publish_result" || !result || typeof result !== "object") continue;
    events.push({ specversion: "1.0", id: result.event_id, type: result.type, subject: `pipeline/${run.instanceId}`,
      destination: result.destination, time: e.Timestamp,
      data: run.runtimeStatus === "Completed" ? run.output : custom(run) });
  }
  return events;
}

// The source, with its page (or slide, for a deck) when it is paginated.
function citationPlace(c) {
  const source = c.source || "";
  if (!c.page) return source;
  return `${source}, ${/\.pptx$/i.test(source) ? "slide" : "page"} ${c.page}`;
}

function renderAnswer(run) {
  const out = run.output;
  const el = byId("run-answer");
  if (run.runtimeStatus !== "Completed" || !out || typeof out !== "object") {
    replace(el, h("p", { class: out ? "error-text" : "muted" },
      out ? pretty(out) : (RUNNING.has(run.runtimeStatus) ? "Not answered yet." : "No answer.")));
    return;
  }
  const citations = (out.citations || []).map((c, i) => h("li", {},
    h("strong", {}, `[${i + 1}] ${c.title || c.id}`), " ", h("span", { class: "muted" }, citationPlace(c)),
    h("blockquote", {}, c.quote || "")));
  replace(el, h("p", { class: "answer" }, out.answer || ""),
    citations.length ? h("ol", { class: "citations" }, citations) : h("p", { class: "muted" }, "No citations."));
}

// A run started by `pipeline index --reanswer` answers a stale run's question again: link back to it.
function supersedesFact(run) {
  const old = ((run.output || {}).metadata || {}).supersedes;
  return typeof old === "string" && old
    ? fact("Supersedes", h("a", { href: `#/run/${encodeURIComponent(old)}`, class: "mono" }, old)) : [];
}

async function renderStale(run) {
  const el = byId("run-stale");
  if (run.runtimeStatus !== "Completed") { el.hidden = true; return; }
  const stale = await api.staleness(run.instanceId).catch(() => null);
  if (!state.run || state.run.instanceId !== run.instanceId) return;
  el.hidden = !stale;
  if (!stale) return;
  const newer = stale.superseded_by
    ? [" Answered again as ", h("a", { href: `#/run/${encodeURIComponent(stale.superseded_by)}`, class: "mono" },
      stale.superseded_by), "."]
    : [" Re-index with --reanswer to ask again."];
  replace(el, h("strong", {}, "Stale: "),
    `${stale.sources.join(", ")} changed since this answer (${formatTime(stale.detected_at)}).`, ...newer);
}

function historyDuration(run) {
  // The history's timestamps have milliseconds; the status times only whole seconds.
  const { start, end } = buildTimeline(run.historyEvents);
  if (start === null) return duration(run);
  return (end ?? (RUNNING.has(run.runtimeStatus) ? Date.now() : Date.parse(run.lastUpdatedTime))) - start;
}

function renderRun(run) {
  state.run = run;
  byId("run-empty").hidden = true;
  byId("run-body").hidden = false;
  byId("run-question").textContent = questionOf(run) || pretty(run.input ?? "–");
  const trace = traceId(run);
  replace(byId("run-facts"),
    ...fact("Status", h("span", { class: `status s-${String(run.runtimeStatus).toLowerCase()}` },
      run.runtimeStatus)),
    ...fact("Orchestrator", run.name),
    ...fact("Created", formatTime(run.createdTime)),
    ...fact("Updated", formatTime(run.lastUpdatedTime)),
    ...fact("Duration", formatMs(historyDuration(run))),
    ...(typeof (run.output || {}).confidence === "number"
      ? fact("Confidence", run.output.confidence.toFixed(2)) : []),
    ...(trace ? fact("Trace", traceLink(trace)) : []),
    ...supersedesFact(run));
  renderAnswer(run);
  renderStale(run);
  renderTimeline(byId("timeline"), run.historyEvents);
  const events = publishedEvents(run);
  replace(byId("run-events"), events.length
    ? events.map((e) => h("pre", { class: "event" }, pretty(e)))
    : h("p", { class: "muted" }, "None published yet."));
  byId("run-custom").textContent = pretty(run.customStatus ?? null);
  const running = RUNNING.has(run.runtimeStatus);
  document.querySelector('[data-action="terminate"]').disabled = !running;
  document.querySelector('[data-action="raise"]').disabled = !running;
  document.querySelector('[data-action="purge"]').disabled = running;
}

async function loadRun() {
  const id = state.runId;
  byId("run-id").textContent = id;
  // Another run's details never stand under this id while it loads.
  if (state.run && state.run.instanceId !== id) byId("run-body").hidden = true;
  try {
    const run = await api.getRun(id);
    if (id !== state.runId) return;
    if (!run) {
      state.run = null;
      byId("run-body").hidden = true;
      const empty = byId("run-empty");
      empty.hidden = false;
      replace(empty, "No run has the id ", h("code", {}, id), ". It may have been purged, or never started.");
    } else {
      renderRun(run);
    }
    banner(null);
  } catch (error) {
    fail(error);
  }
}

// -- actions -------------------------------------------------------------------------------------------------
function confirmDialog(title, text, fields = []) {
  const dialog = byId("confirm");
  byId("confirm-title").textContent = title;
  byId("confirm-text").textContent = text;
  replace(byId("confirm-fields"), fields);
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

const ACTIONS = {
  async terminate(id) {
    const reason = h("input", { id: "terminate-reason", type: "text", value: "terminated from the monitor" });
    if (!(await confirmDialog("Terminate this run?", `Run ${id} stops at once; its current step is abandoned.`,
      [h("label", {}, "Reason ", reason)]))) return null;
    await api.terminate(id, reason.value);
    return `Termination of ${id} requested.`;
  },
  async purge(id) {
    if (!(await confirmDialog("Purge this run?", `Run ${id} and its history are deleted for good.`))) return null;
    const result = await api.purge(id);
    location.hash = "#/";
    return `Purged ${result && result.instancesDeleted} run(s).`;
  },
  async restart(id) {
    if (!(await confirmDialog("Restart this run?", `A new run of the same question as ${id} starts.`))) return null;
    const links = await api.restart(id);
    if (links && links.id) location.hash = `#/run/${encodeURIComponent(links.id)}`;
    return `Started ${links && links.id}.`;
  },
  async raise(id) {
    const name = h("input", { id: "event-name", type: "text", required: true, pattern: "[A-Za-z0-9_.-]+" });
    const data = h("textarea", { id: "event-data", rows: 3 }, "null");
    if (!(await confirmDialog("Raise an event", `Send an external event to ${id}.`,
      [h("label", {}, "Event name ", name), h("label", {}, "Data (JSON) ", data)]))) return null;
    let value;
    try { value = JSON.parse(data.value); } catch (error) { throw new Error(`The data is not JSON: ${error.message}`); }
    await api.raiseEvent(id, name.value, value);
    return `Event ${name.value} raised.`;
  },
};

async function runAction(action) {
  const id = state.runId;
  try {
    const message = await ACTIONS[action](id);
    if (message) { banner(null); byId("page-info").textContent = message; }
    await refresh();
  } catch (error) {
    fail(error);
  }
}

// A filtered purge takes the list's creation-time window and always names the finished statuses: with no
// finished status named, Azure Storage would purge the running runs of the window too.
async function purgeFinishedRuns() {
  const from = windowStart(state.filters);
  if (!from) { fail(new Error("Choose a window or a \"Created from\" time first: a purge needs a start.")); return; }
  const to = state.filters.to || new Date().toISOString();
  if (!(await confirmDialog("Purge finished runs?", `Every ${FINISHED.join(", ")} run created from ` +
    `${formatTime(from)} to ${formatTime(to)} is deleted for good, whatever the other filters say. ` +
    "Running runs are kept."))) return;
  try {
    const result = await api.purgeFinished(from, to);
    banner(null);
    byId("page-info").textContent = `Purged ${result && result.instancesDeleted} finished run(s).`;
    state.page = 0; state.tokens = [null];
    await loadRuns();
  } catch (error) {
    fail(error);
  }
}

// -- feeds ---------------------------------------------------------------------------------------------------
function table(headers, rows) {
  return h("div", { class: "table-wrap" }, h("table", { class: "runs" },
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows)));
}

// The original body as the producer sent it. A rejected message's envelope carries it as {"text": "<body>"}
// (or {"base64": ...} when it is not UTF-8): the text is unwrapped and, when it is JSON, shown as JSON, so its
// quotes are not shown escaped twice.
function bodyText(body) {
  let value = body ?? "";
  for (let depth = 0; depth < 3; depth++) {
    if (value && typeof value === "object" && Object.keys(value).length === 1 && typeof value.text === "string") {
      value = value.text;
    }
    if (typeof value !== "string") break;
    try { value = JSON.parse(value); } catch { break; }
  }
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

// The local queue records epoch seconds; Service Bus an ISO time.
function epochOrIso(value) {
  return typeof value === "number" ? new Date(value * 1000).toISOString() : value;
}

async function loadFeed(name, containerId) {
  const container = byId(containerId);
  try {
    const feed = await api.feed(name);
    banner(null);
    if (feed.available === false) { replace(container, h("p", { class: "empty" }, feed.detail || "Not available.")); return; }
    const items = feed.items || [];
    // A queue the app could not peek (on Azure: a missing role, a missing queue) is named, not hidden.
    const errors = (feed.errors || []).map((e) =>
      h("p", { class: "error-text" }, `Could not read ${e.queue}: ${e.error}`));
    if (!items.length) { replace(container, errors, h("p", { class: "empty" }, "None.")); return; }
    if (name === "dead-letters") {
      replace(container, errors, table(["Message", "When", "Queue", "Reason", "Description", "Original body"],
        items.map((d) => h("tr", {}, h("td", { class: "mono" }, d.message_id || "–"),
          h("td", {}, formatTime(epochOrIso(d.dead_lettered_at))), h("td", {}, d.queue || ""),
          h("td", {}, d.reason || ""), h("td", {}, d.description || ""),
          h("td", {}, h("pre", { class: "body" }, bodyText(d.body)))))));
    } else {
      replace(container, table(["Event", "Webhook", "Reason", "Attempts", "When"], items.map((u) =>
        h("tr", {}, h("td", {}, h("pre", {}, pretty(u.event ?? ""))), h("td", { class: "mono" }, u.url || ""),
          h("td", {}, u.reason || ""), h("td", { class: "num" }, String(u.attempts ?? "")),
          h("td", {}, formatTime(u.dead_at))))));
    }
  } catch (error) {
    replace(container, h("p", { class: "empty" }, "Could not load this list."));
    fail(error);
  }
}

// -- routing and polling -------------------------------------------------------------------------------------
function route() {
  const hash = location.hash || "#/";
  const match = /^#\/run\/(.+)$/.exec(hash);
  state.view = match ? "run" : hash === "#/dead-letters" ? "dead-letters" : hash === "#/undelivered"
    ? "undelivered" : "runs";
  state.runId = match ? decodeURIComponent(match[1]) : null;
  for (const view of ["runs", "run", "dead-letters", "undelivered"]) byId(`view-${view}`).hidden = view !== state.view;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === state.view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  refresh();
}

async function refresh() {
  clearTimeout(state.timer);
  if (state.view === "runs") await loadRuns();
  else if (state.view === "run") await loadRun();
  else if (state.view === "dead-letters") await loadFeed("dead-letters", "dead-letters");
  else await loadFeed("undelivered-events", "undelivered");
  schedule();
}

function schedule() {
  clearTimeout(state.timer);
  const live = byId("live").checked && !document.hidden && !byId("confirm").open;
  const runningRun = state.view === "run" && state.run && RUNNING.has(state.run.runtimeStatus);
  // The list refreshes on its first page only: later pages are a snapshot the user is reading.
  if (live && ((state.view === "runs" && state.page === 0) || runningRun)) {
    state.timer = setTimeout(refresh, POLL_MS);
  }
}

function showConnection() {
  const s = api.settings();
  byId("base-url").value = s.base;
  byId("system-key").value = s.systemKey;
  byId("function-key").value = s.functionKey;
  byId("trace-template").value = s.traceTemplate;
  byId("connection-label").textContent = s.base || "this host";
}

function wire() {
  byId("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.filters = readFilters();
    state.tokens = [null];
    state.page = 0;
    state.chartAt = 0;
    refresh();
  });
  byId("next-page").addEventListener("click", () => {
    if (!state.next) return;
    state.tokens[state.page + 1] = state.next;
    state.page += 1;
    refresh();
  });
  byId("first-page").addEventListener("click", () => { state.page = 0; state.tokens = [null]; refresh(); });
  byId("purge-finished").addEventListener("click", purgeFinishedRuns);
  byId("live").addEventListener("change", schedule);
  document.addEventListener("visibilitychange", schedule);
  for (const button of document.querySelectorAll("[data-action]")) {
    button.addEventListener("click", () => runAction(button.dataset.action));
  }
  byId("copy-id").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(state.runId || "");
      byId("copy-id").textContent = "Copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(byId("run-id"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      byId("copy-id").textContent = "Selected: press Ctrl+C";
    }
    setTimeout(() => { byId("copy-id").textContent = "Copy id"; }, 2000);
  });
  byId("connection-form").addEventListener("submit", (event) => {
    event.preventDefault();
    api.saveSettings({ base: byId("base-url").value, systemKey: byId("system-key").value,
      functionKey: byId("function-key").value, traceTemplate: byId("trace-template").value });
    showConnection();
    state.tokens = [null]; state.page = 0; state.chartAt = 0;
    refresh();
  });
  byId("connection-clear").addEventListener("click", () => {
    api.saveSettings({});
    showConnection();
    refresh();
  });
  window.addEventListener("hashchange", route);
}

showConnection();
wire();
route();
