// Dashboard: request rate, error rate, median latency, tokens today, accounts by state.
import { stateBadgeKind } from "../accounts_model.js";
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

// `accounts` comes from the summary (server side: admin/pool_view.py): state, reason, cooldown_seconds.
function accountGroups(items) {
  const now = Date.now() / 1000;
  const group = (name, title, members, extra) => h("div", { class: "card", dataset: { group: name } },
    h("h3", {}, `${title} (${members.length})`),
    members.length
      ? h("ul", { class: "plain" }, members.map((a) => h("li", { dataset: { account: a.label } },
        h("span", { class: `dot ${stateBadgeKind(a.state)}` }), h("strong", {}, a.label), " ",
        h("span", { class: "muted" }, a.provider), extra(a))))
      : h("p", { class: "muted" }, "none"));
  return h("div", { class: "grid cols-3" },
    group("ready", "Ready", items.filter((a) => a.state === "ready"), (a) => (a.in_flight ? h("div", { class: "muted small" }, `${a.in_flight} in flight`) : null)),
    group("cooling", "Cooling", items.filter((a) => a.state === "cooling"), (a) => h("div", { class: "small" },
      h("span", { class: "countdown", dataset: { ends: now + a.cooldown_seconds } }, `${fmt.duration(a.cooldown_seconds)} left`),
      h("span", { class: "muted" }, ` · ${a.reason}`))),
    group("unusable", "Unusable or off", items.filter((a) => a.state === "unusable" || a.state === "disabled"),
      (a) => h("div", { class: "muted small" }, a.reason)));
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
      replace(accounts, h("h2", {}, "Accounts"), s.accounts.length
        ? accountGroups(s.accounts)
        : h("p", { class: "muted" }, "No accounts yet: add one on the Accounts page."));
      errorBox.hidden = true;
    } catch (err) {
      errorBox.hidden = false;
      errorBox.textContent = `Could not load the dashboard: ${err.message}`;
    }
  }

  await refresh();
  const timer = setInterval(refresh, 5000);
  const tick = setInterval(() => {
    for (const el of root.querySelectorAll(".countdown")) el.textContent = `${fmt.duration(Number(el.dataset.ends) - Date.now() / 1000)} left`;
  }, 1000);
  return () => { clearInterval(timer); clearInterval(tick); };
}
