// The handheld counter `/scan` (device token in the URL fragment `#token=…`): count a bag by
// typing its tag (or with the camera, where the browser has a barcode detector), at the
// checkpoint and location chosen once per shift; see its route label and alerts at once.
// Every scan is first written to IndexedDB with its own `event_id`, then POSTed to
// /api/events; a scan that could not be sent stays queued and is sent when the device is back
// online. Resending keeps the same `event_id`, so the service counts each scan once.
import { $, el, ltr } from "./pagekit.js";
import ar from "./i18n/scan/ar.json";
import en from "./i18n/scan/en.json";

const CATALOGUES = { en, ar };
const CHECKPOINTS = ["accepted", "loaded", "offloaded", "sorted", "truck_loaded", "delivered", "claimed"];
const TOKEN_KEY = "tariq-scan-token";
const SHIFT_KEY = "tariq-scan-shift";
const LANG_KEY = "tariq-scan-lang";
const RECENT_KEY = "tariq-scan-recent";
const BATCH = 500;
const RETRY_MS = 10_000;

const state = {
  lang: "en",
  token: null,
  shift: null,
  queued: 0,
  online: navigator.onLine,
  sent: 0,
  lookups: new Map(), // tag -> the last route label seen (kept for offline counting)
  recent: JSON.parse(localStorage.getItem(RECENT_KEY) || "[]"),
};
window.tariq = state; // read by the browser tests

const t = (key, vars = {}) =>
  (CATALOGUES[state.lang][key] ?? en[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));

// ------------------------------------------------------------------ the queue (IndexedDB)

let dbPromise = null;
function db() {
  dbPromise ??= new Promise((resolve, reject) => {
    const request = indexedDB.open("tariq-scan", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("queue", { keyPath: "event_id" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return dbPromise;
}

async function store(mode, work) {
  const database = await db();
  return new Promise((resolve, reject) => {
    const tx = database.transaction("queue", mode);
    const result = work(tx.objectStore("queue"));
    tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    tx.onerror = () => reject(tx.error);
  });
}

const enqueue = (record) => store("readwrite", (s) => s.put(record));
const queued = () => store("readonly", (s) => s.getAll());
const dequeue = (ids) => store("readwrite", (s) => ids.forEach((id) => s.delete(id)));

// ------------------------------------------------------------------ events

function eventId() {
  // crypto.getRandomValues works on plain-http LAN addresses too (randomUUID does not).
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "scan-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function scanEvent(tag, hotelLane) {
  const { checkpoint, location, vehicle } = state.shift;
  const event = {
    event_id: eventId(),
    type: "bag.scanned",
    occurred_at: new Date().toISOString(),
    source: "tariq-scan",
    tag,
    checkpoint,
    location,
  };
  if (checkpoint === "truck_loaded") event.vehicle_id = vehicle;
  if (checkpoint === "sorted") event.hotel_id = hotelLane;
  return event;
}

function remember(eventIdValue, tag, status, reason) {
  const found = state.recent.find((r) => r.event_id === eventIdValue);
  if (found) Object.assign(found, { status, reason });
  else state.recent.unshift({ event_id: eventIdValue, tag, status, reason });
  state.recent = state.recent.slice(0, 30);
  localStorage.setItem(RECENT_KEY, JSON.stringify(state.recent));
}

let flushing = null;
/** Send everything queued, oldest first, in batches; keep what could not be sent. */
function flush() {
  flushing ??= (async () => {
    try {
      for (;;) {
        const records = (await queued()).sort((a, b) => a.queued_at - b.queued_at).slice(0, BATCH);
        if (records.length === 0) break;
        const response = await fetch("/api/events", {
          method: "POST",
          headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json" },
          body: JSON.stringify(records.map((r) => r.event)),
        });
        if (response.status === 202 || response.status === 400 || response.status === 413) {
          // Taken, or refused for good (a retry would be refused again): off the queue.
          const body = await response.json().catch(() => ({}));
          const refused = new Map((body.rejected || []).map((r) => [r.index, r.error]));
          records.forEach((r, i) => {
            const why = response.status === 202 ? refused.get(i) : body.error || String(response.status);
            remember(r.event_id, r.event.tag, why ? "rejected" : "sent", why);
            if (!why) state.sent += 1;
          });
          await dequeue(records.map((r) => r.event_id));
        } else {
          throw new Error(`status ${response.status}`); // 401, 403, 5xx: keep, retry later
        }
      }
      state.online = true;
    } catch {
      state.online = false;
    } finally {
      flushing = null;
      state.queued = (await queued()).length;
      renderQueue();
    }
  })();
  return flushing;
}

// ------------------------------------------------------------------ the route label

async function lookup(tag) {
  try {
    const response = await fetch(`/api/scan/${tag}`, { headers: { Authorization: `Bearer ${state.token}` } });
    if (response.status === 404) return { known: false, label: null, alerts: [] };
    if (!response.ok) return null;
    const view = await response.json();
    state.lookups.set(tag, view);
    return view;
  } catch {
    return null;
  }
}

function alertText(alert, label) {
  const key = `alert.${alert.type}`;
  return t(key, { hotel: label?.hotel || alert.hotel_id || "" });
}

function renderLabel(tag, view) {
  const box = $("#label");
  box.replaceChildren();
  box.dataset.tag = tag;
  box.append(el("div", {}, ltr(tag, "id tag")));
  if (view === null) {
    box.dataset.state = "offline";
    box.append(el("p", { text: t("label.offline") }));
    return;
  }
  box.dataset.state = view.known ? "known" : "unknown";
  if (view.label) {
    const l = view.label;
    const row = (key, value, isId) => [el("dt", { text: t(key) }), el("dd", {}, isId ? ltr(value || "—") : value || "—")];
    const stage = l.stage === "coded" ? t("stage.coded") : t(`checkpoint.${l.stage}`);
    box.append(
      el(
        "dl",
        {},
        ...row("label.flight", l.flight_id, true),
        ...row("label.hotel", l.hotel),
        ...row("label.lane", l.sorted_for || l.hotel_id, true),
        ...row("label.pilgrim", l.pilgrim_id, true),
        ...row("label.stage", stage),
      ),
    );
  } else {
    box.append(el("p", { class: "alert", text: t("label.unknown") }));
  }
  for (const alert of view.alerts || []) {
    if (alert.type === "unknown_tag" && !view.label) continue; // already said
    box.append(el("p", { class: "alert", "data-alert": alert.type, text: alertText(alert, view.label) }));
  }
}

// ------------------------------------------------------------------ counting

async function count(tag) {
  const problem = $("#problem");
  problem.textContent = "";
  if (!/^[0-9]{10}$/.test(tag)) {
    problem.textContent = t("bad_tag");
    return;
  }
  let view = state.lookups.get(tag) ?? null;
  let hotelLane = state.shift.laneHotel;
  if (state.shift.checkpoint === "sorted" && !hotelLane) {
    view = (await lookup(tag)) ?? view; // the lane is the bag's own hotel
    hotelLane = view?.label?.hotel_id;
    if (!hotelLane) {
      problem.textContent = t("need_hotel");
      return;
    }
  }
  const event = scanEvent(tag, hotelLane);
  await enqueue({ event_id: event.event_id, event, queued_at: Date.now() }); // kept before sent
  remember(event.event_id, tag, "queued");
  state.queued += 1;
  renderQueue();
  $("#tag").value = "";
  renderLabel(tag, view);
  const [fresh] = await Promise.all([lookup(tag), flush()]);
  if (fresh !== null) renderLabel(tag, fresh);
  else if (!state.lookups.has(tag)) renderLabel(tag, null);
}

// ------------------------------------------------------------------ the camera

let stopCamera = null;
async function camera() {
  if (stopCamera) return stopCamera();
  // The browser's own detector (Chrome on Android): no library, nothing fetched.
  const detector = new window.BarcodeDetector({ formats: ["itf", "qr_code", "code_128"] });
  const video = $("#video");
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  let running = true;
  stopCamera = () => {
    running = false;
    stream.getTracks().forEach((track) => track.stop());
    video.hidden = true;
    stopCamera = null;
    $("#camera").textContent = t("camera");
  };
  $("#camera").textContent = t("camera.stop");
  while (running) {
    const found = await detector.detect(video).catch(() => []);
    for (const code of found) {
      // The label's ITF is the tag; its QR payload is MR1/<tag>/...
      const tag = code.rawValue.startsWith("MR1/") ? code.rawValue.split("/")[1] : code.rawValue;
      if (/^[0-9]{10}$/.test(tag)) {
        stopCamera?.();
        await count(tag);
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// ------------------------------------------------------------------ rendering

function renderQueue() {
  const net = $("#net");
  const online = state.online && navigator.onLine;
  net.dataset.state = online ? "online" : "offline";
  net.textContent = online ? "●" : t("offline");
  const queue = $("#queue");
  queue.dataset.waiting = String(state.queued > 0);
  queue.dataset.count = String(state.queued);
  queue.textContent = state.queued > 0 ? t("queued", { n: state.queued }) : t("all_sent");
  $("#recent").replaceChildren(
    ...state.recent.slice(0, 10).map((r) =>
      el(
        "li",
        { "data-event-id": r.event_id, "data-status": r.status },
        ltr(r.tag),
        el("span", { class: "status", text: t(`status.${r.status}`, { reason: r.reason || "" }) }),
      ),
    ),
  );
}

function renderShift() {
  const shift = state.shift;
  $("#shift").hidden = Boolean(shift);
  $("#counter").hidden = !shift;
  if (shift) {
    const where = shift.checkpoint === "truck_loaded" ? `${shift.location} · ${shift.vehicle}` : shift.location;
    $("#current").textContent = `${t(`checkpoint.${shift.checkpoint}`)} · ${where}`;
  }
  const checkpoint = $("#checkpoint").value;
  $("#vehicle-field").hidden = checkpoint !== "truck_loaded";
  $("#hotel-field").hidden = checkpoint !== "sorted";
}

function applyLang() {
  document.documentElement.lang = state.lang;
  document.documentElement.dir = state.lang === "ar" ? "rtl" : "ltr";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  const select = $("#checkpoint");
  const chosen = select.value || state.shift?.checkpoint || "accepted";
  select.replaceChildren(...CHECKPOINTS.map((c) => el("option", { value: c, text: t(`checkpoint.${c}`) })));
  select.value = chosen;
  renderShift();
  renderQueue();
}

function start() {
  const asked = new URLSearchParams(location.search).get("lang");
  state.lang = [asked, localStorage.getItem(LANG_KEY)].find((l) => l === "ar" || l === "en") || "en";
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    localStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  state.token = localStorage.getItem(TOKEN_KEY);
  state.shift = JSON.parse(localStorage.getItem(SHIFT_KEY) || "null");
  applyLang();
  if (!state.token) {
    $("#signin").hidden = false;
    $("#shift").hidden = true;
    return;
  }
  $("#lang-toggle").addEventListener("click", () => {
    state.lang = state.lang === "ar" ? "en" : "ar";
    localStorage.setItem(LANG_KEY, state.lang);
    applyLang();
  });
  $("#checkpoint").addEventListener("change", renderShift);
  $("#shift").addEventListener("submit", (event) => {
    event.preventDefault();
    const shift = {
      checkpoint: $("#checkpoint").value,
      location: $("#location").value.trim(),
      vehicle: $("#vehicle").value.trim(),
      laneHotel: $("#lane-hotel").value.trim(),
    };
    if (!shift.location || (shift.checkpoint === "truck_loaded" && !shift.vehicle)) {
      $("#problem").textContent = t(shift.location ? "need_vehicle" : "need_shift");
      return;
    }
    state.shift = shift;
    localStorage.setItem(SHIFT_KEY, JSON.stringify(shift));
    renderShift();
    $("#tag").focus();
  });
  $("#change").addEventListener("click", () => {
    const shift = state.shift;
    $("#checkpoint").value = shift.checkpoint;
    $("#location").value = shift.location;
    $("#vehicle").value = shift.vehicle;
    $("#lane-hotel").value = shift.laneHotel;
    state.shift = null;
    renderShift();
  });
  $("#scan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    count($("#tag").value.trim());
  });
  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    $("#camera").hidden = false;
    $("#camera").addEventListener("click", () => camera().catch(() => stopCamera?.()));
  }
  window.addEventListener("online", () => flush());
  window.addEventListener("offline", () => ((state.online = false), renderQueue()));
  setInterval(() => {
    if (state.queued > 0) flush();
  }, RETRY_MS);
  flush();
}

start();
