// Shared by every page: the token (sessionStorage), API calls, the header, small formatting helpers.
import { lang, setLang, t, translate } from "./i18n.js";

const TOKEN_KEY = "verbatim.token";
const ME_KEY = "verbatim.me";

export class ApiError extends Error {
  constructor(status, message, code = null) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let catalogue = null;

/** The server's catalogue of error codes and their French and English messages (fetched once). */
function messages() {
  catalogue ??= fetch("/web/messages.json")
    .then((r) => (r.ok ? r.json() : { messages: {}, fields: {} }))
    .catch(() => ({ messages: {}, fields: {} }));
  return catalogue;
}

/**
 * The catalogue's message `key` for the number `n` in the page's language: its CLDR plural category (the
 * browser's Intl.PluralRules, the rules babel applies on the server) picks the form ("1 correction",
 * "3 corrections"; French "0 correction").
 */
export async function plural(key, n) {
  const { plurals } = await messages();
  const forms = (plurals && plurals[key] && (plurals[key][lang()] || plurals[key].fr)) || null;
  if (!forms) return String(n);
  const category = new Intl.PluralRules(lang()).select(n);
  return (forms[category] || forms.other).replace("{n}", String(n));
}

/** The message of an API error body in the page's language: the catalogue's for its code, else its text. */
export async function errorMessage(body, fallback) {
  const { messages: table, fields } = await messages();
  const entry = body && body.code ? table[body.code] : null;
  if (!entry) return (body && body.error) || fallback;
  const field = body.field ? (lang() === "fr" ? fields[body.field] || body.field : body.field) : "?";
  return (entry[lang()] || entry.fr).replace("{field}", field);
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function me() {
  try {
    return JSON.parse(sessionStorage.getItem(ME_KEY) || "null");
  } catch {
    return null;
  }
}

/** Check a token with the API (GET /v1/me) and keep it for this tab. */
export async function signIn(value) {
  const response = await fetch("/v1/me", { headers: { Authorization: `Bearer ${value}` } });
  if (!response.ok) throw new ApiError(response.status, t("signin_bad"));
  sessionStorage.setItem(TOKEN_KEY, value);
  sessionStorage.setItem(ME_KEY, JSON.stringify(await response.json()));
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ME_KEY);
  window.location.assign("/web/");
}

/** Send the user to the sign-in page (coming back here afterwards) when this tab has no token. */
export function requireSignIn() {
  if (token()) return true;
  const next = encodeURIComponent(window.location.pathname + window.location.search);
  window.location.replace(`/web/?next=${next}`);
  return false;
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    return { message: response.statusText, code: null };
  }
  return { message: await errorMessage(body, response.statusText), code: body.code || null };
}

/**
 * Call the API with the bearer token, with a JSON body (`json`) or a multipart one (`form`, a FormData).
 * Returns parsed JSON, or the Response itself with `raw`.
 * A 401 signs the tab out; any other error status throws an ApiError carrying the API's message.
 */
export async function api(path, { method = "GET", json, form, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // multipart: the browser sets the Content-Type with its boundary
  }
  const response = await fetch(path, { method, headers, body });
  if (response.status === 401) {
    signOut();
    throw new ApiError(401, t("signin_bad"));
  }
  if (!response.ok) {
    const { message, code } = await errorOf(response);
    throw new ApiError(response.status, message, code);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

/**
 * The keys of a field in which a word (or a span of words) is being corrected: Enter keeps what was typed,
 * Escape cancels, and leaving the field keeps it too (as Enter does: typed text is never silently dropped).
 * `finish(keep)` is called once, by the first of the three; what it returns (a promise) is returned. Key
 * presses stay in the field: the page's own keys (word navigation, shortcuts) do not see them.
 */
export function editKeys(input, finish) {
  let done = false;
  const end = (keep) => {
    if (done) return undefined;
    done = true;
    return finish(keep);
  };
  input.addEventListener("keydown", (event) => {
    event.stopPropagation();
    if (event.key === "Enter") {
      event.preventDefault();
      end(true);
    } else if (event.key === "Escape") {
      event.preventDefault();
      end(false);
    }
  });
  input.addEventListener("blur", () => end(true));
}

export function clock(seconds) {
  const total = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
}

export function dateTime(value) {
  if (!value) return "";
  return new Intl.DateTimeFormat(lang() === "en" ? "en-GB" : "fr-FR", {
    dateStyle: "short",
    timeStyle: "short",
  }).format(new Date(value));
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["o", "Ko", "Mo", "Go"];
  const english = ["B", "KB", "MB", "GB"];
  let value = n;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i += 1;
  }
  const unit = (lang() === "en" ? english : units)[i];
  return `${value.toFixed(i ? 1 : 0)} ${unit}`;
}

export function statusText(status, stage = null) {
  // a running job names the stage at work (decode, transcribe, languages, diarise, translate, pseudonymise)
  const text = t(`status_${status}`);
  return status === "running" && stage ? `${text} · ${t(`stage_${stage}`)}` : text;
}

let roleTable = null;

/**
 * Whether the signed-in user's role holds `permission` (the server's table, /web/roles.json, fetched once):
 * what a page offers, never a safeguard (the API checks every call).
 */
export async function allowed(permission) {
  const user = me();
  if (!user) return false;
  roleTable ??= fetch("/web/roles.json")
    .then((r) => (r.ok ? r.json() : { permissions: {} }))
    .catch(() => ({ permissions: {} }));
  const { permissions } = await roleTable;
  return (permissions[permission] || []).includes(user.role);
}

/** Show the elements marked `data-permission="..."` (hidden in the HTML) to the roles that hold it. */
async function showPermitted() {
  for (const node of document.querySelectorAll("[data-permission]")) {
    node.hidden = !(await allowed(node.dataset.permission));
  }
}

/** Announce a message in the page's live region (read by screen readers), as info or error. */
export function notify(message, kind = "info") {
  const region = document.getElementById("notice");
  if (!region) return;
  region.textContent = message;
  region.className = `notice ${kind}`;
  region.hidden = !message;
}

/** Header: the user's name, the links the role may follow, language switch, sign-out; translate the page. */
export function initPage() {
  translate();
  const who = document.getElementById("who");
  const user = me();
  if (who) who.textContent = user ? t("signed_in_as", user) : "";
  const out = document.getElementById("sign-out");
  if (out) {
    out.hidden = !token();
    out.addEventListener("click", signOut);
  }
  if (token()) showPermitted();
  const switcher = document.getElementById("lang-switch");
  if (switcher) {
    switcher.addEventListener("click", () => {
      setLang(lang() === "fr" ? "en" : "fr");
      window.location.reload();
    });
  }
}
