// The admin API client: the key lives in sessionStorage and goes out as `Authorization: Bearer`.
const KEY = "levity.adminKey";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY) || ""; },
  set key(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
};

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

function errorMessage(status, data, fallback) {
  // Every gateway error has one of three shapes (OpenAI, Anthropic, Gemini); all carry error.message.
  const err = data && data.error;
  if (err && typeof err === "object" && err.message) return err.message;
  if (typeof err === "string") return err;
  if (data && data.message) return data.message;
  return fallback || `HTTP ${status}`;
}

export async function api(method, path, body, { key, quiet401 = false, signal } = {}) {
  const headers = { Authorization: `Bearer ${key ?? session.key}` };
  const init = { method, headers, signal };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, `cannot reach the gateway (${err.message})`);
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!resp.ok) {
    const message = errorMessage(resp.status, data, text.slice(0, 300));
    if (resp.status === 401 && !quiet401) onUnauthorized(message);
    throw new ApiError(resp.status, message);
  }
  return data ?? text;
}

export const get = (path, opts) => api("GET", path, undefined, opts);

// Server-Sent Events over fetch (EventSource cannot send an Authorization header).
export async function streamEvents(path, onEvent, signal) {
  const resp = await fetch(path, { headers: { Authorization: `Bearer ${session.key}` }, signal });
  if (!resp.ok) {
    const text = await resp.text();
    let data = null;
    try { data = JSON.parse(text); } catch { /* not JSON */ }
    const message = errorMessage(resp.status, data, text.slice(0, 300));
    if (resp.status === 401) onUnauthorized(message);
    throw new ApiError(resp.status, message);
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(event, JSON.parse(data.join("\n")));
    }
  }
}
