/* Behaviour every page of ICR shares, bound here because the Content-Security-Policy allows no
   inline script or event handler attribute (icr/settings.py, CONTENT_SECURITY_POLICY).

   A <select data-icr-autosubmit> submits its form as soon as its value changes; the form keeps
   a <noscript> button for browsers without script. A <form data-icr-confirm="question"> asks
   the question before it is sent, and is not sent unless confirmed. On the rating form, the
   box "I did not receive this service" ([data-icr-not-received]) disables the scores
   ([data-icr-score]) and shows the reason ([data-icr-reason]), which is hidden otherwise. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof HTMLSelectElement && field.hasAttribute("data-icr-autosubmit") &&
        field.form) {
      field.form.submit();
    }
  });
  function followNotReceived(box) {
    var form = box.form;
    if (!form) {
      return;
    }
    form.querySelectorAll("[data-icr-score] input").forEach(function (input) {
      input.disabled = box.checked;
    });
    form.querySelectorAll("[data-icr-score]").forEach(function (fieldset) {
      fieldset.classList.toggle("opacity-50", box.checked);
    });
    form.querySelectorAll("[data-icr-reason]").forEach(function (reason) {
      reason.hidden = !box.checked;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target instanceof HTMLInputElement &&
        event.target.hasAttribute("data-icr-not-received")) {
      followNotReceived(event.target);
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-icr-not-received]").forEach(followNotReceived);
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-icr-confirm") &&
        !window.confirm(form.getAttribute("data-icr-confirm"))) {
      event.preventDefault();
    }
  });
})();
