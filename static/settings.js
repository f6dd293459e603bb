// The settings view: the user's password, their API tokens (a new secret is
// shown once), and for administrators the users of the service.

import * as api from "/static/api.js";
import { formatDate, setMessage } from "/static/i18n.js";
import { announce, byId, checkFields, el, setBusy, showView } from "/static/dom.js";

/** The signed-in user, set by `showSettings`. */
let me = null;
/** Bumped by `resetSettings`: lists that arrive for a previous user are dropped. */
let generation = 0;

export function initSettings() {
  byId("password-form").addEventListener("submit", changePassword);
  byId("token-form").addEventListener("submit", createToken);
  byId("copy-token").addEventListener("click", copyToken);
  byId("tokens").addEventListener("click", onTokenClick);
  byId("user-form").addEventListener("submit", addUser);
  byId("users").addEventListener("click", onUserClick);
}

export function showSettings(user) {
  me = user;
  clearForms();
  byId("password-username").value = user.username;
  byId("admin-section").hidden = !user.is_admin;
  showView("settings-view");
  loadTokens();
  if (user.is_admin) loadUsers();
}

/** Forgets the user's data (logging out). */
export function resetSettings() {
  me = null;
  generation += 1;
  clearForms();
  byId("tokens").replaceChildren();
  byId("tokens-empty").hidden = true;
  byId("users").replaceChildren();
  byId("admin-section").hidden = true;
}

function clearForms() {
  for (const form of ["password-form", "token-form", "user-form"]) byId(form).reset();
  for (const message of ["password-status", "token-error", "user-error"]) setMessage(byId(message), null);
  hideSecret();
}

function hideSecret() {
  byId("token-secret").textContent = "";
  byId("token-secret-box").hidden = true;
}


function showFormStatus(element, message, ok) {
  element.classList.toggle("ok", ok);
  element.classList.toggle("error", !ok);
  setMessage(element, message);
}

// Password

async function changePassword(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const current = byId("current-password");
  const next = byId("new-password");
  const status = byId("password-status");
  const problem = checkFields([current, next], next);
  if (problem) {
    showFormStatus(status, problem, false);
    return;
  }
  setMessage(status, null);
  setBusy(form, true);
  try {
    await api.put(
      "/api/me/password",
      { current_password: current.value, new_password: next.value },
      { expectUnauthorized: true },
    );
    current.value = "";
    next.value = "";
    showFormStatus(status, { key: "password.done" }, true);
  } catch (failure) {
    if (await isWrongPassword(failure)) {
      showFormStatus(status, { key: "password.wrong" }, false);
      current.focus();
      current.select();
    } else if (me !== null) {
      showFormStatus(status, api.errorMessage(failure), false);
    }
  } finally {
    setBusy(form, false);
  }
}

/** Whether a failed change means a wrong current password: 401 in the
 * API contract (403 `forbidden` from servers that keep 401 for sessions). */
async function isWrongPassword(failure) {
  if (!(failure instanceof api.ApiError)) return false;
  if (failure.status === 403 && failure.code === "forbidden") return true;
  if (failure.status !== 401) return false;
  // A 401 is a wrong password or a session that ended: asking for the
  // session tells them apart (and shows the login view in the second case).
  try {
    await api.get("/api/session");
    return true;
  } catch {
    return false;
  }
}

// Tokens

async function loadTokens() {
  const asked = generation;
  try {
    const tokens = await api.get("/api/tokens");
    if (asked !== generation) return;
    byId("tokens").replaceChildren(...(tokens ?? []).map(tokenItem));
    updateTokensEmpty();
  } catch (failure) {
    if (asked === generation) announce(api.errorMessage(failure));
  }
}

function updateTokensEmpty() {
  byId("tokens-empty").hidden = byId("tokens").children.length > 0;
}

function dated(labelKey, iso) {
  return el(
    "span",
    { class: "dated" },
    el("span", { message: { key: labelKey } }),
    ": ",
    el("time", { datetime: iso, "data-date": true, text: formatDate(iso) }),
  );
}

function tokenItem(token) {
  const nameId = `token-${token.id}-name`;
  return el(
    "li",
    { class: "token", dataset: { id: token.id, name: token.name } },
    el(
      "div",
      { class: "row-main" },
      el("span", { class: "row-title", id: nameId, text: token.name }),
      el(
        "span",
        { class: "row-meta" },
        dated("tokens.created", token.created_at),
        token.last_used_at
          ? dated("tokens.lastUsed", token.last_used_at)
          : el("span", { class: "dated", message: { key: "tokens.neverUsed" } }),
      ),
    ),
    el("button", {
      type: "button",
      class: "revoke-token danger-quiet",
      "aria-describedby": nameId,
      message: { key: "tokens.revoke" },
    }),
  );
}

async function createToken(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const name = byId("token-name");
  const error = byId("token-error");
  hideSecret();
  if (!name.value.trim()) {
    setMessage(error, { key: "tokens.nameRequired" });
    name.focus();
    return;
  }
  setMessage(error, null);
  setBusy(form, true);
  try {
    const created = await api.post("/api/tokens", { name: name.value.trim() });
    name.value = "";
    // The secret is only ever in this answer: shown now, never again.
    byId("token-secret").textContent = created.token;
    byId("token-secret-box").hidden = false;
    const { token: _secret, ...listed } = created;
    byId("tokens").prepend(tokenItem(listed));
    updateTokensEmpty();
    byId("copy-token").focus();
  } catch (failure) {
    setMessage(error, api.errorMessage(failure));
  } finally {
    setBusy(form, false);
  }
}

async function copyToken() {
  const secret = byId("token-secret");
  try {
    await navigator.clipboard.writeText(secret.textContent);
    announce({ key: "tokens.copied" });
  } catch {
    // No clipboard access (an old browser, a policy): select it for the user.
    const range = document.createRange();
    range.selectNodeContents(secret);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    announce({ key: "tokens.copyFailed" });
  }
}

async function onTokenClick(event) {
  const button = event.target instanceof Element ? event.target.closest("button.revoke-token") : null;
  const item = button?.closest("li.token");
  if (!item) return;
  button.disabled = true;
  try {
    await api.del(`/api/tokens/${encodeURIComponent(item.dataset.id)}`);
    const next = item.nextElementSibling ?? item.previousElementSibling;
    item.remove();
    updateTokensEmpty();
    announce({ key: "tokens.revoked", args: { name: item.dataset.name } });
    (next?.querySelector("button.revoke-token") ?? byId("token-name")).focus();
  } catch (failure) {
    button.disabled = false;
    announce(api.errorMessage(failure));
  }
}

// Users (administrators)

async function loadUsers() {
  const asked = generation;
  try {
    const users = await api.get("/api/users");
    if (asked !== generation) return;
    byId("users").replaceChildren(...(users ?? []).map(userItem));
  } catch (failure) {
    if (asked === generation) announce(api.errorMessage(failure));
  }
}

function userItem(user) {
  const nameId = `user-${user.id}-name`;
  const self = user.id === me?.id;
  return el(
    "li",
    {
      class: user.disabled ? "user is-disabled" : "user",
      dataset: { username: user.username, id: user.id, disabled: String(Boolean(user.disabled)) },
    },
    el(
      "div",
      { class: "row-main" },
      el("span", { class: "row-title", id: nameId, text: user.username }),
      el(
        "span",
        { class: "badges" },
        user.is_admin && el("span", { class: "badge", message: { key: "users.admin" } }),
        user.disabled && el("span", { class: "badge warn", message: { key: "users.disabled" } }),
        self && el("span", { class: "badge", message: { key: "users.you" } }),
      ),
    ),
    // One's own account cannot be disabled (the server answers 409).
    el("button", {
      type: "button",
      class: user.disabled ? "toggle-disabled" : "toggle-disabled danger-quiet",
      "aria-describedby": nameId,
      disabled: self,
      message: { key: user.disabled ? "users.enable" : "users.disable" },
    }),
  );
}

async function addUser(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const username = byId("new-username");
  const password = byId("new-password-user");
  const error = byId("user-error");
  const problem = checkFields([username, password], password);
  setMessage(error, problem);
  if (problem) return;
  setBusy(form, true);
  try {
    const user = await api.post("/api/users", {
      username: username.value.trim(),
      password: password.value,
      is_admin: byId("new-is-admin").checked,
    });
    form.reset();
    byId("users").append(userItem(user));
    announce({ key: "users.added", args: { name: user.username } });
    username.focus();
  } catch (failure) {
    const taken = failure instanceof api.ApiError && failure.status === 409;
    setMessage(error, taken ? { key: "users.taken" } : api.errorMessage(failure));
    if (taken) username.focus();
  } finally {
    setBusy(form, false);
  }
}

async function onUserClick(event) {
  const button = event.target instanceof Element ? event.target.closest("button.toggle-disabled") : null;
  const item = button?.closest("li.user");
  if (!item) return;
  const disable = item.dataset.disabled !== "true";
  button.disabled = true;
  try {
    const user = await api.patch(`/api/users/${encodeURIComponent(item.dataset.id)}`, { disabled: disable });
    const replacement = userItem(user);
    item.replaceWith(replacement);
    replacement.querySelector("button.toggle-disabled").focus();
    announce({ key: user.disabled ? "users.nowDisabled" : "users.nowEnabled", args: { name: user.username } });
  } catch (failure) {
    button.disabled = false;
    announce(api.errorMessage(failure));
  }
}
