// The JSON API client: the CSRF token of the session, headers, errors as
// `ApiError`, the `Link: rel="next"` of note pages, and what happens on a 401
// (the app shows the login view). Also turns errors into user-facing messages.

export class ApiError extends Error {
  /** `status` 0 with `code` "network" when no answer came. */
  constructor(status, code, message, retryAfter = null) {
    super(message || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

let csrfToken = null;
let unauthorizedHandler = () => {};

export function setCsrfToken(token) {
  csrfToken = token ?? null;
}

/** Called once per 401 from a request that did not expect one. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export function isAbort(error) {
  return error?.name === "AbortError";
}

/** Errors the app already deals with on its own: a cancelled request, or a
 * 401 that sent the user to the login view. Callers show nothing for them. */
export function isHandled(error) {
  return isAbort(error) || (error instanceof ApiError && error.status === 401 && error.handled);
}

/**
 * Sends one request. Options: `body` (sent as JSON), `signal`,
 * `expectUnauthorized` (a 401 is an answer for the caller, not a lost session:
 * logging in, checking the session). Resolves to `{data, response}`.
 */
export async function request(method, url, { body, signal, expectUnauthorized = false, retry = true } = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, signal, credentials: "same-origin", cache: "no-store" };
  if (method !== "GET" && method !== "HEAD") {
    headers["Content-Type"] = "application/json";
    if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
    if (body !== undefined) init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError(0, "network", error?.message ?? "");
  }
  if (response.ok) {
    return { data: await readJson(response), response };
  }
  const error = await errorOf(response);
  if (response.status === 401 && !expectUnauthorized) {
    error.handled = true;
    unauthorizedHandler(error);
  } else if (
    response.status === 403 &&
    error.code === "csrf" &&
    retry &&
    csrfToken !== null &&
    !expectUnauthorized &&
    (await refreshCsrfToken())
  ) {
    // The session outlived the token this page held (another tab logged in
    // again, say): fetch the current one and try once more.
    return request(method, url, { body, signal, expectUnauthorized, retry: false });
  }
  throw error;
}

async function readJson(response) {
  if (response.status === 204 || response.status === 205) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(response.status, "bad_response", "the server answered with something that is not JSON");
  }
}

async function errorOf(response) {
  let code = `http_${response.status}`;
  let message = "";
  try {
    const body = await response.json();
    code = body?.error?.code ?? code;
    message = body?.error?.message ?? "";
  } catch {
    // Not our JSON (a proxy's page): the status says enough.
  }
  const seconds = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  return new ApiError(response.status, code, message, Number.isFinite(seconds) ? seconds : null);
}

async function refreshCsrfToken() {
  try {
    const { data } = await request("GET", "/api/session", { retry: false });
    setCsrfToken(data?.csrf_token);
    return Boolean(data?.csrf_token);
  } catch {
    return false;
  }
}

export async function get(url, options) {
  return (await request("GET", url, options)).data;
}

export async function post(url, body, options) {
  return (await request("POST", url, { ...options, body })).data;
}

export async function put(url, body, options) {
  return (await request("PUT", url, { ...options, body })).data;
}

export async function patch(url, body, options) {
  return (await request("PATCH", url, { ...options, body })).data;
}

export async function del(url, options) {
  return (await request("DELETE", url, options)).data;
}

/** A page of a listing: its items and the URL of the next page, taken
 * verbatim from `Link: <...>; rel="next"` (null on the last page). */
export async function page(url, options) {
  const { data, response } = await request("GET", url, options);
  return { items: Array.isArray(data) ? data : [], next: nextLink(response.headers.get("Link")) };
}

export function nextLink(header) {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!match) continue;
    const rels = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(match[2]);
    const names = (rels?.[1] ?? rels?.[2] ?? "").toLowerCase().split(/\s+/);
    if (!names.includes("next")) continue;
    // Only ever follow a link to this origin: the session cookie goes nowhere else.
    const target = new URL(match[1], location.href);
    return target.origin === location.origin ? match[1] : null;
  }
  return null;
}

/** The message to show for an error: `{key, args}` (translated) or `{text}`
 * (the server's own words), or null when there is nothing to show. */
export function errorMessage(error) {
  if (isHandled(error)) return null;
  if (!(error instanceof ApiError)) return { key: "errors.generic", args: { status: "?" } };
  if (error.code === "network") return { key: "errors.network" };
  if (error.status === 429) {
    return error.retryAfter === null
      ? { key: "login.tooManyLater" }
      : { key: "errors.tooMany", args: { count: error.retryAfter } };
  }
  if (error.status === 403 && error.code === "forbidden") return { key: "errors.forbidden" };
  if (error.status === 404 && !error.message) return { key: "errors.notFound" };
  if (error.status >= 500 || !error.message) return { key: "errors.generic", args: { status: error.status } };
  return { text: error.message };
}
