// The back-office site's one script (static: the Content-Security-Policy allows no inline code).
// Niceties only: every page works without it.
(function () {
  "use strict";
  // A form is sent once: its submit button is disabled while the page waits for the answer.
  document.addEventListener("submit", function (event) {
    var buttons = event.target.querySelectorAll("button[type=submit]");
    window.setTimeout(function () {
      buttons.forEach(function (b) { b.disabled = true; });
    }, 0);
  });
  // A write's button stays disabled until its confirmation box is ticked (the server checks it too).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    var box = form.querySelector("input[name=confirm]");
    var button = form.querySelector("button[type=submit]");
    if (!box || !button) { return; }
    var sync = function () { button.disabled = !box.checked; };
    box.addEventListener("change", sync);
    sync();
  });
  // "Copy" next to a token shown once.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () { button.textContent = "Copied"; });
      }
    });
  });
}());
