// The last hour at a glance: runs started per minute (an SVG bar chart) and p50/p95 per step, from the
// per-step timings completed runs report in their output.

import { listRuns } from "./api.js";
import { formatMs, h, replace, svg } from "./dom.js";

const MAX_PAGES = 10; // 10 pages of 1,000: enough for an hour of a busy local host, bounded for a deployed one

export async function lastHour(now = Date.now()) {
  const from = new Date(now - 3600_000).toISOString();
  const runs = [];
  let token = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await listRuns({ top: 1000, from }, token, { input: false });
    runs.push(...result.runs);
    token = result.next;
    if (!token) break;
  }
  return runs;
}

// Below this many samples a p95 is just the slowest run (often the cold first one): it is not shown.
export const MIN_P95_SAMPLES = 20;

export function quantile(sorted, q) {
  if (!sorted.length) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}

export function summarise(runs, now = Date.now()) {
  const perMinute = new Array(60).fill(0);
  const steps = new Map();
  for (const run of runs) {
    const age = Math.floor((now - Date.parse(run.createdTime)) / 60000);
    if (age >= 0 && age < 60) perMinute[59 - age] += 1;
    const timings = run.output && typeof run.output === "object" ? run.output.timings_ms : null;
    for (const [step, value] of Object.entries(timings || {})) {
      if (typeof value !== "number") continue;
      if (!steps.has(step)) steps.set(step, []);
      steps.get(step).push(value);
    }
  }
  const stepRows = [...steps.entries()].map(([step, values]) => {
    values.sort((a, b) => a - b);
    const p95 = values.length >= MIN_P95_SAMPLES ? quantile(values, 0.95) : null;
    return { step, count: values.length, p50: quantile(values, 0.5), p95 };
  });
  return { perMinute, stepRows };
}

export function renderChart(container, table, runs, now = Date.now()) {
  const { perMinute, stepRows } = summarise(runs, now);
  const peak = Math.max(1, ...perMinute);
  const width = 600;
  const height = 120;
  const barWidth = width / 60;
  const total = perMinute.reduce((a, b) => a + b, 0);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 16}`, class: "per-minute", role: "img",
    "aria-label": `Runs started per minute over the last hour: ${total} in all, at most ${peak} in a minute` });
  perMinute.forEach((count, i) => {
    const barHeight = (count / peak) * height;
    const rect = svg("rect", { x: i * barWidth + 1, y: height - barHeight, width: barWidth - 2,
      height: barHeight, class: "bar" });
    rect.append(svg("title", {}, `${60 - i} min ago: ${count}`));
    chart.append(rect);
  });
  chart.append(svg("text", { x: 0, y: height + 14, class: "axis" }, "−60 min"),
    svg("text", { x: width, y: height + 14, class: "axis end" }, "now"),
    svg("text", { x: 4, y: 12, class: "axis" }, `peak ${peak}/min`));
  replace(container, h("p", { class: "chart-title" }, `Runs per minute (${total} in the last hour)`), chart);
  const body = table.tBodies[0];
  body.replaceChildren(...stepRows.map((row) => h("tr", {},
    h("th", { scope: "row" }, row.step), h("td", {}, String(row.count)), h("td", {}, formatMs(row.p50)),
    h("td", { title: row.p95 === null ? `shown from ${MIN_P95_SAMPLES} runs` : null },
      row.p95 === null ? `– (n < ${MIN_P95_SAMPLES})` : formatMs(row.p95)))));
  if (!stepRows.length) body.append(h("tr", {}, h("td", { colspan: 4 }, "No completed runs in the last hour.")));
}
