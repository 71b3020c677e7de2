// Shared by the pilgrim, in-bus and handheld pages: small on purpose (a pilgrim's phone on a
// slow connection loads it). Text is always set with textContent, never parsed as HTML.
import en from "./i18n/en.json";

export const $ = (sel, root = document) => root.querySelector(sel);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// The pages' languages (ISO 639-1) with their own names, as the language menu shows them.
export const LANGUAGES = {
  ar: "العربية",
  en: "English",
  id: "Bahasa Indonesia",
  ms: "Bahasa Melayu",
  ur: "اردو",
  bn: "বাংলা",
  tr: "Türkçe",
  fr: "Français",
  dv: "ދިވެހި",
};
const RTL = new Set(["ar", "ur", "dv"]);
export const isLanguage = (lang) => Object.hasOwn(LANGUAGES, lang);
export const directionOf = (lang) => (RTL.has(lang) ? "rtl" : "ltr");

// English is bundled (the fallback for any missing string); the others are fetched once each
// from this origin (dashboards/static/build/i18n/<lang>.json) when first needed.
const catalogues = new Map([["en", en]]);

export async function loadCatalogue(lang) {
  if (!isLanguage(lang)) return en;
  if (!catalogues.has(lang)) {
    const response = await fetch(`/static/build/i18n/${lang}.json`);
    if (!response.ok) throw new Error(`catalogue ${lang}: ${response.status}`);
    catalogues.set(lang, await response.json());
  }
  return catalogues.get(lang);
}

/** A translator for one language: `t(key, vars)`, English for a key the catalogue lacks. */
export function translator(lang) {
  const table = catalogues.get(lang) || en;
  return (key, vars = {}) => {
    const text = table[key] ?? en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  };
}

/** Set `<html lang dir>` and every `[data-i18n]` element's text for `lang`. */
export function applyLanguage(lang, root = document) {
  const t = translator(lang);
  document.documentElement.lang = lang;
  document.documentElement.dir = directionOf(lang);
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  return t;
}

/** A number in the language's own digits (tags and ids stay as printed: Latin digits). */
export const fmtNumber = (lang, n) => new Intl.NumberFormat(lang).format(n);

/** A clock time (hours and minutes) in the language's way of writing it. */
export function fmtClock(lang, iso) {
  const date = iso ? new Date(iso) : new Date();
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" }).format(date);
}

/** A tag or id shown inside right-to-left text: isolated, left to right, Latin digits. */
export const ltr = (text, cls = "id") => el("bdi", { dir: "ltr", class: cls, text });
