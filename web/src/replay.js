// The operator map's replay: the map, counters and open alerts as they were at an event
// time, from `GET /api/replay?at=` (the server computes "as of T" from the journal and the
// fixes; docs/dashboards.md "Replay"). The page stays on its live feed meanwhile, so "Back
// to live" shows the live state at once.
import { $, apiGet, el, fmtTime, t } from "./common.js";

/** Event time per wall second: 1× is real time, 600× ten minutes a second. */
export const SPEEDS = [1, 10, 60, 300, 600];
const STEP_MS = 60_000; // the slider and the arrow keys move a minute of event time
const TICK_MS = 500; // playing asks for the next instant this often (at most one request at a time)

/** The event time `wallMs` of playing at `speed` after `atMs`, never past `endMs`. */
export function advance(atMs, speed, wallMs, endMs) {
  return Math.min(atMs + speed * wallMs, endMs);
}

/**
 * Wire the replay bar. `token()` gives the operator token; `show(view)` draws a view of
 * `/api/replay`; `leave()` goes back to the live state.
 */
export function setupReplay({ token, show, leave }) {
  const bar = $("#replay");
  const slider = $("#replay-slider");
  const speed = $("#replay-speed");
  const play = $("#replay-play");
  const state = { active: false, at: null, first: null, end: null, playing: false, timer: null, busy: false, wanted: null, view: null };

  const fillSpeeds = () => {
    const chosen = speed.value || "60";
    speed.replaceChildren(...SPEEDS.map((s) => el("option", { value: String(s), text: t("replay.speed_x", { n: s }) })));
    speed.value = chosen;
  };

  const showTime = () => {
    $("#replay-time").replaceChildren(el("bdi", { dir: "ltr", text: fmtTime(state.at == null ? null : new Date(state.at).toISOString()) }));
    slider.setAttribute("aria-valuetext", fmtTime(state.at == null ? null : new Date(state.at).toISOString()));
  };

  /** Ask for the view at `atMs`; while a request is in flight only the latest wish waits. */
  const load = async (atMs) => {
    state.wanted = atMs;
    if (state.busy) return;
    state.busy = true;
    try {
      while (state.wanted !== null && state.active) {
        const at = state.wanted;
        state.wanted = null;
        const { status, body } = await apiGet(`/api/replay?at=${encodeURIComponent(new Date(at).toISOString())}`, token());
        if (!state.active) break;
        if (status !== 200) {
          $("#replay-error").textContent = t("search.error", { status });
          continue;
        }
        $("#replay-error").textContent = "";
        state.view = body;
        bar.dataset.at = body.at;
        show(body);
      }
    } finally {
      state.busy = false;
    }
  };

  const moveTo = (atMs) => {
    state.at = Math.max(state.first, Math.min(atMs, state.end));
    slider.value = String(state.at);
    showTime();
    load(state.at);
  };

  const setPlaying = (on) => {
    state.playing = on;
    clearInterval(state.timer);
    state.timer = null;
    play.setAttribute("aria-pressed", on ? "true" : "false");
    play.textContent = t(on ? "replay.pause" : "replay.play");
    if (!on) return;
    let last = performance.now();
    state.timer = setInterval(() => {
      const now = performance.now();
      const next = advance(state.at, Number(speed.value), now - last, state.end);
      last = now;
      moveTo(next);
      if (next >= state.end) setPlaying(false);
    }, TICK_MS);
  };

  const enter = async () => {
    // The range: from the first event journaled to the service's clock (both from the server).
    const { status, body } = await apiGet(`/api/replay?at=${encodeURIComponent(new Date().toISOString())}`, token());
    if (status !== 200 || !body.clock) {
      $("#replay-error").textContent = status === 200 ? t("replay.empty") : t("search.error", { status });
      return;
    }
    state.first = Date.parse(body.first ?? body.clock);
    state.end = Date.parse(body.clock);
    slider.min = String(state.first);
    slider.max = String(state.end);
    slider.step = String(STEP_MS);
    state.active = true;
    document.body.classList.add("replaying");
    bar.dataset.mode = "replay";
    $("#replay-controls").hidden = false;
    $("#replay-enter").hidden = true;
    moveTo(state.end);
    slider.focus();
  };

  const exit = () => {
    setPlaying(false);
    state.active = false;
    state.view = null;
    document.body.classList.remove("replaying");
    bar.dataset.mode = "live";
    delete bar.dataset.at;
    $("#replay-controls").hidden = true;
    $("#replay-enter").hidden = false;
    $("#replay-error").textContent = "";
    leave();
    $("#replay-enter").focus();
  };

  $("#replay-enter").addEventListener("click", enter);
  $("#replay-live").addEventListener("click", exit);
  play.addEventListener("click", () => setPlaying(!state.playing));
  slider.addEventListener("input", () => {
    setPlaying(false);
    moveTo(Number(slider.value));
  });
  bar.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.active) exit();
  });
  fillSpeeds();
  play.textContent = t("replay.play");

  return {
    get active() {
      return state.active;
    },
    get view() {
      return state.view;
    },
    /** Go to an event time (ms) at once (the browser tests use it too). */
    moveTo: (atMs) => {
      setPlaying(false);
      moveTo(atMs);
    },
    /** Strings again after a language change. */
    relabel: () => {
      fillSpeeds();
      play.textContent = t(state.playing ? "replay.pause" : "replay.play");
      showTime();
      if (state.view) show(state.view);
    },
  };
}
