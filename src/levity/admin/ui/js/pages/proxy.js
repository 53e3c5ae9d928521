// API Proxy settings: every change is a PATCH /api/config that applies live.
import { api, get, session } from "../api.js";
import { act, confirmDialog, copyText, h, replace, toast } from "../dom.js";
import { loadAccounts } from "../accounts_model.js";
import { snippets } from "../snippets.js";

const AUTH_MODES = {
  auto: "auto — off on localhost, on with LAN access",
  off: "off — no key needed",
  all_except_health: "all except health — key needed except /healthz",
  strict: "strict — key needed everywhere",
};
const SCHEDULING = {
  balance: "balance — spread load over ready accounts",
  cache_first: "cache first — keep a session on its account (prompt caching)",
  performance_first: "performance first — fastest healthy account",
};

function setting(name, help, ...control) {
  return h("div", { class: "setting" }, h("div", {}, h("div", { class: "name" }, name), help ? h("div", { class: "field-note" }, help) : null),
    h("div", { class: "row" }, control));
}

export async function mount(root) {
  let cfg = await get("/api/config");
  let revealed = "";
  const locked = (dotted) => cfg.env_overrides[dotted];
  const lockNote = (dotted) => (locked(dotted) ? h("span", { class: "field-note" }, `set by ${locked(dotted)}`) : null);

  async function patch(p, button, msg) {
    return act(button, async () => {
      cfg = await api("PATCH", "/api/config", p);
      render();
      return cfg;
    }, msg);
  }

  const body = h("div");
  replace(root, h("h1", {}, "API Proxy"), body);

  function render() {
    const px = cfg.proxy;
    const base = location.origin;

    // Port
    const port = h("input", { type: "number", min: 1, max: 65535, value: px.port, name: "port", disabled: !!locked("proxy.port") });
    const listenerNote = h("span", { class: "field-note", dataset: { role: "listener" } },
      `listening on ${cfg.listener.host}:${cfg.listener.port}`);
    const portBtn = h("button", { type: "button", disabled: !!locked("proxy.port") }, "Apply");
    portBtn.addEventListener("click", async () => {
      const value = Number(port.value);
      const out = await patch({ proxy: { port: value } }, portBtn);
      if (out && String(value) !== location.port) {
        toast(`The gateway is moving to port ${value}: continue at ${location.protocol}//${location.hostname}:${value}/ui/`, "ok", 15000);
      }
    });

    // LAN access
    const lan = h("input", { type: "checkbox", name: "allow_lan_access", checked: px.allow_lan_access, disabled: !!locked("proxy.allow_lan_access") });
    lan.addEventListener("change", () => patch({ proxy: { allow_lan_access: lan.checked } }, lan,
      lan.checked ? "LAN access on" : "LAN access off"));

    // Auth mode
    const mode = h("select", { name: "auth_mode", disabled: !!locked("proxy.auth_mode") },
      Object.entries(AUTH_MODES).map(([k, v]) => h("option", { value: k, selected: k === px.auth_mode }, v)));
    mode.addEventListener("change", () => patch({ proxy: { auth_mode: mode.value } }, mode, `Auth mode set to ${mode.value}`));
    const effective = h("span", { class: `badge ${cfg.effective_auth_mode === "off" ? "warn" : "ok"}`, id: "effective-auth-mode" },
      `effective: ${cfg.effective_auth_mode}`);

    // API key
    const keyText = h("code", { id: "api-key-value" }, revealed || px.api_key || "(none)");
    const showBtn = h("button", { type: "button", id: "api-key-show" }, revealed ? "Hide" : "Show");
    showBtn.addEventListener("click", () => act(showBtn, async () => {
      revealed = revealed ? "" : (await get("/api/proxy/api-key")).api_key;
      render();
    }));
    const copyBtn = h("button", { type: "button", id: "api-key-copy" }, "Copy");
    copyBtn.addEventListener("click", () => act(copyBtn, async () => {
      await copyText(revealed || (await get("/api/proxy/api-key")).api_key);
    }, "API key copied"));
    const regenBtn = h("button", { type: "button", class: "danger", id: "api-key-regenerate", disabled: !!locked("proxy.api_key") }, "Regenerate");
    regenBtn.addEventListener("click", async () => {
      if (!(await confirmDialog("Regenerate the API key?", "Every client using the current key stops working until it is given the new one.", "Regenerate"))) return;
      act(regenBtn, async () => {
        const usesKeyAsAdmin = !px.admin_password;
        const { api_key } = await api("POST", "/api/proxy/api-key/regenerate");
        if (usesKeyAsAdmin) session.key = api_key; // without an admin password the key is also the admin login
        revealed = api_key;
        cfg = await get("/api/config");
        render();
      }, "New API key generated; it is shown above");
    });

    // Admin password
    const pw = h("input", { type: "password", name: "admin_password", autocomplete: "new-password",
      placeholder: px.admin_password ? "set (hidden) — type a new one" : "not set: the API key signs in", disabled: !!locked("proxy.admin_password") });
    const pwBtn = h("button", { type: "button", disabled: !!locked("proxy.admin_password") }, "Set password");
    pwBtn.addEventListener("click", () => act(pwBtn, async () => {
      if (pw.value.length < 8) throw new Error("use at least 8 characters for the admin password");
      cfg = await api("PATCH", "/api/config", { proxy: { admin_password: pw.value } });
      session.key = pw.value;
      render();
    }, "Admin password set; use it to sign in from now on"));
    const pwClear = h("button", { type: "button", class: "danger", id: "admin-password-remove", disabled: !px.admin_password || !!locked("proxy.admin_password") }, "Remove");
    pwClear.addEventListener("click", async () => {
      if (!(await confirmDialog("Remove the admin password?", "The proxy API key will then also be the admin login.", "Remove"))) return;
      act(pwClear, async () => {
        const { api_key } = await get("/api/proxy/api-key"); // fetched while the password still works
        cfg = await api("PATCH", "/api/config", { proxy: { admin_password: "" } });
        session.key = api_key;
        render();
      }, "Admin password removed");
    });

    // Scheduling and fixed account
    const sched = h("select", { name: "scheduling_mode" },
      Object.entries(SCHEDULING).map(([k, v]) => h("option", { value: k, selected: k === px.scheduling.mode }, v)));
    sched.addEventListener("change", () => patch({ proxy: { scheduling: { mode: sched.value } } }, sched, `Scheduling: ${sched.value}`));
    const fixed = h("select", { name: "fixed_account" }, h("option", { value: "" }, "none — let the scheduler choose"),
      px.fixed_account ? h("option", { value: px.fixed_account, selected: true }, px.fixed_account) : null);
    loadAccounts().then((acc) => {
      for (const a of acc) if (a.label !== px.fixed_account) fixed.append(h("option", { value: a.label }, a.label));
    }).catch((err) => toast(`Could not list accounts: ${err.message}`, "error"));
    fixed.addEventListener("change", () => patch({ proxy: { fixed_account: fixed.value } }, fixed,
      fixed.value ? `All requests go to ${fixed.value}` : "Fixed account cleared"));

    replace(body,
      h("div", { class: "card" },
        h("h2", {}, "Listener and access"),
        setting("Port", "Moves the listener live.", port, portBtn, listenerNote, lockNote("proxy.port"),
          cfg.listener.error ? h("span", { class: "error" }, cfg.listener.error) : null),
        setting("LAN access", "Listen on all interfaces instead of this machine only.", h("label", { class: "inline" }, lan, "Allow LAN access"),
          h("span", { class: "badge info", id: "bind-address" }, `binds ${cfg.bind_address}`), lockNote("proxy.allow_lan_access")),
        setting("Auth mode", "Who needs the API key for proxied requests. The admin API always does.", mode, effective, lockNote("proxy.auth_mode")),
        setting("API key", "Clients send it as Bearer, x-api-key or x-goog-api-key.", keyText, showBtn, copyBtn, regenBtn, lockNote("proxy.api_key")),
        setting("Admin password", "Signs in to this UI and the admin API. Without one, the API key does.", pw, pwBtn, pwClear, lockNote("proxy.admin_password"))),
      h("div", { class: "card" },
        h("h2", {}, "Routing"),
        setting("Scheduling", "How requests are spread over accounts.", sched),
        setting("Fixed account", "Send every request to one account.", fixed),
        mappingEditor(px.model_mapping, (mapping, btn) => patch({ proxy: { model_mapping: mapping } }, btn, "Model mapping saved"))),
      snippetCard(base, revealed));
  }
  render();
}

function mappingEditor(mapping, save) {
  const rows = h("tbody");
  const addRow = (from = "", to = "") => {
    const tr = h("tr", { class: "mapping-row" },
      h("td", {}, h("input", { value: from, placeholder: "client model or pattern, e.g. gpt-4*", class: "map-from" })),
      h("td", {}, h("input", { value: to, placeholder: "upstream model", class: "map-to" })),
      h("td", {}, h("button", { type: "button", class: "small danger", onclick: () => tr.remove() }, "Remove")));
    rows.append(tr);
  };
  for (const [k, v] of Object.entries(mapping)) addRow(k, v);
  const saveBtn = h("button", { type: "button", class: "primary", id: "mapping-save" }, "Save mapping");
  saveBtn.addEventListener("click", () => {
    const out = {};
    for (const tr of rows.querySelectorAll("tr")) {
      const from = tr.querySelector(".map-from").value.trim();
      const to = tr.querySelector(".map-to").value.trim();
      if (!from && !to) continue;
      if (!from || !to) return toast("each mapping row needs both a client model and an upstream model", "error");
      out[from] = to;
    }
    save(out, saveBtn);
  });
  return h("div", { class: "setting" },
    h("div", {}, h("div", { class: "name" }, "Model mapping"),
      h("div", { class: "field-note" }, "Exact names win over patterns; among patterns the most specific wins.")),
    h("div", { class: "stack" },
      h("table", { class: "mapping" }, h("thead", {}, h("tr", {}, h("th", {}, "Client asks for"), h("th", {}, "Sent upstream as"), h("th"))), rows),
      h("div", { class: "row" }, h("button", { type: "button", onclick: () => addRow() }, "Add row"), saveBtn)));
}

function snippetCard(base, key) {
  const list = snippets(base, key);
  const pre = h("pre", { class: "snippet", id: "snippet" });
  const tabs = h("div", { class: "tabs" });
  let current = 0;
  const show = (i) => {
    current = i;
    pre.textContent = list[i][1];
    tabs.querySelectorAll("button").forEach((b, j) => b.classList.toggle("active", i === j));
  };
  list.forEach(([name], i) => tabs.append(h("button", { type: "button", onclick: () => show(i) }, name)));
  const copyBtn = h("button", { type: "button" }, "Copy");
  copyBtn.addEventListener("click", () => act(copyBtn, () => copyText(list[current][1]), "Snippet copied"));
  const card = h("div", { class: "card" },
    h("div", { class: "row spread" }, h("h2", {}, "Connect a client"), copyBtn),
    h("p", { class: "muted" }, key ? "Filled with this gateway's URL and key." : `Filled with this gateway's URL (${base}); press Show above to fill in the key.`),
    tabs, pre);
  show(0);
  return card;
}
