// Progressive enhancement of the sign form: post JSON with fetch, show errors next to
// the fields and the thanks in place. Without JavaScript the form posts normally and
// the server answers with HTML; nothing here is needed for it to work.
(function () {
  "use strict";
  const form = document.getElementById("sign-form");
  if (!form || !window.fetch) return;
  const button = document.getElementById("sign-button");
  const status = document.getElementById("form-status");

  function showError(field, message) {
    const input = form.elements[field];
    const slot = document.getElementById(field + "-error");
    if (input && input.setAttribute) {
      const hint = document.getElementById(field + "-hint");
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", (hint ? hint.id + " " : "") + field + "-error");
    }
    if (slot) { slot.textContent = message; slot.hidden = false; }
    return Boolean(slot);
  }

  function clearErrors() {
    form.querySelectorAll(".field-error").forEach(function (slot) { slot.hidden = true; slot.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      const hint = document.getElementById(el.id + "-hint");
      if (hint) el.setAttribute("aria-describedby", hint.id); else el.removeAttribute("aria-describedby");
    });
    const summary = document.getElementById("error-summary");
    if (summary) summary.remove();
  }

  // The receipt the 202 carries (public logs on): a file to keep, served by the intake,
  // and the /receipt page, given the receipt in the link's fragment (never sent).
  function showReceipt(thanks, receipt) {
    const section = document.getElementById("thanks-receipt");
    if (!section || !receipt) return;
    const query = new URLSearchParams({ signature_id: receipt.signature_id, country: receipt.country });
    document.getElementById("receipt-download").href =
      "/petitions/" + encodeURIComponent(receipt.petition_id) + "/receipt?" + query;
    document.getElementById("receipt-check").href =
      thanks.dataset.receiptPage + "#" + new URLSearchParams({ receipt: JSON.stringify(receipt) });
    section.hidden = false;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors();
    const data = {};
    new FormData(form).forEach(function (value, key) { data[key] = value; });
    data.consent_to_publish_name = form.elements.consent_to_publish_name.checked;
    button.disabled = true;
    status.textContent = "Sending your signature…";
    try {
      const response = await fetch(form.action.replace("?embed=1", ""), {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(data),
      });
      const body = await response.json().catch(function () { return {}; });
      if (response.status === 202) {
        form.hidden = true;
        const thanks = document.getElementById("thanks");
        document.getElementById("thanks-signature-id").textContent = body.signature_id || "";
        showReceipt(thanks, body.receipt);
        thanks.hidden = false;
        thanks.focus();
        status.textContent = "";
        return;
      }
      if (response.status === 400 && body.errors) {
        let shown = false;
        Object.keys(body.errors).forEach(function (field) { shown = showError(field, body.errors[field]) || shown; });
        status.textContent = shown ? "Please check the highlighted fields." : (body.error || "Please check the form.");
        const first = form.querySelector("[aria-invalid=true]");
        if (first) first.focus();
        return;
      }
      const wait = response.headers.get("Retry-After");
      status.textContent = (body.error || "Something went wrong") + (wait ? " Try again in " + wait + " s." : "");
    } catch (error) {
      status.textContent = "Could not reach the server. Check your connection and try again.";
    } finally {
      button.disabled = false;
    }
  });
})();
