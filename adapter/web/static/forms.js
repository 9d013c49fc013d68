// A desk's form is sent once. A clerk who sees nothing happen while upstream is slow clicks
// again (or presses Enter again); that second send is dropped here, and the button says the
// first is on its way. The answer's page replaces this one. GET forms (searches) are free.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || event.defaultPrevented) return;
  if (form.method.toLowerCase() !== "post") return;
  if (form.dataset.sending) {
    event.preventDefault();
    return;
  }
  form.dataset.sending = "1";
  const button = event.submitter;
  if (button && button.tagName === "BUTTON") {
    button.dataset.label = button.textContent;
    button.textContent = "正在提交，请稍候…";
    button.setAttribute("aria-busy", "true");
  }
});

// A page shown again from the browser's history (Back) may be sent again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const form of document.forms) delete form.dataset.sending;
  for (const button of document.querySelectorAll("button[data-label]")) {
    button.textContent = button.dataset.label;
    button.removeAttribute("aria-busy");
    delete button.dataset.label;
  }
});

// A field shown again with what was typed (a card number refused) is selected when focused:
// the scanner's next read, or the clerk's typing, replaces it instead of adding to it.
for (const input of document.querySelectorAll("input[data-select-on-focus]")) {
  input.addEventListener("focus", () => input.select());
  if (document.activeElement === input) input.select();
}
