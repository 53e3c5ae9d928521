// Accounts: the pool's upstream accounts. Keys are write-only here: sent on add/edit, never shown.
import { PROVIDERS, loadAccounts, stateBadgeKind } from "../accounts_model.js";
import { api, tryRoutes } from "../api.js";
import { act, confirmDialog, fmt, h, replace, toast } from "../dom.js";

const enc = encodeURIComponent;

function accountForm(existing, onDone) {
  const a = existing || { provider: "openai", base_url: PROVIDERS.openai.base_url, models: [], enabled: true, weight: 1, label: "" };
  const provider = h("select", { name: "provider", disabled: !!existing },
    Object.entries(PROVIDERS).map(([k, p]) => h("option", { value: k, selected: k === a.provider }, p.name)));
  const label = h("input", { name: "label", value: a.label, required: true, placeholder: "e.g. openai-main" });
  const baseUrl = h("input", { name: "base_url", value: a.base_url, placeholder: "https://…" });
  const key = h("input", { name: "api_key", type: "password", autocomplete: "new-password",
    placeholder: existing ? "leave empty to keep the stored key" : "the provider's API key", required: !existing && a.provider !== "mock" });
  const models = h("input", { name: "models", value: a.models.join(", "), placeholder: "model ids, comma-separated (empty: fetch from the provider)" });
  const weight = h("input", { name: "weight", type: "number", min: 0, step: 1, value: a.weight });
  const enabled = h("input", { name: "enabled", type: "checkbox", checked: a.enabled });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  provider.addEventListener("change", () => {
    const p = PROVIDERS[provider.value];
    baseUrl.value = p.base_url;
    key.required = provider.value !== "mock";
  });
  const submit = h("button", { type: "submit", class: "primary" }, existing ? "Save" : "Add account");
  const dlg = h("dialog", { class: "account-form" });
  const form = h("form", { class: "stack" },
    h("h2", {}, existing ? `Edit ${a.label}` : "Add an account"),
    h("div", { class: "form-grid" },
      h("label", {}, "Provider", provider), h("label", {}, "Label", label),
      h("label", {}, "Base URL", baseUrl), h("label", {}, "API key", key),
      h("label", {}, "Models", models), h("label", {}, "Weight", weight),
      h("label", { class: "inline" }, enabled, "Enabled")),
    error,
    h("div", { class: "row spread" }, h("span"),
      h("div", { class: "row" }, h("button", { type: "button", onclick: () => dlg.close() }, "Cancel"), submit)));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {
      label: label.value.trim(), base_url: baseUrl.value.trim(), weight: Number(weight.value || 1),
      enabled: enabled.checked, models: models.value.split(/[\s,]+/).filter(Boolean),
    };
    if (!existing) body.provider = provider.value;
    if (key.value) body.api_key = key.value;
    submit.disabled = true;
    try {
      if (existing) {
        await tryRoutes([["PATCH", `/api/accounts/${enc(existing.id)}`, body], ["PUT", `/api/accounts/${enc(existing.id)}`, body]]);
      } else {
        await api("POST", "/api/accounts", body);
      }
      key.value = "";
      dlg.close();
      toast(existing ? `Saved ${body.label}` : `Added ${body.label}`, "ok");
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
}

function cooldownCell(a) {
  const parts = [];
  if (a.until) parts.push(h("div", { class: "countdown", dataset: { until: a.until } }, `${fmt.duration(a.until - Date.now() / 1000)} left`));
  for (const c of a.cooldowns.filter((c) => c.model)) {
    parts.push(h("div", { class: "muted" }, `${c.model}: `, h("span", { class: "countdown", dataset: { until: c.until } }, fmt.duration(c.until - Date.now() / 1000))));
  }
  if (a.reason) parts.push(h("div", { class: "muted" }, a.reason));
  return parts.length ? parts : "—";
}

export async function mount(root) {
  const list = h("div", { class: "card" }, h("div", { class: "muted" }, "Loading…"));
  const addBtn = h("button", { class: "primary", type: "button", onclick: () => accountForm(null, refresh) }, "Add account");
  replace(root, h("div", { class: "row spread" }, h("h1", {}, "Accounts"), addBtn), list);

  const action = (a, label, candidates, msg, cls = "small") => {
    const b = h("button", { type: "button", class: cls, dataset: { action: label.toLowerCase().replace(/\s+/g, "-") } }, label);
    b.addEventListener("click", () => act(b, async () => { const out = await tryRoutes(candidates); refresh(); return out; }, msg));
    return b;
  };

  async function refresh() {
    let acc;
    try {
      acc = await loadAccounts();
    } catch (err) {
      replace(list, h("p", { class: "error", role: "alert" }, `Could not load accounts: ${err.message}`));
      return;
    }
    addBtn.disabled = !acc.available;
    if (!acc.available) return replace(list, h("p", { class: "empty" }, acc.message));
    if (!acc.items.length) return replace(list, h("p", { class: "empty" }, "No accounts yet. Add one to start proxying."));
    replace(list, h("table", { class: "accounts" },
      h("thead", {}, h("tr", {}, ["Label", "Provider", "Models", "Key", "State", "Cooldown", "Weight", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, acc.items.map((a) => {
        const id = enc(a.id);
        const del = h("button", { type: "button", class: "small danger", dataset: { action: "delete" } }, "Delete");
        del.addEventListener("click", async () => {
          if (!(await confirmDialog(`Delete ${a.label}?`, "The account and its stored key are removed. This cannot be undone.", "Delete"))) return;
          act(del, async () => { await api("DELETE", `/api/accounts/${id}`); refresh(); }, `Deleted ${a.label}`);
        });
        const toggle = a.enabled
          ? action(a, "Disable", [["POST", `/api/accounts/${id}/disable`], ["PATCH", `/api/accounts/${id}`, { enabled: false }]], `Disabled ${a.label}`)
          : action(a, "Enable", [["POST", `/api/accounts/${id}/enable`], ["PATCH", `/api/accounts/${id}`, { enabled: true }]], `Enabled ${a.label}`);
        const test = h("button", { type: "button", class: "small", dataset: { action: "test" } }, "Test");
        test.addEventListener("click", () => act(test, () => api("POST", `/api/accounts/${id}/test`),
          (out) => `${a.label}: ${out && typeof out === "object" ? (out.message || (out.ok === false ? "failed" : "OK")) : out}`));
        return h("tr", { dataset: { account: a.label } },
          h("td", {}, h("strong", {}, a.label), a.base_url ? h("div", { class: "muted" }, a.base_url) : null),
          h("td", {}, a.provider),
          h("td", {}, a.models.length ? a.models.slice(0, 8).map((m) => h("span", { class: "tag" }, m)) : h("span", { class: "muted" }, "any"),
            a.models.length > 8 ? h("span", { class: "muted" }, ` +${a.models.length - 8}`) : null),
          h("td", { class: "mono" }, a.key_masked || "—"),
          h("td", {}, h("span", { class: `badge ${stateBadgeKind(a.state)}` }, a.state)),
          h("td", {}, cooldownCell(a)),
          h("td", { class: "num" }, a.weight),
          h("td", {}, h("div", { class: "row" },
            h("button", { type: "button", class: "small", dataset: { action: "edit" }, onclick: () => accountForm(a, refresh) }, "Edit"),
            toggle, test,
            action(a, "Refresh models", [["POST", `/api/accounts/${id}/refresh`], ["POST", `/api/accounts/${id}/models/refresh`]], `Refreshed ${a.label}'s models`),
            action(a, "Clear cooldowns", [["POST", `/api/accounts/${id}/cooldowns/clear`], ["DELETE", `/api/accounts/${id}/cooldowns`], ["POST", `/api/accounts/${id}/clear-cooldowns`]], `Cleared ${a.label}'s cooldowns`),
            del)));
      }))));
  }

  await refresh();
  const timer = setInterval(refresh, 5000);
  const tick = setInterval(() => {
    for (const el of root.querySelectorAll(".countdown")) {
      const left = Number(el.dataset.until) - Date.now() / 1000;
      el.textContent = left > 0 ? `${fmt.duration(left)}${el.parentElement.classList.contains("muted") ? "" : " left"}` : "over";
    }
  }, 1000);
  return () => { clearInterval(timer); clearInterval(tick); };
}
