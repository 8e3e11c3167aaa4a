// hotline-pbx console: the wallboard's stream and the editors' calls to the
// REST API. Vanilla, no build step, nothing fetched from outside the daemon.
// Values from the server are put into the page with textContent only.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { "Accept": "application/json" } };
  if (method !== "GET") init.headers["X-CSRF-Token"] = csrf();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : null;
  return { status: response.status, data };
}

function set(root, field, text) {
  const el = root.querySelector(`[data-field="${field}"]`);
  if (el) el.textContent = text;
  return el;
}

const pct = (v) => (v === null || v === undefined ? "-" : (v * 100).toFixed(1) + " %");
const secs = (v, unit) => (v === null || v === undefined ? "-" : `${v} ${unit}`);

// -- the wallboard ------------------------------------------------------------------
function showBoard(root, b) {
  const unit = document.documentElement.lang === "en" ? "s" : "秒";
  const state = root.querySelector('[data-field="state"]');
  state.textContent = b.period === "override"
    ? `${state.dataset.override}: ${b.open ? state.dataset.open : state.dataset.closed}`
    : (b.open ? state.dataset.open : state.dataset.closed);
  state.dataset.state = b.open ? "open" : "closed";
  set(root, "next_change", b.next_change ? b.next_change.at.replace("T", " ") : "-");
  const duty = root.querySelector('[data-field="on_duty"]');
  duty.textContent = b.on_duty ? `${duty.dataset[b.on_duty.role]} ${b.on_duty.name}` : duty.dataset.nobody;
  const absent = root.querySelector('[data-field="supervisor_absent"]');
  absent.textContent = b.on_duty && b.on_duty.supervisor_absent ? absent.dataset.text : "";
  const rate = set(root, "answer_rate", pct(b.today.answer_rate));
  rate.dataset.meets = b.today.meets_floor === null ? "" : String(b.today.meets_floor);
  set(root, "waiting", String(b.waiting));
  set(root, "longest_wait", secs(b.longest_wait_seconds, unit));
  set(root, "in_progress", String(b.in_progress));
  set(root, "long_calls", String(b.long_calls));
  for (const k of ["offered", "answered", "abandoned", "missed", "after_hours"]) set(root, k, String(b.today[k]));
  set(root, "service_level", pct(b.today.service_level));
  set(root, "asa", secs(b.today.asa_seconds, unit));
  const line = root.querySelector('[data-field="line"]');
  const up = b.line.up === null ? "unknown" : (b.line.up ? "up" : "down");
  line.textContent = line.dataset[up];
  line.dataset.state = up;
  set(root, "open_fault", b.line.open_fault || "");
  set(root, "complaints_overdue", b.complaints_overdue === null ? "-" : String(b.complaints_overdue));
  root.dataset.updated = b.now;
}

function startWallboard() {
  const root = document.getElementById("board");
  const status = document.getElementById("stream-status");
  const stream = new EventSource("events");
  stream.addEventListener("board", (e) => {
    showBoard(root, JSON.parse(e.data));
    status.textContent = status.dataset.connected;
  });
  stream.onerror = () => { status.textContent = status.dataset.reconnecting; };
}

// -- editors ---------------------------------------------------------------------------
function showProblem(form, problem) {
  form.querySelectorAll("[data-error-for]").forEach((el) => { el.textContent = ""; });
  const result = form.querySelector(".result");
  if (!problem) return;
  const errors = problem.errors && problem.errors.length ? problem.errors : [{ field: "", reason: problem.detail }];
  for (const e of errors) {
    const name = (e.field || "").split(/[.\[]/)[0];
    const slot = form.querySelector(`[data-error-for="${name}"]`);
    const text = `${e.reason}${e.example ? ` (e.g. ${e.example})` : ""}`;
    if (slot) slot.textContent = text;
    else if (result) result.textContent = result.dataset.refused + text;
  }
}

async function showOverride() {
  const { status, data } = await api("GET", "/api/v1/override");
  const el = document.getElementById("current-override");
  if (status !== 200) { el.textContent = String(status); return; }
  el.textContent = data.override && data.active
    ? `${data.override.mode} → ${data.override.until}${data.override.note ? " (" + data.override.note + ")" : ""}`
    : "-";
}

function startSchedule() {
  showOverride();
  const form = document.getElementById("override-form");
  if (!form) return;
  const result = form.querySelector(".result");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const mode = form.querySelector('input[name="mode"]:checked');
    const until = form.elements.until.value;
    const body = { mode: mode ? mode.value : "", until: until ? `${until.length === 16 ? until + ":00" : until}${form.dataset.offset}` : "", note: form.elements.note.value };
    const { status, data } = await api("PUT", "/api/v1/override", body);
    result.textContent = "";
    if (status === 200) {
      showProblem(form, null);
      result.textContent = result.dataset.saved;
      showOverride();
    } else {
      showProblem(form, data || { detail: String(status) });
    }
  });
  document.getElementById("clear-override").addEventListener("click", async () => {
    const { status } = await api("DELETE", "/api/v1/override");
    result.textContent = status === 204 ? result.dataset.saved : result.dataset.refused + status;
    showOverride();
  });
}

async function startCalls() {
  const { status, data } = await api("GET", "/api/v1/calls?limit=50");
  const body = document.querySelector("#calls tbody");
  if (status !== 200) {
    document.getElementById("calls-error").textContent = data ? data.detail : String(status);
    return;
  }
  for (const c of data.items) {
    const row = body.insertRow();
    for (const value of [c.started_at.replace("T", " ").slice(0, 19), c.caller, c.period, c.outcome,
      c.wait_seconds === null ? "-" : c.wait_seconds.toFixed(1), c.talk_seconds === null ? "-" : c.talk_seconds.toFixed(1),
      c.purpose || ""]) {
      row.insertCell().textContent = value;
    }
  }
}

function startReports() {
  const form = document.getElementById("report-form");
  const frame = document.getElementById("report");
  const pdf = document.getElementById("report-pdf");
  const lang = document.documentElement.lang;
  const show = async (month) => {
    const base = `/api/v1/reports/monthly?month=${encodeURIComponent(month)}&lang=${lang}`;
    const check = await api("GET", base);
    if (check.status !== 200) { showProblem(form, check.data); return; }
    showProblem(form, null);
    frame.src = `${base}&format=html`;
    pdf.href = `${base}&format=pdf`;
  };
  const now = new Date();
  form.elements.month.value = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
  form.addEventListener("submit", (event) => { event.preventDefault(); show(form.elements.month.value); });
  show(form.elements.month.value);
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "wallboard") startWallboard();
  else if (page === "schedule") startSchedule();
  else if (page === "calls") startCalls();
  else if (page === "reports") startReports();
});
