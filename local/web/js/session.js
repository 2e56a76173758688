// The signed-in session and every call to the API. Tokens live in sessionStorage, so each tab has
// its own refresh chain (refresh tokens are single use: two tabs sharing one would spend it
// twice, and the server takes a spent one sent again for a stolen one and ends that session).
// A duplicated tab starts with a copy of its original's sessionStorage: the tab that holds the
// session's lock (Web Locks) keeps it, and the copy drops its tokens without spending them. The
// access token is refreshed shortly before it expires, and before any request that would carry
// an expired one.

import * as settings from "./settings.js";

const KEY = "taskmaster.session";
/** Refresh this long before expiry at most (a quarter of a short lifetime at least). */
const MARGIN_MS = 60_000;
/** How soon a refresh that got no answer is tried again. */
const RETRY_MS = 5_000;
/** How long a reloaded tab waits for its previous page to let go of the session's lock (one that
 * takes longer is taken for a copy: the user logs in again, and nothing is spent twice). */
const CLAIM_WAIT_MS = 1_000;

let session = JSON.parse(sessionStorage.getItem(KEY) || "null");
let timer = null;
let refreshing = null;
let unclaim = null;
const ended = new Set();
const refreshed = new Set();

/** An answer other than 2xx, with the message to show. */
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(describe(status, body, retryAfter));
    this.status = status;
    this.body = body;
  }
}

/** The API's error bodies as one sentence: `{"detail"}` or `{"field": ["message", ...]}`; a
 * limit's 429 as the wait it asks for (`retryAfter`, seconds); API Gateway's own `{"message"}`. */
function describe(status, body, retryAfter) {
  if (status === 429 && retryAfter > 0) {
    const wait = retryAfter < 90 ? `${retryAfter} seconds` : `${Math.ceil(retryAfter / 60)} minutes`;
    return `Too many attempts: try again in ${wait}.`;
  }
  if (status === 429) return "Too many requests just now: try again in a moment.";
  if (typeof body?.detail === "string") return body.detail;
  if (typeof body?.message === "string") return `The server answered ${status}: ${body.message}.`;
  if (body && typeof body === "object") {
    const fields = Object.entries(body)
      .filter(([, messages]) => Array.isArray(messages))
      .map(([field, messages]) =>
        field === "non_field_errors"
          ? messages.join(" ")
          : `${field.replaceAll("_", " ")}: ${messages.join(" ")}`,
      );
    if (fields.length) return fields.join(" ");
  }
  return `The server answered ${status}.`;
}

/** The payload of a JWT (base64url JSON). */
function claims(token) {
  const part = token.split(".")[1] ?? "";
  const base64 = part.replaceAll("-", "+").replaceAll("_", "/");
  return JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")));
}

/**
 * When to refresh the session's access token: a minute before it expires, or sooner for a
 * short-lived one. Counted from when this tab received it, on this machine's clock: a clock
 * behind the server's would let it expire before its refresh, and one ahead would refresh it at
 * once, again and again.
 */
function refreshAt({ access, receivedAt }) {
  const { iat, exp } = claims(access);
  const lifetime = (exp - iat) * 1000;
  const margin = Math.min(MARGIN_MS, lifetime / 4);
  return (receivedAt ?? iat * 1000) + lifetime - margin;
}

export const user = () => session?.user ?? null;

/** The signed-in user as a profile change answered it. */
export function setUser(changed) {
  if (session) keep({ ...session, user: { ...session.user, ...changed } });
}

export const signedIn = () => session !== null;

/** Calls `listener(reason)` when the session ends without a logout (a refresh refused). */
export const onEnd = (listener) => ended.add(listener);

/** Calls `listener(access)` with each new access token (the live socket renews its session). */
export const onRefresh = (listener) => refreshed.add(listener);

/** Starts a session from what register and login answer: the user plus `tokens`. */
export function start({ tokens, ...user }) {
  keep({ access: tokens.access, refresh: tokens.refresh, receivedAt: Date.now(), user, id: randomId() });
  claim(session.id, 0);
}

function randomId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Holds the lock of session `id` for as long as this page keeps it: answers false if another open
 * tab still holds it after `waitMs`. Without Web Locks (a page not served from HTTPS or
 * localhost) every tab keeps what it has.
 */
function claim(id, waitMs) {
  unclaim?.();
  if (!navigator.locks) return Promise.resolve(true);
  const waiting = new AbortController();
  const timer = waitMs ? setTimeout(() => waiting.abort(), waitMs) : null;
  return new Promise((claimed) => {
    navigator.locks
      .request(`taskmaster.session:${id}`, waitMs ? { signal: waiting.signal } : {}, () => {
        clearTimeout(timer);
        claimed(true);
        return new Promise((release) => (unclaim = release));
      })
      // Only a wait that ran out means another tab holds it; a lock manager that fails
      // otherwise leaves the tab what it has, as a browser without one does.
      .catch((error) => claimed(error?.name !== "AbortError"));
  });
}

function keep(next) {
  session = next;
  clearTimeout(timer);
  if (!session) unclaim?.();
  if (session) {
    sessionStorage.setItem(KEY, JSON.stringify(session));
    schedule(refreshAt(session) - Date.now());
  } else {
    sessionStorage.removeItem(KEY);
  }
}

/** Refreshes the access token in `ms` (a second at least). */
function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(() => refresh().catch(() => {}), Math.max(1000, ms));
}

/**
 * Resumes a session kept in this tab (after a reload), its refresh timer restarted; answers false,
 * and forgets the tokens unspent, if they are a copy another open tab keeps (a duplicated tab).
 */
export async function resume() {
  if (!session) return false;
  session.id ??= randomId(); // kept by a client from before the lock
  if (!(await claim(session.id, CLAIM_WAIT_MS))) {
    keep(null);
    return false;
  }
  keep(session);
  return true;
}

export const COPIED = "This tab is a copy of one that is signed in, which keeps that session: log in to use this tab on its own.";

/**
 * A fresh token pair; the old refresh token is spent. One refresh at a time. A refresh that got no
 * answer (the API unreachable, a 5xx, a 429) is tried again in a few seconds with the same token,
 * and the session kept meanwhile: if the first never ran (the usual case: the API was down) the
 * retry is an ordinary refresh; if it ran and only its answer was lost, the server takes the
 * retry for a stolen token replayed and ends that login session, and the 401 signs this tab out,
 * as losing the new pair would have anyway.
 */
function refresh() {
  if (refreshing) return refreshing;
  const mine = call("auth/token/refresh/", { method: "POST", body: { refresh: session.refresh }, auth: false })
    .then(({ data }) => {
      if (!session) return; // logged out meanwhile
      keep({ ...session, access: data.access, refresh: data.refresh, receivedAt: Date.now() });
      for (const listener of refreshed) listener(data.access);
    })
    .catch((error) => {
      if (error.status !== 401) {
        if (session) schedule(RETRY_MS);
        throw error;
      }
      end(ENDED);
      throw new ApiError(401, { detail: ENDED });
    })
    .finally(() => settled(mine));
  refreshing = mine;
  return mine;
}

/** Ends `work`'s turn as the refresh under way, unless another has taken it since. */
function settled(work) {
  if (refreshing === work) refreshing = null;
}

/**
 * An access token of a session the API still honours, for reconnecting the live socket: asked with
 * a read of the profile, which spends nothing (a 401 ends the session here; an API out of reach
 * throws, and the socket tries again later with the session kept).
 */
export async function checkedToken() {
  if (!session) throw new Error("Not logged in.");
  await call("auth/profile/");
  return session.access;
}

/** An access token that is not about to expire: the newest, once a refresh or a password change
 * under way is done. */
export async function accessToken() {
  await refreshing?.catch(() => {});
  if (!session) throw new Error("Not logged in.");
  if (Date.now() >= refreshAt(session)) await refresh();
  return session.access;
}

const ENDED = "Your session has ended: please log in again.";

function end(reason) {
  keep(null);
  ended.forEach((listener) => listener(reason));
}

/** Logs out: the server ends this tab's login session (its refresh and access tokens; its
 * sockets close). */
export async function logout() {
  // A refresh under way is let finish first, so its new token is the one logged out.
  await refreshing?.catch(() => {});
  const refreshToken = session?.refresh;
  keep(null);
  if (refreshToken) {
    await call("auth/logout/", { method: "POST", body: { refresh: refreshToken }, auth: false }).catch(() => {});
  }
}

/**
 * Changes the password (`{old_password, new_password_1, new_password_2}`). The server ends every
 * session of the user, this one's too, and answers a fresh pair that this tab keeps, so it stays
 * signed in (its socket, closed with the old session, reconnects with the new token). A refresh
 * due meanwhile waits for the change: the token it would spend is ended by it.
 */
export async function changePassword(body) {
  let token;
  do {
    await refreshing?.catch(() => {});
    token = await accessToken();
  } while (refreshing);
  // From here to `refreshing = mine` nothing waits, so no refresh can start in between.
  const change = call("auth/profile/password/", { method: "POST", body, token }).then(({ data }) => {
    if (!session) return;
    keep({ ...session, access: data.access, refresh: data.refresh, receivedAt: Date.now() });
    for (const listener of refreshed) listener(data.access);
  });
  const mine = change
    .catch((error) => {
      if (session) keep(session); // a refresh that waited on a refused change is due again
      throw error;
    })
    .finally(() => settled(mine));
  refreshing = mine;
  return mine;
}

/** Ends every session of the user, on every device, this tab's included. */
export async function logoutAll() {
  await call("auth/logout/all/", { method: "POST" });
  keep(null);
}

/**
 * Calls the API: `path` relative to its base URL, or an absolute link it gave (`next`). Answers
 * `{status, data, etag}`; throws an ApiError for any status but 2xx and 304. `token` sends that
 * access token as it is (the password change's own call), instead of the session's newest.
 */
export async function call(path, { method = "GET", body, headers = {}, auth = true, token: given, retried = false } = {}) {
  const base = new URL(settings.current().api);
  const url = new URL(path, base);
  if (url.origin !== base.origin) throw new Error(`Refusing to send a token to ${url.origin}.`);
  const sent = new Headers(headers);
  if (body !== undefined) sent.set("content-type", "application/json");
  const sessionId = session?.id;
  const token = given ?? (auth ? await accessToken() : null);
  if (token) sent.set("authorization", `Bearer ${token}`);
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, { detail: `Cannot reach the API at ${base.href} (${error.message}).` });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: `The server answered ${response.status} with something other than JSON.` };
  }
  if (auth && response.status === 401) {
    // Sent with a token that a password change under way, or done since, replaces: the same
    // session's new one is tried instead, once.
    if (given === undefined) await refreshing?.catch(() => {});
    // Signed out meanwhile, or another session started: that one is not this answer's to end.
    if (session?.id !== sessionId) throw new ApiError(401, { detail: ENDED });
    if (session.access !== token && given === undefined && !retried) {
      return call(path, { method, body, headers, auth, retried: true });
    }
    end(ENDED);
    throw new ApiError(401, { detail: ENDED });
  }
  if (!response.ok && response.status !== 304) {
    throw new ApiError(response.status, data, Number(response.headers.get("retry-after")));
  }
  return { status: response.status, data, etag: response.headers.get("etag") };
}
