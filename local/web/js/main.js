// The page's wiring: the settings, the login and register forms, and once signed in the task
// list, the editor and the live connection.

import * as editor from "./editor.js";
import * as live from "./live.js";
import * as session from "./session.js";
import * as settings from "./settings.js";
import * as tasks from "./tasks.js";
import { $, busy, clearOutage, fail, fillStatuses, notify, unmark, values } from "./view.js";

let connection = null;

function showSettings() {
  const { api, saved } = settings.current();
  const fields = $("#settings-form").elements;
  fields.api.value = saved.api;
  fields.api.placeholder = settings.defaultApiUrl();
  fields.ws.value = saved.ws;
  fields.ws.placeholder = settings.wsUrlFor(api);
  $("#server").textContent = api;
}

const LIVE_TEXT = {
  connecting: () => "Connecting…",
  live: () => "Live",
  // A time, not a countdown: it stays true without ticking (a live region would announce each tick).
  offline: (ms) => `Offline: retrying at ${new Date(Date.now() + ms).toLocaleTimeString()}`,
};

function signedIn() {
  $("#auth").hidden = true;
  $("#app").hidden = false;
  $("#who").hidden = false;
  $("#who-name").textContent = session.user().username;
  const status = $("#live-status");
  status.hidden = false;
  status.dataset.connections = "0";
  connection = live.connect({
    url: async (recheck) => {
      const url = new URL(settings.current().ws);
      url.searchParams.set("token", recheck ? await session.checkedToken() : await session.accessToken());
      return url.href;
    },
    onEvent: (message) => {
      tasks.apply(message);
      editor.changedElsewhere(message);
    },
    onConnect: () => {
      status.dataset.connections = String(Number(status.dataset.connections) + 1);
      clearOutage();
      tasks.load().catch(fail);
    },
    onStatus: (state, ms) => {
      status.dataset.state = state;
      status.textContent = LIVE_TEXT[state](ms);
    },
  });
}

function signedOut(reason) {
  connection?.stop();
  connection = null;
  editor.close();
  tasks.clear();
  // What was typed in any form, passwords and their error marks included, is not left for the next
  // person at this screen.
  for (const id of ["#profile-form", "#password-form", "#login-form", "#register-form", "#create-form", "#editor-form"]) {
    $(id).reset();
    unmark($(id));
  }
  $("#account").open = false;
  $("#app").hidden = true;
  $("#who").hidden = true;
  $("#live-status").hidden = true;
  $("#auth").hidden = false;
  if (reason) fail(new Error(reason));
  // The focus was in what is now hidden (or nowhere): it goes where signing in starts.
  const focused = document.activeElement;
  if (!focused || focused === document.body || focused.closest("[hidden]")) $("#login-form").elements.username.focus();
}

/** Register and login both answer the user and a token pair. */
async function enter(form, path, body, greeting) {
  await busy(form, async () => {
    const { data } = await session.call(path, { method: "POST", body, auth: false });
    session.start(data);
    form.reset();
    signedIn();
    notify(greeting(data));
    // Off the form now hidden, onto what a signed-in person does first.
    $("#create-form").elements.title.focus();
  });
}

function wire() {
  $("#login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const { username, password } = values(event.target);
    enter(event.target, "auth/login/", { username, password }, (user) => `Welcome back, ${user.username}.`);
  });
  $("#register-form").addEventListener("submit", (event) => {
    event.preventDefault();
    enter(event.target, "auth/register/", values(event.target), (user) => `Account ${user.username} created.`);
  });
  $("#logout").addEventListener("click", async () => {
    await session.logout();
    signedOut();
    notify("Logged out.");
  });
  // The profile as the server has it, each time the panel opens; saved as one PATCH.
  $("#account").addEventListener("toggle", (event) => {
    if (event.target.open) showProfile().catch(fail);
  });
  $("#profile-form").addEventListener("submit", (event) => {
    event.preventDefault();
    busy(event.target, async () => {
      const { data } = await session.call("auth/profile/", { method: "PATCH", body: values(event.target) });
      session.setUser(data);
      $("#who-name").textContent = data.username;
      notify("Profile saved.");
    });
  });
  $("#password-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    busy(form, async () => {
      await session.changePassword(values(form));
      form.reset();
      notify("Password changed. Your other devices are signed out.");
    });
  });
  $("#logout-all").addEventListener("click", async (event) => {
    if (!confirm("Sign out on every device, this one included?")) return;
    const button = event.target;
    button.disabled = true;
    try {
      await session.logoutAll();
      signedOut();
      notify("Signed out on every device.");
    } catch (error) {
      fail(error);
    } finally {
      button.disabled = false;
    }
  });
  $("#settings-form").addEventListener("submit", (event) => {
    event.preventDefault();
    let urls;
    try {
      urls = settings.checked(values(event.target));
    } catch (error) {
      return fail(error);
    }
    use(urls, "Settings saved.");
  });
  $("#settings-reset").addEventListener("click", () => use({ api: "", ws: "" }, "Using this server's API."));
  $("#create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    tasks.create(event.target);
  });
  // A filter whose first page could not be read is not the one in force: the list still shows the
  // one before, and so does the menu.
  $("#status-filter").addEventListener("change", (event) =>
    tasks.filter(event.target.value).catch((error) => {
      event.target.value = tasks.currentFilter();
      fail(error);
    }),
  );
  $("#next-page").addEventListener("click", () => tasks.nextPage()?.catch(fail));
  $("#previous-page").addEventListener("click", () => tasks.previousPage()?.catch(fail));
  tasks.onEdit((id) => editor.open(id));
  $("#editor-form").addEventListener("submit", (event) => {
    event.preventDefault();
    editor.save();
  });
  $("#editor-cancel").addEventListener("click", editor.close);
  $("#editor-restore").addEventListener("click", editor.restore);
  session.onEnd(signedOut);
  session.onRefresh((access) => connection?.authenticate(access));
}

async function showProfile() {
  const { data } = await session.call("auth/profile/");
  const fields = $("#profile-form").elements;
  for (const name of ["username", "email", "first_name", "last_name"]) fields[name].value = data[name] ?? "";
  unmark($("#profile-form"));
}

/** New server settings. Tokens are for the server they came from: log out of it first, unless
 * nothing changes. */
async function use(urls, message) {
  const { saved } = settings.current();
  if (urls.api === saved.api && urls.ws === saved.ws) return notify("The settings are as they were.");
  if (session.signedIn()) {
    await session.logout();
    signedOut();
  }
  settings.save(urls);
  showSettings();
  notify(message);
}

fillStatuses($("#create-form").elements.status_task);
fillStatuses($("#editor-form").elements.status_task);
fillStatuses($("#status-filter"), "All");
wire();
showSettings();
if (!session.signedIn()) {
  signedOut();
} else if (await session.resume()) {
  signedIn();
} else {
  signedOut(session.COPIED);
}
