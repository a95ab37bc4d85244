// Upload recordings (drag and drop or file input, one or several at once) with a real progress bar, then
// follow each job. Several files: one POST /v1/jobs per file, all with the same options.
import { api, bytes, errorMessage, initPage, requireSignIn, statusText, token } from "./app.js";
import { t } from "./i18n.js";

const POLL_MS = 1000;
let chosen = [];

function choose(files) {
  chosen = Array.from(files || []);
  const shown = document.getElementById("chosen");
  if (chosen.length === 0) shown.textContent = "";
  else if (chosen.length === 1) shown.textContent = t("chosen", { name: chosen[0].name, size: bytes(chosen[0].size) });
  else {
    const total = chosen.reduce((sum, file) => sum + file.size, 0);
    shown.textContent = t("chosen_many", {
      count: chosen.length,
      names: chosen.map((file) => file.name).join(", "),
      size: bytes(total),
    });
  }
}

function setupDrop() {
  const drop = document.getElementById("drop");
  const input = document.getElementById("file");
  input.addEventListener("change", () => choose(input.files));
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    const files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) choose(files);
  });
}

/** The form's options, only those set (the API is given nothing it does not need). */
function options() {
  const data = new FormData();
  const value = (id) => document.getElementById(id).value.trim();
  if (value("opt-language")) data.set("language", value("opt-language"));
  if (value("opt-speakers")) data.set("num_speakers", value("opt-speakers"));
  if (value("opt-min-speakers")) data.set("min_speakers", value("opt-min-speakers"));
  if (value("opt-max-speakers")) data.set("max_speakers", value("opt-max-speakers"));
  if (value("opt-channels") !== "mix") data.set("channels", value("opt-channels"));
  if (value("opt-translate")) data.set("translate_to", value("opt-translate"));
  if (value("opt-languages")) data.set("languages", value("opt-languages"));
  if (value("opt-prompt")) data.set("prompt", value("opt-prompt"));
  if (document.getElementById("opt-pseudo").checked) data.set("pseudonymize", "true");
  if (value("opt-policy")) data.set("pseudonymization_policy", value("opt-policy"));
  if (value("opt-hide")) data.set("hide", value("opt-hide"));
  if (value("opt-case-number")) data.set("case_number", value("opt-case-number"));
  if (value("opt-hearing-place")) data.set("hearing_place", value("opt-hearing-place"));
  if (value("opt-hearing-date")) {
    const time = value("opt-hearing-time");
    data.set("hearing_date", time ? `${value("opt-hearing-date")}T${time}` : value("opt-hearing-date"));
  }
  // One person a line or comma-separated: the API takes them comma-separated.
  const persons = value("opt-persons").split(/[\n,]/).map((p) => p.trim()).filter(Boolean);
  if (persons.length) data.set("persons_present", persons.join(", "));
  if (document.getElementById("opt-line-numbers").checked) data.set("line_numbers", "true");
  // The API names known voices by default: only "no" needs saying.
  if (!document.getElementById("opt-voices").checked) data.set("voices", "false");
  return data;
}

/** The known-voices switch, shown when the unit has a ready voice (without one it would change nothing). */
async function showVoicesOption() {
  let body;
  try {
    body = await api("/v1/voices");
  } catch {
    return; // hidden, ticked: the API's default applies
  }
  document.getElementById("voices-option").hidden = !body.voices.some((v) => v.status === "ready");
}

/** The elements that show one file's progress: the page's own for one file, a list item each for several. */
function singleView() {
  return {
    uploadBar: document.getElementById("upload-progress"),
    uploadLabel: document.getElementById("upload-label"),
    jobBar: document.getElementById("job-progress"),
    jobLabel: document.getElementById("job-label"),
    error: document.getElementById("follow-error"),
    link: document.getElementById("open-job"),
  };
}

function itemView(file, index) {
  const item = document.createElement("li");
  item.className = "file-follow";
  const name = document.createElement("p");
  name.className = "chosen";
  name.textContent = file.name;
  const make = (tag, id, attrs = {}) => {
    const el = document.createElement(tag);
    if (id) el.id = id;
    for (const [key, val] of Object.entries(attrs)) el.setAttribute(key, val);
    return el;
  };
  const uploadLabel = make("label", `upload-label-${index}`, { for: `upload-progress-${index}` });
  const uploadBar = make("progress", `upload-progress-${index}`, { max: "100", value: "0" });
  const jobLabel = make("label", `job-label-${index}`, { for: `job-progress-${index}` });
  const jobBar = make("progress", `job-progress-${index}`, { max: "100", value: "0" });
  const error = make("p", `follow-error-${index}`, { class: "error", role: "alert" });
  error.hidden = true;
  const link = make("a", `open-job-${index}`, { class: "button" });
  link.textContent = t("open_transcript_of", { name: file.name });
  link.hidden = true;
  item.append(name, uploadLabel, uploadBar, jobLabel, jobBar, error, link);
  document.getElementById("files-follow").append(item);
  return { uploadBar, uploadLabel, jobBar, jobLabel, error, link };
}

function showError(view, message) {
  view.error.textContent = message;
  view.error.hidden = false;
}

function upload(data, view) {
  // XMLHttpRequest, not fetch: only it reports upload progress.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/jobs");
    xhr.setRequestHeader("Authorization", `Bearer ${token()}`);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      const pct = Math.round((event.loaded / event.total) * 100);
      view.uploadBar.value = pct;
      view.uploadLabel.textContent = t("uploading", { pct });
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 202) {
        view.uploadBar.value = 100;
        view.uploadLabel.textContent = t("uploaded");
        resolve(xhr.response);
      } else {
        errorMessage(xhr.response, `HTTP ${xhr.status}`).then((message) => reject(new Error(message)));
      }
    });
    xhr.addEventListener("error", () => reject(new Error("network")));
    xhr.send(data);
  });
}

/** Follow one job until it ends; true when it succeeded. */
async function follow(jobId, view, single) {
  for (;;) {
    let job;
    try {
      job = await api(`/v1/jobs/${jobId}`);
    } catch (e) {
      showError(view, t("error", { error: e.message }));
      return false;
    }
    const pct = Math.round((job.progress || 0) * 100);
    view.jobBar.value = pct;
    view.jobLabel.textContent = t("job_progress", { status: statusText(job.status, job.stage), pct });
    if (single) document.getElementById("follow").dataset.status = job.status;
    if (job.status === "succeeded") {
      view.link.href = `/web/jobs/${jobId}`;
      view.link.hidden = false;
      if (single) view.link.focus();
      return true;
    }
    if (job.status === "failed") {
      showError(view, t("failed", { error: job.error || "" }));
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Upload one file with the form's options; its job's id, or null when the upload failed. */
async function send(file, view, single) {
  const data = options();
  data.set("file", file, file.name);
  let created;
  try {
    created = await upload(data, view);
  } catch (e) {
    showError(view, t("upload_failed", { error: e.message }));
    return null;
  }
  const panel = document.getElementById("follow");
  if (single) panel.dataset.job = created.id;
  panel.dataset.jobs = panel.dataset.jobs ? `${panel.dataset.jobs} ${created.id}` : created.id;
  return created.id;
}

async function submit(event) {
  event.preventDefault();
  if (chosen.length === 0) {
    document.getElementById("chosen").textContent = t("no_file");
    document.getElementById("file").focus();
    return;
  }
  const files = chosen.slice();
  const single = files.length === 1;
  const panel = document.getElementById("follow");
  document.getElementById("send").disabled = true;
  panel.hidden = false;
  delete panel.dataset.jobs;
  document.getElementById("follow-error").hidden = true;
  document.getElementById("single-follow").hidden = !single;
  const list = document.getElementById("files-follow");
  list.replaceChildren();
  list.hidden = single;
  // One upload at a time (they share the link); each job is followed as soon as it is created.
  const follows = [];
  for (const [index, file] of files.entries()) {
    const view = single ? singleView() : itemView(file, index);
    const id = await send(file, view, single);
    follows.push(id ? follow(id, view, single) : Promise.resolve(false));
  }
  const results = await Promise.all(follows);
  // Something failed: the form can be sent again; either way, another recording can be uploaded.
  document.getElementById("send").disabled = results.every(Boolean);
  document.getElementById("another").hidden = false;
}

initPage();
if (requireSignIn()) {
  setupDrop();
  showVoicesOption();
  document.getElementById("upload-form").addEventListener("submit", submit);
}
