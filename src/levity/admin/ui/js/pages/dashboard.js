// Dashboard: request rate, error rate, median latency, tokens today, accounts by state.
import { loadAccounts, stateBadgeKind } from "../accounts_model.js";
import { get } from "../api.js";
import { barChart } from "../charts.js";
import { fmt, h, replace } from "../dom.js";

function localMidnight() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.getTime() / 1000;
}

function stat(label, value, note, id) {
  return h("div", { class: "card stat", dataset: { stat: id } },
    h("div", { class: "label" }, label), h("div", { class: "value" }, value), h("div", { class: "muted" }, note || ""));
}

function accountGroups(items) {
  const ready = items.filter((a) => a.state === "ready");
  const cooling = items.filter((a) => a.state === "cooling");
  const other = items.filter((a) => a.state !== "ready" && a.state !== "cooling");
  const row = (a, extra) => h("li", {}, h("strong", {}, a.label), " ",
    h("span", { class: `badge ${stateBadgeKind(a.state)}` }, a.state), " ", extra || "");
  return h("div", { class: "grid cols-4" },
    h("div", { class: "card", dataset: { group: "ready" } }, h("h3", {}, `Ready (${ready.length})`),
      h("ul", {}, ready.map((a) => row(a)))),
    h("div", { class: "card", dataset: { group: "cooling" } }, h("h3", {}, `Cooling (${cooling.length})`),
      h("ul", {}, cooling.map((a) => row(a, h("span", { class: "muted countdown", dataset: { until: a.until ?? "" } },
        a.until ? `${fmt.duration(a.until - Date.now() / 1000)} left` : "", a.reason ? ` · ${a.reason}` : ""))))),
    h("div", { class: "card", dataset: { group: "unusable" } }, h("h3", {}, `Unusable or off (${other.length})`),
      h("ul", {}, other.map((a) => row(a, h("span", { class: "muted" }, a.reason || (a.enabled ? "" : "disabled")))))),
  );
}

export async function mount(root) {
  const cards = h("div", { class: "grid cols-4" });
  const chart = h("div", { class: "card" }, h("h2", {}, "Requests per minute, last hour"), h("div", { class: "muted" }, "Loading…"));
  const accounts = h("div", {}, h("h2", {}, "Accounts"), h("div", { class: "muted" }, "Loading…"));
  const errorBox = h("p", { class: "error", role: "alert", hidden: true });
  replace(root, h("h1", {}, "Dashboard"), errorBox, cards, chart, accounts);

  async function refresh() {
    try {
      const s = await get(`/api/monitor/summary?window=300&day_start=${localMidnight()}`);
      const t = s.tokens_today;
      replace(cards,
        stat("Requests / min", s.requests_per_minute.toFixed(s.requests_per_minute < 10 ? 1 : 0), `${fmt.int(s.requests)} in the last 5 min`, "rpm"),
        stat("Error rate", fmt.pct(s.error_rate), `${fmt.int(s.errors)} errors in 5 min`, "errors"),
        stat("p50 latency", fmt.ms(s.p50_latency_ms), "median over 5 min", "p50"),
        stat("Tokens today", fmt.compact(t.input_tokens + t.output_tokens),
          `${fmt.compact(t.input_tokens)} in · ${fmt.compact(t.output_tokens)} out · ${fmt.int(t.requests)} requests`, "tokens"));
      const times = s.per_minute.map((p) => p.t);
      replace(chart, h("h2", {}, "Requests per minute, last hour"), barChart({
        times, height: 180, label: "requests per minute",
        formatX: (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false }),
        series: [
          { name: "ok", values: s.per_minute.map((p) => p.requests - p.errors) },
          { name: "errors", values: s.per_minute.map((p) => p.errors), color: "#dc2626" },
        ],
      }));
      let acc;
      try {
        acc = await loadAccounts();
      } catch (err) {
        acc = { available: false, items: [], message: err.message };
      }
      if (!acc.available && s.accounts.length) acc = { available: true, items: s.accounts.map((a) => ({ ...a, until: a.cooldown_seconds ? Date.now() / 1000 + a.cooldown_seconds : null, enabled: a.state !== "disabled" })) };
      replace(accounts, h("h2", {}, "Accounts"),
        acc.available ? accountGroups(acc.items) : h("p", { class: "muted" }, acc.message));
      errorBox.hidden = true;
    } catch (err) {
      errorBox.hidden = false;
      errorBox.textContent = `Could not load the dashboard: ${err.message}`;
    }
  }

  await refresh();
  const timer = setInterval(refresh, 5000);
  const tick = setInterval(() => {
    for (const el of root.querySelectorAll(".countdown")) {
      const until = Number(el.dataset.until);
      if (until) el.firstChild.textContent = `${fmt.duration(until - Date.now() / 1000)} left`;
    }
  }, 1000);
  return () => { clearInterval(timer); clearInterval(tick); };
}
