// Small DOM helpers. Text always goes in as text nodes: nothing from the API is parsed as HTML.
export function h(tag, props = {}, ...children) {
  const svg = ["svg", "g", "rect", "line", "path", "text", "title", "circle", "polyline"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === "class") el.setAttribute("class", v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (!svg && k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function toast(message, kind = "info", ms = 4000) {
  const el = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), kind === "error" ? Math.max(ms, 8000) : ms);
}

// Runs an action from a button; shows its error instead of swallowing it.
export async function act(button, fn, okMessage) {
  if (button) button.disabled = true;
  try {
    const out = await fn();
    if (okMessage) toast(typeof okMessage === "function" ? okMessage(out) : okMessage, "ok");
    return out;
  } catch (err) {
    if (err.name !== "AbortError") toast(err.message || String(err), "error");
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function confirmDialog(title, text, confirmLabel = "Confirm", danger = true) {
  return new Promise((resolve) => {
    const dlg = h("dialog", { class: "confirm" },
      h("h2", {}, title), h("p", {}, text),
      h("div", { class: "row spread" },
        h("span"),
        h("div", { class: "row" },
          h("button", { type: "button", onclick: () => dlg.close("no") }, "Cancel"),
          h("button", { type: "button", class: danger ? "danger" : "primary", onclick: () => dlg.close("yes") },
            confirmLabel))));
    dlg.addEventListener("close", () => { resolve(dlg.returnValue === "yes"); dlg.remove(); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

export const fmt = {
  int: (n) => (n == null ? "—" : Math.round(n).toLocaleString("en-US")),
  compact(n) {
    if (n == null) return "—";
    const abs = Math.abs(n);
    const short = (v, unit) => `${Number(v.toFixed(1))}${unit}`; // 75k, not 75.0k
    if (abs >= 1e9) return short(n / 1e9, "B");
    if (abs >= 1e6) return short(n / 1e6, "M");
    if (abs >= 1e4) return short(n / 1e3, "k");
    return fmt.int(n);
  },
  ms(v) {
    if (v == null) return "—";
    return v >= 10000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
  },
  pct: (v) => (v == null ? "—" : `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`),
  time(ts) {
    const d = new Date(ts * 1000);
    const t = d.toLocaleTimeString([], { hour12: false });
    return d.toDateString() === new Date().toDateString() ? t : `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${t}`;
  },
  datetime: (ts) => new Date(ts * 1000).toLocaleString([], { hour12: false }),
  duration(seconds) {
    const s = Math.max(0, Math.ceil(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  },
};

export function statusBadge(status) {
  const kind = !status ? "bad" : status < 300 ? "ok" : status < 500 ? "warn" : "bad";
  return h("span", { class: `badge ${kind}` }, status || "—");
}

export async function copyText(text) {
  // The async clipboard needs a secure context (localhost is one; a LAN address over http is not).
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = h("textarea", { readonly: true }, text);
  document.body.append(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("the browser refused to copy; select the text and copy it by hand");
}
