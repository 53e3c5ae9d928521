// Token stats: tokens and requests over time, by model or by account, from the hourly rollups.
import { api, get } from "../api.js";
import { barChart, lineChart } from "../charts.js";
import { act, confirmDialog, fmt, h, replace } from "../dom.js";

const RANGES = {
  "24h": { label: "Last 24 hours, hourly", bucket: "hour", span: 86400 },
  "7d": { label: "Last 7 days, daily", bucket: "day", span: 7 * 86400 },
  "30d": { label: "Last 30 days, daily", bucket: "day", span: 30 * 86400 },
  "26w": { label: "Last 26 weeks, weekly", bucket: "week", span: 26 * 7 * 86400 },
};
const MAX_SERIES = 7; // more groups than this fold into "other" so the chart stays legible

function axisFormat(bucket) {
  if (bucket === "hour") return (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  return (t) => new Date(t * 1000).toLocaleDateString([], { month: "short", day: "numeric" });
}

// Builds every bucket in the range, so empty periods show as gaps rather than vanishing.
function timeline(data, range) {
  const size = data.bucket_seconds;
  const offset = -new Date().getTimezoneOffset() * 60;
  const origin = (data.bucket === "week" ? 4 * 86400 : 0) - (data.bucket === "hour" ? 0 : offset);
  const first = Math.floor((data.since - origin) / size) * size + origin;
  const times = [];
  for (let t = first; t <= Date.now() / 1000; t += size) times.push(t);
  return times.slice(-Math.ceil(range.span / size) - 1);
}

function seriesFor(data, times, metric) {
  const keys = data.totals.map((t) => t.key);
  const top = keys.slice(0, MAX_SERIES);
  const index = new Map(times.map((t, i) => [t, i]));
  const by = new Map();
  for (const p of data.series) {
    const name = top.includes(p.key) ? p.key : "other";
    if (!by.has(name)) by.set(name, new Array(times.length).fill(0));
    const i = index.get(p.t);
    if (i !== undefined) by.get(name)[i] += metric(p);
  }
  return [...by.entries()].map(([name, values]) => ({ name: name || "(none)", values }))
    .sort((a, b) => (a.name === "other") - (b.name === "other") || top.indexOf(a.name) - top.indexOf(b.name));
}

export async function mount(root) {
  const range = h("select", { name: "range" }, Object.entries(RANGES).map(([k, r]) => h("option", { value: k, selected: k === "7d" }, r.label)));
  const group = h("select", { name: "group" }, h("option", { value: "model" }, "by model"), h("option", { value: "account" }, "by account"));
  const body = h("div");
  const clearBtn = h("button", { type: "button", class: "danger" }, "Clear statistics");
  replace(root, h("div", { class: "row spread" }, h("h1", {}, "Token stats"), h("div", { class: "row" }, range, group, clearBtn)), body);

  async function refresh() {
    const r = RANGES[range.value];
    const since = Date.now() / 1000 - r.span;
    const tz = -new Date().getTimezoneOffset();
    let data;
    try {
      data = await get(`/api/stats?bucket=${r.bucket}&group=${group.value}&since=${since}&tz_offset=${tz}`);
    } catch (err) {
      replace(body, h("p", { class: "error", role: "alert" }, `Could not load statistics: ${err.message}`));
      return;
    }
    const times = timeline(data, r);
    const formatX = axisFormat(r.bucket);
    const tokens = seriesFor(data, times, (p) => p.input_tokens + p.output_tokens);
    const requests = seriesFor(data, times, (p) => p.requests);
    const sum = (k) => data.totals.reduce((s, t) => s + t[k], 0);
    replace(body,
      h("div", { class: "grid cols-4" },
        ...[["Requests", sum("requests")], ["Input tokens", sum("input_tokens")], ["Output tokens", sum("output_tokens")], ["Cached tokens", sum("cached_tokens")]]
          .map(([l, v]) => h("div", { class: "card stat" }, h("div", { class: "label" }, l), h("div", { class: "value" }, fmt.compact(v))))),
      h("div", { class: "card", id: "tokens-chart" }, h("h2", {}, `Tokens (input + output) ${group.selectedOptions[0].text}`),
        barChart({ times, series: tokens, formatX, label: "tokens over time" })),
      h("div", { class: "card", id: "requests-chart" }, h("h2", {}, `Requests ${group.selectedOptions[0].text}`),
        lineChart({ times, series: requests, formatX, label: "requests over time" })),
      h("div", { class: "card" }, h("h2", {}, "Totals"),
        data.totals.length
          ? h("table", { class: "totals" },
            h("thead", {}, h("tr", {}, [group.value === "model" ? "Model" : "Account", "Requests", "Errors", "Input", "Output", "Cached", "Reasoning", "Avg duration"]
              .map((c, i) => h("th", { class: i ? "num" : "" }, c)))),
            h("tbody", {}, data.totals.map((t) => h("tr", {}, h("td", {}, t.key || "(none)"),
              ...["requests", "errors", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens"].map((k) => h("td", { class: "num" }, fmt.int(t[k]))),
              h("td", { class: "num" }, fmt.ms(t.avg_duration_ms))))))
          : h("p", { class: "empty" }, "No traffic in this period.")));
  }

  range.addEventListener("change", refresh);
  group.addEventListener("change", refresh);
  clearBtn.addEventListener("click", async () => {
    if (!(await confirmDialog("Clear all token statistics?", "The hourly rollups are deleted; the request log is kept.", "Clear"))) return;
    act(clearBtn, async () => { await api("DELETE", "/api/stats"); await refresh(); }, "Statistics cleared");
  });
  await refresh();
  const timer = setInterval(refresh, 30000);
  return () => clearInterval(timer);
}
