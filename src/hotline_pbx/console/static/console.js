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
  set(root, "callbacks_overdue", b.callbacks_overdue === null ? "-" : String(b.callbacks_overdue));
  set(root, "blocked_outbound", String(b.today.blocked_outbound));
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
function clearProblems(form) {
  form.querySelectorAll("[data-error-for]").forEach((el) => { el.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

// Put each error of a problem next to its field: "until", "weekly[2].end",
// "supervisor.mobile", "absences[0].from"; anything else under the form.
function showProblem(form, problem) {
  clearProblems(form);
  const result = form.querySelector(".result");
  if (!problem) return;
  const errors = problem.errors && problem.errors.length ? problem.errors : [{ field: "", reason: problem.detail }];
  for (const e of errors) {
    const text = `${e.reason}${e.example ? ` (e.g. ${e.example})` : ""}`;
    const path = e.field || "";
    const row = /^(\w+)(?:\[(\d+)\])?\.(\w+)/.exec(path);
    const table = row && form.querySelector(`table[data-rows="${row[1]}"]`);
    if (table) {
      const tr = table.tBodies[0].rows[Number(row[2] || 0)];
      const input = tr && tr.querySelector(`[data-key="${row[3]}"]`);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        tr.querySelector("[data-error-for]").textContent = `${row[3]}: ${text}`;
        continue;
      }
    }
    const slot = form.querySelector(`[data-error-for="${path.split(/[.\[]/)[0]}"]`);
    if (slot) slot.textContent = text;
    else if (result) result.textContent = result.dataset.refused + `${path ? path + " " : ""}${text}`;
  }
}

async function submitted(form, method, path, body, after) {
  // The browser's own checks first (required, patterns), then the API's.
  if (!form.reportValidity()) return 0;
  const result = form.querySelector(".result");
  if (result) result.textContent = "";
  const { status, data } = await api(method, path, body);
  if (status >= 200 && status < 300) {
    showProblem(form, null);
    if (result) result.textContent = result.dataset.saved;
    if (after) after(data);
  } else {
    showProblem(form, data || { detail: String(status) });
  }
  return status;
}

// -- row editors: the weekly hours, the roster, the absences ----------------------
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const ROW_FIELDS = {
  weekly: [["day", "select", DAYS], ["start", "hhmm"], ["end", "hhmm"]],
  supervisor: [["id", "text"], ["name", "text"], ["mobile", "tel"]],
  deputies: [["id", "text"], ["name", "text"], ["mobile", "tel"]],
  absences: [["person_id", "text"], ["from", "datetime-local"], ["to", "datetime-local"],
    ["reason", "select", ["leave", "resigned", "no_signal", "other"]], ["note", "text"]],
};

function addRow(table, values, editable) {
  const key = table.dataset.rows;
  const tr = table.tBodies[0].insertRow();
  for (const [name, type, choices] of ROW_FIELDS[key]) {
    const cell = tr.insertCell();
    let input;
    if (type === "select") {
      input = document.createElement("select");
      for (const choice of choices) input.add(new Option(choice, choice));
    } else if (type === "hhmm") {  // a text box: <input type=time> cannot say 24:00
      input = document.createElement("input");
      input.type = "text";
      input.inputMode = "numeric";
      input.pattern = "([01][0-9]|2[0-3]):[0-5][0-9]|24:00";
      input.placeholder = "HH:MM";
      input.size = 6;
    } else {
      input = document.createElement("input");
      input.type = type;
    }
    input.dataset.key = name;
    input.setAttribute("aria-label", `${key} ${name}`);
    let value = values[name] === null || values[name] === undefined ? "" : String(values[name]);
    if (type === "datetime-local") value = value.slice(0, 16);
    input.value = value;
    input.disabled = !editable;
    cell.append(input);
  }
  const last = tr.insertCell();
  const error = document.createElement("span");
  error.className = "error";
  error.dataset.errorFor = `${key}-row`;
  error.setAttribute("role", "alert");
  if (editable) {
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "×";
    remove.setAttribute("aria-label", "remove");
    remove.addEventListener("click", () => tr.remove());
    last.append(remove, " ");
  }
  last.append(error);
}

function readRows(table, offset) {
  return Array.from(table.tBodies[0].rows, (tr) => {
    const item = {};
    tr.querySelectorAll("[data-key]").forEach((input) => {
      let value = input.value;
      if (input.type === "datetime-local") value = value ? `${value}:00${offset}` : null;
      if (value === null && input.dataset.key === "from") value = "";
      if (value !== null && !(value === "" && input.dataset.key === "note")) item[input.dataset.key] = value;
    });
    return item;
  });
}

function rowEditor(form, onAdd) {
  const editable = form.dataset.editable === "yes";
  form.querySelectorAll("[data-add]").forEach((button) => button.addEventListener("click", () => {
    const table = form.querySelector(`table[data-rows="${button.dataset.add}"]`);
    addRow(table, onAdd ? onAdd(button.dataset.add) : {}, true);
  }));
  return editable;
}

async function startWeekly(offset) {
  const form = document.getElementById("schedule-form");
  const table = form.querySelector('table[data-rows="weekly"]');
  const editable = rowEditor(form, () => ({ day: "mon", start: "08:30", end: "12:00" }));
  const { data } = await api("GET", "/api/v1/schedule");
  for (const period of data.weekly) addRow(table, period, editable);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { timezone: data.timezone, weekly: readRows(table, offset) };
    if (data.workday_periods) body.workday_periods = data.workday_periods;
    await submitted(form, "PUT", "/api/v1/schedule", body);
  });
}

async function showExceptions(editable) {
  const year = new Date().getFullYear();
  const body = document.querySelector("#exceptions tbody");
  body.textContent = "";
  for (const y of [year, year + 1]) {
    const { status, data } = await api("GET", `/api/v1/exceptions?year=${y}`);
    if (status !== 200) continue;
    for (const e of data.exceptions || data.items || []) {
      const row = body.insertRow();
      row.insertCell().textContent = e.date;
      row.insertCell().textContent = e.kind;
      row.insertCell().textContent = (e.periods || []).map((p) => `${p.start}-${p.end}`).join(", ");
      row.insertCell().textContent = e.note || "";
      const cell = row.insertCell();
      if (editable) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = document.documentElement.lang === "en" ? "Delete" : "删除";
        remove.addEventListener("click", async () => {
          await api("DELETE", `/api/v1/exceptions/${e.date}`);
          showExceptions(editable);
        });
        cell.append(remove);
      }
    }
  }
}

function startExceptions() {
  const form = document.getElementById("exception-form");
  showExceptions(Boolean(form));
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const periods = form.elements.periods.value.split(",").map((p) => p.trim()).filter(Boolean)
      .map((p) => { const [start, end] = p.split("-").map((t) => t.trim()); return { start, end }; });
    const body = { date: form.elements.date.value, kind: form.elements.kind.value, periods, note: form.elements.note.value };
    await submitted(form, "POST", "/api/v1/exceptions", body, () => showExceptions(true));
  });
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
  const offset = document.body.dataset.offset;
  startWeekly(offset);
  startExceptions();
  const form = document.getElementById("override-form");
  if (!form) return;
  const result = form.querySelector(".result");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const mode = form.querySelector('input[name="mode"]:checked');
    const until = form.elements.until.value;
    const body = { mode: mode ? mode.value : "", until: until ? `${until.length === 16 ? until + ":00" : until}${form.dataset.offset}` : "", note: form.elements.note.value };
    await submitted(form, "PUT", "/api/v1/override", body, showOverride);
  });
  document.getElementById("clear-override").addEventListener("click", async () => {
    const { status } = await api("DELETE", "/api/v1/override");
    result.textContent = status === 204 ? result.dataset.saved : result.dataset.refused + status;
    showOverride();
  });
}

async function showCalls(form) {
  const query = new URLSearchParams({ limit: "100" });
  for (const name of ["from", "to", "period", "outcome", "caller"]) {
    const input = form.elements[name];
    if (input && input.value) query.set(name, input.value);
  }
  const { status, data } = await api("GET", `/api/v1/calls?${query}`);
  const body = document.querySelector("#calls tbody");
  body.textContent = "";
  if (status !== 200) { showProblem(form, data || { detail: String(status) }); return; }
  showProblem(form, null);
  for (const c of data.items) {
    const row = body.insertRow();
    const link = document.createElement("a");
    link.href = `calls/${c.id}`;
    link.textContent = c.started_at.replace("T", " ").slice(0, 19);
    row.insertCell().append(link);
    for (const value of [c.caller, c.period, c.outcome,
      c.wait_seconds === null ? "-" : c.wait_seconds.toFixed(1), c.talk_seconds === null ? "-" : c.talk_seconds.toFixed(1),
      c.purpose || ""]) {
      row.insertCell().textContent = value;
    }
  }
}

function startCalls() {
  const form = document.getElementById("calls-filter");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (form.reportValidity()) showCalls(form);
  });
  showCalls(form);
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

// -- the roster ------------------------------------------------------------------------
async function startRoster() {
  const form = document.getElementById("roster-form");
  const offset = document.body.dataset.offset;
  const editable = rowEditor(form, (key) => (key === "absences" ? { reason: "leave" } : {}));
  const tables = {};
  form.querySelectorAll("table[data-rows]").forEach((t) => { tables[t.dataset.rows] = t; });
  const { data } = await api("GET", "/api/v1/roster");
  addRow(tables.supervisor, data.supervisor || {}, editable);
  for (const d of data.deputies) addRow(tables.deputies, d, editable);
  for (const a of data.absences) addRow(tables.absences, a, editable);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [supervisor] = readRows(tables.supervisor, offset);
    const body = { supervisor: supervisor && supervisor.id ? supervisor : null,
      deputies: readRows(tables.deputies, offset), absences: readRows(tables.absences, offset) };
    await submitted(form, "PUT", "/api/v1/roster", body);
  });
  const stream = new EventSource("events");  // who takes calls now, as the board says
  stream.addEventListener("board", (e) => {
    const b = JSON.parse(e.data);
    document.getElementById("duty-now").textContent = b.on_duty ? `${b.on_duty.role} ${b.on_duty.name}` : "-";
    const why = document.getElementById("duty-why");
    why.textContent = b.on_duty && b.on_duty.supervisor_absent ? why.dataset.text : "";
  });
}

// -- one call: facts, timeline, notes ------------------------------------------------
async function startCall() {
  const facts = document.getElementById("call-facts");
  const id = facts.dataset.call;
  const { status, data } = await api("GET", `/api/v1/calls/${id}`);
  if (status !== 200) { document.getElementById("call-error").textContent = data ? data.detail : String(status); return; }
  document.getElementById("call-title").textContent = `#${data.id}`;
  for (const key of ["caller", "started_at", "period", "route", "outcome", "wait_seconds", "talk_seconds", "answered_by", "answered_role", "purpose"]) {
    const dt = document.createElement("dt"); dt.textContent = key;
    const dd = document.createElement("dd"); dd.textContent = data[key] === null ? "-" : String(data[key]);
    facts.append(dt, dd);
  }
  const timeline = document.getElementById("timeline");
  for (const step of data.timeline || []) {
    const li = document.createElement("li");
    li.textContent = Object.entries(step).map(([k, v]) => `${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`).join(" · ");
    timeline.append(li);
  }
  const notes = document.getElementById("notes");
  const showNote = (n) => { const li = document.createElement("li"); li.textContent = `${n.created_at.replace("T", " ").slice(0, 19)} ${n.author}: ${n.body}`; notes.append(li); };
  (data.notes || []).forEach(showNote);
  const form = document.getElementById("note-form");
  if (!form) return;
  const purposes = await api("GET", "/api/v1/purposes");
  const english = document.documentElement.lang === "en";
  for (const p of (purposes.data && purposes.data.purposes) || []) form.elements.purpose.add(new Option(english && p.name_en ? p.name_en : p.name, p.id));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { body: form.elements.body.value };
    if (form.elements.purpose.value) body.purpose = form.elements.purpose.value;
    await submitted(form, "POST", `/api/v1/calls/${id}/notes`, body, (note) => { showNote(note); form.elements.body.value = ""; });
  });
}

// -- list pages -------------------------------------------------------------------------
async function startList() {
  const table = document.getElementById("list");
  const { status, data } = await api("GET", table.dataset.api);
  if (status !== 200) { document.getElementById("list-error").textContent = data ? data.detail : String(status); return; }
  const keys = Array.from(table.tHead.rows[0].cells, (th) => th.dataset.key);
  for (const item of data[table.dataset.items] || []) {
    const row = table.tBodies[0].insertRow();
    for (const key of keys) {
      const value = item[key];
      row.insertCell().textContent = value === null || value === undefined ? "" :
        (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value) ? value.replace("T", " ").slice(0, 19) : String(value));
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (document.getElementById("call-facts")) startCall();
  else if (page === "wallboard") startWallboard();
  else if (page === "schedule") startSchedule();
  else if (page === "calls") startCalls();
  else if (page === "reports") startReports();
  else if (page === "roster") startRoster();
  else if (document.getElementById("list")) startList();
});
