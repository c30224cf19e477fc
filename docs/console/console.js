// The console's entry point: logging in (a pasted token, or a one-time login
// link whose code travels in the URL fragment and is taken out of the address
// bar before anything else runs), then the views.

import { request, get, token, setToken, clearToken, claims } from "./api.js";
import { $, notify, reportError } from "./dom.js";
import { FilesView } from "./files.js";
import { UploadView } from "./upload.js";
import { LinksView, UsageView } from "./usage.js";
import { AdminView } from "./admin.js";

const views = {};

async function loginWithCode(code) {
  const answer = await request("POST", "/api/v1/console/sessions", { json: { code }, auth: false });
  setToken(answer.token);
}

async function loginWithToken(value) {
  setToken(value.trim());
  try {
    await get("/api/v1/storage/quota");
  } catch (e) {
    clearToken();
    throw e;
  }
}

function showLogin() {
  $("#app").hidden = true;
  $("#logout").hidden = true;
  $("#who").hidden = true;
  $("#login").hidden = false;
  $("#token-input").focus();
}

function show(name) {
  for (const button of document.querySelectorAll(".tabs button")) {
    if (button.dataset.view === name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-" + name;
  views[name]?.load().catch(reportError);
}

function startApp() {
  const c = claims() || {};
  const admin = c.role === "admin";
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#logout").hidden = false;
  const who = $("#who");
  who.textContent = (c.sub || "unknown user") + (c.org ? " · " + c.org : "") + (admin ? " · admin" : "");
  who.hidden = false;
  for (const node of document.querySelectorAll("[data-admin]")) node.hidden = !admin;
  document.querySelector('.tabs [data-view="admin"]').hidden = !admin;

  views.files = new FilesView();
  views.upload = new UploadView(() => views.files.reload());
  views.links = new LinksView();
  views.usage = new UsageView();
  if (admin) views.admin = new AdminView();
  show("files");
}

function wire() {
  for (const button of document.querySelectorAll(".tabs button")) {
    button.addEventListener("click", () => show(button.dataset.view));
  }
  $("#logout").addEventListener("click", () => {
    clearToken();
    location.replace(location.pathname);
  });
  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await loginWithToken($("#token-input").value);
      $("#token-input").value = "";
      startApp();
    } catch (e) {
      notify(e.status === 401 ? "That token is not valid (or has expired)." : e.message, "error");
    }
  });
}

// A login link's code is spent only on the user's click: mail and chat
// scanners that open links (and run their script) must not use it up, and a
// link someone else sent cannot log anyone in unawares.
function offerLoginLink(code) {
  $("#login").hidden = true;
  $("#login-link").hidden = false;
  $("#login-link-continue").focus();
  $("#login-link-continue").addEventListener("click", async () => {
    try {
      await loginWithCode(code);
    } catch (e) {
      $("#login-link").hidden = true;
      notify(e.status === 401
        ? "This login link is not valid: it was used already or has expired. Ask for a new one, or paste a token."
        : "Logging in did not work (" + e.message + "); try the link again shortly.", "error");
      return showLogin();
    }
    $("#login-link").hidden = true;
    startApp();
  }, { once: true });
  $("#login-link-cancel").addEventListener("click", () => {
    $("#login-link").hidden = true;
    showLogin();
  }, { once: true });
}

async function main() {
  wire();
  // A login link: take the code out of the address bar (so later Referers
  // and bookmarks never carry it) before anything else; it is single use.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const code = fragment.get("login");
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  if (code) return offerLoginLink(code);
  if (!token()) return showLogin();
  try {
    await get("/api/v1/storage/quota");
  } catch (e) {
    if (e.status === 401) {
      clearToken();
      notify("Your session has expired; log in again.", "error");
      return showLogin();
    }
  }
  startApp();
}

main().catch(reportError);
