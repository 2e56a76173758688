// Where the API and its WebSocket are. By default the server this page came from; or what the
// person saved in the settings form (kept in localStorage), e.g. a deployed stack's `ApiUrl` and
// `WebSocketUrl` outputs.

const KEYS = { api: "taskmaster.apiUrl", ws: "taskmaster.wsUrl" };

/** The API of the server this page came from. */
export const defaultApiUrl = () => new URL("/api/v1/", location.href).href;

/** The WebSocket of the server at `apiUrl`, as taskmaster-local serves it. */
export function wsUrlFor(apiUrl) {
  const url = new URL("/ws/tasks/", apiUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/**
 * The URLs in use (`api` ends with a slash, so paths like `tasks/` resolve under it), and what was
 * saved (`saved.api`, `saved.ws`: "" for the default).
 */
export function current() {
  const saved = { api: localStorage.getItem(KEYS.api) ?? "", ws: localStorage.getItem(KEYS.ws) ?? "" };
  const api = saved.api || defaultApiUrl();
  return { api, ws: saved.ws || wsUrlFor(api), saved };
}

/** The URLs as they would be saved (an empty one means the default), or a readable error. */
export function checked({ api = "", ws = "" }) {
  api = api.trim();
  ws = ws.trim();
  if (api) check(api, ["http:", "https:"], "The API URL");
  if (ws) check(ws, ["ws:", "wss:"], "The WebSocket URL");
  return { api: api && withSlash(api), ws };
}

/** Saves URLs that passed `checked`. */
export function save({ api, ws }) {
  store(KEYS.api, api);
  store(KEYS.ws, ws);
}

function check(text, protocols, what) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${what} is not a URL.`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new Error(`${what} must start with ${protocols.map((p) => `${p}//`).join(" or ")}.`);
  }
}

const withSlash = (url) => (url.endsWith("/") ? url : `${url}/`);

function store(key, value) {
  if (value) localStorage.setItem(key, value);
  else localStorage.removeItem(key);
}
