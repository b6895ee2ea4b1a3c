// The page's only way out: the Durable Functions HTTP API and the app's own routes, on this origin or on the
// app the connection settings name. Keys live in sessionStorage and travel in the x-functions-key header,
// never in a URL (URLs end up in logs and histories).

import { FINISHED, purgeQuery, runsQuery } from "./runs.js";

const STORE = window.sessionStorage;
const KEYS = { base: "monitor.base", system: "monitor.systemKey", fn: "monitor.functionKey",
  trace: "monitor.traceTemplate" };
export const DURABLE = "/runtime/webhooks/durabletask";
export const CONTINUATION = "x-ms-continuation-token";

export function settings() {
  return {
    base: (STORE.getItem(KEYS.base) || "").replace(/\/+$/, ""),
    systemKey: STORE.getItem(KEYS.system) || "",
    functionKey: STORE.getItem(KEYS.fn) || "",
    traceTemplate: STORE.getItem(KEYS.trace) || "",
  };
}

export function saveSettings(values) {
  for (const [name, key] of Object.entries({ base: KEYS.base, systemKey: KEYS.system, functionKey: KEYS.fn,
    traceTemplate: KEYS.trace })) {
    const value = (values[name] || "").trim();
    if (value) STORE.setItem(key, value); else STORE.removeItem(key);
  }
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function describe(response) {
  // Problem details, the extension's {Message}, or plain text: whatever says most, kept short.
  let text = "";
  try { text = await response.text(); } catch { /* no body */ }
  try {
    const body = JSON.parse(text);
    text = body.detail || body.Message || body.title || text;
  } catch { /* not JSON */ }
  return `HTTP ${response.status}${text ? ": " + String(text).slice(0, 300) : ""}`;
}

async function call(path, { method = "GET", headers = {}, body, durable = true } = {}) {
  const s = settings();
  const key = durable ? s.systemKey : (s.functionKey || s.systemKey);
  const all = { Accept: "application/json", ...headers };
  if (key) all["x-functions-key"] = key;
  let response;
  try {
    response = await fetch(s.base + path, { method, headers: all, body, cache: "no-store",
      credentials: "same-origin", referrerPolicy: "no-referrer" });
  } catch (error) {
    throw new ApiError(0, `Cannot reach ${s.base || "this host"}: ${error.message}`);
  }
  return response;
}

async function json(response) {
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export async function listRuns(filters, token, { input = true } = {}) {
  // The input carries the question the runs list shows; the hour's chart does without it.
  const q = runsQuery(filters);
  q.set("showInput", String(input));
  const response = await call(`${DURABLE}/instances?${q}`, { headers: token ? { [CONTINUATION]: token } : {} });
  if (!response.ok) throw new ApiError(response.status, await describe(response));
  // A cross-origin app must expose the header for paging to work; null then means "cannot tell".
  const next = response.headers.get(CONTINUATION);
  return { runs: (await json(response)) || [], next };
}

export async function getRun(id) {
  const q = "showHistory=true&showHistoryOutput=true&showInput=true";
  const response = await call(`${DURABLE}/instances/${encodeURIComponent(id)}?${q}`);
  if (response.status === 404) return null;
  if (!response.ok) throw new ApiError(response.status, await describe(response));
  return json(response);
}

async function act(path, method, body) {
  const headers = body === undefined ? {} : { "Content-Type": "application/json" };
  const response = await call(path, { method, headers, body });
  if (!response.ok) throw new ApiError(response.status, await describe(response));
  return json(response).catch(() => null);
}

export function terminate(id, reason) {
  const q = reason ? `?reason=${encodeURIComponent(reason)}` : "";
  return act(`${DURABLE}/instances/${encodeURIComponent(id)}/terminate${q}`, "POST");
}

// A purge by id deletes a running run wherever the extension predates 3.9.1 (Azure Storage deletes whatever
// exists), so the page first checks that the run has finished, and purges nothing else.
export async function purge(id) {
  const path = `${DURABLE}/instances/${encodeURIComponent(id)}`;
  const response = await call(`${path}?showInput=false`);
  if (response.status === 404) throw new ApiError(404, `HTTP 404: no run has the id ${id} (purged meanwhile?)`);
  if (!response.ok) throw new ApiError(response.status, await describe(response));
  const status = (await json(response)) || {};
  if (!FINISHED.includes(status.runtimeStatus)) {
    throw new ApiError(409, `Run ${id} is ${status.runtimeStatus || "not finished"}: only finished runs are purged.`);
  }
  return act(path, "DELETE");
}

// Every finished run created in the window; running runs are kept (runs.js purgeQuery says why).
export async function purgeFinished(from, to) {
  const response = await call(`${DURABLE}/instances?${purgeQuery(from, to)}`, { method: "DELETE" });
  if (response.status === 404) return { instancesDeleted: 0 }; // the extension's answer when nothing matched
  if (!response.ok) throw new ApiError(response.status, await describe(response));
  return json(response);
}

export function restart(id) {
  return act(`${DURABLE}/instances/${encodeURIComponent(id)}/restart`, "POST");
}

export function raiseEvent(id, name, data) {
  return act(`${DURABLE}/instances/${encodeURIComponent(id)}/raiseEvent/${encodeURIComponent(name)}`, "POST",
    JSON.stringify(data));
}

export async function feed(name) {
  const response = await call(`/api/monitor/${name}`, { durable: false });
  if (!response.ok) throw new ApiError(response.status, await describe(response));
  return json(response);
}

// This app's status route says whether a completed answer went stale (a re-index changed what it cited),
// and which newer run answers again; null when it did not, or when the route cannot say.
export async function staleness(id) {
  const response = await call(`/api/pipeline/${encodeURIComponent(id)}`, { durable: false });
  if (!response.ok) return null;
  const body = await json(response).catch(() => null);
  return (body && body.stale) || null;
}
