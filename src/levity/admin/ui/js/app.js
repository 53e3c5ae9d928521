// The single-page app: login, hash routing, one page mounted at a time.
import { api, session, setUnauthorizedHandler } from "./api.js";
import { h, replace } from "./dom.js";
import * as accounts from "./pages/accounts.js";
import * as dashboard from "./pages/dashboard.js";
import * as monitor from "./pages/monitor.js";
import * as proxy from "./pages/proxy.js";
import * as stats from "./pages/stats.js";

const PAGES = { dashboard, accounts, proxy, monitor, stats };
const main = document.getElementById("main");
const loginSection = document.getElementById("login");
const topbar = document.querySelector(".topbar");
let cleanup = null;
let mountedFor = null;

function showLogin(message) {
  unmount();
  session.key = "";
  topbar.hidden = true;
  main.hidden = true;
  loginSection.hidden = false;
  const err = document.getElementById("login-error");
  err.hidden = !message;
  err.textContent = message || "";
  document.getElementById("login-key").focus();
}

function unmount() {
  if (cleanup) {
    try { cleanup(); } catch (err) { console.error(err); }
  }
  cleanup = null;
  mountedFor = null;
}

async function route() {
  if (!session.key) return showLogin("");
  const name = (location.hash.replace(/^#\/?/, "").split("?")[0] || "dashboard");
  const page = PAGES[name] || PAGES.dashboard;
  const key = name in PAGES ? name : "dashboard";
  if (mountedFor === key) return;
  unmount();
  topbar.hidden = false;
  loginSection.hidden = true;
  main.hidden = false;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === key);
  mountedFor = key;
  const root = h("div", { class: "page", dataset: { page: key } });
  replace(main, root);
  try {
    cleanup = (await page.mount(root)) || null;
  } catch (err) {
    replace(root, h("p", { class: "error", role: "alert" }, `This page failed to load: ${err.message}`));
  }
}

document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = document.getElementById("login-key");
  const key = input.value.trim();
  const err = document.getElementById("login-error");
  try {
    await api("GET", "/api/config", undefined, { key, quiet401: true });
  } catch (e) {
    err.hidden = false;
    err.textContent = e.status === 401 ? `Not accepted: ${e.message}` : e.message;
    return;
  }
  session.key = key;
  input.value = "";
  if (!location.hash) location.hash = "#/dashboard";
  route();
});

document.getElementById("logout").addEventListener("click", () => showLogin(""));
setUnauthorizedHandler((message) => showLogin(`Signed out: ${message}`));
window.addEventListener("hashchange", route);
route();
