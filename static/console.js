// Samvad console: live messages in a conversation view. The page works
// without this file; with it, new, edited and deleted messages appear as
// they happen, from the server's event stream (the same events Socket.IO
// clients get), with a poll as the fallback when the stream is not there.
(function () {
  "use strict";

  // htmx requests carry the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (e) {
    var main = document.getElementById("main");
    if (main && main.dataset.csrf) e.detail.headers["X-CSRF-Token"] = main.dataset.csrf;
  });

  var list = document.getElementById("messages");
  if (!list || !list.dataset.events) return;

  function lastSeq() {
    var items = list.querySelectorAll("li[data-seq]");
    var max = Number(list.dataset.lastSeq || 0);
    items.forEach(function (li) { max = Math.max(max, Number(li.dataset.seq)); });
    return max;
  }

  // Puts each <li> of `html` in place: replaces one with the same id, or
  // appends it in seq order.
  function place(html) {
    var box = document.createElement("ol");
    box.innerHTML = html;
    Array.prototype.slice.call(box.children).forEach(function (li) {
      var old = document.getElementById(li.id);
      if (old) { old.replaceWith(li); return; }
      var seq = Number(li.dataset.seq);
      var after = null;
      list.querySelectorAll("li[data-seq]").forEach(function (x) {
        if (Number(x.dataset.seq) < seq) after = x;
      });
      li.classList.add("fresh");
      if (after) after.after(li); else list.prepend(li);
      list.dataset.lastSeq = String(Math.max(seq, Number(list.dataset.lastSeq || 0)));
      if (window.innerHeight + window.scrollY >= document.body.offsetHeight - 200) li.scrollIntoView({ block: "end" });
    });
  }

  // Catches up on anything missed (first load, reconnects).
  function catchUp() {
    return fetch(list.dataset.poll + "?after=" + lastSeq(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(place)
      .catch(function () {});
  }

  if (window.EventSource) {
    var source = new EventSource(list.dataset.events);
    source.addEventListener("message", function (e) { place(e.data); });
    source.addEventListener("open", catchUp);
  } else {
    setInterval(catchUp, 3000);
  }
})();
