/* The campaign pages: the preview and the member count follow the form as the merchant types,
   and a sending campaign's progress updates by itself. Every form also works without this file. */
(function () {
  "use strict";

  var numberFormat = new Intl.NumberFormat(document.documentElement.lang || "en");  // the page's language, as Babel on the server

  function debounce(action, milliseconds) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(action, milliseconds);
    };
  }

  function fieldsOf(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrf_token" && name !== "action") params.append(name, value);
    });
    return params.toString();
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
        return body;
      });
    });
  }

  /* Calls `load` after the form changes; only the answer to the latest change is shown. */
  function follow(form, load, show, fail) {
    var latest = 0;
    var refresh = debounce(function () {
      var ticket = ++latest;
      load().then(
        function (data) { if (ticket === latest) show(data); },
        function (error) { if (ticket === latest) fail(error.message); }
      );
    }, 250);
    form.addEventListener("input", refresh);
    form.addEventListener("change", refresh);
    return refresh;
  }

  function alertIn(target, message) {
    var old = target.querySelector(".alert");
    if (old) old.remove();
    var alert = document.createElement("p");
    alert.className = "alert";
    alert.setAttribute("role", "alert");
    alert.textContent = message;
    target.prepend(alert);
  }

  function livePreview(form) {
    var target = form.querySelector("[data-preview]");
    var refresh = follow(
      form,
      function () { return getJSON(form.dataset.previewUrl + "?" + fieldsOf(form)); },
      function (data) { target.innerHTML = data.html; },
      function (message) { alertIn(target, message); }
    );
    form.addEventListener("click", function (event) {
      var button = event.target.closest("[data-replace]");
      if (!button) return;
      event.preventDefault();
      form.elements[button.dataset.replace].value = button.dataset.replacement;
      refresh();
    });
    var choice = form.querySelector("[data-segment-choice]");
    var inline = form.querySelector("[data-inline-filter]");
    if (choice && inline) {
      choice.addEventListener("change", function () { inline.hidden = choice.value !== ""; });
    }
  }

  function liveCount(form) {
    var target = form.querySelector("[data-segment-count]");
    follow(
      form,
      function () { return getJSON(form.dataset.countUrl + "?" + fieldsOf(form)); },
      function (data) {
        target.replaceChildren(
          strong("matching", data.matching), " members match · ", strong("reachable", data.reachable), " can receive texts"
        );
      },
      function (message) { target.replaceChildren(); alertIn(target, message); }
    );
  }

  function strong(field, value) {
    var element = document.createElement("strong");
    element.dataset.field = field;
    element.textContent = numberFormat.format(value);
    return element;
  }

  function liveProgress(section) {
    if (section.dataset.finished === "true") return;
    function poll() {
      getJSON(section.dataset.progressUrl).then(function (data) {
        ["done", "queued", "sent", "delivered", "failed", "pending"].forEach(function (name) {
          var element = section.querySelector('[data-field="' + name + '"]');
          if (element) element.textContent = numberFormat.format(data[name]);
        });
        section.querySelector("progress").value = data.percent_done;
        if (data.is_finished) {
          window.location.reload();
          return;
        }
        setTimeout(poll, 3000);
      }, function () { setTimeout(poll, 10000); });
    }
    setTimeout(poll, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-preview-url]").forEach(livePreview);
    document.querySelectorAll("form[data-count-url]").forEach(liveCount);
    document.querySelectorAll("[data-progress-url]").forEach(liveProgress);
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.addEventListener("change", function () { form.submit(); });
    });
  });
})();
