// What a clerk typed into a desk's form is not lost to a sign-in that ran out meanwhile: the
// form is kept in this tab's sessionStorage as it is sent, and when the sign-in page says it
// was not acted on (unsent=1), signing in again (as the same user, within the hour) fills the
// same form with it again and says so. Nothing is sent for the clerk. sessionStorage is this
// tab's own and ends with it (nothing of a patient's is left on the server or in a log);
// passwords and tokens (the CSRF token) are never kept.
// A form that only appears after a check (the admission and fitting forms follow the card
// check) is reached through the check's form (data-draft-for): it is filled first, and the
// form after it once the check shows it — for the same filing (data-draft-subject), never
// another worker's.
// A desk form edited and not sent asks before the page is left (the browser's own question).
(() => {
  const KEY = "wi-unsent-form";
  const MAX_AGE_MS = 60 * 60 * 1000;
  const SECRET = /pass|token|secret|csrf/i;
  const RESTORED = "已恢复您登录过期前填写的内容，请核对后重新提交。";
  const FIRST_CHECK =
    "已恢复您登录过期前填写的内容，请核对后重新提交：请先重新核验，核验后下一步的表单也将按您填写的内容恢复。";
  const who = document.querySelector("[data-user]");
  const user = who ? who.dataset.user : "";

  const storage = {
    load() {
      try {
        return JSON.parse(sessionStorage.getItem(KEY) || "null");
      } catch (error) {
        return null;  // storage off or unreadable: forms work as before, nothing is kept
      }
    },
    save(draft) {
      try {
        sessionStorage.setItem(KEY, JSON.stringify(draft));
      } catch (error) { /* storage full or off: the form is sent all the same */ }
    },
    drop() {
      try {
        sessionStorage.removeItem(KEY);
      } catch (error) { /* nothing was kept */ }
    },
  };

  // Forms sending something from a signed-in desk; the sign-in and password forms are not.
  const deskForm = (form) =>
    Boolean(user) && form.method.toLowerCase() === "post" && Boolean(form.closest("main")) &&
    form.dataset.draft !== "off";
  const field = (el) =>
    ["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName) && el.name && !el.disabled &&
    !SECRET.test(el.name) &&
    !["password", "file", "submit", "button", "reset", "image"].includes(el.type);
  const checkable = (el) => el.type === "checkbox" || el.type === "radio";
  const typedInto = (form) =>
    Array.from(form.elements).filter((el) => field(el) && el.type !== "hidden");
  const hiddenOf = (form) =>
    Array.from(form.elements).filter((el) => field(el) && el.type === "hidden")
      .map((el) => [el.name, el.value]);
  // Whose form it is: the filing it was for, or else what the page put in its hidden fields.
  const subjectOf = (form) =>
    "draftSubject" in form.dataset ? form.dataset.draftSubject : JSON.stringify(hiddenOf(form));

  function snapshot(form) {
    return {
      user,
      action: form.getAttribute("action"),
      subject: subjectOf(form),
      fields: typedInto(form).map((el) =>
        checkable(el) ? [el.name, el.value, el.checked] : [el.name, el.value]),
      hidden: hiddenOf(form),
      saved: Date.now(),
      state: "pending",
    };
  }

  // Fields of one name are filled in order (a fitting's rows: code, name, cost each).
  function fill(form, pairs) {
    const values = new Map();
    const ticked = new Map();
    for (const [name, value, checked] of pairs) {
      if (checked === undefined) {
        if (!values.has(name)) values.set(name, []);
        values.get(name).push(value);
      } else {
        if (!ticked.has(name)) ticked.set(name, new Set());
        if (checked) ticked.get(name).add(value);
      }
    }
    for (const el of typedInto(form)) {
      if (checkable(el)) {
        if (ticked.has(el.name)) el.checked = ticked.get(el.name).has(el.value);
      } else if (values.has(el.name) && values.get(el.name).length) {
        el.value = values.get(el.name).shift();
      }
    }
  }

  function tell(form, text) {
    const note = document.createElement("p");
    note.className = "notice";
    note.setAttribute("role", "status");
    note.dataset.testid = "restored";
    note.textContent = text;
    form.before(note);
  }

  function restore(draft) {
    const forms = Array.from(document.forms).filter(deskForm);
    const same = forms.filter((f) =>
      f.getAttribute("action") === draft.action && typedInto(f).length);
    if (same.length) {
      const form = same.find((f) => subjectOf(f) === draft.subject);
      if (form) {
        fill(form, draft.fields);
        if (form.dataset.guard !== "off") form.dataset.dirty = "1";  // still not sent: leaving asks
        tell(form, RESTORED);
      }
      storage.drop();
      return;
    }
    const check = forms.find((f) =>
      (f.dataset.draftFor || "").split(/\s+/).includes(draft.action));
    if (!check) {
      storage.drop();
      return;
    }
    if (draft.state === "unsent") {  // first the check, from what the later form carried
      fill(check, [...draft.hidden, ...draft.fields.filter((pair) => pair.length === 2)]);
      tell(check, FIRST_CHECK);
      storage.save(Object.assign(draft, { state: "checking" }));
    }
  }

  const draft = storage.load();
  if (draft && Date.now() - draft.saved > MAX_AGE_MS) {
    storage.drop();
  } else if (draft && !user) {
    // The sign-in page: a send it says was not acted on is kept for after signing in (also
    // while a mistyped password shows the page again); signing out forgets it.
    const query = new URLSearchParams(window.location.search);
    if (query.has("unsent") && draft.state !== "unsent") {
      storage.save(Object.assign(draft, { state: "unsent" }));
    } else if (draft.state !== "unsent" || query.has("bye")) {
      storage.drop();
    }
  } else if (draft) {
    if (draft.state === "pending" || draft.user !== user) {
      storage.drop();  // the send was answered, or another clerk signed in at this tab
    } else {
      restore(draft);
    }
  }

  let sent = null;
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || event.defaultPrevented) return;
    sent = form;
    delete form.dataset.dirty;
    if (!user) return;  // signing in keeps what waits for it
    const kept = storage.load();
    const checking = kept && kept.state === "checking" &&
      (form.dataset.draftFor || "").split(/\s+/).includes(kept.action);
    if (checking) return;  // the check leads to the form still to be filled
    if (deskForm(form) && typedInto(form).length) {
      storage.save(snapshot(form));
    } else if (form.method.toLowerCase() === "post") {
      storage.drop();
    }
  });

  const edited = (event) => {
    const form = event.target.form;
    if (form && deskForm(form) && form.dataset.guard !== "off") form.dataset.dirty = "1";
  };
  document.addEventListener("input", edited);
  document.addEventListener("change", edited);

  window.addEventListener("beforeunload", (event) => {
    const unsent = Array.from(document.forms).some((f) => f !== sent && f.dataset.dirty);
    if (!unsent) return;
    event.preventDefault();
    event.returnValue = "";  // what Chromium still reads to ask
  });
})();
