// reloadd: this page refreshes itself when its dev server changes (docs/browser.md).
//
// The server's event stream (/__reloadd__/events) says "hello" with the id of the server
// process first; another id later means a new process, which already serves: reload.
// This file has two roles. In a page it shows what the stream says; the stream itself is
// held by a SharedWorker running this same file, one per server for all its tabs (a
// browser opens at most 6 connections per server: 6 tabs holding a stream each would
// leave none for the pages). Without SharedWorker, each page holds its own stream.
"use strict";

const EVENTS = "/__reloadd__/events";
const KINDS = ["hello", "reload", "css", "crashed"];
const MAX_DELAY = 2000; // ms between two attempts to connect, at most

// Connects to the stream, and again whenever it ends: at once if it was open (the
// server exits: with a kept socket the next connection waits until the next server
// accepts it), else after a growing delay (refused: nothing listens yet).
function follow(onEvent) {
  let delay = 0;
  function connect() {
    const source = new EventSource(EVENTS);
    let opened = false;
    for (const kind of KINDS) {
      source.addEventListener(kind, (event) => {
        opened = true;
        delay = 0;
        onEvent({ kind, data: JSON.parse(event.data), at: Date.now() });
      });
    }
    source.onerror = () => {
      source.close();
      delay = opened ? 0 : Math.min(MAX_DELAY, Math.max(50, delay * 2));
      setTimeout(connect, delay);
    };
  }
  connect();
}

function worker() {
  const ports = new Set();
  let last = null; // the latest hello or crashed: what a tab that connects now is told first
  self.onconnect = (event) => {
    const port = event.ports[0];
    ports.add(port);
    port.onmessage = (message) => message.data === "bye" && ports.delete(port);
    if (last) port.postMessage({ ...last, replay: true });
    port.start();
  };
  follow((message) => {
    if (message.kind === "hello" || message.kind === "crashed") last = message;
    for (const port of ports) port.postMessage(message);
  });
}

function page() {
  if (window.__reloadd) return; // injected twice
  const me = document.currentScript;
  const state = (window.__reloadd = {
    boot: (me && me.dataset.boot) || null, // the process that served this page
    crashed: false,
    reloading: false,
    connected: false,
  });

  function say(...args) {
    console.info("reloadd:", ...args);
  }

  function reload(why) {
    if (state.reloading) return;
    state.reloading = true;
    say("reloading:", why);
    location.reload();
  }

  function onEvent({ kind, data, at, replay }) {
    if (state.reloading) return;
    // What the worker saw before this page was requested may be older than the page:
    // only a live event tells (except a hello from the server that served it).
    const same = kind === "hello" && data.boot === state.boot;
    if (replay && at < performance.timeOrigin && !same) return;
    if (kind === "hello") {
      if (state.crashed) return reload(`${data.server} runs again`);
      if (state.boot && data.boot !== state.boot) return reload(`${data.server} restarted`);
      state.boot = data.boot;
      state.connected = true;
    } else if (kind === "reload") {
      reload(data.paths.join(", ") || "asked");
    } else if (kind === "css") {
      swapStyles(data.paths);
    } else if (kind === "crashed") {
      state.crashed = true;
      state.connected = false;
      showCrash(data);
    }
  }

  function swapStyles(paths) {
    const links = [...document.querySelectorAll('link[rel~="stylesheet"][href]')];
    const sameOrigin = links.filter((link) => new URL(link.href).origin === location.origin);
    const named = sameOrigin.filter((link) => {
      const path = new URL(link.href).pathname;
      return paths.some((changed) => path === "/" + changed || path.endsWith("/" + changed));
    });
    const swapped = named.length ? named : sameOrigin;
    for (const link of swapped) {
      const url = new URL(link.href);
      url.searchParams.set("reloadd", String(Date.now()));
      const fresh = link.cloneNode();
      fresh.href = url.href;
      // The old sheet stays until the new one is loaded: no flash of an unstyled page.
      fresh.addEventListener("load", () => link.remove(), { once: true });
      fresh.addEventListener("error", () => link.remove(), { once: true });
      link.after(fresh);
    }
    say("swapped", swapped.length, "stylesheet(s) for", paths.join(", "));
  }

  function showCrash(error) {
    let box = document.getElementById("reloadd-crash");
    if (!box) {
      box = document.createElement("div");
      box.id = "reloadd-crash";
      box.setAttribute("role", "alert");
      box.style.cssText =
        "position:fixed;inset:0;z-index:2147483647;overflow:auto;margin:0;padding:2em;" +
        "background:rgba(25,25,25,.94);color:#f4f4f4;font:14px/1.5 ui-monospace,monospace;" +
        "white-space:pre-wrap";
      (document.body || document.documentElement).appendChild(box);
    }
    const where = error.file ? `${error.file}${error.line ? ":" + error.line : ""}` : "";
    const title = document.createElement("strong");
    title.style.cssText = "color:#ff8080;font-size:1.3em";
    title.textContent = error.type ? `${error.type}: ${error.message}` : error.message;
    const place = document.createElement("div");
    place.textContent = where;
    const note = document.createElement("p");
    note.textContent =
      "The dev server cannot run. Fix the error and save: this page reloads once it runs again.";
    box.replaceChildren(title, place, note);
    say("the server crashed:", title.textContent, where);
  }

  let shared = null;
  if (typeof SharedWorker === "function" && me && me.src) {
    try {
      shared = new SharedWorker(me.src, { name: "reloadd" });
    } catch (error) {
      shared = null; // refused (a sandboxed page, a policy): hold a stream ourselves
    }
  }
  if (shared) {
    // A policy may refuse the worker after all (worker-src): then hold a stream ourselves.
    shared.onerror = () => follow(onEvent);
    shared.port.onmessage = (message) => onEvent(message.data);
    shared.port.start();
    window.addEventListener("pagehide", (event) => {
      if (!event.persisted) shared.port.postMessage("bye");
    });
  } else {
    follow(onEvent);
  }
}

if (typeof window === "undefined") {
  worker();
} else {
  page();
}
