// A tolerant reading of /api/accounts: the pool layer's JSON shape may still change, so accept the
// likely variants and normalise them to one shape for the pages.
import { ApiError, get } from "./api.js";

export const PROVIDERS = {
  openai: { name: "OpenAI-compatible", base_url: "https://api.openai.com/v1" },
  anthropic: { name: "Anthropic", base_url: "https://api.anthropic.com" },
  gemini: { name: "Gemini", base_url: "https://generativelanguage.googleapis.com" },
  mock: { name: "Mock (local, for demos)", base_url: "" },
};

function num(v) {
  if (v == null || v === "") return null;
  if (typeof v === "number") return v;
  const t = Date.parse(v);
  return Number.isNaN(t) ? Number(v) || null : t / 1000;
}

function models(v) {
  if (Array.isArray(v)) return v.map((m) => (typeof m === "string" ? m : m.id || m.name || String(m)));
  if (typeof v === "string") return v.split(/[\s,]+/).filter(Boolean);
  return [];
}

function cooldowns(a, now) {
  const raw = a.cooldowns || (a.state && typeof a.state === "object" && a.state.cooldowns) || [];
  const list = Array.isArray(raw) ? raw : Object.entries(raw).map(([model, v]) => ({ model, ...(typeof v === "object" ? v : { until: v }) }));
  return list
    .map((c) => ({
      model: c.model || c.scope || "",
      until: num(c.until ?? c.cooldown_until) ?? (c.seconds_left != null ? now + c.seconds_left : null),
      reason: c.reason || "",
    }))
    .filter((c) => c.until && c.until > now);
}

export function normalise(a, now = Date.now() / 1000) {
  const st = a.state && typeof a.state === "object" ? a.state : {};
  const stateName = typeof a.state === "string" ? a.state : st.state || st.status || a.status || "";
  const cds = cooldowns(a, now);
  let until = num(a.cooldown_until ?? st.cooldown_until ?? st.until);
  if (until == null && (a.cooldown_seconds ?? st.cooldown_seconds) != null) until = now + (a.cooldown_seconds ?? st.cooldown_seconds);
  for (const c of cds) if (!c.model && (!until || c.until > until)) until = c.until;
  const enabled = a.enabled !== false && a.disabled !== true;
  let state = stateName.toLowerCase();
  if (!state) state = !enabled ? "disabled" : until && until > now ? "cooling" : "ready";
  if (state === "cooldown") state = "cooling";
  if (state === "ok" || state === "available") state = "ready";
  return {
    id: a.id ?? a.label ?? a.name,
    label: a.label || a.name || String(a.id ?? ""),
    provider: a.provider || a.kind || a.type || "",
    base_url: a.base_url || a.baseUrl || "",
    models: models(a.models),
    enabled,
    weight: a.weight ?? 1,
    key_masked: a.api_key_masked || a.key_masked || a.masked_key || a.api_key || a.key || "",
    state,
    until: until && until > now ? until : null,
    reason: a.reason || st.reason || a.cooldown_reason || a.last_error || st.error || "",
    cooldowns: cds,
    raw: a,
  };
}

// -> { available: bool, items: [...normalised], message }
export async function loadAccounts() {
  let data;
  try {
    data = await get("/api/accounts");
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) {
      return { available: false, items: [], message: "The account pool is not part of this build yet." };
    }
    throw err;
  }
  const list = Array.isArray(data) ? data : data.accounts || data.items || data.data || [];
  const now = Date.now() / 1000;
  return { available: true, items: list.map((a) => normalise(a, now)) };
}

export function stateBadgeKind(state) {
  return { ready: "ok", cooling: "warn", disabled: "", unusable: "bad", error: "bad", invalid: "bad" }[state] ?? "info";
}
