// Accounts: the pool's upstream accounts. Keys are write-only here: sent on add/edit, shown only as
// the masked hint the API returns (last four characters), never in full.
import { PROVIDERS, loadAccounts, stateBadgeKind } from "../accounts_model.js";
import { api } from "../api.js";
import { act, confirmDialog, fmt, h, replace, toast } from "../dom.js";

const enc = encodeURIComponent;
const splitModels = (text) => text.split(/[\s,]+/).filter(Boolean);

function accountForm(existing, onDone) {
  const a = existing || { provider: "openai", base_url: "", models: [], enabled: true, weight: 1, label: "" };
  const provider = h("select", { name: "provider", disabled: !!existing },
    Object.entries(PROVIDERS).map(([k, p]) => h("option", { value: k, selected: k === a.provider }, p.name)));
  const label = h("input", { name: "label", value: a.label, required: true, maxlength: 100, placeholder: "e.g. openai-main" });
  const baseUrl = h("input", { name: "base_url", value: a.base_url, type: "url" });
  const key = h("input", { name: "api_key", type: "password", autocomplete: "new-password" });
  const models = h("input", { name: "models", value: a.models.join(", ") });
  const weight = h("input", { name: "weight", type: "number", min: 0.1, max: 1000, step: "any", value: a.weight });
  const enabled = h("input", { name: "enabled", type: "checkbox", checked: a.enabled });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const fitProvider = () => {
    const p = PROVIDERS[provider.value];
    baseUrl.placeholder = p.base_url ? `default: ${p.base_url}` : "not used by this provider";
    baseUrl.disabled = !p.base_url;
    key.required = !existing && p.needsKey;
    key.placeholder = existing ? "leave empty to keep the stored key" : p.needsKey ? "the provider's API key" : "not needed";
    models.placeholder = existing ? "model ids, comma-separated" : "comma-separated; empty: ask the provider";
  };
  provider.addEventListener("change", fitProvider);
  fitProvider();
  const submit = h("button", { type: "submit", class: "primary" }, existing ? "Save" : "Add account");
  const dlg = h("dialog", { class: "account-form" });
  const form = h("form", { class: "stack" },
    h("h2", {}, existing ? `Edit ${a.label}` : "Add an account"),
    h("div", { class: "form-grid" },
      h("label", {}, "Provider", provider), h("label", {}, "Label", label),
      h("label", { class: "wide" }, "Base URL", baseUrl), h("label", { class: "wide" }, "API key", key),
      h("label", { class: "wide" }, "Models", models), h("label", {}, "Weight", weight),
      h("label", { class: "inline" }, enabled, "Enabled")),
    h("p", { class: "field-note" }, "The key is stored in the gateway's database and never shown again; only its last four characters are."),
    error,
    h("div", { class: "row end" }, h("button", { type: "button", onclick: () => dlg.close() }, "Cancel"), submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { label: label.value.trim(), base_url: baseUrl.value.trim(), weight: Number(weight.value || 1), enabled: enabled.checked };
    const list = splitModels(models.value);
    if (list.length || !existing) body.models = list;
    if (!existing) body.provider = provider.value;
    if (key.value) body.api_key = key.value;
    submit.disabled = true;
    error.hidden = true;
    try {
      const out = existing
        ? await api("PATCH", `/api/accounts/${enc(existing.id)}`, body)
        : await api("POST", "/api/accounts", body);
      key.value = "";
      dlg.close();
      toast(existing ? `Saved ${out.label}` : `Added ${out.label} (${out.models.length} models)`, "ok");
      if (out.warning) toast(out.warning, "error");
      onDone();
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });
  dlg.append(form);
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  label.focus();
}

function countdown(ends) {
  return h("span", { class: "countdown", dataset: { ends } }, fmt.duration(ends - Date.now() / 1000));
}

function stateCell(a) {
  const out = [h("span", { class: `badge ${stateBadgeKind(a.state)}`, dataset: { role: "state" } }, a.state)];
  if (a.state === "unusable") out.push(h("div", { class: "muted small" }, a.reason));
  for (const c of a.rests) {
    out.push(h("div", { class: "rest", dataset: { model: c.model || "" } },
      c.model ? h("span", { class: "tag" }, c.model) : "all models", " ", countdown(c.ends), " ",
      h("span", { class: "muted", title: c.message || "" }, c.reason)));
  }
  return out;
}

function usageCell(a) {
  const s = a.stats;
  return [
    h("div", {}, `${fmt.int(s.requests)} req`, s.failures ? h("span", { class: "muted" }, ` · ${fmt.int(s.failures)} failed`) : null),
    a.in_flight ? h("div", { class: "muted" }, `${a.in_flight} in flight`) : null,
    s.last_used ? h("div", { class: "muted" }, `last used ${fmt.time(s.last_used)}`) : null,
    s.last_error ? h("div", { class: "muted clip", title: s.last_error }, s.last_error) : null,
  ];
}

function modelsCell(a) {
  if (!a.models.length) return h("span", { class: "muted" }, "none: refresh or edit");
  return [a.models.slice(0, 6).map((m) => h("span", { class: "tag" }, m)),
    a.models.length > 6 ? h("span", { class: "muted", title: a.models.slice(6).join(", ") }, ` +${a.models.length - 6}`) : null];
}

export async function mount(root) {
  const list = h("div", { class: "card" }, h("div", { class: "muted" }, "Loading…"));
  const addBtn = h("button", { class: "primary", type: "button", id: "account-add", onclick: () => accountForm(null, refresh) }, "Add account");
  const clearAll = h("button", { type: "button", id: "cooldowns-clear-all" }, "Clear all cooldowns");
  clearAll.addEventListener("click", () => act(clearAll, async () => {
    const out = await api("POST", "/api/accounts/cooldowns/clear");
    refresh();
    return out;
  }, (out) => `Cleared ${out.cleared} cooldown${out.cleared === 1 ? "" : "s"}`));
  replace(root, h("div", { class: "row spread" }, h("h1", {}, "Accounts"), h("div", { class: "row" }, clearAll, addBtn)), list);

  // A button that POSTs to one of the account's action routes, then reloads the list.
  const action = (name, label, path, okMessage, cls = "small") => {
    const b = h("button", { type: "button", class: cls, dataset: { action: name } }, label);
    b.addEventListener("click", () => act(b, async () => { const out = await api("POST", path); refresh(); return out; }, okMessage));
    return b;
  };

  function actions(a) {
    const id = enc(a.id);
    const test = h("button", { type: "button", class: "small", dataset: { action: "test" } }, "Test");
    test.addEventListener("click", async () => {
      const out = await act(test, () => api("POST", `/api/accounts/${id}/test`));
      if (!out) return;
      if (out.ok) toast(`${a.label}: OK, ${out.model} answered in ${fmt.ms(out.latency_ms)}`, "ok");
      else toast(`${a.label}: test failed (${out.status ?? "no answer"}): ${out.error}`, "error");
      refresh();
    });
    const buttons = [test, action("clear-cooldowns", "Clear cooldowns", `/api/accounts/${id}/cooldowns/clear`,
      (out) => `Cleared ${out.cleared} cooldown${out.cleared === 1 ? "" : "s"} of ${a.label}`)];
    if (a.ephemeral) return h("div", { class: "actions" }, buttons, h("span", { class: "muted small" }, "exists for this run only"));
    const del = h("button", { type: "button", class: "small danger", dataset: { action: "delete" } }, "Delete");
    del.addEventListener("click", async () => {
      if (!(await confirmDialog(`Delete ${a.label}?`, "The account and its stored key are removed. This cannot be undone.", "Delete"))) return;
      act(del, async () => { await api("DELETE", `/api/accounts/${id}`); refresh(); }, `Deleted ${a.label}`);
    });
    return h("div", { class: "actions" },
      test,
      h("button", { type: "button", class: "small", dataset: { action: "edit" }, onclick: () => accountForm(a, refresh) }, "Edit"),
      a.enabled
        ? action("disable", "Disable", `/api/accounts/${id}/disable`, `Disabled ${a.label}`)
        : action("enable", "Enable", `/api/accounts/${id}/enable`, `Enabled ${a.label}`),
      del,
      action("refresh-models", "Refresh models", `/api/accounts/${id}/refresh`, (out) => `${a.label} serves ${out.models.length} models`),
      buttons[1]);
  }

  async function refresh() {
    let items;
    try {
      items = await loadAccounts();
    } catch (err) {
      replace(list, h("p", { class: "error", role: "alert" }, `Could not load accounts: ${err.message}`));
      return;
    }
    if (!items.length) return replace(list, h("p", { class: "empty" }, "No accounts yet. Add one to start proxying."));
    replace(list, h("table", { class: "accounts" },
      h("thead", {}, h("tr", {}, ["Account", "Provider", "Models", "Key", "State", "Usage", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, items.map((a) => h("tr", { dataset: { account: a.label, state: a.state } },
        h("td", {}, h("strong", {}, a.label), a.ephemeral ? h("span", { class: "badge info" }, "demo") : null,
          h("div", { class: "muted small" }, a.base_url || (PROVIDERS[a.provider]?.base_url ? "default URL" : "in-process"))),
        h("td", { title: PROVIDERS[a.provider]?.name || "" }, PROVIDERS[a.provider]?.short || a.provider),
        h("td", { class: "models" }, modelsCell(a)),
        h("td", { class: "mono", dataset: { role: "key" } }, a.api_key || "—"),
        h("td", { class: "state" }, stateCell(a)),
        h("td", { class: "usage" }, usageCell(a)),
        h("td", {}, actions(a)))))));
  }

  await refresh();
  const timer = setInterval(refresh, 5000);
  const tick = setInterval(() => {
    for (const el of root.querySelectorAll(".countdown")) el.textContent = fmt.duration(Number(el.dataset.ends) - Date.now() / 1000);
  }, 1000);
  return () => { clearInterval(timer); clearInterval(tick); };
}
