// Live task events over the API's WebSocket (`?token=<access>`, as browsers cannot set headers).
// API Gateway closes a socket after 10 idle minutes and any socket after 2 hours, so this pings
// every few minutes, and after any close reconnects with backoff (1 s, 2 s, 4 s, ... up to a
// minute, with jitter) once the session is known to stand (`url(true)`: a read of the profile,
// which tells a session ended elsewhere, by a password change, a logout-all or the replay of a
// spent refresh token of this session, from a network fault, and spends no refresh token while
// the API is out of reach); `onConnect` then re-lists, since changes made while away were not
// delivered. A socket hears events only while the token it was opened (or last renewed) with is
// valid, so each new access token is sent over it (`authenticate`).

const PING_EVERY_MS = 4 * 60_000;
const MAX_BACKOFF_MS = 60_000;

/**
 * Connects and stays connected until `stop()`. `url(recheck)` gives the WebSocket URL with a
 * current token, the session checked first when `recheck` (every connection after the first); `onEvent(message)` gets every task_create, task_update and task_delete; `onStatus(state,
 * retryInMs)` is told "connecting", "live" or "offline".
 */
export function connect({ url, onEvent, onConnect, onStatus }) {
  let socket = null;
  let pinger = null;
  let retry = null;
  let failures = 0;
  let stopped = false;
  let recheck = false;

  async function open() {
    if (stopped) return;
    onStatus("connecting");
    try {
      socket = new WebSocket(await url(recheck));
    } catch {
      return reconnect();
    }
    recheck = true;
    socket.addEventListener("open", () => {
      failures = 0;
      onStatus("live");
      pinger = setInterval(() => socket.send(JSON.stringify({ action: "ping" })), PING_EVERY_MS);
      onConnect();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (typeof message?.action === "string" && message.action.startsWith("task_")) onEvent(message);
    });
    socket.addEventListener("close", () => {
      clearInterval(pinger);
      reconnect();
    });
  }

  function reconnect() {
    if (stopped) return;
    const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** failures++);
    const delay = Math.round(backoff * (0.8 + 0.4 * Math.random()));
    onStatus("offline", delay);
    retry = setTimeout(open, delay);
  }

  open();
  return {
    /** Renews the open socket's session with a newer access token of the same user. */
    authenticate(token) {
      if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ action: "authenticate", token }));
    },
    stop() {
      stopped = true;
      clearTimeout(retry);
      clearInterval(pinger);
      socket?.close(1000);
    },
  };
}
