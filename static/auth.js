// The views before a session: first-run setup (`/setup#<token>`) and login.
// Both end in `onSignedIn({user, csrf_token}, message)`.

import * as api from "/static/api.js";
import { setMessage } from "/static/i18n.js";
import { byId, checkFields, setBusy, showView } from "/static/dom.js";

let signedIn = () => {};

export function initAuth({ onSignedIn }) {
  signedIn = onSignedIn;
  byId("login-form").addEventListener("submit", logIn);
  byId("setup-form").addEventListener("submit", setUp);
  // A setup link pasted into the tab that shows the page changes only the hash.
  window.addEventListener("hashchange", () => {
    if (!byId("setup-view").hidden) setMessage(byId("setup-error"), setupToken() ? null : { key: "setup.missingToken" });
  });
}

/** The login view, with an optional message (why the user is here). */
export function showLogin(message = null) {
  const username = byId("login-username");
  byId("login-password").value = "";
  setMessage(byId("login-error"), message);
  showView("login-view", username.value ? byId("login-password") : username);
}

export function showSetup() {
  setMessage(byId("setup-error"), setupToken() ? null : { key: "setup.missingToken" });
  showView("setup-view", byId("setup-username"));
}

function setupToken() {
  const raw = location.hash.slice(1);
  try {
    return decodeURIComponent(raw).trim();
  } catch {
    return raw.trim();
  }
}


async function logIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const username = byId("login-username");
  const password = byId("login-password");
  const error = byId("login-error");
  const problem = checkFields([username, password]);
  setMessage(error, problem);
  if (problem) return;
  setBusy(form, true);
  try {
    const session = await api.post(
      "/api/session",
      { username: username.value.trim(), password: password.value },
      { expectUnauthorized: true },
    );
    password.value = "";
    signedIn(session);
  } catch (failure) {
    setMessage(error, loginError(failure));
    password.focus();
    password.select();
  } finally {
    setBusy(form, false);
  }
}

function loginError(failure) {
  if (failure instanceof api.ApiError) {
    if (failure.status === 401) return { key: "login.wrong" };
    if (failure.status === 429) {
      return failure.retryAfter === null
        ? { key: "login.tooManyLater" }
        : { key: "login.tooMany", args: { count: failure.retryAfter } };
    }
  }
  return api.errorMessage(failure);
}

async function setUp(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const username = byId("setup-username");
  const password = byId("setup-password");
  const error = byId("setup-error");
  const token = setupToken();
  const problem = token ? checkFields([username, password], password) : { key: "setup.missingToken" };
  setMessage(error, problem);
  if (problem) return;
  setBusy(form, true);
  try {
    const session = await api.post(
      "/api/setup",
      { token, username: username.value.trim(), password: password.value },
      { expectUnauthorized: true },
    );
    password.value = "";
    // The link is spent: keep its token out of the address bar and history.
    history.replaceState(null, "", "/");
    signedIn(session, { key: "setup.done" });
  } catch (failure) {
    if (failure instanceof api.ApiError && (failure.status === 404 || failure.status === 409)) {
      // An account exists already (404; some servers say 409): setup is
      // over, the normal page takes over.
      location.replace("/");
      return;
    }
    const forbidden = failure instanceof api.ApiError && failure.status === 403;
    setMessage(error, forbidden ? { key: "setup.forbidden" } : api.errorMessage(failure));
  } finally {
    setBusy(form, false);
  }
}
