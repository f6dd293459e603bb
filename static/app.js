// The web UI's entry point: picks the language, decides the first view
// (setup, login or notes), and owns the session: signing in, a session that
// ends (any unexpected 401), logging out, and moving between notes and
// settings.

import * as api from "/static/api.js";
import { language, setLanguage } from "/static/i18n.js";
import { announce, byId, showView, visibleView } from "/static/dom.js";
import { initAuth, showLogin, showSetup } from "/static/auth.js";
import { initNotes, loadNotes, resetNotes } from "/static/notes.js";
import { initSettings, resetSettings, showSettings } from "/static/settings.js";

/** The signed-in user, or null. */
let user = null;

function start() {
  const select = byId("language");
  setLanguage(language(), { remember: false });
  select.value = language();
  select.addEventListener("change", () => setLanguage(select.value));

  api.onUnauthorized(sessionEnded);
  initAuth({ onSignedIn: signedIn });
  initNotes();
  initSettings();
  byId("open-settings").addEventListener("click", openSettings);
  byId("close-settings").addEventListener("click", closeSettings);
  byId("logout").addEventListener("click", logOut);
  window.addEventListener("popstate", followHistory);
  document.addEventListener("keydown", (event) => {
    // Escape leaves the settings, unless it was meant for a field (closing
    // an autofill list, say).
    const inField = event.target instanceof Element && event.target.closest("input, textarea, select");
    if (event.key === "Escape" && !inField && visibleView() === "settings-view" && !document.querySelector("dialog[open]")) {
      closeSettings();
    }
  });

  if (location.pathname === "/setup") showSetup();
  else checkSession();
}

async function checkSession() {
  try {
    signedIn(await api.get("/api/session", { expectUnauthorized: true }));
  } catch (failure) {
    const loggedOut = failure instanceof api.ApiError && failure.status === 401;
    showLogin(loggedOut ? null : api.errorMessage(failure));
  }
}

/** A session began (or was found): `{user, csrf_token}`. */
function signedIn(session, message = null) {
  api.setCsrfToken(session.csrf_token);
  user = session.user;
  byId("whoami").textContent = user.username;
  byId("account").hidden = false;
  resetNotes();
  resetSettings();
  showView("notes-view");
  loadNotes();
  if (message) announce(message);
}

/** Forgets the user and everything shown for them. */
function forget() {
  user = null;
  api.setCsrfToken(null);
  byId("account").hidden = true;
  byId("whoami").textContent = "";
  resetNotes();
  resetSettings();
}

/** A request was answered 401: the session expired or was ended elsewhere. */
function sessionEnded() {
  // Several requests in flight can all be answered 401: the first one counts.
  if (user === null && visibleView() === "login-view") return;
  const hadSession = user !== null;
  forget();
  showLogin(hadSession ? { key: "login.expired" } : null);
}

async function logOut() {
  const button = byId("logout");
  button.disabled = true;
  try {
    // A 401 means the session is over already: just as good.
    await api.del("/api/session", { expectUnauthorized: true });
  } catch (failure) {
    if (!(failure instanceof api.ApiError && failure.status === 401)) {
      announce(api.errorMessage(failure));
      return;
    }
  } finally {
    button.disabled = false;
  }
  forget();
  showLogin();
  announce({ key: "status.loggedOut" });
}

// Settings is a history entry of its own, so that Back returns to the notes.

function openSettings() {
  if (!user) return;
  if (visibleView() !== "settings-view") history.pushState({ view: "settings" }, "");
  showSettings(user);
}

function closeSettings() {
  showView("notes-view", byId("open-settings"));
  if (history.state?.view === "settings") history.back();
}

function followHistory(event) {
  if (!user) return;
  if (event.state?.view === "settings") showSettings(user);
  else if (visibleView() === "settings-view") showView("notes-view", byId("open-settings"));
}

start();
