/* The notification center, live: new notifications and the unread count from the stream
 * (EventSource, same-origin session), and the page's forms sent in place with fetch.
 * Without this script every form still works (full page loads). No dependencies. */
(function () {
  "use strict";
  var root = document.getElementById("center");
  if (!root) return;
  var list = document.getElementById("notification-list");
  var empty = document.getElementById("empty");
  var live = document.getElementById("live");
  var badge = document.getElementById("unread-badge");
  var unreadText = document.getElementById("unread-text");
  var connection = document.getElementById("connection");
  var csrf = root.dataset.csrf;
  var unreadOnly = root.dataset.unreadOnly === "1";
  var typeFilter = root.dataset.type || "";
  var baseTitle = "Notifications · HCM";

  function announce(text) {
    // Clear first so the same text twice is still read out.
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  function setUnread(count) {
    badge.textContent = String(count);
    badge.classList.toggle("zero", count === 0);
    unreadText.textContent = count + " unread";
    document.title = (count ? "(" + count + ") " : "") + baseTitle;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function srOnly(text) { return el("span", { "class": "sr-only" }, text); }

  function actionForm(action, path, label, title, cls) {
    var form = el("form", { method: "post", action: path, "data-action": action });
    form.appendChild(el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrf }));
    form.appendChild(el("button", { type: "submit", "class": cls, "aria-label": label + ": " + title }, label));
    return form;
  }

  function render(n) {
    var li = el("li", { "class": "ntf unread fresh priority-" + n.priority, "data-id": n.id, "data-type": n.type });
    var article = el("article", { "aria-labelledby": "t-" + n.id });
    var h = el("h2", { "class": "title", id: "t-" + n.id });
    h.appendChild(srOnly("Unread: "));
    h.appendChild(document.createTextNode(n.title));
    article.appendChild(h);
    if (n.message) article.appendChild(el("p", { "class": "message" }, n.message));
    var meta = el("p", { "class": "meta" });
    meta.appendChild(el("span", { "class": "priority" }, n.priority));
    meta.appendChild(el("span", { "class": "kind" }, n.type));
    var when = new Date(n.created_at);
    meta.appendChild(el("time", { datetime: n.created_at }, isNaN(when) ? n.created_at : when.toLocaleString()));
    if (n.action_url && /^(\/(?!\/)|https?:\/\/)/.test(n.action_url)) {
      meta.appendChild(el("a", { "class": "action", href: n.action_url, "aria-label": "Open: " + n.title }, "Open"));
    }
    article.appendChild(meta);
    var actions = el("div", { "class": "actions" });
    actions.appendChild(actionForm("read", "/notifications/" + encodeURIComponent(n.id) + "/read/", "Mark read", n.title, "mark-read"));
    actions.appendChild(actionForm("delete", "/notifications/" + encodeURIComponent(n.id) + "/delete/", "Delete", n.title, "delete"));
    article.appendChild(actions);
    li.appendChild(article);
    return li;
  }

  function showEmptyIfNeeded() { empty.hidden = list.children.length > 0; }

  function markReadInPlace(li) {
    li.classList.remove("unread");
    var hidden = li.querySelector(".title .sr-only");
    if (hidden) hidden.remove();
    var form = li.querySelector('form[data-action="read"]');
    if (form) form.remove();
    if (unreadOnly) li.remove();
  }

  // --- forms, sent in place ---------------------------------------------------------------
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var action = form.getAttribute("data-action");
    if (!action) return;
    event.preventDefault();
    var li = form.closest("li.ntf");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch", "X-CSRFToken": csrf },
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(function (body) {
      setUnread(body.unread);
      if (action === "read" && li) {
        markReadInPlace(li);
        announce("Marked as read.");
        var next = li.querySelector(".delete") || document.getElementById("list-title");
        next.focus();
      } else if (action === "delete" && li) {
        var after = li.nextElementSibling || li.previousElementSibling;
        li.remove();
        showEmptyIfNeeded();
        announce("Notification deleted.");
        (after ? after.querySelector("button") : document.getElementById("list-title")).focus();
      } else if (action === "read-all") {
        Array.prototype.slice.call(list.querySelectorAll("li.ntf.unread")).forEach(markReadInPlace);
        showEmptyIfNeeded();
        announce("All notifications marked as read.");
      }
    }).catch(function () {
      form.removeAttribute("data-action");  // fall back to a normal submit
      form.submit();
    });
  });

  // --- the stream ---------------------------------------------------------------------------
  if (!window.EventSource) {
    connection.textContent = "Live updates are not supported by this browser; reload to see new notifications.";
    return;
  }
  var url = root.dataset.streamUrl + "?last_event_id=" + encodeURIComponent(root.dataset.cursor || "0");
  var source = new EventSource(url);
  source.addEventListener("open", function () { connection.textContent = "Live updates: on"; });
  source.addEventListener("error", function () { connection.textContent = "Live updates: reconnecting…"; });
  source.addEventListener("unread", function (event) { setUnread(JSON.parse(event.data).count); });
  source.addEventListener("notification", function (event) {
    var n = JSON.parse(event.data);
    if (document.querySelector('li.ntf[data-id="' + CSS.escape(n.id) + '"]')) return;
    if (typeFilter && n.type !== typeFilter) return;
    list.insertBefore(render(n), list.firstChild);
    showEmptyIfNeeded();
    announce("New notification: " + n.title);
  });
})();
