// Shared by both pages: language, tokens, the feed connection, personal-data scrubbing.
import { STRINGS } from "./i18n.js";

export const $ = (sel, root = document) => root.querySelector(sel);

/** Create an element; text is set with textContent, never innerHTML (no markup injection). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    // Through the CSSOM, which the page's CSP allows; a `style` attribute would need 'unsafe-inline'.
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Content for a Leaflet tooltip or popup: a node whose text is set with textContent. Leaflet
 * writes a string given to bindTooltip/bindPopup/setContent as HTML, so never pass it one. */
export const textTip = (text) => el("span", { text: text == null ? "" : String(text) });

// ------------------------------------------------------------------ language

let lang = "en";

export function currentLang() {
  return lang;
}

/** Pick the language: `?lang=` in the URL, else the stored choice, else the browser's. */
export function initLang(onChange) {
  const asked = new URLSearchParams(location.search).get("lang");
  const stored = localStorage.getItem("tariq-lang");
  const browser = (navigator.language || "en").startsWith("ar") ? "ar" : "en";
  setLang(asked || stored || browser);
  for (const button of document.querySelectorAll("[data-lang-toggle]")) {
    button.addEventListener("click", () => {
      setLang(lang === "ar" ? "en" : "ar");
      localStorage.setItem("tariq-lang", lang);
      onChange();
    });
  }
}

function setLang(value) {
  lang = value === "ar" ? "ar" : "en";
  document.documentElement.lang = lang;
  document.documentElement.dir = lang === "ar" ? "rtl" : "ltr";
  for (const node of document.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n);
  }
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of document.querySelectorAll("[data-i18n-aria]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nAria));
  }
  document.title = t(document.body.dataset.title || "title");
}

/** The string for `key` in the current language; `{name}` placeholders from `vars`. */
export function t(key, vars = {}) {
  const table = STRINGS[lang] || STRINGS.en;
  const text = table[key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** A count with its plural form: `{key}.{one|two|few|many|other|zero}` by the language's
 *  plural rules (Arabic has six), `{n}` the number in Latin digits. */
export function tn(key, n) {
  const table = STRINGS[lang] || STRINGS.en;
  const form = new Intl.PluralRules(lang).select(n ?? 0);
  const text = table[`${key}.${form}`] ?? table[`${key}.other`] ?? STRINGS.en[`${key}.other`] ?? key;
  return text.replace("{n}", fmtNumber(n));
}

// Latin digits in both languages: tags and ids must read the same to every operator.
const numbers = { en: new Intl.NumberFormat("en"), ar: new Intl.NumberFormat("ar-u-nu-latn") };
export const fmtNumber = (n) => numbers[lang].format(n ?? 0);

// ------------------------------------------------------------------ local time

// The installation's time zone (TARIQ_TIMEZONE, from /ui-config.json); Asia/Riyadh until known.
let timeZone = "Asia/Riyadh";
let timeFormat = null;

/** Ask the server which time zone to show times in (no token needed); then `onChange()`. */
export async function loadTimeZone(onChange) {
  try {
    const response = await fetch("/ui-config.json");
    const config = await response.json();
    if (typeof config.timezone === "string" && config.timezone !== timeZone) {
      timeZone = config.timezone;
      timeFormat = null;
      onChange?.();
    }
  } catch {
    // Keep the default: times stay right for Makkah and Madinah.
  }
}

function formatter() {
  if (!timeFormat) {
    timeFormat = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZoneName: "longOffset",
    });
  }
  return timeFormat;
}

/** An event time in the installation's local time with its offset, "2026-05-18 08:30 +03",
 *  in Latin digits in both languages (wrap it in a left-to-right `<bdi>` on an Arabic page). */
export function fmtTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const parts = Object.fromEntries(formatter().formatToParts(date).map((p) => [p.type, p.value]));
  const offset = (parts.timeZoneName || "GMT").replace("GMT", "") || "+00:00";
  const short = offset.endsWith(":00") ? offset.slice(0, -3) : offset;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${short}`;
}

/** A time as a left-to-right isolated `<time>`: reads the same on an Arabic page. */
export const timeEl = (iso) => el("time", { dir: "ltr", datetime: iso || undefined, text: fmtTime(iso) });

/** A stage, checkpoint or alert type in the current language. */
export const label = (kind, value) => (value ? t(`${kind}.${value}`) : "—");

// ------------------------------------------------------------------ personal data

/** Drop passport numbers from anything received, whatever its shape: never on a page. */
export function scrub(value) {
  if (Array.isArray(value)) {
    for (const item of value) scrub(item);
  } else if (value && typeof value === "object") {
    for (const key of Object.keys(value)) {
      if (/passport/i.test(key)) delete value[key];
      else scrub(value[key]);
    }
  }
  return value;
}

// ------------------------------------------------------------------ tokens

/** The token: `#token=…` in the URL (then stored and removed from the URL), else stored. */
export function takeToken(storageKey) {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    localStorage.setItem(storageKey, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem(storageKey);
}

export async function apiGet(path, token) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, body: scrub(body) };
}

export async function apiPost(path, token, data = null) {
  const response = await fetch(path, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: data === null ? "" : JSON.stringify(data),
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, body: scrub(body) };
}

/**
 * Show the sign-in box until a token is entered; `check(token)` resolves to an error
 * message key, or null when the token is good.
 */
export function signIn(storageKey, check, message) {
  const box = $("#signin");
  const input = $("#signin-token");
  const errorEl = $("#signin-error");
  errorEl.textContent = message ? t(message) : "";
  box.hidden = false;
  input.focus();
  return new Promise((resolve) => {
    $("#signin-form").onsubmit = async (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      const problem = await check(token);
      if (problem) {
        errorEl.textContent = t(problem);
        return;
      }
      localStorage.setItem(storageKey, token);
      box.hidden = true;
      resolve(token);
    };
  });
}

// ------------------------------------------------------------------ the feed

/**
 * Keep a websocket to `path` open: reconnect with backoff after a drop (network, server
 * restart, or 1013 "too slow"); each new connection starts with a snapshot, which is the
 * resync. `onMessage(msg, raw)` gets every message; `onStatus(state)` the connection state.
 */
export function connectFeed(path, token, { onMessage, onStatus, onRefused }) {
  let delay = 500;
  let everOpened = false;
  let failuresBeforeOpen = 0;
  let socket = null;
  let stopped = false;
  let timer = null;
  const open = () => {
    if (stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}${path}?token=${encodeURIComponent(token)}`;
    onStatus("connecting");
    socket = new WebSocket(url);
    let opened = false;
    socket.onopen = () => {
      opened = everOpened = true;
      failuresBeforeOpen = 0;
      delay = 500;
      onStatus("live");
    };
    socket.onmessage = (event) => onMessage(event.data);
    socket.onclose = () => {
      if (stopped) return;
      if (!opened && !everOpened && ++failuresBeforeOpen >= 2 && onRefused) {
        // Never got in: most likely a refused token rather than a network drop.
        stopped = true;
        onRefused();
        return;
      }
      onStatus("reconnecting");
      timer = setTimeout(() => {
        timer = null;
        open();
      }, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  // Coming back online: try at once rather than waiting out the backoff.
  window.addEventListener("online", () => {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
      delay = 500;
      open();
    }
  });
  open();
  return {
    close() {
      stopped = true;
      socket?.close();
    },
  };
}
