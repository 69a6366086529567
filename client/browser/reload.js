// reloadd: this page refreshes itself when its dev server changes (docs/browser.md).
// The stream (/__reloadd__/events) says "hello" with the id of the server process;
// another id later means a new server process, which already serves: reload.
(() => {
  "use strict";
  if (window.__reloadd) return; // injected twice
  const me = document.currentScript;
  const state = (window.__reloadd = {
    boot: (me && me.dataset.boot) || null, // the process that served this page
    crashed: false,
    reloading: false,
    connected: false,
  });
  const EVENTS = "/__reloadd__/events";
  const MAX_DELAY = 2000;
  let delay = 0;
  let timer = null;

  function say(...args) {
    console.info("reloadd:", ...args);
  }

  function reload(why) {
    if (state.reloading) return;
    state.reloading = true;
    say("reloading:", why);
    location.reload();
  }

  function connect() {
    timer = null;
    const source = new EventSource(EVENTS);
    let opened = false;
    source.addEventListener("hello", (event) => {
      const info = JSON.parse(event.data);
      opened = true;
      delay = 0;
      if (state.crashed) return reload(`${info.server} is running again`);
      if (state.boot && info.boot !== state.boot) return reload(`${info.server} restarted`);
      state.boot = info.boot;
      state.connected = true;
    });
    source.addEventListener("reload", (event) => {
      reload(JSON.parse(event.data).paths.join(", ") || "asked");
    });
    source.addEventListener("css", (event) => swapStyles(JSON.parse(event.data).paths));
    source.addEventListener("crashed", (event) => {
      opened = true; // a stand-in answered: the next server will wait for us in the backlog
      delay = 0;
      state.crashed = true;
      showCrash(JSON.parse(event.data));
    });
    source.onerror = () => {
      source.close();
      state.connected = false;
      if (state.reloading) return;
      // An open stream that ends means its server exits: connect again at once (a kept
      // socket holds the connection until the next server accepts it). A refused one:
      // back off, up to MAX_DELAY.
      delay = opened ? 0 : Math.min(MAX_DELAY, Math.max(50, delay * 2));
      timer = setTimeout(connect, delay);
    };
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
    title.textContent = `${error.type}: ${error.message}`;
    const place = document.createElement("div");
    place.className = "reloadd-where";
    place.textContent = where;
    const note = document.createElement("p");
    note.textContent = "The dev server cannot run. Fix the error and save: this page reloads once it runs again.";
    box.replaceChildren(title, place, note);
    say("server crashed:", `${error.type}: ${error.message}`, where);
  }

  connect();
})();
