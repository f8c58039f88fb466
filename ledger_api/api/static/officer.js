/* The customs officer's page: plain JS, no framework. The credential token lives in
   sessionStorage (this tab only) and is sent as a bearer header, never in a URL. */
(function () {
  "use strict";

  var TOKEN_KEY = "ledger.officer.token";
  var LANE_ICON = { GREEN: "\u25CF", AMBER: "\u25B2", RED: "\u25A0" }; // ● ▲ ■
  var VERDICT_ICON = { VERIFIED: "\u2714", FAILED: "\u2716", INCOMPLETE: "\u25D4" }; // ✔ ✖ ◔
  var CHECK_ICON = { VALID: "\u2714", INVALID: "\u2716", ERROR: "\u26A0", SKIPPED: "\u2013" };

  var $ = function (id) { return document.getElementById(id); };
  var last = null; // {ucr, country, verification}

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function token() { return ($("token").value || "").trim(); }

  function headers() {
    var h = { Accept: "application/json" };
    if (token()) h.Authorization = "Bearer " + token();
    return h;
  }

  function short(addr) {
    if (!addr) return "\u2014";
    return addr.length > 12 ? addr.slice(0, 6) + "\u2026" + addr.slice(-4) : addr;
  }

  /* A party by its legal name, the address on hover and a button that copies it; the
     address alone (shortened) when the service holds no name for it. */
  function partyEl(addr, parties) {
    if (!addr) return el("span", { text: "\u2014" });
    var known = (parties || {})[addr] || {};
    var ids = known.identifiers || {};
    var extra = ["eori", "lei", "gln"].filter(function (k) { return ids[k]; })
      .map(function (k) { return k.toUpperCase() + " " + ids[k]; });
    var label = known.name || short(addr);
    var title = addr + (extra.length ? "\n" + extra.join("\n") : "");
    var copy = el("button", { type: "button", class: "copy", title: "Copy address " + addr, "aria-label": "Copy address", "data-address": addr, text: "\u29C9" });
    copy.addEventListener("click", function () {
      if (navigator.clipboard) navigator.clipboard.writeText(addr).catch(function () {});
    });
    return el("span", { class: "party", title: title, "data-address": addr }, [
      el("span", { class: known.name ? "party-name" : "addr", text: label }), copy,
    ]);
  }

  function list(value) {
    if (!value) return "\u2014";
    if (Array.isArray(value)) return value.length ? value.join(", ") : "\u2014";
    return String(value);
  }

  /* An API error becomes an Error carrying the status and the problem's detail. */
  function request(path) {
    return fetch(path, { headers: headers(), cache: "no-store" }).then(
      function (response) {
        if (response.ok) return response;
        return response.text().then(function (body) {
          var detail = "";
          try { var p = JSON.parse(body); detail = p.detail || p.title || ""; } catch (e) { detail = body; }
          var err = new Error(detail);
          err.status = response.status;
          err.retryAfter = response.headers.get("Retry-After");
          throw err;
        });
      },
      function () {
        var err = new Error("the service could not be reached");
        err.status = 0;
        throw err;
      }
    );
  }

  function explain(err) {
    switch (err.status) {
      case 401:
        return { kind: "error", text: "401 \u2014 A credential is required: paste your officer credential token above and try again." };
      case 403:
        return { kind: "error", text: "403 \u2014 Your credential does not allow this." };
      case 404:
        return { kind: "warn", text: "404 \u2014 Not found, or not visible to your credential. Check the UCR and verifying country." };
      case 422:
        return { kind: "warn", text: "422 \u2014 The request is not valid: " + err.message };
      case 503:
        return {
          kind: "warn",
          text: "503 \u2014 The chain is unreachable right now: try again" +
            (err.retryAfter ? " in " + err.retryAfter + " s." : " shortly."),
        };
      case 0:
        return { kind: "error", text: "The service could not be reached: check your connection and try again." };
      default:
        return { kind: "error", text: err.status + " \u2014 " + (err.message || "unexpected error") };
    }
  }

  function show(id, message) {
    var box = $(id);
    if (!message) { box.hidden = true; box.textContent = ""; return; }
    box.className = "message " + message.kind;
    box.textContent = message.text;
    box.hidden = false;
  }

  function renderVerdict(v) {
    var badge = $("verdict");
    badge.className = "badge " + v.verdict;
    badge.textContent = (VERDICT_ICON[v.verdict] || "") + " " + v.verdict;
    $("verdict-meta").textContent =
      v.ucr + " \u00B7 verified by " + v.verifying_country + " \u00B7 as of block " + v.as_of_block;
    var lane = $("lane");
    lane.className = "lane " + v.risk.lane;
    lane.textContent = (LANE_ICON[v.risk.lane] || "") + " " + v.risk.lane + " lane \u00B7 score " + v.risk.score;
    lane.setAttribute("aria-label", v.risk.lane + " lane, risk score " + v.risk.score);

    var body = $("checks").tBodies[0];
    body.textContent = "";
    v.checks.forEach(function (c) {
      body.appendChild(el("tr", { "data-check": c.name }, [
        el("td", { class: "code", text: c.name }),
        el("td", { class: "status " + c.status, text: (CHECK_ICON[c.status] || "") + " " + c.status }),
        el("td", { class: "reason" }, [el("span", { class: "code", text: c.reason.code }), " \u2014 " + c.reason.message]),
      ]));
    });

    var fired = $("fired");
    fired.textContent = "";
    if (!v.risk.fired.length) fired.appendChild(el("li", { text: "No rule fired." }));
    v.risk.fired.forEach(function (f) {
      fired.appendChild(el("li", {}, [
        el("span", { class: "code", text: f.id }), " (+" + f.points + ") " + f.description + ": " + f.reason,
      ]));
    });
  }

  function renderTimeline(c) {
    var body = $("timeline").tBodies[0];
    body.textContent = "";
    var custody = $("custody");
    custody.textContent = "";
    custody.appendChild(document.createTextNode("Custodian "));
    custody.appendChild(partyEl(c.custodian, c.parties));
    if (c.pending_custodian) {
      custody.appendChild(document.createTextNode(" \u00B7 handover pending to "));
      custody.appendChild(partyEl(c.pending_custodian, c.parties));
    }
    custody.appendChild(document.createTextNode(" \u00B7 exporter "));
    custody.appendChild(partyEl(c.exporter, c.parties));
    c.records.forEach(function (r) {
      var p = r.payload || {};
      var pending = r.status !== "confirmed" && r.status !== "failed";
      var awaiting = !!c.pending_custodian && r.kind === "HANDOVER" && r.counterparty === c.pending_custodian &&
        r.position === c.records[c.records.length - 1].position;
      var status = el("td", { class: "status " + (pending ? "pending" : r.status) }, [
        pending ? "\u25D4 pending (" + r.status + ")" : (r.status === "confirmed" ? "\u2714 " : "\u2716 ") + r.status,
      ]);
      status.appendChild(el("div", { class: "meta", text: r.confirmations + " confirmation" + (r.confirmations === 1 ? "" : "s") +
        (r.block_number != null ? " \u00B7 block " + r.block_number : "") }));
      var kind = el("td", { class: "code", text: r.kind });
      if (pending) kind.appendChild(el("span", { class: "tag-pending", text: "pending" }));
      else if (awaiting) kind.appendChild(el("span", { class: "tag-pending", text: "pending acceptance" }));
      var who = el("td", { class: "who" }, [partyEl(r.party, c.parties)]);
      if (r.counterparty) who.appendChild(el("div", { class: "meta" }, ["\u2192 ", partyEl(r.counterparty, c.parties)]));
      body.appendChild(el("tr", { class: pending || awaiting ? "pending" : "", "data-record": r.id }, [
        el("td", { text: String(r.position) }),
        kind,
        who,
        el("td", { class: "code", text: p.location || "\u2014" }),
        el("td", { text: p.time || "\u2014" }),
        el("td", { text: list(p.seals) }),
        el("td", { text: list(p.containers) }),
        status,
      ]));
    });
  }

  function verify(event) {
    event.preventDefault();
    var ucr = $("ucr").value.trim();
    var country = $("country").value.trim().toUpperCase();
    if (token()) sessionStorage.setItem(TOKEN_KEY, token());
    else sessionStorage.removeItem(TOKEN_KEY);
    show("message", { kind: "info", text: "Verifying " + ucr + " for " + country + "\u2026" });
    $("verify").disabled = true;
    var q = "?country=" + encodeURIComponent(country);
    var base = "/v1/consignments/" + encodeURIComponent(ucr);
    request(base + "/verification" + q)
      .then(function (r) { return r.json(); })
      .then(function (v) {
        last = { ucr: ucr, country: country, verification: v };
        renderVerdict(v);
        $("result").hidden = false;
        show("message", null);
        return request(base).then(function (r) { return r.json(); }).then(renderTimeline, function (err) {
          $("timeline").tBodies[0].textContent = "";
          $("custody").textContent = "Custody timeline unavailable: " + explain(err).text;
        });
      })
      .catch(function (err) {
        $("result").hidden = true;
        last = null;
        show("message", explain(err));
      })
      .then(function () { $("verify").disabled = false; });
  }

  function save(blob, name) {
    var url = URL.createObjectURL(blob);
    var a = el("a", { href: url, download: name });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  function downloadReceipt() {
    if (!last) return;
    var v = last.verification;
    var text = "Verification receipt (compact JWS, EdDSA; check against /v1/keys)\n" +
      "UCR: " + v.ucr + "\nVerifying country: " + v.verifying_country + "\nVerdict: " + v.verdict +
      "\nLane: " + v.risk.lane + " (score " + v.risk.score + ")\nAs of block: " + v.as_of_block +
      "\nEvidence hash: " + v.evidence_hash + "\n\n" + v.receipt + "\n";
    save(new Blob([text], { type: "text/plain" }), "receipt-" + v.ucr + "-" + v.verifying_country + ".txt");
  }

  function downloadEvidence() {
    if (!last) return;
    var v = last.verification;
    var path = "/v1/consignments/" + encodeURIComponent(last.ucr) + "/evidence?country=" +
      encodeURIComponent(last.country) + "&at_block=" + v.as_of_block;
    request(path)
      .then(function (r) { return r.blob(); })
      .then(function (blob) {
        save(new Blob([blob], { type: "application/json" }), "evidence-" + v.ucr + "-" + v.verifying_country + ".json");
      })
      .catch(function (err) { show("message", explain(err)); });
  }

  function downloadEpcis() {
    if (!last) return;
    request("/v1/consignments/" + encodeURIComponent(last.ucr) + "/epcis")
      .then(function (r) { return r.blob(); })
      .then(function (blob) {
        save(new Blob([blob], { type: "application/ld+json" }), "epcis-" + last.ucr + ".jsonld");
      })
      .catch(function (err) { show("message", explain(err)); });
  }

  function recognition(event) {
    event.preventDefault();
    var operator = $("operator").value.trim();
    var country = $("recognition-country").value.trim().toUpperCase();
    var out = $("recognition-result");
    out.hidden = true;
    show("recognition-message", null);
    request("/v1/recognition?operator=" + encodeURIComponent(operator) + "&country=" + encodeURIComponent(country))
      .then(function (r) { return r.json(); })
      .then(function (a) {
        out.textContent = "";
        out.appendChild(el("span", {
          class: a.recognised ? "yes" : "no",
          text: a.recognised ? "\u2714 Recognised by " + a.country : "\u2716 Not recognised by " + a.country,
        }));
        var details = " \u2014 reason " + a.reason;
        if (a.programme) details += " \u00B7 programme " + a.programme;
        if (a.mra_id != null) details += " \u00B7 MRA #" + a.mra_id;
        if (a.valid_until) details += " \u00B7 valid until " + new Date(a.valid_until * 1000).toISOString().slice(0, 10);
        out.appendChild(document.createTextNode(details));
        out.appendChild(el("div", { class: "meta addr", text: a.operator }));
        out.hidden = false;
      })
      .catch(function (err) { show("recognition-message", explain(err)); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) $("token").value = saved;
    $("verify-form").addEventListener("submit", verify);
    $("recognition-form").addEventListener("submit", recognition);
    $("download-receipt").addEventListener("click", downloadReceipt);
    $("download-evidence").addEventListener("click", downloadEvidence);
    $("download-epcis").addEventListener("click", downloadEpcis);
    $("forget-token").addEventListener("click", function () {
      sessionStorage.removeItem(TOKEN_KEY);
      $("token").value = "";
      show("message", { kind: "info", text: "Token forgotten for this tab." });
    });
  });
})();
