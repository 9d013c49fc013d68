// The desk's card reader: the 读卡 button (and F2) read the social-security card through the
// bridge service on this workstation (docs/card_reader.md) and fill the page's card field.
// Without a reader the clerk types or scans as before; every failure is told in Chinese.
(function () {
  "use strict";

  var FIELD_COUNT = 11;
  var TIMEOUT_MS = 10000;
  var busy = false;

  function mask(value, head, tail) {
    if (!value || value.length <= head + tail) { return value || ""; }
    return value.slice(0, head) + "*".repeat(value.length - head - tail) + value.slice(-tail);
  }

  function ymd(text) {
    var t = (text || "").trim();
    if (!/^\d{8}$/.test(t)) { return null; }
    return t.slice(0, 4) + "-" + t.slice(4, 6) + "-" + t.slice(6, 8);
  }

  function today() {
    var d = new Date();
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }

  // iReadCardBas: 发卡地区|社会保障号码|卡号|卡识别码|姓名|卡复位信息|规范版本|发卡日期|卡有效期|终端机编号|终端设备号|
  function parseBasic(out) {
    var fields = String(out || "").trim().split("|");
    if (fields.length && fields[fields.length - 1] === "") { fields.pop(); }
    if (fields.length < FIELD_COUNT) {
      throw new Error("读卡器返回的数据不完整（" + fields.length + "/" + FIELD_COUNT + " 项），请重新插卡");
    }
    var card = {
      region: fields[0].trim(), citizenId: fields[1].trim(), cardNo: fields[2].trim(),
      cardSn: fields[3].trim(), name: fields[4].trim(), expiresOn: ymd(fields[8])
    };
    if (!card.citizenId || !card.cardNo || !card.name) {
      throw new Error("读卡器未返回卡号、社会保障号码或姓名，请重新插卡");
    }
    card.status = card.expiresOn && card.expiresOn < today() ? "expired" : "normal";
    return card;
  }

  // The bridge's ret codes, as BridgeCardReader words them; the driver's own text is added
  // when it says more than the words already do.
  function errorOf(body) {
    var ret = Number(body.ret), msg = body.msg ? String(body.msg).trim() : "";
    var plugged = "读卡器未连接或故障，请检查读卡器连接";
    if (ret === 1) { return "未检测到社保卡，请将卡插入读卡器后重试"; }
    if (ret === 2) { return plugged + (msg && plugged.indexOf(msg) < 0 && msg.indexOf(plugged) < 0 ? "（" + msg + "）" : ""); }
    return "读卡失败，请重新插卡（读卡器返回 " + ret + (msg ? "：" + msg : "") + "）";
  }

  function read(base) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    return fetch(base.replace(/\/+$/, "") + "/v1/card/basic", {
      method: "GET", mode: "cors", cache: "no-store", credentials: "omit",
      signal: controller.signal
    }).catch(function (err) {
      if (err && err.name === "AbortError") { throw new Error("读卡服务无响应，请检查读卡器连接后重试"); }
      throw new Error("读卡服务未启动或浏览器未允许访问：请检查本机读卡服务程序是否运行，或改为刷卡、扫码、手工输入");
    }).then(function (response) {
      return response.json().catch(function () {
        throw new Error("读卡服务返回的内容无法识别（HTTP " + response.status + "）");
      }).then(function (body) {
        if (!body || typeof body.ret === "undefined") {
          throw new Error("读卡服务返回的内容无法识别（HTTP " + response.status + "）");
        }
        if (Number(body.ret) !== 0) { throw new Error(errorOf(body)); }
        return parseBasic(body.out);
      });
    }).finally(function () { clearTimeout(timer); });
  }

  function setup(box) {
    var base = box.getAttribute("data-card-reader");
    var target = document.getElementById(box.getAttribute("data-target"));
    var fill = box.getAttribute("data-fill") || "cardNo";
    var button = box.querySelector("button");
    var status = box.querySelector("[role=status]");
    if (!base || !target || !button || !status) { return null; }

    function say(text, bad) {
      status.textContent = text;
      status.className = "card-reader-status " + (bad ? "error" : "ok");
    }

    function run() {
      if (busy) { return; }
      busy = true;
      button.disabled = true;
      say("正在读卡…", false);
      read(base).then(function (card) {
        var words = "已读卡：" + card.name + "，卡号 " + mask(card.cardNo, 4, 4) +
          "，社会保障号码 " + mask(card.citizenId, 6, 4);
        if (card.status === "expired") {
          say(words + "。该社会保障卡已过期（有效期至 " + card.expiresOn +
            "），不能用于直接结算；请职工补换卡，或改用电子社保卡", true);
          return;
        }
        say(words + "，卡状态 正常", false);
        target.value = fill === "citizenId" ? card.citizenId : card.cardNo;
        var form = target.form;
        if (!form) { return; }
        var kind = form.querySelector("select[name=card_kind]");
        if (kind && fill === "cardNo") { kind.value = "physical"; }
        var empty = Array.prototype.find.call(form.elements, function (el) {
          return el.required && !el.value && el !== target;
        });
        if (empty) { empty.focus(); return; }
        form.requestSubmit();
      }).catch(function (err) {
        say(err.message + "。也可刷卡、扫码或手工输入。", true);
        (target.type === "hidden" ? document.querySelector("[autofocus]") || button : target).focus();
      }).finally(function () {
        busy = false;
        button.disabled = false;
      });
    }

    button.addEventListener("click", run);
    box.setAttribute("data-ready", "");  // for the browser tests: the button now works
    return run;
  }

  var boxes = document.querySelectorAll("[data-card-reader]");
  var first = null;
  Array.prototype.forEach.call(boxes, function (box) {
    var run = setup(box);
    if (run && !first) { first = run; }
  });
  if (first) {
    document.addEventListener("keydown", function (event) {
      if (event.key === "F2" && !event.altKey && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        first();
      }
    });
  }
})();
