// What the runs list asks for and how it orders what comes back. Kept apart from the page so it can be
// checked without a browser.
//
// Azure Storage pages instance lists in instance-id order (the table's partition key), not newest first as the
// local host does, and App Service CORS hides x-ms-continuation-token from a page on another origin. Against a
// deployed app the first page would hold the lowest ids of all time; so the list asks for a recent window by
// default (createdTimeFrom) and sorts each page newest first itself.

export const WINDOWS = { "1h": 3600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000, any: null };
export const DEFAULT_WINDOW = "24h";
export const FINISHED = ["Completed", "Failed", "Terminated"];

export function defaultFilters() {
  return { top: 25, statuses: [], window: DEFAULT_WINDOW, from: "", to: "", prefix: "" };
}

// The start of the list's creation-time window: an explicit "from", else the relative window, else none.
export function windowStart(filters, now = Date.now()) {
  if (filters.from) return filters.from;
  const span = WINDOWS[filters.window];
  return span ? new Date(now - span).toISOString() : "";
}

export function runsQuery(filters, now = Date.now()) {
  const q = new URLSearchParams({ top: String(filters.top || 25), showInput: "false" });
  if (filters.statuses && filters.statuses.length) q.set("runtimeStatus", filters.statuses.join(","));
  const from = windowStart(filters, now);
  if (from) q.set("createdTimeFrom", from);
  if (filters.to) q.set("createdTimeTo", filters.to);
  if (filters.prefix) q.set("instanceIdPrefix", filters.prefix);
  return q;
}

export function newestFirst(runs) {
  const created = (run) => {
    const value = Date.parse(run.createdTime);
    return isNaN(value) ? -Infinity : value;
  };
  return [...runs].sort((a, b) => created(b) - created(a) || String(b.instanceId).localeCompare(String(a.instanceId)));
}

// The query of a filtered purge. Azure Storage keeps only the finished statuses of runtimeStatus and, with none
// named, purges running runs too; so this page always names the finished ones (and purges nothing by filter
// without a window start, which the extension refuses anyway).
export function purgeQuery(from, to) {
  if (!from) throw new Error("A purge needs the start of its creation-time window.");
  const q = new URLSearchParams({ createdTimeFrom: from, runtimeStatus: FINISHED.join(",") });
  if (to) q.set("createdTimeTo", to);
  return q;
}
