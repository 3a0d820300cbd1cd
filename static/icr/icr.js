/* Behaviour every page of ICR shares, bound here because the Content-Security-Policy allows no
   inline script or event handler attribute (icr/settings.py, CONTENT_SECURITY_POLICY).

   A <select data-icr-autosubmit> submits its form as soon as its value changes; the form keeps
   a <noscript> button for browsers without script. A <form data-icr-confirm="question"> asks
   the question before it is sent, and is not sent unless confirmed. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof HTMLSelectElement && field.hasAttribute("data-icr-autosubmit") &&
        field.form) {
      field.form.submit();
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-icr-confirm") &&
        !window.confirm(form.getAttribute("data-icr-confirm"))) {
      event.preventDefault();
    }
  });
})();
