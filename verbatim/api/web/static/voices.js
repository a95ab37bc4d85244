// The unit's known voices: the list (GET /v1/voices), an enrolment (POST /v1/voices, 202 "pending") followed
// on its status URL until the worker made the print ("ready") or could not ("failed"), and removal.
// For the roles with the `voices` permission; the API checks every call whatever the page shows.
import { allowed, api, ApiError, dateTime, el, errorMessage, initPage, notify, requireSignIn } from "./app.js";
import { lang, t } from "./i18n.js";

// Each status read is audited (by voice id): polls 2 s apart at first, then further apart, never a busy loop.
const POLL_MS = 2000; // first wait; each read is audited, so the waits then grow
const POLL_MAX_MS = 30000;
const POLL_GIVE_UP_MS = 15 * 60 * 1000; // past this, the page stops asking and says to reload
const MAX_RECORDINGS = 5; // verbatim.api.voices.MAX_ENROLMENT_RECORDINGS
const BADGE = { pending: "running", ready: "succeeded", failed: "failed" };
const followed = new Set();

function seconds(value) {
  if (value === null || value === undefined) return "";
  const number = new Intl.NumberFormat(lang() === "en" ? "en-GB" : "fr-FR", { maximumFractionDigits: 1 });
  return t("voice_seconds", { n: number.format(value) });
}

/** Why a voice failed, in the page's language (the catalogue's message of its code, else the API's text). */
function failure(voice) {
  return errorMessage({ code: voice.error, error: voice.message }, voice.message || voice.error || "");
}

async function row(voice) {
  const badge = el("span", { class: `badge ${BADGE[voice.status] || ""}`, text: t(`voice_${voice.status}`) });
  const status = el("td", {}, badge);
  if (voice.status === "failed") status.append(el("p", { class: "error small", text: await failure(voice) }));
  return el(
    "tr",
    { dataset: { voice: voice.id, status: voice.status } },
    el("th", { scope: "row", text: voice.name }),
    el("td", { text: voice.role || "" }),
    status,
    el("td", { text: seconds(voice.speech_seconds) }),
    el("td", {}, el("time", { datetime: voice.created_at, text: dateTime(voice.created_at) })),
    el(
      "td",
      {},
      el("button", {
        type: "button",
        class: "secondary",
        text: t("voice_delete"),
        "aria-label": t("voice_delete_label", { name: voice.display }),
        onclick: () => remove(voice),
      }),
    ),
  );
}

function tbody() {
  return document.querySelector("#voice-table tbody");
}

function showEmpty() {
  const empty = tbody().children.length === 0;
  document.getElementById("voices-empty").hidden = !empty;
  document.getElementById("voice-table-wrap").hidden = empty;
}

/** Put a voice's row in the table: in place of its old one, else at the end (the list is oldest first). */
async function show(voice) {
  const fresh = await row(voice);
  const old = tbody().querySelector(`tr[data-voice="${CSS.escape(voice.id)}"]`);
  if (old) old.replaceWith(fresh);
  else tbody().append(fresh);
  showEmpty();
}

/** Follow a pending voice on its status URL until the worker is done with it; announce the outcome. */
async function follow(voice, url) {
  if (followed.has(voice.id)) return;
  followed.add(voice.id);
  try {
    let wait = POLL_MS;
    const started = Date.now();
    for (;;) {
      if (Date.now() - started > POLL_GIVE_UP_MS) {
        notify(t("voice_still_pending", { name: voice.display }), "info");
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(wait * 1.5, POLL_MAX_MS);
      let now;
      try {
        now = await api(url);
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) notify(t("error", { error: e.message }), "error");
        return; // removed meanwhile (404), or the error is shown
      }
      if (!tbody().querySelector(`tr[data-voice="${CSS.escape(voice.id)}"]`)) return;
      await show(now);
      if (now.status === "ready") {
        notify(t("voice_ready_done", { name: now.display }), "info");
        return;
      }
      if (now.status === "failed") {
        notify(t("voice_failed_done", { name: now.display, error: await failure(now) }), "error");
        return;
      }
    }
  } finally {
    followed.delete(voice.id);
  }
}

const voiceUrl = (id) => `/v1/voices/${encodeURIComponent(id)}`;

async function load() {
  let body;
  try {
    body = await api("/v1/voices");
  } catch (e) {
    notify(t("error", { error: e.message }), "error");
    return;
  }
  tbody().replaceChildren(...(await Promise.all(body.voices.map(row))));
  showEmpty();
  for (const voice of body.voices) {
    if (voice.status === "pending") follow(voice, voiceUrl(voice.id));
  }
}

async function remove(voice) {
  if (!window.confirm(t("voice_delete_confirm", { name: voice.display }))) return;
  try {
    await api(voiceUrl(voice.id), { method: "DELETE" });
  } catch (e) {
    notify(t("voice_delete_failed", { error: e.message }), "error");
    return;
  }
  const gone = tbody().querySelector(`tr[data-voice="${CSS.escape(voice.id)}"]`);
  if (gone) gone.remove();
  showEmpty();
  notify(t("voice_deleted", { name: voice.display }), "info");
  document.getElementById("voices-list-title").focus();
}

function showError(message) {
  const error = document.getElementById("enrol-error");
  error.textContent = message;
  error.hidden = !message;
}

async function enrol(event) {
  event.preventDefault();
  showError("");
  const form = event.target;
  const files = Array.from(document.getElementById("voice-recordings").files || []);
  if (files.length === 0 || files.length > MAX_RECORDINGS) {
    showError(t("voice_recordings_count", { max: MAX_RECORDINGS }));
    document.getElementById("voice-recordings").focus();
    return;
  }
  const data = new FormData();
  data.set("name", document.getElementById("voice-name").value.trim());
  const role = document.getElementById("voice-role").value.trim();
  if (role) data.set("role", role);
  for (const file of files) data.append("recordings", file, file.name);
  const send = document.getElementById("enrol-send");
  send.disabled = true;
  let created;
  try {
    created = await api("/v1/voices", { method: "POST", form: data });
  } catch (e) {
    showError(t("enrol_failed", { error: e.message }));
    return;
  } finally {
    send.disabled = false;
  }
  form.reset();
  await show(created);
  notify(t("voice_accepted", { name: created.display }), "info");
  follow(created, created.url);
}

async function start() {
  if (await allowed("voices")) {
    document.getElementById("voices-content").hidden = false;
    document.getElementById("enrol-form").addEventListener("submit", enrol);
    document.getElementById("voices-list-title").tabIndex = -1;
    await load();
  } else {
    // Neither the list nor the form: enrolling and removing voices is for the roles that hold `voices`.
    document.getElementById("voices-forbidden").hidden = false;
  }
  document.body.dataset.ready = "true";
}

initPage();
if (requireSignIn()) start();
