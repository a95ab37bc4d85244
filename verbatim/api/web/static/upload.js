// Upload a recording (drag and drop or file input) with a real progress bar, then follow the job.
import { api, bytes, errorMessage, initPage, requireSignIn, statusText, token } from "./app.js";
import { t } from "./i18n.js";

const POLL_MS = 1000;
let chosen = null;

function choose(file) {
  chosen = file || null;
  document.getElementById("chosen").textContent = chosen
    ? t("chosen", { name: chosen.name, size: bytes(chosen.size) })
    : "";
}

function setupDrop() {
  const drop = document.getElementById("drop");
  const input = document.getElementById("file");
  input.addEventListener("change", () => choose(input.files[0]));
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
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) choose(file);
  });
}

/** The form's options, only those set (the API is given nothing it does not need). */
function options() {
  const data = new FormData();
  const value = (id) => document.getElementById(id).value.trim();
  if (value("opt-language")) data.set("language", value("opt-language"));
  if (value("opt-speakers")) data.set("num_speakers", value("opt-speakers"));
  if (value("opt-channels") !== "mix") data.set("channels", value("opt-channels"));
  if (value("opt-translate")) data.set("translate_to", value("opt-translate"));
  if (value("opt-languages")) data.set("languages", value("opt-languages"));
  if (value("opt-prompt")) data.set("prompt", value("opt-prompt"));
  if (document.getElementById("opt-pseudo").checked) data.set("pseudonymize", "true");
  if (value("opt-hide")) data.set("hide", value("opt-hide"));
  return data;
}

function fail(message) {
  const error = document.getElementById("follow-error");
  error.textContent = message;
  error.hidden = false;
  document.getElementById("send").disabled = false;
  document.getElementById("another").hidden = false;
}

function upload(data) {
  // XMLHttpRequest, not fetch: only it reports upload progress.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const bar = document.getElementById("upload-progress");
    const label = document.getElementById("upload-label");
    xhr.open("POST", "/v1/jobs");
    xhr.setRequestHeader("Authorization", `Bearer ${token()}`);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      const pct = Math.round((event.loaded / event.total) * 100);
      bar.value = pct;
      label.textContent = t("uploading", { pct });
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 202) {
        bar.value = 100;
        label.textContent = t("uploaded");
        resolve(xhr.response);
      } else {
        errorMessage(xhr.response, `HTTP ${xhr.status}`).then((message) => reject(new Error(message)));
      }
    });
    xhr.addEventListener("error", () => reject(new Error("network")));
    xhr.send(data);
  });
}

async function follow(jobId) {
  const bar = document.getElementById("job-progress");
  const label = document.getElementById("job-label");
  for (;;) {
    let job;
    try {
      job = await api(`/v1/jobs/${jobId}`);
    } catch (e) {
      fail(t("error", { error: e.message }));
      return;
    }
    const pct = Math.round((job.progress || 0) * 100);
    bar.value = pct;
    label.textContent = t("job_progress", { status: statusText(job.status, job.stage), pct });
    document.getElementById("follow").dataset.status = job.status;
    if (job.status === "succeeded") {
      const link = document.getElementById("open-job");
      link.href = `/web/jobs/${jobId}`;
      link.hidden = false;
      document.getElementById("another").hidden = false;
      link.focus();
      return;
    }
    if (job.status === "failed") {
      fail(t("failed", { error: job.error || "" }));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function submit(event) {
  event.preventDefault();
  if (!chosen) {
    document.getElementById("chosen").textContent = t("no_file");
    document.getElementById("file").focus();
    return;
  }
  const data = options();
  data.set("file", chosen, chosen.name);
  document.getElementById("send").disabled = true;
  document.getElementById("follow").hidden = false;
  document.getElementById("follow-error").hidden = true;
  let created;
  try {
    created = await upload(data);
  } catch (e) {
    fail(t("upload_failed", { error: e.message }));
    return;
  }
  document.getElementById("follow").dataset.job = created.id;
  await follow(created.id);
}

initPage();
if (requireSignIn()) {
  setupDrop();
  document.getElementById("upload-form").addEventListener("submit", submit);
}
