// The accounts as GET /api/accounts answers them (see src/levity/admin/accounts.py and pool/pool.py):
// { id, label, provider, base_url, api_key (masked), models, enabled, weight, options, ephemeral,
//   usable, unusable_reason, cooldowns: [{ model, reason, message, seconds_left, until }], in_flight, stats }
import { get } from "./api.js";

export const PROVIDERS = {
  openai: { name: "OpenAI-compatible", short: "OpenAI", base_url: "https://api.openai.com/v1", needsKey: true },
  anthropic: { name: "Anthropic", short: "Anthropic", base_url: "https://api.anthropic.com", needsKey: true },
  gemini: { name: "Gemini", short: "Gemini", base_url: "https://generativelanguage.googleapis.com", needsKey: true },
  mock: { name: "Mock (local, for demos)", short: "Mock", base_url: "", needsKey: false },
};

// Countdowns run on this browser's clock from `seconds_left`, so a skewed server clock does not matter.
export function withState(a, now = Date.now() / 1000) {
  const rests = a.cooldowns
    .filter((c) => c.seconds_left != null && c.seconds_left > 0)
    .map((c) => ({ ...c, ends: now + c.seconds_left }));
  const whole = rests.filter((c) => !c.model).sort((x, y) => y.ends - x.ends)[0];
  let state = "ready";
  if (!a.enabled) state = "disabled";
  else if (!a.usable) state = "unusable";
  else if (rests.length) state = "cooling";
  return {
    ...a,
    state,
    rests, // finite cooldowns with their end time on this clock
    ends: whole ? whole.ends : null, // when the whole account is back, if it rests as a whole
    reason: state === "unusable" ? a.unusable_reason : state === "disabled" ? "disabled" : "",
  };
}

export async function loadAccounts() {
  const data = await get("/api/accounts");
  const now = Date.now() / 1000;
  return data.accounts.map((a) => withState(a, now));
}

export function stateBadgeKind(state) {
  return { ready: "ok", cooling: "warn", disabled: "", unusable: "bad" }[state] ?? "info";
}
