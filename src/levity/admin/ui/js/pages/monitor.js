// Monitor: the request log with filters, live updates over SSE, and a detail drawer.
import { api, get, streamEvents } from "../api.js";
import { act, confirmDialog, fmt, h, replace, statusBadge } from "../dom.js";

const PROTOCOLS = ["openai_chat", "openai_responses", "openai_completions", "anthropic_messages", "anthropic_count_tokens",
  "gemini_generate", "gemini_stream", "gemini_count_tokens"];
const MAX_ROWS = 500;

function pretty(text) {
  if (text == null) return null;
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

function row(r, onOpen, fresh) {
  const model = r.mapped_model && r.mapped_model !== r.model ? `${r.model} → ${r.mapped_model}` : r.model;
  return h("tr", { class: `clickable${fresh ? " fresh" : ""}`, dataset: { id: r.id }, onclick: () => onOpen(r.id) },
    h("td", { class: "mono" }, fmt.time(r.ts)),
    h("td", {}, statusBadge(r.status)),
    h("td", { class: "path mono", title: `${r.method} ${r.path}` }, r.path),
    h("td", {}, r.protocol),
    h("td", {}, model || "—"),
    h("td", {}, r.account || "—", r.attempts.length > 1 ? h("span", { class: "muted" }, ` (${r.attempts.length} tries)`) : null),
    h("td", { class: "num" }, fmt.ms(r.duration_ms)),
    h("td", { class: "num" }, fmt.ms(r.ttfb_ms)),
    h("td", { class: "num" }, `${fmt.compact(r.input_tokens)} / ${fmt.compact(r.output_tokens)}`));
}

async function openDrawer(drawer, id) {
  drawer.hidden = false;
  replace(drawer, h("p", { class: "muted" }, "Loading…"));
  let r;
  try {
    r = await get(`/api/monitor/requests/${id}`);
  } catch (err) {
    replace(drawer, h("button", { type: "button", onclick: () => { drawer.hidden = true; } }, "Close"),
      h("p", { class: "error", role: "alert" }, err.message));
    return;
  }
  const kv = (k, v) => [h("dt", {}, k), h("dd", {}, v ?? "—")];
  const bodies = (title, text) => [h("h3", {}, title), text == null
    ? h("p", { class: "muted" }, "Not recorded (body logging is off in [monitor] log_bodies).")
    : h("pre", { class: "body" }, pretty(text))];
  replace(drawer,
    h("div", { class: "row spread" }, h("h2", {}, `Request #${r.id}`),
      h("button", { type: "button", id: "drawer-close", onclick: () => { drawer.hidden = true; } }, "Close")),
    h("dl", { class: "kv" },
      kv("Time", fmt.datetime(r.ts)), kv("Status", statusBadge(r.status)), kv("Request", `${r.method} ${r.path}`),
      kv("Protocol", r.protocol), kv("Model", r.model), kv("Mapped model", r.mapped_model),
      kv("Account", r.account), kv("Provider", r.provider), kv("Stream", r.stream ? "yes" : "no"),
      kv("Duration", fmt.ms(r.duration_ms)), kv("First byte", fmt.ms(r.ttfb_ms)),
      kv("Tokens", `${fmt.int(r.input_tokens)} in · ${fmt.int(r.output_tokens)} out · ${fmt.int(r.cached_tokens)} cached · ${fmt.int(r.reasoning_tokens)} reasoning`),
      kv("Client", r.client_ip), kv("Error", r.error ? h("span", { class: "error" }, r.error) : "—")),
    h("h3", {}, `Attempts (${r.attempts.length})`),
    r.attempts.length
      ? h("table", { class: "attempts" }, h("thead", {}, h("tr", {}, ["#", "Account", "Status", "Duration", "Error"].map((c) => h("th", {}, c)))),
        h("tbody", {}, r.attempts.map((a, i) => h("tr", {}, h("td", {}, i + 1), h("td", {}, a.account), h("td", {}, statusBadge(a.status)),
          h("td", { class: "num" }, fmt.ms(a.duration_ms)), h("td", {}, a.error || "—")))))
      : h("p", { class: "muted" }, "No upstream attempt was made."),
    bodies("Request body", r.request_body), bodies("Response body", r.response_body));
}

export async function mount(root) {
  const f = {
    status: h("select", { name: "status" }, [["", "any status"], ["2xx", "2xx"], ["4xx", "4xx"], ["5xx", "5xx"], ["error", "any error"]]
      .map(([v, t]) => h("option", { value: v }, t))),
    protocol: h("select", { name: "protocol" }, h("option", { value: "" }, "any protocol"), PROTOCOLS.map((p) => h("option", { value: p }, p))),
    model: h("input", { name: "model", placeholder: "model" }),
    account: h("input", { name: "account", placeholder: "account" }),
    q: h("input", { name: "q", placeholder: "search…", title: "path, model, account, error or client address", type: "search" }),
  };
  const live = h("input", { type: "checkbox", checked: true, name: "live" });
  const liveState = h("span", { class: "badge", id: "live-state" }, "connecting");
  const tbody = h("tbody");
  const total = h("span", { class: "muted" });
  const more = h("button", { type: "button", hidden: true }, "Load older");
  const errorBox = h("p", { class: "error", role: "alert", hidden: true });
  const drawer = h("aside", { class: "drawer", hidden: true, id: "drawer" });
  const clearBtn = h("button", { type: "button", class: "danger" }, "Clear log");
  const open = (id) => openDrawer(drawer, id);
  let nextBefore = null;
  let matching = 0;
  let newestLoaded = 0;
  let abort = null;
  const shown = new Set();

  const query = () => {
    const p = new URLSearchParams();
    for (const [k, el] of Object.entries(f)) if (el.value.trim()) p.set(k, el.value.trim());
    return p;
  };

  async function load(older = false) {
    const p = query();
    p.set("limit", "100");
    if (older && nextBefore) p.set("before_id", nextBefore);
    try {
      const page = await get(`/api/monitor/requests?${p}`);
      if (!older) { tbody.replaceChildren(); shown.clear(); }
      for (const r of page.items) if (!shown.has(r.id)) { shown.add(r.id); tbody.append(row(r, open, false)); }
      if (!older) newestLoaded = page.items.length ? page.items[0].id : 0;
      nextBefore = page.next_before_id;
      more.hidden = !nextBefore;
      matching = page.total;
      total.textContent = `${fmt.int(matching)} matching`;
      errorBox.hidden = true;
      if (!tbody.children.length) tbody.append(h("tr", { class: "empty-row" }, h("td", { colspan: 9, class: "empty" }, "No requests yet.")));
    } catch (err) {
      errorBox.hidden = false;
      errorBox.textContent = `Could not load the log: ${err.message}`;
    }
  }

  function startLive() {
    if (abort) abort.abort();
    abort = null;
    if (!live.checked) { liveState.textContent = "paused"; liveState.className = "badge"; return; }
    const ctl = new AbortController();
    abort = ctl;
    const p = query();
    p.set("backlog", "100"); // covers what arrived between the page load and this subscription
    liveState.textContent = "connecting";
    streamEvents(`/api/monitor/tail?${p}`, (event, data) => {
      if (event === "ready") { liveState.textContent = "live"; liveState.className = "badge ok"; return; }
      if (event !== "request" || shown.has(data.id)) return;
      shown.add(data.id);
      if (data.id > newestLoaded) total.textContent = `${fmt.int(++matching)} matching`; // the tail is filtered like the page
      tbody.querySelector(".empty-row")?.remove();
      tbody.prepend(row(data, open, true));
      while (tbody.children.length > MAX_ROWS) tbody.lastChild.remove();
    }, ctl.signal).then(() => {
      if (abort === ctl) { liveState.textContent = "disconnected"; liveState.className = "badge bad"; setTimeout(() => abort === ctl && startLive(), 3000); }
    }).catch((err) => {
      if (err.name === "AbortError") return;
      liveState.textContent = "disconnected";
      liveState.className = "badge bad";
      errorBox.hidden = false;
      errorBox.textContent = `Live updates stopped: ${err.message}`;
      if (abort === ctl) setTimeout(() => abort === ctl && startLive(), 3000);
    });
  }

  let debounce = null;
  const refilter = () => { clearTimeout(debounce); debounce = setTimeout(() => { load(); startLive(); }, 250); };
  for (const el of Object.values(f)) el.addEventListener(el.tagName === "SELECT" ? "change" : "input", refilter);
  live.addEventListener("change", startLive);
  more.addEventListener("click", () => act(more, () => load(true)));
  clearBtn.addEventListener("click", async () => {
    if (!(await confirmDialog("Clear the request log?", "All logged requests are deleted. Token statistics are kept.", "Clear"))) return;
    act(clearBtn, async () => { await api("DELETE", "/api/monitor/requests"); await load(); }, "Request log cleared");
  });

  replace(root,
    h("div", { class: "row spread" }, h("h1", {}, "Monitor"), h("div", { class: "row" }, h("label", { class: "inline" }, live, "Live"), liveState, clearBtn)),
    h("div", { class: "card" },
      h("div", { class: "row filters" }, Object.values(f), h("span", { class: "spacer" }), total),
      errorBox,
      h("div", { class: "scroll-x" }, h("table", { class: "log" },
        h("thead", {}, h("tr", {}, ["Time", "Status", "Request", "Protocol", "Model", "Account", "Duration", "TTFB", "Tokens in/out"]
          .map((c, i) => h("th", { class: i >= 6 && i <= 8 ? "num" : "" }, c)))),
        tbody)),
      h("div", { class: "row" }, more)),
    drawer);

  await load();
  startLive();
  return () => { if (abort) abort.abort(); abort = null; clearTimeout(debounce); };
}
