// The home page: sign in, then the unit's jobs with search and filters (refreshed while some are running).
import { api, clock, dateTime, el, initPage, notify, signIn, statusText, token } from "./app.js";
import { t } from "./i18n.js";

const REFRESH_MS = 3000;
let timer = null;

function nextPage() {
  const next = new URLSearchParams(window.location.search).get("next");
  // Only a path of these pages: never an absolute URL (open redirect).
  return next && next.startsWith("/web/") && !next.startsWith("//") ? next : null;
}

function showSignIn() {
  document.getElementById("signin").hidden = false;
  document.getElementById("jobs").hidden = true;
  const form = document.getElementById("signin-form");
  const error = document.getElementById("signin-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const value = document.getElementById("token").value.trim();
    try {
      await signIn(value);
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      return;
    }
    window.location.assign(nextPage() || "/web/");
  });
  document.getElementById("token").focus();
}

function query() {
  const form = new FormData(document.getElementById("filters"));
  const params = new URLSearchParams({ limit: "200" });
  for (const [key, value] of form.entries()) {
    if (typeof value === "string" && value.trim()) params.set(key, value.trim());
  }
  return params;
}

function row(job) {
  const shared = job.access === "shared";
  // A shared copy comes without its file name (it often names a party): its id and the owning unit instead.
  const name = shared ? t("shared_name", { id: job.id.slice(0, 8) }) : job.filename || job.id.slice(0, 8);
  const pct = Math.round((job.progress || 0) * 100);
  return el(
    "tr",
    { dataset: { job: job.id, status: job.status } },
    el(
      "td",
      {},
      el("a", { href: `/web/jobs/${job.id}`, text: name }),
      shared ? el("span", { class: "muted", text: ` · ${t("shared_by", { unit: job.unit })}` }) : null,
    ),
    el("td", {}, el("span", { class: `badge ${job.status}`, text: statusText(job.status) })),
    el(
      "td",
      {},
      el("progress", { max: "100", value: String(pct), "aria-label": `${t("col_progress")} ${pct} %` }),
      el("span", { class: "pct", text: ` ${pct} %` }),
    ),
    el("td", { text: job.duration ? clock(job.duration) : "" }),
    el("td", { text: job.language || "" }),
    el("td", {}, el("time", { datetime: job.created_at, text: dateTime(job.created_at) })),
  );
}

async function load() {
  clearTimeout(timer);
  const params = query();
  let body;
  try {
    body = await api(`/v1/jobs?${params}`);
  } catch (e) {
    notify(t("error", { error: e.message }), "error");
    return;
  }
  const tbody = document.querySelector("#job-table tbody");
  tbody.replaceChildren(...body.jobs.map(row));
  const filtered = [...params.keys()].some((k) => k !== "limit");
  document.getElementById("count").textContent = body.jobs.length
    ? t("jobs_count", { n: body.jobs.length })
    : t(filtered ? "no_match" : "no_jobs");
  // Empty: no table header over nothing, but what to do next (upload, or clear the filters).
  const empty = body.jobs.length === 0;
  document.getElementById("job-table-wrap").hidden = empty;
  document.getElementById("empty").hidden = !empty;
  document.getElementById("empty-text").textContent = t(filtered ? "empty_filtered" : "empty_unit");
  document.getElementById("empty-upload").hidden = filtered;
  document.getElementById("empty-reset").hidden = !filtered;
  const shared = await loadShared();
  if ([...body.jobs, ...shared].some((j) => j.status === "queued" || j.status === "running")) {
    timer = setTimeout(load, REFRESH_MS);
  }
}

/** The jobs other units shared with this one (pseudonymised copies): their own table, shown when any. */
async function loadShared() {
  let body;
  try {
    body = await api("/v1/jobs?scope=shared&limit=200");
  } catch (e) {
    notify(t("error", { error: e.message }), "error");
    return [];
  }
  document.querySelector("#shared-table tbody").replaceChildren(...body.jobs.map(row));
  document.getElementById("shared").hidden = body.jobs.length === 0;
  return body.jobs;
}

function showJobs() {
  document.getElementById("signin").hidden = true;
  document.getElementById("jobs").hidden = false;
  const form = document.getElementById("filters");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  form.addEventListener("reset", () => setTimeout(load, 0));
  load();
}

// The shared jobs' table has the columns of the unit's: one header, copied before the page is translated.
document.getElementById("shared-table").prepend(document.querySelector("#job-table thead").cloneNode(true));
initPage();
if (token()) showJobs();
else showSignIn();
